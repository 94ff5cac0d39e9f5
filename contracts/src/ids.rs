//! The ids of customers, products and orders: each its own type, so one
//! cannot be passed where another is meant. On the wire each is the plain
//! positive integer it wraps.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The id as stored and sent.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            fn from(id: u64) -> Self {
                Self(id)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A customer's id (customers-api).
    CustomerId
);
id!(
    /// A product's id (orders-api).
    ProductId
);
id!(
    /// An order's id (orders-api).
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_integers_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&OrderId(8)).ok().as_deref(),
            Some("8")
        );
        let back: CustomerId = serde_json::from_str("1").expect("an id");
        assert_eq!(back, CustomerId(1));
        assert_eq!(ProductId(2).to_string(), "2");
        assert!(serde_json::from_str::<ProductId>("-1").is_err());
    }
}
