//! The test issuer: an ES256 key pair made once per test process, its
//! public key set for the services under test (`JWT_JWKS`, inline), and the
//! tokens it signs, good ones and every kind of forgery. Nothing here is a
//! secret: the key exists only in the memory of the test process.

use std::sync::OnceLock;

use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The `kid` of the test issuer's key.
pub const TEST_KID: &str = "test-key-1";

/// A P-256 key pair: its public JWK and what signs with it.
pub struct SigningKey {
    pub jwk: Value,
    pub key: EncodingKey,
}

impl SigningKey {
    /// A new P-256 key pair, published under `kid`.
    pub fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap_or_else(|e| panic!("generating a P-256 key: {e}"));
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let der = pair
            .to_pkcs8v1()
            .unwrap_or_else(|e| panic!("exporting a P-256 key: {e}"));
        Self {
            jwk,
            key: EncodingKey::from_ec_der(der.as_ref()),
        }
    }

    /// `claims` signed ES256, the header naming `kid` (or no key).
    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.key)
            .unwrap_or_else(|e| panic!("signing a test token: {e}"))
    }
}

/// The test issuer's key, made on first use.
pub fn issuer() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(TEST_KID))
}

/// The test issuer's public key set, as the services under test take it
/// (`JWT_JWKS`).
pub fn test_jwks() -> String {
    json!({"keys": [issuer().jwk]}).to_string()
}

/// `claims` signed by the test issuer, exactly as given.
pub fn sign_claims(claims: &Value) -> String {
    issuer().sign(Some(TEST_KID), claims)
}

/// The ways a token can be forged or stale, each refused with a 401.
#[derive(Clone, Copy, Debug)]
pub enum Forgery {
    /// Signed by another key published under the issuer's `kid`.
    AnotherKey,
    /// Signed by a key the issuer never published (an unknown `kid`).
    UnknownKid,
    /// HS256 with a shared secret, as user tokens once were, naming the
    /// issuer's `kid`.
    SharedSecret,
    /// No `kid` in the header.
    NoKid,
    /// `alg: none`, no signature.
    Unsigned,
}

impl Forgery {
    pub const ALL: [Forgery; 5] = [
        Forgery::AnotherKey,
        Forgery::UnknownKid,
        Forgery::SharedSecret,
        Forgery::NoKid,
        Forgery::Unsigned,
    ];

    /// `claims` forged this way.
    pub fn sign(self, claims: &Value) -> String {
        match self {
            Forgery::AnotherKey => SigningKey::generate(TEST_KID).sign(Some(TEST_KID), claims),
            Forgery::UnknownKid => SigningKey::generate("unknown").sign(Some("unknown"), claims),
            Forgery::SharedSecret => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(TEST_KID.to_owned());
                let secret = EncodingKey::from_secret(b"dev-only-jwt-secret-change-me-0123456789");
                jsonwebtoken::encode(&header, claims, &secret)
                    .unwrap_or_else(|e| panic!("signing a test token: {e}"))
            }
            Forgery::NoKid => issuer().sign(None, claims),
            Forgery::Unsigned => {
                let header = URL_SAFE_NO_PAD.encode(format!(
                    r#"{{"alg":"none","typ":"JWT","kid":"{TEST_KID}"}}"#
                ));
                format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Forgery::AnotherKey => "a token signed with another key under the issuer's kid",
            Forgery::UnknownKid => "a token signed with a key of an unknown kid",
            Forgery::SharedSecret => "an HS256 token signed with the old shared secret",
            Forgery::NoKid => "a token naming no key",
            Forgery::Unsigned => "an alg: none token",
        }
    }
}
