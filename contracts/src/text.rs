//! Rules for text fields that more than one service accepts.

/// Longest display name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// A display name (a customer's, a product's): 1..=200 characters once
/// trimmed, no control characters. Returns the trimmed name, or what is wrong
/// with it, worded for a field error.
pub fn display_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err("must be at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(display_name("  ACME  ").as_deref(), Ok("ACME"));
        assert!(display_name("   ").is_err());
        assert!(display_name(&"é".repeat(200)).is_ok());
        assert!(display_name(&"é".repeat(201)).is_err());
        assert!(display_name("a\u{7}b").is_err());
    }
}
