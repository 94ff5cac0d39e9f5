//! Lists: `limit` (1..=100, default 20) and an opaque `cursor`.
//!
//! A cursor names the last row of the page it came from (`v1:<id>` in base64url),
//! so pages are stable under inserts: walking a table never repeats or skips a row.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::{ApiError, FieldError, KitCode};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// `limit` and `cursor` as they arrive in the query string.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `search`, `limit` and `cursor`: the query of every searchable list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Matches rows whose searchable fields contain it, case-insensitively
    /// (1..=200 characters; `%` and `_` are literal).
    pub search: Option<String>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl SearchParams {
    /// The page, and the search term (trimmed; `None` when empty).
    pub fn parse(&self) -> Result<(Option<&str>, PageRequest), ApiError> {
        let page = PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .parse()?;
        let term = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if term.is_some_and(|t| t.chars().count() > 200) {
            return Err(ApiError::validation(vec![FieldError::new(
                "search",
                "must be at most 200 characters",
            )]));
        }
        Ok((term, page))
    }
}

/// A `LIKE` pattern matching values that contain `term`: `%`, `_` and `\`
/// in the term match themselves.
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Only rows with a greater id.
    pub after_id: u64,
}

impl PageRequest {
    /// How many rows to fetch: one more than the page, to know if another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

impl PageParams {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )]));
        }
        let after_id = match self.cursor.as_deref() {
            None | Some("") => 0,
            Some(raw) => decode_cursor(raw).ok_or_else(|| {
                ApiError::bad_request(
                    KitCode::InvalidCursor,
                    "the cursor is not one this API issued",
                )
                .with_errors(vec![FieldError::new("cursor", "unrecognised cursor")])
            })?,
        };
        Ok(PageRequest { limit, after_id })
    }
}

pub fn encode_cursor(last_id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{last_id}"))
}

pub fn decode_cursor(raw: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let digits = text.strip_prefix("v1:")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Splits a fetched batch (of up to `limit + 1` rows) into the page and the
/// cursor of the next one.
pub fn paginate<T>(
    mut rows: Vec<T>,
    page: PageRequest,
    id_of: impl Fn(&T) -> u64,
) -> (Vec<T>, Option<String>) {
    let limit = page.limit as usize;
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|r| encode_cursor(id_of(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(id in any::<u64>()) {
            prop_assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }

        #[test]
        fn arbitrary_strings_never_panic(raw in ".{0,64}") {
            let _ = decode_cursor(&raw);
        }
    }

    #[test]
    fn rejects_foreign_cursors_and_limits_out_of_range() {
        for bad in ["abc", "djE6", "djE6LTE", "!!", "djI6MQ"] {
            let p = PageParams {
                limit: None,
                cursor: Some(bad.into()),
            };
            assert_eq!(
                p.parse().err().map(|e| e.code().to_owned()).as_deref(),
                Some("invalid_cursor"),
                "{bad}"
            );
        }
        for limit in [0, 101] {
            let p = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            assert!(p.parse().is_err());
        }
        let p = PageParams {
            limit: None,
            cursor: Some(encode_cursor(7)),
        };
        assert_eq!(
            p.parse().ok(),
            Some(PageRequest {
                limit: 20,
                after_id: 7
            })
        );
    }

    #[test]
    fn wildcards_in_terms_are_literal() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(contains_pattern("acme"), "%acme%");
    }

    #[test]
    fn search_terms_are_trimmed_and_bounded() {
        let p = SearchParams {
            search: Some("  acme ".into()),
            limit: Some(5),
            cursor: None,
        };
        assert_eq!(
            p.parse().ok().map(|(t, _)| t.map(str::to_owned)),
            Some(Some("acme".to_owned()))
        );
        let p = SearchParams {
            search: Some("   ".into()),
            ..Default::default()
        };
        assert_eq!(p.parse().ok().map(|(t, _)| t.is_none()), Some(true));
        let p = SearchParams {
            search: Some("a".repeat(201)),
            ..Default::default()
        };
        assert!(p.parse().is_err());
    }

    #[test]
    fn paginate_emits_a_cursor_only_when_more_rows_exist() {
        let page = PageRequest {
            limit: 2,
            after_id: 0,
        };
        let (rows, next) = paginate(vec![1u64, 2, 3], page, |r| *r);
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(next.as_deref().and_then(decode_cursor), Some(2));
        let (rows, next) = paginate(vec![1u64, 2], page, |r| *r);
        assert_eq!(rows, vec![1, 2]);
        assert!(next.is_none());
    }
}
