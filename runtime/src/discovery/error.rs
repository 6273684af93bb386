//! The one error type of every discovery backend.
//!
//! Every variant carries what an operator needs to act on it without the logs: the URL (with
//! any password hidden), the file and line, the node and cluster, the limit that was hit. Driver
//! errors are kept as the [`source`](std::error::Error::source) but boxed, so `sqlx` stays out of
//! this crate's public API.

use std::path::PathBuf;
use std::time::Duration;

/// A driver or I/O error kept as the cause of a [`DiscoveryError`].
pub use bream_sql::BoxError;
/// Why the registry's database could not be opened or migrated.
pub use bream_sql::{ConnectError, MigrateError};

/// Why a discovery backend could not be set up, polled or left.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The registry's database could not be opened: an unusable URL, or no connection within
    /// the connect timeout.
    #[error("discovery registry: {0}")]
    Connect(#[from] ConnectError),

    /// The schema migrations for `discovery_nodes` failed.
    #[error("discovery registry: {0}")]
    Migrate(#[from] MigrateError),

    /// A configuration value (node name, address, cluster name, expiry, ...) is not valid.
    #[error("invalid discovery setting {setting} = {value:?}: {reason}")]
    InvalidConfig {
        /// The setting's name, as in the config struct (`node_name`, `address`, ...).
        setting: &'static str,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A statement of a poll or a leave failed.
    #[error("discovery {operation} of node {node} in cluster {cluster} failed: {source}")]
    Query {
        /// `"poll"` or `"leave"`.
        operation: &'static str,
        /// This node's name.
        node: String,
        /// This node's cluster.
        cluster: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A poll or a leave did not finish within its deadline.
    #[error("discovery {operation} of node {node} in cluster {cluster} did not finish within {timeout:?}")]
    Timeout {
        /// `"poll"` or `"leave"`.
        operation: &'static str,
        /// This node's name.
        node: String,
        /// This node's cluster.
        cluster: String,
        /// The deadline that passed.
        timeout: Duration,
    },

    /// A row of `discovery_nodes` holds a value this code cannot use.
    #[error("discovery_nodes row for node {node} is invalid: {reason}")]
    InvalidRow {
        /// The row's `node_name`.
        node: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Every `node_num` up to the column's maximum is taken in this cluster.
    #[error("no free node_num in cluster {cluster}: all of 1..={max} are taken")]
    NodeNumsExhausted {
        /// The cluster.
        cluster: String,
        /// The largest `node_num` the column can hold.
        max: u32,
    },

    /// The discovery file could not be read (missing, unreadable, not UTF-8).
    #[error("could not read discovery file {}: {source}", path.display())]
    FileRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The discovery file is larger than the limit.
    #[error("discovery file {} is over the limit FILE_BYTES_MAX = {bytes_max} bytes", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, [`FILE_BYTES_MAX`](super::file::FILE_BYTES_MAX).
        bytes_max: u64,
    },

    /// A line of the discovery file is not `name@host host:port`.
    #[error("{}:{line}: {reason}", path.display())]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// The line number, counting from 1.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
}
