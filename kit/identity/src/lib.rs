//! Who a caller is and what it may do, with no web framework: the HTTP
//! services wrap it in extractors (`kit-server`'s `auth`), the Lambda calls
//! it directly.
//!
//! - [`token`]: user tokens' claims, and the services' own tokens, checked in constant time.
//! - [`jwks`]: tokens signed with an issuer's asymmetric keys, checked against its key set.
//! - [`scope`]: scopes and roles: what a verified caller may do.

pub mod jwks;
pub mod scope;
pub mod token;
