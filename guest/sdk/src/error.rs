//! The connector error type: four categories the host acts on, each with a message a person
//! can act on.

use std::fmt;

use crate::bindings::connector::platform::types::{ConnectorError, TransientFailure};

/// Why a connector call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad credentials or settings: the operator must fix the configuration. Not retried.
    Config(String),
    /// Temporary (429, 5xx, timeout): retried by the host with backoff.
    Transient {
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// A bug, a contract violation or a payload that cannot be mapped.
    System(String),
    /// The item does not exist (any more).
    NotFound(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
    pub fn transient(message: impl Into<String>) -> Self {
        Error::Transient {
            message: message.into(),
            retry_after_ms: None,
        }
    }
    pub fn transient_after(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Error::Transient {
            message: message.into(),
            retry_after_ms,
        }
    }
    pub fn system(message: impl Into<String>) -> Self {
        Error::System(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }
    /// The default answer of an export the connector does not implement.
    pub fn not_implemented(export: &str) -> Self {
        Error::System(format!(
            "this connector does not implement `{export}`; use a connector version that does"
        ))
    }

    /// The message, without the category.
    pub fn message(&self) -> &str {
        match self {
            Error::Config(m) | Error::System(m) | Error::NotFound(m) => m,
            Error::Transient { message, .. } => message,
        }
    }

    /// Prefixes the message with what was being done, keeping the category.
    pub fn context(self, context: impl fmt::Display) -> Self {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            Error::Config(m) => Error::Config(wrap(m)),
            Error::System(m) => Error::System(wrap(m)),
            Error::NotFound(m) => Error::NotFound(wrap(m)),
            Error::Transient {
                message,
                retry_after_ms,
            } => Error::Transient {
                message: wrap(message),
                retry_after_ms,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Error::Config(_) => "configuration error",
            Error::Transient { .. } => "temporary error",
            Error::System(_) => "system error",
            Error::NotFound(_) => "not found",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for Error {}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(m) => ConnectorError::Config(m),
            Error::System(m) => ConnectorError::System(m),
            Error::NotFound(m) => ConnectorError::NotFound(m),
            Error::Transient {
                message,
                retry_after_ms,
            } => ConnectorError::Transient(TransientFailure {
                message,
                retry_after_ms,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_category() {
        let e = Error::transient_after("HTTP 429", Some(1000)).context("listing calls");
        assert_eq!(
            e,
            Error::Transient {
                message: "listing calls: HTTP 429".into(),
                retry_after_ms: Some(1000)
            }
        );
        assert!(matches!(
            ConnectorError::from(Error::config("x")),
            ConnectorError::Config(_)
        ));
    }
}
