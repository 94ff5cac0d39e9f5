//! What the rules of a domain say of an input that breaks them, free of
//! HTTP: the routes turn a list of these into a 400 `validation_failed`
//! naming each field (`kit_server::problem`).

/// One invalid field of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Where the value is: a JSON path into the input (`items[2].qty`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
