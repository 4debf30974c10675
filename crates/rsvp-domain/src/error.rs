//! Field-level validation errors, collected so that a caller learns about
//! every invalid field at once.

use std::fmt;

/// One invalid field: where it is, a stable machine-readable code, and a
/// sentence for people.
///
/// `field` is a dotted path into the request, such as `email`,
/// `custom_data.key1` or `roles.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FieldError {
    /// Dotted path of the field, e.g. `custom_data.key1`.
    pub field: String,
    /// Stable code, e.g. `too_long`, `invalid_email`, `forbidden_key`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same error moved under `prefix` (`email` under `invitations.3` reads
    /// `invitations.3.email`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

/// Every invalid field of one request, in the order they were found.
///
/// Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// An empty collection, to push into.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// The errors, by value.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Records the error of a parse under `field`, returning the value if it
    /// parsed.
    pub fn collect<T, E: Into<FieldError>>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error.into().under(field));
                None
            }
        }
    }
}

impl From<Vec<FieldError>> for ValidationErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for error in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
