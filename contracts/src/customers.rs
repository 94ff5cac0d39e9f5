//! customers-api's answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A customer, as every endpoint answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Customer {
    #[cfg_attr(feature = "schema", schema(example = 1))]
    pub id: u64,
    #[cfg_attr(feature = "schema", schema(example = "ACME"))]
    pub name: String,
    #[cfg_attr(feature = "schema", schema(example = "ops@acme.com"))]
    pub email: String,
    #[cfg_attr(feature = "schema", schema(example = "+51987654321"))]
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
