//! Replicated tables: CETS's model on Bream nodes.
//!
//! Every node keeps a full copy of a replicated table in a local
//! [`crate::Table`]; reads go straight to it, writes go through the table's
//! server actor on this node, which applies them and sends them to the
//! servers on the other member nodes.
//!
//! - [`protocol`]: the replication protocol as a plain state machine (what
//!   a write waits for, leader operations, pauses, joins, node down), with
//!   the rules and the differences from CETS.
//! - [`store`]: the local copy behind the protocol.
//! - [`server`]: the actor around the protocol.
//! - [`handle`]: [`ReplicatedTable`], the handle users hold.
//! - [`options`]: a table's options and errors.
//! - [`shard`]: splitting a table into shards, each its own replicated
//!   unit, each shard's server a child of the table's runtime supervisor
//!   ([`ReplicatedTable::supervisor`], [`ReplicatedTable::child_spec`]).
//! - [`outbox`]: batching what a server sends to a peer.
//! - [`cluster_view`]: member lists across the cluster, and where they disagree.
//! - `joiner`: the replication service, joining every node that comes up; cluster status.
//!
//! A replicated table on a started [`Node`](bream_runtime::node::Node): writes return once
//! every live member has them; reads are local; the replication service joins the table with
//! its servers on every node that comes up.
//!
//! ```no_run
//! use bream_runtime::node::Node;
//! use bream_tables::replicated::{ReplicatedOptions, ReplicatedTable, ReplicationService, ServiceConfig};
//!
//! # async fn example(node: Node) -> Result<(), Box<dyn std::error::Error>> {
//! let sessions: ReplicatedTable<String, String> =
//!     ReplicatedTable::start(&node, "sessions", ReplicatedOptions::default()).await?;
//! let service = ReplicationService::start(&node, ServiceConfig::default());
//! service.register(&sessions);
//! sessions.insert("alice".to_string(), "phone".to_string()).await?;
//! assert_eq!(sessions.table().get(&"alice".to_string())?, Some("phone".to_string()));
//! # Ok(()) }
//! ```

pub mod cluster_view;
pub mod handle;
mod joiner;
pub mod options;
pub mod outbox;
pub mod protocol;
pub mod server;
pub mod shard;
mod status;
pub mod store;

pub use cluster_view::{ClusterView, ReplicaView};
pub use joiner::{
    ReplicationService, ReplicationStatus, ServiceConfig, ShardStatus, TableStatus,
    JOIN_JITTER_MAX_DEFAULT, SWEEP_INTERVAL_DEFAULT,
};
pub use protocol::{DownEvent, JoinOutcome, Op, ProtocolError, ReplicaConfig, ReplicaStatus};
pub use server::{
    wait_all, DownHandler, PauseGuard, ReplicatedOptions, ReplicatedTable, ReplicationError,
    WriteHandle,
};
