//! The contracts between the services: the bodies customers-api and
//! orders-api answer, the body of `POST /orders`, and the problem codes a
//! caller acts on. The services send these types and their callers read them
//! back into the same types, so a renamed or retyped field fails to compile
//! (or to deserialise, loudly) instead of turning into a `null` at run time.
//!
//! With the `schema` feature the types also describe themselves for OpenAPI.

pub mod customers;
pub mod orders;
pub mod problem;

pub use customers::Customer;
pub use orders::{Order, OrderInput, OrderItem, OrderItemInput, OrderStatus};
pub use problem::Code;
