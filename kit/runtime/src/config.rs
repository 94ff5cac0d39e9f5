//! Settings read from the environment. A `.env` file in the working directory
//! or above it is honoured (development only: real deployments set the
//! environment), and a relative file path it names is read from the `.env`'s
//! own directory, so a process started in a crate's directory (`cargo lambda
//! watch` in `orchestrator-lambda/`) finds what the repository's `.env` names.

use std::{
    fmt::Display,
    path::{Path, PathBuf},
    str::FromStr,
    sync::OnceLock,
};

use anyhow::{anyhow, Context};

use kit_identity::jwks::{JwtVerifier, Rules, Source};
use kit_identity::token::ServiceTokens;

/// The directory of the `.env` that was loaded, if one was.
static DOTENV_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Loads `.env` if present, here or in a parent directory. Variables
/// already set in the environment win.
pub fn load_dotenv() {
    // A missing .env is the normal case outside development.
    if let Ok(file) = dotenvy::dotenv() {
        if let Some(dir) = file.parent() {
            let _ = DOTENV_DIR.set(dir.to_owned());
        }
    }
}

/// `raw`, a file path when relative, as the process can open it: as it is
/// when it exists from the working directory, else from the directory of
/// the `.env` that was loaded (where a relative path in it was written
/// from), else as it is.
pub fn resolve_path(raw: &str) -> String {
    let path = Path::new(raw);
    if path.is_absolute() || path.exists() {
        return raw.to_owned();
    }
    match DOTENV_DIR.get().map(|dir| dir.join(path)) {
        Some(near) if near.exists() => near.to_string_lossy().into_owned(),
        _ => raw.to_owned(),
    }
}

/// A variable that must be set and non-empty.
pub fn required(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(anyhow!("{name} is set but empty")),
        Err(_) => Err(anyhow!("{name} is required but not set")),
    }
}

/// A variable that may be absent (or empty, which counts as absent).
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable parsed as `T`, or `default` when absent.
pub fn parsed_or<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map_err(|e| anyhow!("{name}={raw:?} is invalid: {e}")),
    }
}

/// A variable parsed as `T` and checked to lie in `range`, or `default`
/// when absent. The error names the variable and the range.
pub fn parsed_in<T>(name: &str, default: T, range: std::ops::RangeInclusive<T>) -> anyhow::Result<T>
where
    T: FromStr + PartialOrd + Display + Copy,
    T::Err: Display,
{
    let v = parsed_or(name, default)?;
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(anyhow!(
            "{name}={v} is out of range: it must be between {} and {}",
            range.start(),
            range.end()
        ))
    }
}

/// Seconds, in `range`.
pub fn secs_in(
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<std::time::Duration> {
    parsed_in(name, default, range).map(std::time::Duration::from_secs)
}

/// Milliseconds, in `range`.
pub fn millis_in(
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<std::time::Duration> {
    parsed_in(name, default, range).map(std::time::Duration::from_millis)
}

/// Settings every HTTP service has.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Address to bind (`HOST`, default `0.0.0.0`).
    pub host: String,
    /// Port to bind (`PORT`); `0` picks a free one.
    pub port: u16,
    /// `DATABASE_URL`, or one made of `DB_HOST`, `DB_PORT`, `DB_NAME`,
    /// `DB_USER`, `DB_PASSWORD` and `DB_SSL_CA` ([`database_url`]).
    pub database_url: String,
    /// `MIGRATE_ON_START` (default true): apply the migrations at start.
    /// Off in AWS, where `orders-api migrate` applies them as the admin and
    /// the services' own users have no DDL rights.
    pub migrate_on_start: bool,
    /// `DB_MAX_CONNECTIONS` (default 10).
    pub db_max_connections: u32,
    /// Token verification settings.
    pub auth: AuthSettings,
    /// `CORS_ALLOWED_ORIGINS`: the browser origins (the console's) that may
    /// call this service from another origin; none when unset.
    pub cors_origins: Vec<String>,
}

/// What the services need to check credentials.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `JWT_JWKS`: the issuer's public keys, as a JWKS document, a file
    /// holding one, or an https URL.
    pub jwks: Source,
    /// `JWT_ISSUER` and `JWT_AUDIENCE` (both required: every token must
    /// carry them), and `JWT_MAX_TTL_SECS` (86400): tokens whose `exp` lies
    /// further ahead are refused.
    pub rules: Rules,
    /// The shortest time between two loads of the key set
    /// ([`kit_identity::jwks::REFRESH_FLOOR`]).
    pub jwks_refresh_floor: std::time::Duration,
    /// The services that may call this one's `/internal/*` routes, each
    /// with its own token (`SERVICE_TOKENS`; only customers-api has any).
    pub services: ServiceTokens,
}

impl AuthSettings {
    /// Reads the user-token settings from the environment; no service
    /// tokens ([`AuthSettings::with_services_from_env`] adds them).
    pub fn from_env() -> anyhow::Result<Self> {
        let raw = required("JWT_JWKS")?;
        // A document or a URL as it is; a file path as the process finds it.
        let raw = if raw.trim_start().starts_with('{') || raw.contains("://") {
            raw
        } else {
            resolve_path(&raw)
        };
        let jwks = Source::parse(&raw).map_err(|e| anyhow!("JWT_JWKS: {e}"))?;
        let max_ttl: u64 = parsed_in("JWT_MAX_TTL_SECS", 86_400, 1..=31_536_000)?;
        Ok(Self {
            jwks,
            rules: Rules {
                issuer: required("JWT_ISSUER")?,
                audience: required("JWT_AUDIENCE")?,
                max_ttl: std::time::Duration::from_secs(max_ttl),
            },
            jwks_refresh_floor: kit_identity::jwks::REFRESH_FLOOR,
            services: ServiceTokens::default(),
        })
    }

    /// The verifier of user tokens these settings describe, its keys loaded
    /// (an URL that cannot be reached yet is fetched with the first token).
    pub async fn verifier(&self) -> anyhow::Result<JwtVerifier> {
        JwtVerifier::start(
            self.jwks.clone(),
            self.rules.clone(),
            self.jwks_refresh_floor,
        )
        .await
        .map_err(|e| anyhow!("JWT_JWKS: {e}"))
    }

    /// With the services that may call `/internal/*`: `SERVICE_TOKENS`
    /// (`name=token,...`), plus one `SERVICE_TOKENS_<NAME>=<token>` per
    /// service (for platforms that put each secret in a variable of its
    /// own, as ECS does; `ORDERS_API` names `orders-api`).
    pub fn with_services_from_env(mut self) -> anyhow::Result<Self> {
        let mut services = match optional("SERVICE_TOKENS") {
            Some(raw) => ServiceTokens::parse(&raw).map_err(|e| anyhow!("SERVICE_TOKENS: {e}"))?,
            None => ServiceTokens::default(),
        };
        let mut each: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("SERVICE_TOKENS_")?;
                Some((name.to_ascii_lowercase().replace('_', "-"), v))
            })
            .collect();
        each.sort();
        for (name, token) in each {
            services.add(&name, token.trim()).map_err(|e| {
                anyhow!(
                    "SERVICE_TOKENS_{}: {e}",
                    name.to_ascii_uppercase().replace('-', "_")
                )
            })?;
        }
        if services.is_empty() {
            return Err(anyhow!(
                "SERVICE_TOKENS is required: name=token pairs of the services that may call /internal/*"
            ));
        }
        self.services = services;
        Ok(self)
    }
}

/// This service's own token for another's `/internal/*` routes
/// (`SERVICE_TOKEN`), at least 16 bytes.
pub fn service_token(token: String) -> anyhow::Result<String> {
    if token.trim().len() < kit_identity::token::MIN_SERVICE_TOKEN_LEN {
        return Err(anyhow!("SERVICE_TOKEN must be at least 16 bytes long"));
    }
    Ok(token.trim().to_owned())
}

impl HttpSettings {
    /// Reads the shared settings; `default_port` applies when `PORT` is unset.
    pub fn from_env(default_port: u16) -> anyhow::Result<Self> {
        let db_max_connections: u32 = parsed_in("DB_MAX_CONNECTIONS", 10, 1..=1000)?;
        Ok(Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parsed_or("PORT", default_port)?,
            database_url: database_url()?,
            migrate_on_start: parsed_or("MIGRATE_ON_START", true)?,
            db_max_connections,
            auth: AuthSettings::from_env()?,
            cors_origins: match optional("CORS_ALLOWED_ORIGINS") {
                Some(raw) => origins(&raw).map_err(|e| anyhow!("CORS_ALLOWED_ORIGINS: {e}"))?,
                None => Vec::new(),
            },
        })
    }
}

/// Comma-separated browser origins, each `http(s)://host[:port]` exactly
/// as a browser sends it in `Origin`: no path, no wildcard.
pub fn origins(raw: &str) -> anyhow::Result<Vec<String>> {
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .ok_or_else(|| anyhow!("{o:?} is no http(s) origin"))?;
            let host_ok = !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
            if !host_ok {
                return Err(anyhow!(
                    "{o:?} is no origin: scheme://host[:port], without a path or a wildcard"
                ));
            }
            Ok(o.to_owned())
        })
        .collect()
}

/// The database's URL: `DATABASE_URL` when set, else one made of its parts
/// ([`DbParts::from_env`]), as ECS passes them: the password alone comes
/// from a secret, the rest from the task definition.
pub fn database_url() -> anyhow::Result<String> {
    match optional("DATABASE_URL") {
        Some(url) => Ok(url),
        None => Ok(DbParts::from_env()
            .context("the database is not configured (DATABASE_URL, or DB_HOST and the other DB_* variables)")?
            .url()),
    }
}

/// A database given by parts: `DB_HOST`, `DB_PORT` (3306), `DB_NAME`,
/// `DB_USER`, `DB_PASSWORD`, and `DB_SSL_CA`, a CA bundle that turns on TLS
/// with the server's certificate and host name verified.
#[derive(Clone, PartialEq, Eq)]
pub struct DbParts {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: String,
    pub ssl_ca: Option<String>,
}

impl std::fmt::Debug for DbParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbParts")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("ssl_ca", &self.ssl_ca)
            .finish()
    }
}

impl DbParts {
    /// Reads the `DB_*` variables; the host, the name and the user are
    /// checked to be plain names (they go into a URL and into SQL).
    pub fn from_env() -> anyhow::Result<Self> {
        let parts = Self {
            host: required("DB_HOST")?,
            port: parsed_or("DB_PORT", 3306)?,
            name: required("DB_NAME")?,
            user: required("DB_USER")?,
            password: required("DB_PASSWORD")?,
            ssl_ca: optional("DB_SSL_CA"),
        };
        if !parts
            .host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(anyhow!("DB_HOST must be a host name or an IPv4 address"));
        }
        for (var, value) in [("DB_NAME", &parts.name), ("DB_USER", &parts.user)] {
            if !is_identifier(value) {
                return Err(anyhow!("{var} must be 1 to 64 of A-Z a-z 0-9 _"));
            }
        }
        Ok(parts)
    }

    /// The URL of the database (its password percent-encoded).
    pub fn url(&self) -> String {
        self.url_of(&self.name)
    }

    /// The same server with no database selected (to create it).
    pub fn server_url(&self) -> String {
        self.url_of("")
    }

    fn url_of(&self, database: &str) -> String {
        let tls = match &self.ssl_ca {
            Some(ca) => format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={}", encode(ca)),
            None => String::new(),
        };
        format!(
            "mysql://{}:{}@{}:{}/{database}{tls}",
            encode(&self.user),
            encode(&self.password),
            self.host,
            self.port,
        )
    }
}

/// A MySQL identifier the project accepts for databases and users: 1 to 64 of
/// `A-Z a-z 0-9 _` (nothing to quote or escape).
pub fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(password: &str, ssl_ca: Option<&str>) -> DbParts {
        DbParts {
            host: "db.example.internal".into(),
            port: 3306,
            name: "backoffice".into(),
            user: "orders_api".into(),
            password: password.into(),
            ssl_ca: ssl_ca.map(str::to_owned),
        }
    }

    #[test]
    fn a_url_from_parts_survives_any_password() {
        use std::str::FromStr;
        let password = "p@ss:w/rd#?%&= x";
        let url = parts(password, Some("/etc/ssl/certs/rds-global-bundle.pem")).url();
        assert_eq!(
            url,
            "mysql://orders_api:p%40ss%3Aw%2Frd%23%3F%25%26%3D%20x@db.example.internal:3306/backoffice?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fssl%2Fcerts%2Frds-global-bundle.pem"
        );
        let options = sqlx::mysql::MySqlConnectOptions::from_str(&url).expect("parses");
        assert_eq!(options.get_username(), "orders_api");
        assert_eq!(options.get_database(), Some("backoffice"));
        assert_eq!(options.get_host(), "db.example.internal");
    }

    #[test]
    fn the_server_url_selects_no_database() {
        assert_eq!(
            parts("secretsecret", None).server_url(),
            "mysql://orders_api:secretsecret@db.example.internal:3306/"
        );
        // A user named like the database keeps its name.
        let same = DbParts {
            user: "backoffice".into(),
            ..parts("secretsecret", Some("/ca.pem"))
        };
        assert_eq!(
            same.server_url(),
            "mysql://backoffice:secretsecret@db.example.internal:3306/?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fca.pem"
        );
    }

    #[test]
    fn a_relative_path_is_read_from_the_dotenv_directory_when_not_here() {
        let dir = std::env::temp_dir().join(format!("dotenv-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).expect("a folder");
        std::fs::write(dir.join("keys/jwks.json"), "{}").expect("a file");
        let _ = DOTENV_DIR.set(dir.clone());
        let near = dir.join("keys/jwks.json").to_string_lossy().into_owned();
        assert_eq!(resolve_path("keys/jwks.json"), near);
        // Absolute, or nowhere to be found: as it is.
        assert_eq!(resolve_path(&near), near);
        assert_eq!(resolve_path("no/such/file.json"), "no/such/file.json");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let shown = format!("{:?}", parts("hunter2hunter2", None));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn identifiers_are_plain_names() {
        assert!(is_identifier("orders_api"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a'b"));
        assert!(!is_identifier("a`b"));
        assert!(!is_identifier(&"x".repeat(65)));
    }
}
