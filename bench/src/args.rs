//! Value parsers shared by the command lines of `bench` and `chaos`.

use std::time::Duration;

/// A non-negative number of seconds, fractions allowed (`2`, `0.5`).
pub fn seconds(raw: &str) -> Result<Duration, String> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|e| format!("{raw:?} is not a number of seconds: {e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{raw:?}: {e}"))
}

/// A probability, 0..=1.
pub fn fraction(raw: &str) -> Result<f64, String> {
    let v: f64 = raw
        .trim()
        .parse()
        .map_err(|e| format!("{raw:?} is not a number: {e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{raw} is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_fractions_are_checked() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
        assert_eq!(fraction("0.03"), Ok(0.03));
        assert!(fraction("1.5").is_err());
    }
}
