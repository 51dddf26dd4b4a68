use domain::{DomainError, FieldError, RepositoryError};

use crate::ports::{IdentityError, StorageError};

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why a use case did not succeed, in terms a client can be told.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke the rules; every offending field is listed.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Not there, or not the caller's to see (the two are indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// The caller may not do this.
    #[error("forbidden")]
    Forbidden,
    /// Wrong credentials or a refused token; says nothing about which.
    #[error("unauthorized")]
    Unauthorized,
    /// The request clashes with existing state (a unique value taken, a forbidden change).
    #[error("{message}")]
    Conflict {
        /// The field at fault, when there is one.
        field: Option<&'static str>,
        /// What clashed.
        message: String,
    },
    /// The request body could not be read as the endpoint expects; the message says why.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An upload larger than accepted; it was not read to its end.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// Most bytes accepted.
        limit: u64,
    },
    /// An upload of a kind not accepted; the message names the accepted ones.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency (database, identity provider, file store) cannot be reached.
    #[error("{dependency} unavailable")]
    Unavailable {
        /// Which dependency.
        dependency: &'static str,
        /// The cause, for the log.
        #[source]
        source: Source,
    },
    /// A bug or broken data; details go to the log only.
    #[error("internal error")]
    Internal(#[source] Source),
}

impl AppError {
    /// A validation failure of one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    fn conflict_taken(field: &'static str) -> Self {
        AppError::Conflict {
            field: Some(field),
            message: format!("{field} is already taken"),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(errors) => AppError::Validation(errors),
            e @ (DomainError::CurrencyMismatch(..) | DomainError::Overflow) => {
                AppError::Validation(vec![FieldError::new("items", e.to_string())])
            }
            e @ DomainError::InvalidTransition { .. } => AppError::Conflict {
                field: Some("status"),
                message: e.to_string(),
            },
        }
    }
}

/// One refused field is a validation failure of that field.
impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Validation(vec![e])
    }
}

impl From<RepositoryError> for AppError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict(field) => AppError::conflict_taken(field),
            RepositoryError::Invalid(e) => AppError::Validation(vec![e]),
            RepositoryError::InUse(message) => AppError::Conflict {
                field: None,
                message,
            },
            RepositoryError::Unavailable(source) => AppError::Unavailable {
                dependency: "database",
                source,
            },
            RepositoryError::Other(source) => AppError::Internal(source),
        }
    }
}

impl From<IdentityError> for AppError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Conflict(field) => AppError::conflict_taken(field),
            IdentityError::InvalidCredentials | IdentityError::InvalidToken => {
                AppError::Unauthorized
            }
            IdentityError::Rejected(errors) => AppError::Validation(errors),
            IdentityError::Unavailable(source) => AppError::Unavailable {
                dependency: "identity provider",
                source,
            },
            IdentityError::Storage(e) => e.into(),
            IdentityError::Other(source) => AppError::Internal(source),
        }
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => AppError::NotFound,
            StorageError::Unavailable(source) => AppError::Unavailable {
                dependency: "file store",
                source,
            },
        }
    }
}
