//! Customer values, parsed once at the edge: past a handler's first lines
//! nothing is unchecked.

use contracts::invalid::Invalid;
pub use contracts::{Customer, CustomerId, CustomerInput};

/// Why a customer could not be written: the rules of customers, free of
/// HTTP. The route layer turns each into a problem document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CustomerError {
    #[error("another active customer already uses this email")]
    EmailTaken,
}

/// A display name: 1..=200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        contracts::text::display_name(raw).map(Self)
    }
}

impl AsRef<str> for CustomerName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An email address: `local@domain`, at most 254 characters, a dotted domain
/// of letters, digits and hyphens. Kept as written; compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const INVALID: &str = "must be a valid email address";
        let email = raw.trim();
        if email.is_empty() || email.len() > Self::MAX_LEN {
            return Err(INVALID);
        }
        let (local, domain) = email.rsplit_once('@').ok_or(INVALID)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(email.to_owned()))
        } else {
            Err(INVALID)
        }
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A phone number, normalised to E.164: an optional leading `+` and 7..=15
/// digits. Spaces, dots, hyphens and parentheses are accepted and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const INVALID: &str =
            "must be a phone number of 7 to 15 digits, optionally starting with +";
        let raw = raw.trim();
        let (plus, rest) = match raw.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", raw),
        };
        if rest.len() > 40 {
            return Err(INVALID);
        }
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(INVALID),
            }
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(INVALID);
        }
        Ok(Self(format!("{plus}{digits}")))
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A checked customer, ready to store.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: CustomerName,
    pub email: Email,
    pub phone: Option<Phone>,
}

impl TryFrom<CustomerInput> for NewCustomer {
    type Error = Vec<Invalid>;

    /// Reports every invalid field at once, not just the first.
    fn try_from(input: CustomerInput) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let name =
            CustomerName::parse(&input.name).map_err(|m| errors.push(Invalid::new("name", m)));
        let email = Email::parse(&input.email).map_err(|m| errors.push(Invalid::new("email", m)));
        let phone = match input.phone.as_deref() {
            None => Ok(None),
            Some(p) => Phone::parse(p)
                .map(Some)
                .map_err(|m| errors.push(Invalid::new("phone", m))),
        };
        match (name, email, phone) {
            (Ok(name), Ok(email), Ok(phone)) => Ok(Self { name, email, phone }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        for ok in ["ops@acme.com", "A.B+tag@sub.example.co", "x@y.io"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "acme.com",
            "@acme.com",
            "ops@",
            "ops@acme",
            "ops@@acme.com",
            "o ps@acme.com",
            "ops@acme..com",
            ".ops@acme.com",
            "ops@-acme.com",
            "ops@acme.c0m",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@acme.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phones_are_normalised() {
        assert_eq!(
            Phone::parse("+51 987-654-321").map(|p| p.0),
            Ok("+51987654321".to_owned())
        );
        assert_eq!(
            Phone::parse("(01) 555 0100").map(|p| p.0),
            Ok("015550100".to_owned())
        );
        for bad in [
            "",
            "+",
            "12345",
            "+1234567890123456",
            "555-CALL-NOW",
            "++51987654321",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            CustomerName::parse("  ACME  ").map(|n| n.0),
            Ok("ACME".to_owned())
        );
        assert!(CustomerName::parse("   ").is_err());
        assert!(CustomerName::parse("a\u{0}b").is_err());
        assert!(CustomerName::parse(&"é".repeat(200)).is_ok());
        assert!(CustomerName::parse(&"é".repeat(201)).is_err());
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let input = CustomerInput {
            name: "".into(),
            email: "nope".into(),
            phone: Some("x".into()),
        };
        let errors = NewCustomer::try_from(input).err().unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "phone"]);
    }

    proptest! {
        #[test]
        fn parsers_never_panic_and_valid_values_fit_their_columns(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) { prop_assert!(e.0.len() <= 254); }
            if let Ok(p) = Phone::parse(&s) { prop_assert!(p.0.len() <= 20); }
            if let Ok(n) = CustomerName::parse(&s) { prop_assert!(n.0.chars().count() <= 200); }
        }
    }
}
