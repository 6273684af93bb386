//! The one error type of [`Storage`](super::Storage).
//!
//! Every variant names what failed: the operation, the account (`username@domain`, or the
//! domain for domain-wide operations), the URL with any password replaced by `***`, the limit
//! that was hit. Driver errors are kept as the [`source`](std::error::Error::source), boxed, so
//! `sqlx` stays out of this crate's public API. No variant ever holds a password: URLs are
//! redacted before they get here, and driver errors never carry the connection string.

use std::time::Duration;

/// A driver or I/O error kept as the cause of a [`StorageError`].
pub use bream_sql::BoxError;
/// Why the database could not be opened or migrated.
pub use bream_sql::{ConnectError, MigrateError};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database could not be opened: an unusable URL, the SQLite file's directory, or no
    /// connection within the connect timeout.
    #[error(transparent)]
    Connect(#[from] ConnectError),

    /// The schema migrations failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),

    /// A [`StorageOptions`](super::StorageOptions) value is out of range.
    #[error("invalid storage option {option} = {value}: {reason}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A statement failed (including getting a pooled connection in time, and the commit). The
    /// operation's transaction, if any, was rolled back.
    #[error("storage {operation} for {account} failed: {source}")]
    Query {
        /// The [`Storage`](super::Storage) method, e.g. `"store_offline"`.
        operation: &'static str,
        /// `username@domain`, or the domain for domain-wide operations.
        account: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// An operation did not finish within the query timeout; its transaction, if any, was
    /// rolled back.
    #[error("storage {operation} for {account} did not finish within {timeout:?}")]
    Timeout {
        /// The [`Storage`](super::Storage) method.
        operation: &'static str,
        /// `username@domain`, or the domain for domain-wide operations.
        account: String,
        /// The query timeout that applied.
        timeout: Duration,
    },

    /// The database holds a value this code cannot read (an unknown subscription code, an
    /// unparsable `pass_details`, a negative counter).
    #[error("storage {operation} for {account} found an invalid row: {reason}")]
    InvalidRow {
        /// The [`Storage`](super::Storage) method.
        operation: &'static str,
        /// `username@domain`, or the domain for domain-wide operations.
        account: String,
        /// What is wrong with it.
        reason: String,
    },

    /// [`register_user`](super::Storage::register_user): the account exists already.
    #[error("user {username}@{domain} already exists")]
    UserExists {
        /// The domain.
        domain: String,
        /// The username.
        username: String,
    },

    /// A write for an account that does not exist (or was removed meanwhile).
    #[error("user {username}@{domain} does not exist")]
    UserNotFound {
        /// The domain.
        domain: String,
        /// The username.
        username: String,
    },

    /// [`store_offline`](super::Storage::store_offline): the user already has `limit` offline
    /// messages stored.
    #[error("offline storage of {username}@{domain} is full ({limit} messages)")]
    OfflineFull {
        /// The domain.
        domain: String,
        /// The username.
        username: String,
        /// The limit that was hit.
        limit: usize,
    },

    /// A username or domain longer than its column ([`NAME_BYTES_MAX`](super::NAME_BYTES_MAX)).
    #[error("{field} is {bytes} bytes, more than the {max} the database keeps")]
    TooLong {
        /// `"username"` or `"domain"`.
        field: &'static str,
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}
