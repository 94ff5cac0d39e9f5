//! Settings read from the environment. A `.env` file in the working directory is
//! honoured (development only: real deployments set the environment).

use std::{fmt::Display, str::FromStr};

use anyhow::{anyhow, Context};

/// Loads `.env` if present. Variables already set in the environment win.
pub fn load_dotenv() {
    // A missing .env is the normal case outside development.
    let _ = dotenvy::dotenv();
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
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `DB_MAX_CONNECTIONS` (default 10).
    pub db_max_connections: u32,
    /// Token verification settings.
    pub auth: AuthSettings,
}

/// What the services need to check credentials.
#[derive(Clone)]
pub struct AuthSettings {
    /// `JWT_SECRET`: HS256 key for user tokens.
    pub jwt_secret: String,
    /// `JWT_ISSUER`: checked when set.
    pub jwt_issuer: Option<String>,
    /// `JWT_AUDIENCE`: checked when set.
    pub jwt_audience: Option<String>,
    /// `SERVICE_TOKEN`: bearer token for `/internal/*`.
    pub service_token: String,
    /// `JWT_MAX_TTL_SECS` (86400): tokens whose `exp` lies further ahead are refused.
    pub jwt_max_ttl: std::time::Duration,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("service_token", &"<redacted>")
            .field("jwt_max_ttl", &self.jwt_max_ttl)
            .finish()
    }
}

impl AuthSettings {
    /// Reads every setting from the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::with_secrets(required("JWT_SECRET")?, required("SERVICE_TOKEN")?)
    }

    /// The two secrets as given (read from a secret store, say); the rest
    /// from the environment.
    pub fn with_secrets(jwt_secret: String, service_token: String) -> anyhow::Result<Self> {
        if jwt_secret.len() < 16 {
            return Err(anyhow!("JWT_SECRET must be at least 16 bytes long"));
        }
        if service_token.len() < 16 {
            return Err(anyhow!("SERVICE_TOKEN must be at least 16 bytes long"));
        }
        let max_ttl: u64 = parsed_in("JWT_MAX_TTL_SECS", 86_400, 1..=31_536_000)?;
        Ok(Self {
            jwt_secret,
            jwt_issuer: optional("JWT_ISSUER"),
            jwt_audience: optional("JWT_AUDIENCE"),
            service_token,
            jwt_max_ttl: std::time::Duration::from_secs(max_ttl),
        })
    }
}

impl HttpSettings {
    /// Reads the shared settings; `default_port` applies when `PORT` is unset.
    pub fn from_env(default_port: u16) -> anyhow::Result<Self> {
        let db_max_connections: u32 = parsed_in("DB_MAX_CONNECTIONS", 10, 1..=1000)?;
        Ok(Self {
            host: optional("HOST").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parsed_or("PORT", default_port)?,
            database_url: required("DATABASE_URL").context("the database is not configured")?,
            db_max_connections,
            auth: AuthSettings::from_env()?,
        })
    }
}
