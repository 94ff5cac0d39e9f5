//! User tokens signed by an issuer with an asymmetric key and checked
//! against its published key set (JWKS): the verification rules, free of
//! where the set comes from. A token must name its key (`kid`); the key's
//! type pins the algorithm (an EC P-256 key verifies ES256 only, an RSA key
//! RS256 only), so no token can choose a weaker one; `iss` and `aud` are
//! always checked, `exp` is required and capped. No symmetric key is ever
//! accepted: nothing here can sign a token.
//!
//! [`JwtVerifier`] is what the services hold: the rules and the issuer's
//! [`Keys`], read from `JWT_JWKS` (a JWKS document, a file holding one, or
//! an https URL) and loaded again, once, when a token names a key the set
//! lacks.

use std::{collections::HashMap, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
    Algorithm, DecodingKey, Validation,
};

use crate::scope::Principal;
use crate::token::{principal_of, refusal, Claims, LEEWAY_SECS, WRONG_ALG};

/// The most keys one set may hold, and its largest size in bytes.
pub const MAX_KEYS: usize = 32;
pub const MAX_BYTES: usize = 64 * 1024;
/// The shortest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// The signing keys of an issuer, by `kid`, each with the one algorithm it
/// verifies.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// The signing keys of a JWKS document. Keys for encryption, of other
    /// types or curves, and symmetric keys are left out; a key without a
    /// `kid`, a `kid` twice, an `alg` that its type cannot verify, an RSA
    /// modulus under 2048 bits, or a set too large is an error.
    pub fn parse(json: &str) -> Result<Self, String> {
        if json.len() > MAX_BYTES {
            return Err(format!("the key set is larger than {MAX_BYTES} bytes"));
        }
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        if set.keys.len() > MAX_KEYS {
            return Err(format!("the key set holds more than {MAX_KEYS} keys"));
        }
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
                continue;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                AlgorithmParameters::RSA(rsa) => {
                    let bits = URL_SAFE_NO_PAD
                        .decode(rsa.n.trim_end_matches('='))
                        .map(|n| n.iter().skip_while(|b| **b == 0).count() * 8)
                        .unwrap_or(0);
                    if bits < MIN_RSA_BITS {
                        return Err(format!("an RSA key under {MIN_RSA_BITS} bits"));
                    }
                    Algorithm::RS256
                }
                _ => continue,
            };
            let kid = jwk
                .common
                .key_id
                .clone()
                .filter(|k| !k.is_empty())
                .ok_or("a signing key without a kid")?;
            let declared = jwk.common.key_algorithm;
            let fits = match declared {
                None => true,
                Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
                Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
                Some(_) => false,
            };
            if !fits {
                return Err(format!(
                    "the key {kid} declares an algorithm its type does not verify"
                ));
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("the key {kid}: {e}"))?;
            if keys.insert(kid.clone(), (key, alg)).is_some() {
                return Err(format!("the kid {kid} is in the set twice"));
            }
        }
        Ok(Self { keys })
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What every token must carry: this issuer and audience, and no lifetime
/// beyond `max_ttl` from now.
#[derive(Clone, Debug)]
pub struct Rules {
    pub issuer: String,
    pub audience: String,
    pub max_ttl: Duration,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It names a key the set does not hold (the set may be stale: a
    /// caller may refresh it once and try again).
    UnknownKey(String),
    /// Anything else, said for the log.
    Invalid(&'static str),
}

/// Who `token` names and what it allows, if `keys` and `rules` accept it.
pub fn verify(keys: &KeySet, rules: &Rules, token: &str) -> Result<Principal, Refusal> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| Refusal::Invalid("the token is malformed"))?;
    let kid = header
        .kid
        .ok_or(Refusal::Invalid("the token names no key (kid)"))?;
    let (key, alg) = keys
        .keys
        .get(&kid)
        .ok_or_else(|| Refusal::UnknownKey(kid.clone()))?;
    if header.alg != *alg {
        return Err(Refusal::Invalid(WRONG_ALG));
    }
    let mut validation = Validation::new(*alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&rules.issuer]);
    // `aud`, or Cognito's `client_id` when there is no `aud`: checked on
    // the claims (`principal_of`), as API Gateway's JWT authorizer does.
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub", "iss"]);
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|e| Refusal::Invalid(refusal(&e)))?;
    principal_of(data.claims, &rules.audience, rules.max_ttl).map_err(Refusal::Invalid)
}

/// Where an issuer's key set comes from (`JWT_JWKS`).
#[derive(Clone)]
pub enum Source {
    /// The JWKS document itself (for containers and tests: nothing to
    /// mount, nothing to reach; changed by restarting with another).
    Inline(String),
    /// A JWKS file, read again on refresh.
    File(std::path::PathBuf),
    /// An https URL (the issuer's `jwks_uri`), fetched again on refresh:
    /// no redirect followed, [`FETCH_TIMEOUT`] per fetch, at most
    /// [`MAX_BYTES`] read.
    Url(String, reqwest::Client),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Url(url, _) => f.debug_tuple("Url").field(url).finish(),
        }
    }
}

/// How long one fetch of a key set may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

impl Source {
    /// `JWT_JWKS`: a JSON document (it starts with `{`), an https URL, or
    /// the path of a file. A document is checked here; a file and a URL
    /// when loaded.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.starts_with('{') {
            KeySet::parse(value)?;
            return Ok(Self::Inline(value.to_owned()));
        }
        if value.starts_with("https://") {
            return Self::url(value, Vec::new());
        }
        if value.contains("://") {
            return Err("an URL must be https".to_owned());
        }
        if value.is_empty() {
            return Err("it is empty".to_owned());
        }
        Ok(Self::File(value.into()))
    }

    /// The key set at the https `url`, trusting the usual roots and `roots`
    /// (PEM certificates, for an issuer with a private CA, and tests).
    pub fn url(url: &str, roots: Vec<reqwest::Certificate>) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not an URL: {e}"))?;
        if parsed.scheme() != "https" {
            return Err("an URL must be https".to_owned());
        }
        let mut client = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT);
        for root in roots {
            client = client.add_root_certificate(root);
        }
        let client = client
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        Ok(Self::Url(url.to_owned(), client))
    }

    /// Whether a failure to load may pass at start (the issuer may be
    /// unreachable for a moment; a file or a document cannot get better).
    fn is_remote(&self) -> bool {
        matches!(self, Self::Url(..))
    }

    async fn load(&self) -> Result<KeySet, String> {
        match self {
            Source::Inline(json) => KeySet::parse(json),
            Source::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                KeySet::parse(&text)
            }
            Source::Url(url, client) => KeySet::parse(&fetch(client, url).await?),
        }
    }
}

/// The body at `url`, if it answers 2xx with at most [`MAX_BYTES`] of UTF-8.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let failed = |e: reqwest::Error| format!("fetching {url}: {}", e.without_url());
    let mut res = client.get(url).send().await.map_err(failed)?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    let too_large = || format!("{url} holds more than {MAX_BYTES} bytes");
    if res.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            return Err(too_large());
        }
    }
    String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8"))
}

/// An issuer's key set, kept: loaded once, and loaded again when a token
/// names a key it does not hold (the issuer rotated its keys), by one
/// caller at a time and at most once per `floor`, so that tokens with made-up
/// `kid`s cannot make it fetch without end. A failed refresh keeps the set
/// it had.
pub struct Keys {
    source: Source,
    floor: Duration,
    current: std::sync::RwLock<std::sync::Arc<KeySet>>,
    refresh: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    loads: std::sync::atomic::AtomicUsize,
}

impl Keys {
    /// The set `source` holds now.
    pub async fn load(source: Source, floor: Duration) -> Result<Self, String> {
        let set = source.load().await?;
        Ok(Self::holding(
            source,
            floor,
            set,
            Some(tokio::time::Instant::now()),
        ))
    }

    /// [`Keys::load`], except that an URL that cannot be fetched now leaves
    /// the set empty, to be fetched when the first token comes (a service
    /// starts while its issuer is briefly unreachable; the floor still
    /// bounds the fetches).
    pub async fn start(source: Source, floor: Duration) -> Result<Self, String> {
        match source.load().await {
            Ok(set) => Ok(Self::holding(
                source,
                floor,
                set,
                Some(tokio::time::Instant::now()),
            )),
            Err(e) if source.is_remote() => {
                tracing::warn!(error = %e, "the issuer's key set could not be fetched; trying again with the first token");
                Ok(Self::holding(source, floor, KeySet::default(), None))
            }
            Err(e) => Err(e),
        }
    }

    fn holding(
        source: Source,
        floor: Duration,
        set: KeySet,
        loaded: Option<tokio::time::Instant>,
    ) -> Self {
        Self {
            source,
            floor,
            current: std::sync::RwLock::new(std::sync::Arc::new(set)),
            refresh: tokio::sync::Mutex::new(loaded),
            loads: std::sync::atomic::AtomicUsize::new(1),
        }
    }

    /// How many times the set was loaded, the first included.
    pub fn loads(&self) -> usize {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn snapshot(&self) -> std::sync::Arc<KeySet> {
        match self.current.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// [`verify`] against the kept set, refreshed once if the token names
    /// a key it does not hold.
    pub async fn verify(&self, rules: &Rules, token: &str) -> Result<Principal, Refusal> {
        let seen = self.snapshot();
        match verify(&seen, rules, token) {
            Err(Refusal::UnknownKey(kid)) => {
                let set = self.refreshed(&seen).await;
                verify(&set, rules, token).map_err(|e| match e {
                    Refusal::UnknownKey(_) => Refusal::UnknownKey(kid),
                    other => other,
                })
            }
            done => done,
        }
    }

    /// The set after one refresh: by this caller if it is the first since
    /// `seen` and the floor has passed, else the one another caller made.
    async fn refreshed(&self, seen: &std::sync::Arc<KeySet>) -> std::sync::Arc<KeySet> {
        let mut last = self.refresh.lock().await;
        let now = self.snapshot();
        if !std::sync::Arc::ptr_eq(&now, seen) {
            return now; // another caller refreshed while this one waited
        }
        if last.is_some_and(|at| at.elapsed() < self.floor) {
            return now;
        }
        *last = Some(tokio::time::Instant::now());
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.source.load().await {
            Ok(set) => {
                let set = std::sync::Arc::new(set);
                if let Ok(mut current) = self.current.write() {
                    *current = set.clone();
                }
                tracing::info!(keys = set.len(), "the issuer's key set was refreshed");
                set
            }
            Err(e) => {
                tracing::warn!(error = %e, "refreshing the issuer's key set failed; keeping the one held");
                now
            }
        }
    }
}

/// Shortest time between two loads of the key set.
pub const REFRESH_FLOOR: Duration = Duration::from_secs(30);

/// What the services check user tokens with: the issuer's keys, kept, and
/// the rules every token must meet. Cheap to clone.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: std::sync::Arc<Keys>,
    rules: std::sync::Arc<Rules>,
}

impl JwtVerifier {
    /// The keys of `source` ([`Keys::start`]), refreshed at most once per
    /// `floor` ([`REFRESH_FLOOR`] in the services).
    pub async fn start(source: Source, rules: Rules, floor: Duration) -> Result<Self, String> {
        let keys = Keys::start(source, floor).await?;
        Ok(Self {
            keys: std::sync::Arc::new(keys),
            rules: std::sync::Arc::new(rules),
        })
    }

    /// A verifier of the key set `jwks` (a JWKS document), parsed now.
    pub fn of_document(jwks: &str, rules: Rules) -> Result<Self, String> {
        let set = KeySet::parse(jwks)?;
        let source = Source::Inline(jwks.to_owned());
        let keys = Keys::holding(
            source,
            REFRESH_FLOOR,
            set,
            Some(tokio::time::Instant::now()),
        );
        Ok(Self {
            keys: std::sync::Arc::new(keys),
            rules: std::sync::Arc::new(rules),
        })
    }

    /// Who the token names and what it allows, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, &'static str> {
        self.keys
            .verify(&self.rules, token)
            .await
            .map_err(|why| match why {
                Refusal::UnknownKey(_) => "the token's key (kid) is not one of the issuer's",
                Refusal::Invalid(why) => why,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{Scope, Scopes};
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{json, Value};

    /// A P-256 key pair: its JWK and what signs with it.
    fn ec_key(kid: &str) -> (Value, EncodingKey) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("keygen");
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let der = pair.to_pkcs8v1().expect("pkcs8");
        (jwk, EncodingKey::from_ec_der(der.as_ref()))
    }

    fn rules() -> Rules {
        Rules {
            issuer: "https://issuer.example".into(),
            audience: "back-office".into(),
            max_ttl: Duration::from_secs(3600),
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn claims(extra: Value) -> Value {
        let mut c = json!({"sub": "ops", "exp": now() + 600, "iss": "https://issuer.example",
                           "aud": "back-office", "scope": "orders:read"});
        if let (Some(map), Value::Object(more)) = (c.as_object_mut(), extra) {
            map.extend(more);
        }
        c
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).expect("signs")
    }

    /// A directory of its own, and the path of a key set file in it.
    fn scratch() -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("jwks-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("jwks.json");
        (dir, file)
    }

    fn write_set(file: &std::path::Path, keys: &[&Value]) {
        std::fs::write(file, json!({"keys": keys}).to_string()).expect("write");
    }

    fn set(keys: &[&Value]) -> KeySet {
        KeySet::parse(&json!({"keys": keys}).to_string()).expect("a key set")
    }

    #[test]
    fn a_token_signed_by_a_key_of_the_set_is_its_subject_with_its_scopes() {
        let (jwk, key) = ec_key("k1");
        let token = sign(
            Algorithm::ES256,
            Some("k1"),
            &claims(json!({"groups": ["viewer"]})),
            &key,
        );
        let p = verify(&set(&[&jwk]), &rules(), &token).expect("accepted");
        assert_eq!(p.subject, "ops");
        assert!(p.scopes.contains(Scope::OrdersRead) && p.scopes.contains(Scope::CatalogRead));
        assert!(!p.scopes.contains(Scope::OrdersWrite));
        assert_ne!(p.scopes, Scopes::all());
    }

    #[test]
    fn tokens_are_refused_for_each_fault_on_its_own() {
        let (jwk, key) = ec_key("k1");
        let (_, stranger) = ec_key("k1");
        let keys = set(&[&jwk]);
        let refused = |token: String| verify(&keys, &rules(), &token);
        let es = Algorithm::ES256;
        assert_eq!(
            refused(sign(es, Some("k2"), &claims(json!({})), &key)),
            Err(Refusal::UnknownKey("k2".into()))
        );
        assert_eq!(
            refused(sign(es, None, &claims(json!({})), &key)),
            Err(Refusal::Invalid("the token names no key (kid)"))
        );
        assert_eq!(
            refused(sign(es, Some("k1"), &claims(json!({})), &stranger)),
            Err(Refusal::Invalid("the token signature is invalid"))
        );
        for (extra, why) in [
            (
                json!({"aud": "elsewhere"}),
                "the token audience is not accepted",
            ),
            (
                json!({"iss": "https://elsewhere.example"}),
                "the token issuer is not accepted",
            ),
            (json!({"exp": now() - 60}), "the token has expired"),
            (
                json!({"exp": now() + 7200}),
                "the token lives longer than this service accepts",
            ),
        ] {
            let token = sign(es, Some("k1"), &claims(extra.clone()), &key);
            assert_eq!(refused(token), Err(Refusal::Invalid(why)), "{extra}");
        }
        // The old shared secret, under the key's kid: HS256 is no key's algorithm.
        let hs = sign(
            Algorithm::HS256,
            Some("k1"),
            &claims(json!({})),
            &EncodingKey::from_secret(b"the-old-shared-secret-0123456789"),
        );
        assert_eq!(
            refused(hs),
            Err(Refusal::Invalid("the token's algorithm is not its key's"))
        );
        // alg: none, with the kid.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
        assert!(refused(format!("{header}.{body}.")).is_err());
        assert!(refused("not-a-token".into()).is_err());
        // And the control: nothing wrong, accepted.
        assert!(refused(sign(es, Some("k1"), &claims(json!({})), &key)).is_ok());
    }

    #[test]
    fn an_rsa_key_of_2048_bits_verifies_rs256_only() {
        let n = URL_SAFE_NO_PAD.encode([0xc5; 256]);
        let jwk = json!({"kty": "RSA", "kid": "r1", "n": n, "e": "AQAB"});
        let keys = set(&[&jwk]);
        assert!(keys.contains("r1"));
        // An ES256 token naming the RSA key: refused before any signature check.
        let (_, ec) = ec_key("r1");
        let token = sign(Algorithm::ES256, Some("r1"), &claims(json!({})), &ec);
        assert_eq!(
            verify(&keys, &rules(), &token),
            Err(Refusal::Invalid("the token's algorithm is not its key's"))
        );
    }

    #[tokio::test]
    async fn a_rotated_key_is_taken_after_one_refresh_and_a_removed_one_refused() {
        let (dir, file) = scratch();
        let write = |keys: &[&Value]| write_set(&file, keys);
        let (old_jwk, old_key) = ec_key("old");
        let (new_jwk, new_key) = ec_key("new");
        write(&[&old_jwk]);
        let floor = Duration::from_secs(1);
        let keys = Keys::load(Source::File(file.clone()), floor)
            .await
            .expect("loads");
        let token = |kid: &str, key: &EncodingKey| {
            sign(Algorithm::ES256, Some(kid), &claims(json!({})), key)
        };
        assert!(keys.verify(&rules(), &token("old", &old_key)).await.is_ok());
        // The issuer adds a key: within the floor, no refresh yet.
        write(&[&old_jwk, &new_jwk]);
        let fresh = token("new", &new_key);
        assert_eq!(
            keys.verify(&rules(), &fresh).await,
            Err(Refusal::UnknownKey("new".into()))
        );
        // Past the floor, one refresh takes it.
        tokio::time::sleep(floor).await;
        assert!(keys.verify(&rules(), &fresh).await.is_ok());
        // The old key is removed: once the set is refreshed again, refused.
        write(&[&new_jwk]);
        tokio::time::sleep(floor).await;
        let _ = keys.verify(&rules(), &token("gone", &new_key)).await;
        assert_eq!(
            keys.verify(&rules(), &token("old", &old_key)).await,
            Err(Refusal::UnknownKey("old".into()))
        );
        // A broken file keeps the set held.
        std::fs::write(&file, "not json").expect("write");
        tokio::time::sleep(floor).await;
        let _ = keys.verify(&rules(), &token("other", &new_key)).await;
        assert!(keys.verify(&rules(), &fresh).await.is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn made_up_kids_cannot_make_it_load_without_end() {
        let (dir, file) = scratch();
        let (jwk, key) = ec_key("k1");
        write_set(&file, &[&jwk]);
        let floor = Duration::from_secs(1);
        let keys = std::sync::Arc::new(
            Keys::load(Source::File(file.clone()), floor)
                .await
                .expect("loads"),
        );
        let burst = |n: usize| {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let keys = keys.clone();
                    let t = sign(
                        Algorithm::ES256,
                        Some(&format!("x{i}")),
                        &claims(json!({})),
                        &key,
                    );
                    tokio::spawn(async move { keys.verify(&rules(), &t).await })
                })
                .collect();
            async move {
                for t in tasks {
                    assert!(matches!(
                        t.await.expect("joined"),
                        Err(Refusal::UnknownKey(_))
                    ));
                }
            }
        };
        // Within the floor: 50 concurrent unknown kids, not one load more.
        burst(50).await;
        assert_eq!(keys.loads(), 1);
        // Past it: 50 concurrent unknown kids, one load (single flight).
        tokio::time::sleep(floor).await;
        burst(50).await;
        assert_eq!(keys.loads(), 2);
        let good = sign(Algorithm::ES256, Some("k1"), &claims(json!({})), &key);
        assert!(keys.verify(&rules(), &good).await.is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `openssl s_server -WWW` serving `dir` over HTTPS on 127.0.0.1 with a
    /// self-signed certificate for that address: the issuer stand-in.
    struct HttpsServer {
        child: std::process::Child,
        url: String,
        cert: reqwest::Certificate,
    }

    impl Drop for HttpsServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn https_server(dir: &std::path::Path) -> HttpsServer {
        let ok = std::process::Command::new("openssl")
            .current_dir(dir)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args([
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "key.pem",
            ])
            .args(["-out", "cert.pem", "-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .output()
            .expect("openssl runs");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("openssl")
            .current_dir(dir)
            .args([
                "s_server", "-quiet", "-WWW", "-cert", "cert.pem", "-key", "key.pem",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let pem = std::fs::read(dir.join("cert.pem")).expect("the certificate");
        HttpsServer {
            child,
            url: format!("https://127.0.0.1:{port}/jwks.json"),
            cert: reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"),
        }
    }

    /// The issuer's `jwks_uri` over HTTPS: a new key is taken after one
    /// refresh, a removed one refused once the set is fetched again; a
    /// server the client does not trust, plain http and an oversized set
    /// are refused; an issuer unreachable at start is fetched with the
    /// first token.
    #[tokio::test]
    async fn a_key_set_fetched_over_https_follows_the_issuers_rotation() {
        let (dir, file) = scratch();
        let write = |keys: &[&Value]| write_set(&file, keys);
        let (old_jwk, old_key) = ec_key("old");
        let (new_jwk, new_key) = ec_key("new");
        write(&[&old_jwk]);
        let server = https_server(&dir);
        let floor = Duration::from_secs(1);
        let source = Source::url(&server.url, vec![server.cert.clone()]).expect("an https URL");
        let keys = Keys::load(source.clone(), floor).await.expect("fetched");
        let token = |kid: &str, key: &EncodingKey| {
            sign(Algorithm::ES256, Some(kid), &claims(json!({})), key)
        };
        assert!(keys.verify(&rules(), &token("old", &old_key)).await.is_ok());
        write(&[&old_jwk, &new_jwk]);
        tokio::time::sleep(floor).await;
        assert!(keys.verify(&rules(), &token("new", &new_key)).await.is_ok());
        assert_eq!(keys.loads(), 2, "one fetch for the new kid");
        write(&[&new_jwk]);
        tokio::time::sleep(floor).await;
        let _ = keys.verify(&rules(), &token("unknown", &new_key)).await;
        assert_eq!(
            keys.verify(&rules(), &token("old", &old_key)).await,
            Err(Refusal::UnknownKey("old".into()))
        );
        assert!(keys.verify(&rules(), &token("new", &new_key)).await.is_ok());
        // Another server's certificate: not trusted.
        let untrusted = Source::url(&server.url, Vec::new()).expect("an https URL");
        assert!(Keys::load(untrusted.clone(), floor).await.is_err());
        // At start, an issuer that cannot be reached leaves the set empty;
        // the first token fetches it (here: still untrusted, so refused).
        let started = Keys::start(untrusted, floor).await.expect("starts");
        assert_eq!(
            started.verify(&rules(), &token("new", &new_key)).await,
            Err(Refusal::UnknownKey("new".into()))
        );
        assert_eq!(started.loads(), 2);
        // A file or a document that is wrong fails the start instead.
        assert!(Keys::start(Source::File(dir.join("none.json")), floor)
            .await
            .is_err());
        assert!(Source::parse("http://127.0.0.1/jwks.json").is_err());
        assert!(Source::parse("{\"keys\": 3}").is_err());
        assert!(matches!(Source::parse(&server.url), Ok(Source::Url(..))));
        assert!(matches!(
            Source::parse("keys/jwks.json"),
            Ok(Source::File(_))
        ));
        // A set larger than MAX_BYTES is not read to its end.
        std::fs::write(&file, " ".repeat(MAX_BYTES + 10)).expect("write");
        assert!(Keys::load(source, floor).await.is_err());
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn subjects_and_lifetimes_that_cannot_be_kept_are_refused() {
        let (jwk, key) = ec_key("k1");
        let keys = set(&[&jwk]);
        for sub in ["", " ops", "ops\n", "jos\u{e9}", &"x".repeat(256)] {
            let t = sign(
                Algorithm::ES256,
                Some("k1"),
                &claims(json!({"sub": sub})),
                &key,
            );
            assert!(verify(&keys, &rules(), &t).is_err(), "{sub:?}");
        }
        let auth0 = claims(json!({"sub": "auth0|5f7c8ec7c33c6c004bbafe82"}));
        assert!(verify(
            &keys,
            &rules(),
            &sign(Algorithm::ES256, Some("k1"), &auth0, &key)
        )
        .is_ok());
        let just_under = claims(json!({"exp": now() + 3600 - 60}));
        let t = sign(Algorithm::ES256, Some("k1"), &just_under, &key);
        assert!(verify(&keys, &rules(), &t).is_ok());
        let short = Rules {
            max_ttl: Duration::from_secs(60),
            ..rules()
        };
        assert_eq!(
            verify(&keys, &short, &t),
            Err(Refusal::Invalid(
                "the token lives longer than this service accepts"
            ))
        );
        let mut no_exp = claims(json!({}));
        no_exp.as_object_mut().map(|m| m.remove("exp"));
        let t = sign(Algorithm::ES256, Some("k1"), &no_exp, &key);
        assert!(verify(&keys, &rules(), &t).is_err());
    }

    #[test]
    fn key_sets_keep_signing_keys_and_refuse_what_is_unsafe() {
        let (ec, _) = ec_key("k1");
        let oct = json!({"kty": "oct", "kid": "s1", "k": "c2VjcmV0"});
        let enc = {
            let (mut e, _) = ec_key("e1");
            e["use"] = json!("enc");
            e
        };
        let keys = set(&[&ec, &oct, &enc]);
        assert_eq!(
            keys.len(),
            1,
            "a symmetric key and an encryption key are left out"
        );
        assert!(keys.contains("k1") && !keys.contains("s1") && !keys.contains("e1"));
        let mut no_kid = ec.clone();
        no_kid.as_object_mut().map(|m| m.remove("kid"));
        let mut wrong_alg = ec.clone();
        wrong_alg["alg"] = json!("RS256");
        let short_rsa = json!({"kty": "RSA", "kid": "r0", "n": URL_SAFE_NO_PAD.encode([0xff; 128]), "e": "AQAB"});
        for bad in [
            json!({"keys": [no_kid]}),
            json!({"keys": [ec.clone(), ec.clone()]}),
            json!({"keys": [wrong_alg]}),
            json!({"keys": [short_rsa]}),
            json!({"keys": vec![oct.clone(); MAX_KEYS + 1]}),
            json!({"no": "keys"}),
        ] {
            assert!(KeySet::parse(&bad.to_string()).is_err(), "{bad}");
        }
        assert!(KeySet::parse(&" ".repeat(MAX_BYTES + 1)).is_err());
    }
}
