//! customers-api's answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CustomerId;

/// A customer, as every endpoint answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Customer {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 1))]
    pub id: CustomerId,
    #[cfg_attr(feature = "schema", schema(example = "ACME"))]
    pub name: String,
    #[cfg_attr(feature = "schema", schema(example = "ops@acme.com"))]
    pub email: String,
    #[cfg_attr(feature = "schema", schema(example = "+51987654321"))]
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /customers` and `PUT /customers/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// 1..=200 characters.
    #[cfg_attr(
        feature = "schema",
        schema(example = "ACME", min_length = 1, max_length = 200)
    )]
    pub name: String,
    /// Unique among active customers, case-insensitively.
    #[cfg_attr(feature = "schema", schema(example = "ops@acme.com", max_length = 254))]
    pub email: String,
    /// 7..=15 digits, optional leading `+`; stored in E.164 form.
    #[cfg_attr(feature = "schema", schema(example = "+51987654321"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}
