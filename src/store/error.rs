//! The store's one error type, shared by both backends and every trait of
//! the store.

/// The cause of a store error, shared so the error can be cloned (a batch's
/// failure is every caller's).
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {message}")]
    Database {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("stored data could not be read: {message}")]
    Corrupt {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("{0} already exists")]
    Duplicate(String),
    /// What the change needs is not there (e.g. a token for an unknown user).
    #[error("no {0}")]
    NotFound(String),
    /// The database cannot take requests just now: unreachable, restarting,
    /// out of connections or out of disk. Nothing was written; the same
    /// request may succeed once it is back.
    #[error("the database is unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    pub fn database(message: impl Into<String>) -> Self {
        StoreError::Database {
            message: message.into(),
            source: None,
        }
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        StoreError::Corrupt {
            message: message.into(),
            source: None,
        }
    }

    /// `context: cause`, the cause kept as the source.
    pub fn database_with(
        context: String,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Database {
            message: format!("{context}: {e}"),
            source: Some(std::sync::Arc::new(e)),
        }
    }

    pub fn corrupt_with(
        context: String,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Corrupt {
            message: format!("{context}: {e}"),
            source: Some(std::sync::Arc::new(e)),
        }
    }

    pub(crate) fn database_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Database {
            message: e.to_string(),
            source: Some(std::sync::Arc::new(e)),
        }
    }

    pub(crate) fn unavailable_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable {
            message: e.to_string(),
            source: Some(std::sync::Arc::new(e)),
        }
    }

    pub(crate) fn corrupt_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Corrupt {
            message: e.to_string(),
            source: Some(std::sync::Arc::new(e)),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;
