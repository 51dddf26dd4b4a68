use std::fmt;

/// One rejected input: the field it came from (a dotted path as the client sent it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field in the request, e.g. `price.amount`.
    pub field: String,
    /// Human-readable reason, safe to show to the client.
    pub message: String,
}

impl FieldError {
    /// A rejection of `field` for `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same rejection, reported under another field path (value objects do not know where
    /// in a request they were read from).
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why the domain refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Inputs that break a value object's rules; every offending field is listed.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    /// Money of two currencies was combined.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(String, String),
    /// An amount left the representable range.
    #[error("amount out of range")]
    Overflow,
    /// A status change the order's status machine does not allow.
    #[error("an order cannot go from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: &'static str,
        /// Requested status.
        to: &'static str,
    },
}

impl From<FieldError> for DomainError {
    fn from(e: FieldError) -> Self {
        DomainError::Validation(vec![e])
    }
}

/// Collects field errors so a request reports all of its problems at once, not the first only.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value of `result`, or records its error under `field` and returns `None`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e.at(field));
                None
            }
        }
    }

    /// Records an error directly.
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Ok(())` when nothing was recorded, else every recorded error.
    ///
    /// # Errors
    /// `DomainError::Validation` with all recorded field errors.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_prints_its_field_and_reason() {
        let e = FieldError::new("price.amount", "must not be negative");
        assert_eq!(e.to_string(), "price.amount: must not be negative");
        let moved = e.at("items[0].price");
        assert_eq!(moved.field, "items[0].price");
        assert_eq!(moved.message, "must not be negative");
    }

    #[test]
    fn a_validator_keeps_values_and_reports_every_error_in_order() {
        let mut v = Validator::new();
        assert_eq!(v.check("a", Ok::<_, FieldError>(7)), Some(7));
        assert_eq!(v.check::<i32>("b", Err(FieldError::new("x", "bad"))), None);
        v.push(FieldError::new("c", "worse"));
        assert_eq!(
            v.finish(),
            Err(DomainError::Validation(vec![
                FieldError::new("b", "bad"),
                FieldError::new("c", "worse")
            ]))
        );
        let mut v = Validator::new();
        assert_eq!(v.check("a", Ok::<_, FieldError>(())), Some(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn one_field_error_becomes_a_validation_of_one() {
        let e: DomainError = FieldError::new("sku", "taken").into();
        assert_eq!(
            e,
            DomainError::Validation(vec![FieldError::new("sku", "taken")])
        );
        assert_eq!(e.to_string(), "invalid input: sku: taken");
    }
}
