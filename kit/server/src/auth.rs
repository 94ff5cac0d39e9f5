//! Credentials as actix extractors, so a handler that takes one cannot run
//! unauthenticated or beyond its caller's rights:
//!
//! - [`Allowed<P>`]: a user token granting the scope `P` names
//!   (`Allowed<needs::OrdersWrite>`); 401 without a valid token, 403
//!   `forbidden` naming the scope without it.
//! - [`Principal`]: any valid user token, for the routes whose rule also
//!   looks at the entity (an order's creator may read and withdraw it).
//! - [`ServiceCaller`]: one of the services in `SERVICE_TOKENS`, by name.

use std::{
    future::{ready, Ready},
    marker::PhantomData,
};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::problem::{ApiError, KitCode};
pub use kit_identity::jwks::JwtVerifier;
pub use kit_identity::scope::{needs, Permission, Principal, Scope, Scopes};
use kit_identity::token::bearer_token;
pub use kit_identity::token::ServiceTokens;

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

/// The caller of the request's user token. Asynchronous because a token
/// naming a key the verifier lacks makes it load the issuer's set again.
fn principal(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Principal, ApiError>> {
    let verifier = req
        .app_data::<web::Data<JwtVerifier>>()
        .cloned()
        .ok_or_else(|| missing_config("JwtVerifier"));
    let token = bearer(req).map(str::to_owned);
    Box::pin(async move {
        let principal = verifier?
            .verify(&token?)
            .await
            .map_err(|why| ApiError::unauthorized(KitCode::InvalidToken, why))?;
        // The access log line and every log line of the request name the caller.
        tracing::Span::current().record("sub", principal.subject.as_str());
        Ok(principal)
    })
}

/// 403 `forbidden`, naming the scope the caller lacks (also in
/// `WWW-Authenticate`, as RFC 6750 has it).
pub fn forbidden(scope: Scope) -> ApiError {
    let challenge = format!(
        "Bearer realm=\"order-back-office\", error=\"insufficient_scope\", scope=\"{scope}\""
    );
    let mut e = ApiError::new(
        actix_web::http::StatusCode::FORBIDDEN,
        KitCode::Forbidden,
        format!("this needs the scope {scope}, which the token does not grant"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&challenge) {
        e = e.with_header(header::WWW_AUTHENTICATE, v);
    }
    e
}

/// A caller with a valid user token, whatever its scopes (the handler
/// decides what they allow).
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = principal(req);
        Box::pin(async move { caller.await.map(Authenticated) })
    }
}

/// A caller whose user token grants `P`'s scope.
pub struct Allowed<P> {
    pub caller: Principal,
    _needs: PhantomData<P>,
}

impl<P: Permission> FromRequest for Allowed<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = principal(req);
        Box::pin(async move {
            let caller = caller.await?;
            caller.scopes.require(P::SCOPE).map_err(forbidden)?;
            Ok(Allowed {
                caller,
                _needs: PhantomData,
            })
        })
    }
}

/// One of our services, known by its own token (`SERVICE_TOKENS`).
#[derive(Clone, Debug)]
pub struct ServiceCaller {
    /// Its name in `SERVICE_TOKENS`.
    pub name: String,
}

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let services = req
                .app_data::<web::Data<ServiceTokens>>()
                .ok_or_else(|| missing_config("ServiceTokens"))?;
            let token = bearer(req)?;
            let name = services.caller(token).ok_or_else(|| {
                ApiError::unauthorized(KitCode::InvalidToken, "the service token is invalid")
            })?;
            let name = format!("service:{name}");
            tracing::Span::current().record("sub", name.as_str());
            Ok(ServiceCaller { name })
        })())
    }
}
