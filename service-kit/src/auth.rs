//! Credentials: HS256 user tokens on business routes, the service token on
//! `/internal/*`. Both are extractors, so a handler that takes one cannot run
//! unauthenticated.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{config::AuthSettings, problem::ApiError};

/// Seconds of clock skew tolerated on `exp` / `nbf`.
const LEEWAY_SECS: u64 = 5;

/// Checks user tokens: HS256 only, `exp` and `sub` required, `iss`/`aud` when configured.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
}

impl JwtVerifier {
    pub fn new(secret: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Self {
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
        }
    }

    /// The token's subject, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<String, &'static str> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidSignature => "the token signature is invalid",
                ErrorKind::InvalidAlgorithm => "the token must be signed with HS256",
                ErrorKind::InvalidIssuer => "the token issuer is not accepted",
                ErrorKind::InvalidAudience => "the token audience is not accepted",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is malformed",
            },
        )?;
        if data.claims.sub.is_empty() {
            return Err("the token subject is empty");
        }
        Ok(data.claims.sub)
    }
}

/// Compares presented service tokens with the configured one in constant time
/// (both sides are hashed first, so not even the length leaks).
#[derive(Clone)]
pub struct ServiceTokenVerifier {
    digest: [u8; 32],
}

impl ServiceTokenVerifier {
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(&self.digest).into()
    }
}

/// Both verifiers, built once at start-up from the settings.
pub fn verifiers(settings: &AuthSettings) -> (JwtVerifier, ServiceTokenVerifier) {
    (
        JwtVerifier::new(
            settings.jwt_secret.as_bytes(),
            settings.jwt_issuer.as_deref(),
            settings.jwt_audience.as_deref(),
        ),
        ServiceTokenVerifier::new(&settings.service_token),
    )
}

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "a bearer token is required"))?;
    let value = value.to_str().map_err(|_| {
        ApiError::unauthorized("unauthorized", "the Authorization header is malformed")
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::unauthorized(
            "unauthorized",
            "the Authorization header must be `Bearer <token>`",
        )
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "unauthorized",
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

fn missing_config(what: &'static str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{what} is not registered as app data"))
}

/// A caller holding a valid user token.
#[derive(Clone, Debug)]
pub struct User {
    pub subject: String,
}

impl FromRequest for User {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let verifier = req
                .app_data::<web::Data<JwtVerifier>>()
                .ok_or_else(|| missing_config("JwtVerifier"))?;
            let token = bearer(req)?;
            let subject = verifier
                .verify(token)
                .map_err(|why| ApiError::unauthorized("invalid_token", why))?;
            Ok(User { subject })
        })())
    }
}

/// Another service of ours, holding `SERVICE_TOKEN`.
#[derive(Clone, Copy, Debug)]
pub struct Service;

impl FromRequest for Service {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let verifier = req
                .app_data::<web::Data<ServiceTokenVerifier>>()
                .ok_or_else(|| missing_config("ServiceTokenVerifier"))?;
            let token = bearer(req)?;
            if verifier.matches(token) {
                Ok(Service)
            } else {
                Err(ApiError::unauthorized(
                    "invalid_token",
                    "the service token is invalid",
                ))
            }
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"a-secret-of-sufficient-length";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("signs")
    }

    #[test]
    fn accepts_a_good_token_and_returns_its_subject() {
        let v = JwtVerifier::new(SECRET, None, None);
        let t = sign(
            json!({"sub": "ops", "exp": now() + 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(v.verify(&t), Ok("ops".to_owned()));
    }

    #[test]
    fn refuses_expired_unsigned_wrongly_signed_and_other_algorithms() {
        let v = JwtVerifier::new(SECRET, None, None);
        let expired = sign(
            json!({"sub": "ops", "exp": now() - 60}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(v.verify(&expired), Err("the token has expired"));
        let forged = sign(
            json!({"sub": "ops", "exp": now() + 60}),
            Algorithm::HS256,
            b"another-secret-entirely",
        );
        assert_eq!(v.verify(&forged), Err("the token signature is invalid"));
        let hs512 = sign(
            json!({"sub": "ops", "exp": now() + 60}),
            Algorithm::HS512,
            SECRET,
        );
        assert!(v.verify(&hs512).is_err());
        let no_exp = sign(json!({"sub": "ops"}), Algorithm::HS256, SECRET);
        assert!(v.verify(&no_exp).is_err());
        let no_sub = sign(json!({"exp": now() + 60}), Algorithm::HS256, SECRET);
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
    fn checks_issuer_and_audience_when_configured() {
        let v = JwtVerifier::new(SECRET, Some("back-office"), Some("orders"));
        let good = sign(
            json!({"sub": "ops", "exp": now() + 60, "iss": "back-office", "aud": "orders"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&good).is_ok());
        let wrong_iss = sign(
            json!({"sub": "ops", "exp": now() + 60, "iss": "elsewhere", "aud": "orders"}),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(
            v.verify(&wrong_iss),
            Err("the token issuer is not accepted")
        );
        let no_aud = sign(
            json!({"sub": "ops", "exp": now() + 60, "iss": "back-office"}),
            Algorithm::HS256,
            SECRET,
        );
        assert!(v.verify(&no_aud).is_err());
    }

    #[test]
    fn service_token_matches_only_itself() {
        let v = ServiceTokenVerifier::new("service-token-0123456789");
        assert!(v.matches("service-token-0123456789"));
        assert!(!v.matches("service-token-012345678"));
        assert!(!v.matches(""));
    }
}
