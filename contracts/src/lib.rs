//! The contracts between the services and with their callers: the bodies
//! customers-api and orders-api take and answer, the saga's request, the
//! ids, and the problem codes a caller acts on. The services send these types and their callers read them
//! back into the same types, so a renamed or retyped field fails to compile
//! (or to deserialise, loudly) instead of turning into a `null` at run time.
//!
//! With the `schema` feature the types also describe themselves for OpenAPI.

// The macro `codes!` names this crate by its name, inside it too.
extern crate self as contracts;

pub mod codes;
pub mod customers;
pub mod events;
pub mod headers;
pub mod ids;
pub mod invalid;
pub mod orders;
pub mod problem;
pub mod saga;
pub mod text;

#[doc(hidden)]
pub use serde as __serde;

pub use codes::ProblemCode;
pub use customers::{Customer, CustomerInput};
pub use events::{Event, EventKind, EventPage};
pub use ids::{CustomerId, OrderId, ProductId};
pub use orders::{
    Order, OrderInput, OrderItem, OrderItemInput, OrderStatus, Product, ProductInput,
};
pub use problem::Code;
pub use saga::SagaRequest;
