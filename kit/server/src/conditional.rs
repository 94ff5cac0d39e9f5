//! Conditional requests (RFC 9110 §13): entity tags and `If-Match`, so that a
//! write based on a stale read is refused instead of overwriting what changed.

use actix_web::http::{
    header::{self, HeaderMap},
    StatusCode,
};

use crate::problem::{ApiError, KitCode};

/// An `If-Match` precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the resource exists, whatever its state.
    Any,
    /// One of these strong entity tags, quotes included.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Strong comparison: a weak tag never matches.
    pub fn matches(&self, etag: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t == etag),
        }
    }
}

fn malformed() -> ApiError {
    ApiError::bad_request(
        KitCode::InvalidIfMatch,
        "If-Match must be `*` or a list of quoted entity tags, e.g. \"3\"",
    )
}

/// The request's `If-Match`, if any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in headers.get_all(header::IF_MATCH) {
        let value = value.to_str().map_err(|_| malformed())?;
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                any = true;
                continue;
            }
            let (weak, tag) = match item.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(malformed)?;
            // etagc: %x21 / %x23-7E (no space, no quote).
            if !inner
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return Err(malformed());
            }
            if !weak {
                tags.push(tag.to_owned());
            }
        }
    }
    if any {
        return Ok(Some(IfMatch::Any));
    }
    if tags.is_empty() && !headers.contains_key(header::IF_MATCH) {
        return Ok(None);
    }
    Ok(Some(IfMatch::Tags(tags)))
}

/// 412: the resource changed since the caller read it.
pub fn precondition_failed(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        KitCode::PreconditionFailed,
        detail.into(),
    )
}

/// 428: this change needs `If-Match`.
pub fn precondition_required(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_REQUIRED,
        KitCode::PreconditionRequired,
        detail.into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn parse(values: &[&'static str]) -> Result<Option<IfMatch>, ApiError> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_MATCH, HeaderValue::from_static(v));
        }
        if_match(&h)
    }

    #[test]
    fn if_match_is_parsed_and_compared_strongly() {
        assert_eq!(parse(&[]).ok(), Some(None));
        assert_eq!(parse(&["*"]).ok(), Some(Some(IfMatch::Any)));
        let m = parse(&["\"3\", \"4\""]).ok().flatten().expect("tags");
        assert!(m.matches("\"4\"") && !m.matches("\"5\""));
        let weak = parse(&["W/\"3\""]).ok().flatten().expect("parsed");
        assert!(!weak.matches("\"3\""), "a weak tag never matches");
        assert!(parse(&["3"]).is_err());
        assert!(parse(&["\"a b\""]).is_err());
    }
}
