//! One error type for the toolkit. Every input error names the field, the value it got and the
//! values it allows, on one line.

use std::fmt::Display;

/// Errors of the toolkit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value outside its allowed range.
    #[error("invalid {field} = {value}: expected {allowed}")]
    Invalid {
        /// Field name as the user wrote it (`lr`, `noise.sigma`, …).
        field: String,
        /// The offending value, printed.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A file that could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An I/O failure while writing results.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A quantity the theory does not define (yet).
    #[error("{0}")]
    Open(String),
    /// Some work failed although the input was valid (e.g. runs of a sweep); exit code 1.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// An out-of-range value.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// A file that could not be read or parsed: its path and what went wrong.
    pub fn file(path: &std::path::Path, message: impl Display) -> Self {
        Error::File {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
