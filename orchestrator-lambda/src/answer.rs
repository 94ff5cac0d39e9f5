//! What the orchestrator answers: `{"success", "correlationId", "data" |
//! "error"}`, with the confirmed order as `data`.

use contracts::{Customer, Order, OrderItem, OrderStatus};
use serde::Serialize;

use crate::saga::{Compensation, Failure, Step};

/// The customer, as the saga's answer shows it.
#[derive(Debug, Serialize)]
pub struct CustomerSummary {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

/// The order, as the saga's answer shows it.
#[derive(Debug, Serialize)]
pub struct OrderSummary {
    pub id: u64,
    pub customer_id: u64,
    pub status: OrderStatus,
    pub total_cents: u64,
    pub items: Vec<OrderItem>,
    pub created_by: String,
}

/// A saga that succeeded: the customer and the confirmed order.
#[derive(Debug, Serialize)]
pub struct Confirmed {
    pub customer: CustomerSummary,
    pub order: OrderSummary,
}

impl Confirmed {
    pub fn new(customer: Customer, order: Order) -> Self {
        Self {
            customer: CustomerSummary {
                id: customer.id,
                name: customer.name,
                email: customer.email,
                phone: customer.phone,
            },
            order: OrderSummary {
                id: order.id,
                customer_id: order.customer_id,
                status: order.status,
                total_cents: order.total_cents,
                items: order.items,
                created_by: order.created_by,
            },
        }
    }
}

/// The `error` of a failed saga.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub step: Option<Step>,
    pub retriable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation: Option<Compensation>,
}

impl<'a> From<&'a Failure> for ErrorBody<'a> {
    fn from(f: &'a Failure) -> Self {
        Self {
            code: f.code,
            message: &f.message,
            step: f.step,
            retriable: f.retriable,
            compensation: f.compensation,
        }
    }
}

/// Every answer but the health check's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    pub success: bool,
    pub correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Confirmed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody<'a>>,
}

impl<'a> Envelope<'a> {
    pub fn success(correlation_id: &'a str, data: &'a Confirmed) -> Self {
        Self {
            success: true,
            correlation_id,
            data: Some(data),
            error: None,
        }
    }

    pub fn failure(correlation_id: &'a str, failure: &'a Failure) -> Self {
        Self {
            success: false,
            correlation_id,
            data: None,
            error: Some(failure.into()),
        }
    }
}
