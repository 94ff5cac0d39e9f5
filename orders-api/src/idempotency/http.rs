//! The HTTP side of idempotency keys: the key from `Idempotency-Key` or
//! `X-Idempotency-Key`, stored answers sent (again), final refusals stored
//! for replay, and the problem document of each refusal of a key. The
//! protocol itself is the parent module.

use actix_web::{
    http::{
        header::{self, HeaderMap, HeaderValue},
        StatusCode,
    },
    HttpResponse,
};
use kit_server::problem::{self, ApiError};
use sqlx::MySqlPool;

use contracts::Code;

use super::{Answer, Failed, Idem, IdempotencyKey, KeyConflict, Outcome};
use crate::{
    codes::OrdersCode,
    idempotency,
    store::{Tx, TxError},
};

use contracts::headers::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, X_IDEMPOTENCY_KEY};

/// The key of a request, from `Idempotency-Key` or `X-Idempotency-Key`.
pub fn key_of(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let read = |name: &str| -> Result<Option<IdempotencyKey>, ApiError> {
        let Some(value) = headers.get(name) else {
            return Ok(None);
        };
        let raw = value.to_str().map_err(|_| invalid_key())?;
        IdempotencyKey::parse(raw).map(Some).ok_or_else(invalid_key)
    };
    match (read(IDEMPOTENCY_KEY)?, read(X_IDEMPOTENCY_KEY)?) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            OrdersCode::InvalidIdempotencyKey,
            "Idempotency-Key and X-Idempotency-Key differ; send one",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

fn invalid_key() -> ApiError {
    ApiError::bad_request(
        OrdersCode::InvalidIdempotencyKey,
        "the idempotency key must be 1..=255 visible ASCII characters",
    )
}

/// `value` as a JSON answer with `status`.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Result<Answer, ApiError> {
    Answer::json(status.as_u16(), value).map_err(|e| ApiError::internal(anyhow::Error::from(e)))
}

/// A refusal as its problem document.
fn problem_answer(e: &ApiError) -> Result<Answer, ApiError> {
    let mut answer = json(e.status(), &e.problem())?;
    answer.content_type = problem::CONTENT_TYPE.into();
    Ok(answer)
}

/// An answer as sent; `replayed` marks it `Idempotent-Replayed: true`.
pub fn respond(answer: Answer, replayed: bool) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::from_u16(answer.status)
        .map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, answer.content_type));
    if let Some(location) = answer.location {
        res.insert_header((header::LOCATION, location));
    }
    if replayed {
        res.insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    }
    Ok(res.body(answer.body))
}

/// The problem document of each refusal of an idempotency key.
impl From<KeyConflict> for ApiError {
    fn from(e: KeyConflict) -> Self {
        let detail = e.to_string();
        match e {
            KeyConflict::Reused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::IdempotencyKeyReused,
                detail,
            ),
            KeyConflict::InProgress { retry_after_secs } => {
                ApiError::conflict(Code::IdempotencyKeyInProgress, detail).with_header(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.clamp(1, 60)),
                )
            }
        }
    }
}

/// Whether a failure is a final answer worth replaying: the request was valid
/// and ran, and the state of things said no (stock, state, unknown entities).
fn is_final(e: &ApiError) -> bool {
    matches!(
        e.status(),
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
    )
}

/// [`idempotency::run`], with the work's final refusals stored under the
/// key; every other failure as its problem.
pub async fn run<T>(
    pool: &MySqlPool,
    idem: Option<&Idem>,
    work: impl AsyncFnMut(&mut Tx) -> Result<T, TxError>,
) -> Result<Outcome<T>, ApiError> {
    match idempotency::run(pool, idem, work).await {
        Ok(outcome) => Ok(outcome),
        Err(Failed::Key(e)) => Err(e.into()),
        Err(Failed::Work(e)) => {
            let e = ApiError::from(e);
            match idem {
                Some(idem) if is_final(&e) => {
                    Ok(idempotency::refuse(pool, idem, problem_answer(&e)?).await?)
                }
                _ => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    #[test]
    fn keys_come_from_either_header_and_must_agree() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).ok().flatten(), None);
        h.insert(
            HeaderName::from_static(X_IDEMPOTENCY_KEY),
            HeaderValue::from_static("abc-1"),
        );
        assert_eq!(
            key_of(&h)
                .ok()
                .flatten()
                .as_ref()
                .map(IdempotencyKey::as_str),
            Some("abc-1")
        );
        h.insert(
            HeaderName::from_static(IDEMPOTENCY_KEY),
            HeaderValue::from_static("abc-1"),
        );
        assert!(key_of(&h).is_ok());
        h.insert(
            HeaderName::from_static(IDEMPOTENCY_KEY),
            HeaderValue::from_static("abc-2"),
        );
        assert!(key_of(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static(IDEMPOTENCY_KEY),
            HeaderValue::from_static("has space"),
        );
        assert!(key_of(&h).is_err());
    }
}
