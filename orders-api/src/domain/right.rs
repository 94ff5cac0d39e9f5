//! Who may read or change an order, and by which right.

use kit_identity::scope::Scope;

use super::{Order, OrderError, OrderId, OrderStatus};

/// Who reads or cancels an order, and by which right: anyone whose token
/// grants the route's scope (`orders:read`, `orders:cancel`), or the
/// order's creator with `orders:write`, who may always read it and may
/// withdraw it while nobody has confirmed it. That is what a saga needs to
/// read back and to compensate its own order, without rights over anyone
/// else's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right<'a> {
    /// The token grants the route's own scope.
    Scope,
    /// The token grants `orders:write` only; this is its `sub`.
    Creator(&'a str),
    /// Neither.
    None,
}

impl<'a> Right<'a> {
    /// `caller`'s right for a route needing `scope`.
    pub fn of(caller: &'a kit_identity::scope::Principal, scope: Scope) -> Self {
        if caller.may(scope) {
            Right::Scope
        } else if caller.may(Scope::OrdersWrite) {
            Right::Creator(&caller.subject)
        } else {
            Right::None
        }
    }

    /// What the caller learns of an order that does not exist: 404 with
    /// the route's scope, else the same 403 as for someone else's order.
    pub fn missing(self, id: OrderId, scope: Scope) -> OrderError {
        match self {
            Right::Scope => OrderError::NotFound { id },
            _ => OrderError::Forbidden { scope },
        }
    }

    /// `Ok` when the caller may read `order` (`scope`: `orders:read`).
    pub fn read(self, order: &Order, scope: Scope) -> Result<(), OrderError> {
        match self {
            Right::Scope => Ok(()),
            Right::Creator(sub) if order.created_by == sub => Ok(()),
            _ => Err(OrderError::Forbidden { scope }),
        }
    }

    /// `Ok` when the caller may cancel `order` (`scope`: `orders:cancel`):
    /// a creator only while it is not CONFIRMED.
    pub fn cancel(self, order: &Order, scope: Scope) -> Result<(), OrderError> {
        match self {
            Right::Scope => Ok(()),
            Right::Creator(sub)
                if order.created_by == sub && order.status != OrderStatus::Confirmed =>
            {
                Ok(())
            }
            _ => Err(OrderError::Forbidden { scope }),
        }
    }
}
