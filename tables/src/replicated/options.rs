//! A replicated table's options, its errors, and what its keys and values
//! must be to cross the network.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::outbox::PEER_BATCH_RECORDS_MAX;
use super::protocol::{DownEvent, ProtocolError, ReplicaConfig};
use super::shard::SHARDS_MAX;
use crate::record::{Key, Value};
use crate::{TableError, TableKind};

/// Default deadline of a call to the server (Erlang's default call timeout).
pub const CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// First wait before retrying a leader operation that met a wrong leader.
pub const LEADER_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(2);
/// Longest wait between retries of a leader operation.
pub const LEADER_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(200);

const _: () = assert!(LEADER_RETRY_BACKOFF_MIN.as_nanos() < LEADER_RETRY_BACKOFF_MAX.as_nanos());

/// The process group of an unsharded table's servers (see
/// [`super::shard::group_of`] for a shard's).
pub fn group_name(table: &str) -> String {
    super::shard::group_of(table, super::shard::Shard::WHOLE)
}

/// A key that can cross the network.
pub trait WireKey: Key + Serialize + DeserializeOwned {}
impl<T: Key + Serialize + DeserializeOwned> WireKey for T {}
/// A value that can cross the network.
pub trait WireValue: Value + Serialize + DeserializeOwned {}
impl<T: Value + Serialize + DeserializeOwned> WireValue for T {}

/// Called on its own task when a peer of the table goes down.
pub type DownHandler = Arc<dyn Fn(DownEvent) + Send + Sync>;

/// Why a replicated table operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplicationError {
    /// The protocol refused or failed it.
    #[error("table {table}: {error}")]
    Protocol {
        /// The table.
        table: String,
        /// Why.
        error: ProtocolError,
    },
    /// No answer within the deadline.
    #[error("table {table}: no answer within {after:?}")]
    Timeout {
        /// The table.
        table: String,
        /// The deadline.
        after: Duration,
    },
    /// The server is not running.
    #[error("table {table}: its server is not running")]
    ServerDown {
        /// The table.
        table: String,
    },
    /// The local table failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// An option is out of its bounds.
    #[error("table {table}: option {option} = {value} is outside {bounds}")]
    InvalidOption {
        /// The table.
        table: String,
        /// The option.
        option: &'static str,
        /// Its value.
        value: usize,
        /// Its bounds.
        bounds: &'static str,
    },
    /// The server did not start.
    #[error("table {table}: the server did not start: {reason}")]
    Start {
        /// The table.
        table: String,
        /// Why.
        reason: String,
    },
    /// The server answered with a reply of the wrong kind: a broken invariant of the protocol
    /// (a bug), reported as such rather than as a server that is down.
    #[error("table {table}: protocol invariant broken: {reply} is not an answer to {request}")]
    UnexpectedReply {
        /// The table.
        table: String,
        /// What was asked.
        request: &'static str,
        /// What came back.
        reply: String,
    },
}

/// Options of a replicated table; each has a default.
pub struct ReplicatedOptions<K, V> {
    /// The local table's kind: set (default), ordered set or bag.
    pub kind: TableKind,
    /// Protocol settings: merge handler, node-owned records, bounds.
    pub replica: ReplicaConfig<K, V>,
    /// Called (on its own task) when a peer goes down.
    pub down_handler: Option<DownHandler>,
    /// Deadline of calls.
    pub call_timeout: Duration,
    /// Bound on the records one batch to a peer carries (default
    /// [`PEER_BATCH_RECORDS_MAX`]); 1 sends every message in its own frame.
    pub peer_batch_records_max: usize,
    /// Shards, each an independent replicated unit with its own server
    /// (default 1: one server, as CETS). Every node must use the same
    /// count; see [`super::shard`]. Must be in `1..=SHARDS_MAX`.
    ///
    /// With N > 1 a write touching keys of several shards
    /// (`insert_many`, `delete_many`, ...) is atomic per shard only, the
    /// down handler runs for shard 0's down events, and a join or a pause
    /// covers every shard.
    pub shards: usize,
}

impl<K, V> Default for ReplicatedOptions<K, V> {
    fn default() -> Self {
        ReplicatedOptions {
            kind: TableKind::Set,
            replica: ReplicaConfig::default(),
            down_handler: None,
            call_timeout: CALL_TIMEOUT_DEFAULT,
            peer_batch_records_max: PEER_BATCH_RECORDS_MAX,
            shards: 1,
        }
    }
}

impl<K, V> Clone for ReplicatedOptions<K, V> {
    fn clone(&self) -> Self {
        ReplicatedOptions {
            kind: self.kind,
            replica: self.replica.clone(),
            down_handler: self.down_handler.clone(),
            call_timeout: self.call_timeout,
            peer_batch_records_max: self.peer_batch_records_max,
            shards: self.shards,
        }
    }
}

impl<K, V> fmt::Debug for ReplicatedOptions<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ReplicatedOptions")
            .field("kind", &self.kind)
            .field("replica", &self.replica)
            .field("down_handler", &self.down_handler.is_some())
            .field("call_timeout", &self.call_timeout)
            .field("peer_batch_records_max", &self.peer_batch_records_max)
            .field("shards", &self.shards)
            .finish()
    }
}

/// Checks the options that have bounds.
pub(crate) fn check<K, V>(
    table: &str,
    options: &ReplicatedOptions<K, V>,
) -> Result<(), ReplicationError> {
    if !(1..=SHARDS_MAX).contains(&options.shards) {
        return Err(ReplicationError::InvalidOption {
            table: table.to_string(),
            option: "shards",
            value: options.shards,
            bounds: "1..=256 (SHARDS_MAX)",
        });
    }
    Ok(())
}
