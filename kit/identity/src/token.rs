//! Credentials, checked the same way by every component (the two APIs and
//! the orchestrator Lambda): the claims of a user token once its signature
//! is checked ([`crate::jwks`] checks it against the issuer's public keys),
//! and the services' own tokens, compared in constant time. No web framework
//! here; `auth` wraps these as actix extractors.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scope::{Principal, Scopes};

/// Seconds of clock skew tolerated on `exp` / `nbf`.
pub(crate) const LEEWAY_SECS: u64 = 5;

/// Longest subject accepted: it is stored with orders and idempotency keys.
pub const MAX_SUBJECT_LEN: usize = 255;

/// The claims every user token is read for.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    sub: String,
    exp: f64,
    /// One audience or several (RFC 7519).
    #[serde(default)]
    aud: Option<Audience>,
    /// Cognito's access tokens name their app client here instead of `aud`.
    #[serde(default)]
    client_id: Option<String>,
    /// Cognito's `access` or `id`: only access tokens are accepted.
    #[serde(default)]
    token_use: Option<String>,
    /// RFC 9068: space-separated scopes.
    #[serde(default)]
    scope: Option<String>,
    /// Roles: Cognito's groups, or a plain `groups` claim.
    #[serde(default, rename = "cognito:groups")]
    cognito_groups: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Whether `sub` can travel in a header and be stored: 1..=255 printable
/// ASCII characters, no space at either end.
pub fn valid_subject(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_SUBJECT_LEN
        && sub.bytes().all(|b| (0x20..0x7f).contains(&b))
        && sub.trim() == sub
}

/// Why a token signed with another algorithm than its key's is refused.
pub(crate) const WRONG_ALG: &str = "the token's algorithm is not its key's";

/// Why a token was refused, said for the log.
pub(crate) fn refusal(e: &jsonwebtoken::errors::Error) -> &'static str {
    match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidSignature => "the token signature is invalid",
        ErrorKind::InvalidAlgorithm => WRONG_ALG,
        ErrorKind::InvalidIssuer => "the token issuer is not accepted",
        ErrorKind::InvalidAudience => "the token audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
        _ => "the token is malformed",
    }
}

impl Claims {
    /// Whether the token is meant for `audience`: its `aud` names it, or it
    /// has no `aud` and its `client_id` is it (a Cognito access token).
    fn for_audience(&self, audience: &str) -> bool {
        match &self.aud {
            Some(Audience::One(a)) => a == audience,
            Some(Audience::Many(all)) => all.iter().any(|a| a == audience),
            None => self.client_id.as_deref() == Some(audience),
        }
    }
}

/// The caller of verified `claims`: refused when the token is not meant for
/// `audience`, is an ID token, lives longer than `max_ttl` from now, or its
/// subject cannot be stored or forwarded.
pub(crate) fn principal_of(
    claims: Claims,
    audience: &str,
    max_ttl: Duration,
) -> Result<Principal, &'static str> {
    if !claims.for_audience(audience) {
        return Err("the token audience is not accepted");
    }
    if claims.token_use.as_deref().is_some_and(|u| u != "access") {
        return Err("the token is not an access token");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
