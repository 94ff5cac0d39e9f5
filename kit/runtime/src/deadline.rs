//! Deadlines that travel with requests. A caller says how long it will wait
//! for an answer in `X-Request-Timeout-Ms` (relative, so clocks need not
//! agree, as gRPC's `grpc-timeout`); the server makes that the current
//! deadline of the request's task ([`current`]), every call it makes
//! downstream through the kit's client (`kit-client`) ends by then and carries what is
//! left of it, and a request whose budget is already spent is answered 504
//! `deadline_exceeded` at once instead of doing work nobody waits for.

use std::time::Duration;

use tokio::time::Instant;

/// The header, in and out: milliseconds the caller will still wait.
pub const HEADER_NAME: &str = contracts::headers::REQUEST_TIMEOUT_MS;

/// The longest budget taken from a caller; a larger one is cut to this.
pub const MAX: Duration = Duration::from_secs(600);

tokio::task_local! {
    static CURRENT: Instant;
}

/// The deadline of the request this task is serving, if its caller gave one.
pub fn current() -> Option<Instant> {
    CURRENT.try_with(|d| *d).ok()
}

/// Whether the request being served has a deadline, and it has passed.
pub fn passed() -> bool {
    current().is_some_and(|d| d <= Instant::now())
}

/// `deadline`, or the request's own when that comes first.
pub fn earliest(deadline: Instant) -> Instant {
    current().map_or(deadline, |d| d.min(deadline))
}

/// Runs `fut` with `deadline` as the current deadline.
pub async fn scope<F: std::future::Future>(deadline: Instant, fut: F) -> F::Output {
    CURRENT.scope(deadline, fut).await
}

/// A budget as the header gives it: decimal milliseconds, at most [`MAX`].
pub fn parse(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>()
        .ok()
        .map(|ms| Duration::from_millis(ms).min(MAX))
}

/// The header's value for a wait of `timeout`.
pub fn header_value(timeout: Duration) -> String {
    timeout.as_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_whole_milliseconds_capped_at_the_maximum() {
        assert_eq!(parse("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("99999999999"), Some(MAX));
        for bad in ["", "-1", "1.5", "1e3", "abc", "1234567890123"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn the_earliest_deadline_wins_inside_a_scope() {
        let now = Instant::now();
        let soon = now + Duration::from_millis(100);
        let later = now + Duration::from_secs(10);
        assert_eq!(earliest(later), later);
        scope(soon, async move {
            assert_eq!(current(), Some(soon));
            assert_eq!(earliest(later), soon);
        })
        .await;
        assert_eq!(current(), None);
    }
}
