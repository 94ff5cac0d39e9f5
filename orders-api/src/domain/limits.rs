//! The most one order may hold.

use super::OrderError;

/// The most one order may hold, so that one token cannot buy out the
/// inventory: units in all (`ORDER_MAX_QTY`) and value
/// (`ORDER_MAX_TOTAL_CENTS`). A saga is one order, so these cap a saga too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderLimits {
    pub max_qty: u64,
    pub max_total_cents: u64,
}

impl Default for OrderLimits {
    /// 10,000 units, 1,000,000.00 in value.
    fn default() -> Self {
        Self {
            max_qty: 10_000,
            max_total_cents: 100_000_000,
        }
    }
}

impl OrderLimits {
    pub(super) fn check(
        &self,
        what: &'static str,
        max: u64,
        wanted: u64,
    ) -> Result<(), OrderError> {
        if wanted > max {
            return Err(OrderError::LimitExceeded { what, max, wanted });
        }
        Ok(())
    }
}
