//! Credentials: HS256 user tokens on business routes, the service token on
//! `/internal/*`, and either on routes that a service calls for a user
//! ([`Caller`]). All are extractors, so a handler that takes one cannot run
//! unauthenticated.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};

use crate::problem::{ApiError, KitCode};
use crate::token::bearer_token;
pub use crate::token::{verifiers, JwtVerifier, ServiceTokenVerifier, ON_BEHALF_OF};

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(KitCode::Unauthorized, "a bearer token is required")
    })?;
    let value = value.to_str().map_err(|_| {
        ApiError::unauthorized(
            KitCode::Unauthorized,
            "the Authorization header is malformed",
        )
    })?;
    bearer_token(value).map_err(|why| ApiError::unauthorized(KitCode::Unauthorized, why))
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
                .map_err(|why| ApiError::unauthorized(KitCode::InvalidToken, why))?;
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
                    KitCode::InvalidToken,
                    "the service token is invalid",
                ))
            }
        })())
    }
}

/// Who a request acts for: a user with their own token, or a service of
/// ours (holding `SERVICE_TOKEN`) acting for the user it names in
/// `X-On-Behalf-Of`. Only a service credential may set that header: a user
/// token that comes with it is refused (403), so nobody acts as another user.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user's `sub`.
    pub subject: String,
    /// Whether a service made the request for the user.
    pub via_service: bool,
}

fn on_behalf_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(ON_BEHALF_OF) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            KitCode::InvalidOnBehalfOf,
            "X-On-Behalf-Of must name a subject of 1 to 255 printable ASCII characters",
        )
    };
    let subject = value.to_str().map_err(|_| bad())?;
    if crate::token::valid_subject(subject) {
        Ok(Some(subject.to_owned()))
    } else {
        Err(bad())
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let token = bearer(req)?;
            let services = req
                .app_data::<web::Data<ServiceTokenVerifier>>()
                .ok_or_else(|| missing_config("ServiceTokenVerifier"))?;
            if services.matches(token) {
                let subject = on_behalf_of(req)?.ok_or_else(|| {
                    ApiError::unauthorized(
                        KitCode::Unauthorized,
                        "a service credential must name the user it acts for in X-On-Behalf-Of",
                    )
                })?;
                return Ok(Caller {
                    subject,
                    via_service: true,
                });
            }
            let users = req
                .app_data::<web::Data<JwtVerifier>>()
                .ok_or_else(|| missing_config("JwtVerifier"))?;
            let subject = users
                .verify(token)
                .map_err(|why| ApiError::unauthorized(KitCode::InvalidToken, why))?;
            if req.headers().contains_key(ON_BEHALF_OF) {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    KitCode::OnBehalfOfForbidden,
                    "only a service credential may act on behalf of another user",
                ));
            }
            Ok(Caller {
                subject,
                via_service: false,
            })
        })())
    }
}
