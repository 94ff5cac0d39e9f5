//! Credentials, checked the same way by every component (the two APIs and
//! the orchestrator Lambda): HS256 user tokens and the constant-time service
//! token. No web framework here; `auth` wraps these as actix extractors.

use std::time::Duration;

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scope::{Principal, Scopes};

/// Seconds of clock skew tolerated on `exp` / `nbf`.
pub(crate) const LEEWAY_SECS: u64 = 5;

/// Longest subject accepted: it is stored with orders and idempotency keys.
pub const MAX_SUBJECT_LEN: usize = 255;

/// Checks user tokens: HS256 only, `exp` and `sub` required, `iss`/`aud`
/// when configured, and no token that lives longer than `max_ttl` from now.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    max_ttl: Duration,
}

/// The claims every user token is read for.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    sub: String,
    exp: f64,
    /// RFC 9068: space-separated scopes.
    #[serde(default)]
    scope: Option<String>,
    /// Roles: Cognito's groups, or a plain `groups` claim.
    #[serde(default, rename = "cognito:groups")]
    cognito_groups: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// Whether `sub` can travel in a header and be stored: 1..=255 printable
/// ASCII characters, no space at either end.
pub fn valid_subject(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_SUBJECT_LEN
        && sub.bytes().all(|b| (0x20..0x7f).contains(&b))
        && sub.trim() == sub
}

impl JwtVerifier {
    pub fn new(
        secret: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
        max_ttl: Duration,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
            max_ttl,
        }
    }

    /// Who the token names and what it allows, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Principal, &'static str> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| refusal(&e, "the token must be signed with HS256"))?;
        principal_of(data.claims, self.max_ttl)
    }
}

/// Why a token was refused, said for the log; `wrong_alg` when it is
/// signed with another algorithm than the key's.
pub(crate) fn refusal(e: &jsonwebtoken::errors::Error, wrong_alg: &'static str) -> &'static str {
    match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidSignature => "the token signature is invalid",
        ErrorKind::InvalidAlgorithm => wrong_alg,
        ErrorKind::InvalidIssuer => "the token issuer is not accepted",
        ErrorKind::InvalidAudience => "the token audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
        _ => "the token is malformed",
    }
}

/// The caller of verified `claims`: refused when the token lives longer
/// than `max_ttl` from now or its subject cannot be stored or forwarded.
pub(crate) fn principal_of(claims: Claims, max_ttl: Duration) -> Result<Principal, &'static str> {
    let now = chrono::Utc::now().timestamp() as f64;
    let ceiling = max_ttl.as_secs_f64() + LEEWAY_SECS as f64;
    if claims.exp - now > ceiling {
        return Err("the token lives longer than this service accepts");
    }
    if !valid_subject(&claims.sub) {
        return Err("the token subject must be 1 to 255 printable ASCII characters");
    }
    let groups = claims.cognito_groups.iter().chain(&claims.groups);
    Ok(Principal {
        scopes: Scopes::granted(claims.scope.as_deref(), groups.map(String::as_str)),
        subject: claims.sub,
        expires_at: claims.exp as i64,
    })
}

/// The services that may call `/internal/*`, each known by its own token
/// (`SERVICE_TOKENS`: `name=token,...`). A presented token is compared with
/// every one in constant time (both sides hashed first, so not even the
/// length leaks, and every entry is compared whatever matched).
#[derive(Clone, Default)]
pub struct ServiceTokens {
    entries: Vec<(String, [u8; 32])>,
}

/// Shortest service token accepted.
pub const MIN_SERVICE_TOKEN_LEN: usize = 16;

impl ServiceTokens {
    /// `name=token` pairs separated by commas. Names are lowercase letters,
    /// digits and `-`, each once; tokens at least 16 bytes, each once.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut tokens = Self::default();
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, token) = pair
                .split_once('=')
                .ok_or_else(|| "each entry must be name=token".to_owned())?;
            tokens.add(name.trim(), token.trim())?;
        }
        Ok(tokens)
    }

    /// Adds the service `name`, known by `token`.
    pub fn add(&mut self, name: &str, token: &str) -> Result<(), String> {
        let good_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !good_name {
            return Err(format!(
                "the service name {name:?} must be 1 to 64 lowercase letters, digits or '-'"
            ));
        }
        if token.len() < MIN_SERVICE_TOKEN_LEN {
            return Err(format!(
                "the token of {name} must be at least {MIN_SERVICE_TOKEN_LEN} bytes long"
            ));
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.entries.iter().any(|(n, _)| n == name) {
            return Err(format!("the service {name} is named twice"));
        }
        if self.entries.iter().any(|(_, d)| *d == digest) {
            return Err(format!("the token of {name} is also another service's"));
        }
        self.entries.push((name.to_owned(), digest));
        Ok(())
    }

    /// The name of the service holding `presented`, if any.
    pub fn caller(&self, presented: &str) -> Option<&str> {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (name, digest) in &self.entries {
            if bool::from(presented.ct_eq(digest)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// The token of an `Authorization: Bearer <token>` header value, or why not.
pub fn bearer_token(value: &str) -> Result<&str, &'static str> {
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("the Authorization header must be `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err("the Authorization header must be `Bearer <token>`");
    }
    Ok(token.trim())
}

/// `claims` signed with `alg` and `secret`, exactly as given: the one token
/// minter of the tests, for good tokens and for every kind of bad one.
#[cfg(any(test, feature = "test-util"))]
pub fn sign_claims(claims: &serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{Role, Scope};
    use serde_json::json;

    const SECRET: &[u8] = b"a-secret-of-sufficient-length";
    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(SECRET, None, None, DAY)
    }

    #[test]
    fn accepts_a_good_token_and_returns_its_subject() {
        let exp = now() + 60;
        let t = sign_claims(&json!({"sub": "ops", "exp": exp}), Algorithm::HS256, SECRET);
        assert_eq!(
            verifier().verify(&t),
            Ok(Principal {
                subject: "ops".into(),
                scopes: Scopes::NONE,
                expires_at: exp,
            })
        );
        let t = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60, "scope": "orders:write", "cognito:groups": ["viewer"]}),
            Algorithm::HS256,
            SECRET,
        );
        let p = verifier().verify(&t).expect("valid");
        assert_eq!(p.scopes, Role::Viewer.scopes().with(Scope::OrdersWrite));
        let t = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60, "groups": ["admin"]}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(verifier().verify(&t).map(|p| p.scopes), Ok(Scopes::all()));
    }

    #[test]
    fn refuses_expired_unsigned_wrongly_signed_and_other_algorithms() {
        let v = verifier();
        let expired = sign_claims(
            &json!({"sub": "ops", "exp": now() - 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(v.verify(&expired), Err("the token has expired"));
        let forged = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60}),
            Algorithm::HS256,
            b"another-secret-entirely",
        );
        assert_eq!(v.verify(&forged), Err("the token signature is invalid"));
        let hs512 = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60}),
            Algorithm::HS512,
            SECRET,
        );
        assert!(v.verify(&hs512).is_err());
        let no_exp = sign_claims(&json!({"sub": "ops"}), Algorithm::HS256, SECRET);
        assert!(v.verify(&no_exp).is_err());
        let no_sub = sign_claims(&json!({"exp": now() + 60}), Algorithm::HS256, SECRET);
        assert!(v.verify(&no_sub).is_err());
        // alg: none, with and without a trailing signature segment.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(json!({"sub": "ops", "exp": now() + 60}).to_string());
        assert!(v.verify(&format!("{header}.{body}.")).is_err());
        assert!(v.verify(&format!("{header}.{body}")).is_err());
        assert!(v.verify("not-a-token").is_err());
    }

    #[test]
    fn refuses_tokens_that_live_longer_than_the_maximum() {
        let v = verifier();
        let two_years = sign_claims(
            &json!({"sub": "ops", "exp": now() + 2 * 365 * 86_400}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            v.verify(&two_years),
            Err("the token lives longer than this service accepts")
        );
        let just_under = sign_claims(
            &json!({"sub": "ops", "exp": now() + 86_400 - 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&just_under).is_ok());
        let short = JwtVerifier::new(SECRET, None, None, Duration::from_secs(60));
        assert!(short.verify(&just_under).is_err());
    }

    #[test]
    fn refuses_subjects_that_cannot_be_stored_or_forwarded() {
        let v = verifier();
        for sub in ["", " ops", "ops\n", "jos\u{e9}", &"x".repeat(256)] {
            let t = sign_claims(
                &json!({"sub": sub, "exp": now() + 60}),
                Algorithm::HS256,
                SECRET,
            );
            assert!(v.verify(&t).is_err(), "{sub:?}");
        }
        let t = sign_claims(
            &json!({"sub": "auth0|5f7c8ec7c33c6c004bbafe82", "exp": now() + 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&t).is_ok());
    }

    #[test]
    fn checks_issuer_and_audience_when_configured() {
        let v = JwtVerifier::new(SECRET, Some("back-office"), Some("orders"), DAY);
        let good = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60, "iss": "back-office", "aud": "orders"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&good).is_ok());
        let wrong_iss = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60, "iss": "elsewhere", "aud": "orders"}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            v.verify(&wrong_iss),
            Err("the token issuer is not accepted")
        );
        let no_aud = sign_claims(
            &json!({"sub": "ops", "exp": now() + 60, "iss": "back-office"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&no_aud).is_err());
    }

    #[test]
    fn bearer_values_are_parsed_strictly() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer  abc "), Ok("abc"));
        assert!(bearer_token("Basic dXNlcjpwYXNz").is_err());
        assert!(bearer_token("Bearer").is_err());
        assert!(bearer_token("Bearer   ").is_err());
    }

    #[test]
    fn service_tokens_name_their_holder_and_nobody_else() {
        let v = ServiceTokens::parse(
            "orders-api=orders-token-0123456789, orchestrator=orchestrator-token-0123456789",
        )
        .expect("valid");
        assert_eq!(v.caller("orders-token-0123456789"), Some("orders-api"));
        assert_eq!(
            v.caller("orchestrator-token-0123456789"),
            Some("orchestrator")
        );
        assert_eq!(v.caller("orders-token-012345678"), None);
        assert_eq!(v.caller(""), None);
        assert_eq!(format!("{v:?}"), r#"["orders-api", "orchestrator"]"#);
        assert!(ServiceTokens::parse("").expect("empty is valid").is_empty());
    }

    #[test]
    fn service_tokens_refuse_short_shared_and_unnamed_tokens() {
        for bad in [
            "orders-api",
            "orders-api=short",
            "=orders-token-0123456789",
            "Orders=orders-token-0123456789",
            "a=orders-token-0123456789,a=other-token-0123456789",
            "a=orders-token-0123456789,b=orders-token-0123456789",
        ] {
            let e = ServiceTokens::parse(bad).expect_err(bad);
            assert!(!e.contains("0123456789"), "no token in the error: {e}");
        }
    }
}
