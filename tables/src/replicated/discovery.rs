//! Discovery integration and status: a node-level service that keeps every
//! registered replicated table joined with every node that is up.
//!
//! Nodes are found by the runtime's discovery (SQL registry, static list,
//! file) and connected by the node layer; this service reacts to
//! [`NodeEvent::Up`] at once and otherwise sweeps every
//! [`ServiceConfig::sweep_interval`]: for each table, every reachable peer
//! server that is not a member is joined, one join at a time, after a random
//! pause (up to [`ServiceConfig::join_jitter_max`]) so that two nodes
//! coming up together rarely collide on the join locks. A failed join (a
//! busy lock, a node down midway) is simply tried again by the next sweep.
//! The sweep is also what merges the two sides after a partition heals.
//!
//! Like CETS's `cets_discovery`, but tables are added and removed at run
//! time with [`ReplicationService::register`] / `unregister`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bream_runtime::node::{ClusterStatus, Node, NodeEvent};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::protocol::{JoinOutcome, ReplicaStatus};
use super::server::{ReplicatedTable, ReplicationError, WireKey, WireValue};

/// Default time between sweeps.
pub const SWEEP_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// Default longest random pause before a join.
pub const JOIN_JITTER_MAX_DEFAULT: Duration = Duration::from_millis(100);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the service needs of a table, whatever its key and value types.
trait Joinable: Send + Sync {
    fn status(&self) -> BoxFuture<'_, Result<ReplicaStatus, ReplicationError>>;
    fn join<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<JoinOutcome, ReplicationError>>;
}

impl<K: WireKey, V: WireValue> Joinable for ReplicatedTable<K, V> {
    fn status(&self) -> BoxFuture<'_, Result<ReplicaStatus, ReplicationError>> {
        Box::pin(ReplicatedTable::status(self))
    }

    fn join<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<JoinOutcome, ReplicationError>> {
        Box::pin(ReplicatedTable::join(self, node))
    }
}

/// Settings of the service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Time between sweeps.
    pub sweep_interval: Duration,
    /// Longest random pause before a join.
    pub join_jitter_max: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            sweep_interval: SWEEP_INTERVAL_DEFAULT,
            join_jitter_max: JOIN_JITTER_MAX_DEFAULT,
        }
    }
}

/// One table, as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStatus {
    /// The table.
    pub name: String,
    /// Its members with this node, sorted.
    pub joined: Vec<String>,
    /// Peers with a server of the table that are not members.
    pub not_joined: Vec<String>,
    /// The leader.
    pub leader: String,
    /// Records here.
    pub size: usize,
    /// Bytes of structure of the local copy.
    pub memory_bytes: usize,
    /// The last join error, if the last join failed.
    pub last_join_error: Option<String>,
}

/// The cluster and its tables, as this node sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// Nodes: discovered, connected, unavailable, whether discovery works.
    pub cluster: ClusterStatus,
    /// Each registered table.
    pub tables: Vec<TableStatus>,
    /// Tables whose member list here differs from the servers reachable
    /// (joined ≠ discovered for that table).
    pub conflicts: Vec<String>,
    /// Discovery works, and every table is joined with every discovered node.
    pub healthy: bool,
}

struct Registered {
    table: Arc<dyn Joinable>,
    memory: Box<dyn Fn() -> usize + Send + Sync>,
    last_join_error: Option<String>,
}

/// A registered table as the status reads it: name, table, memory, last join error.
type Snapshot = (String, Arc<dyn Joinable>, usize, Option<String>);

struct Shared {
    node: Node,
    config: ServiceConfig,
    tables: Mutex<BTreeMap<String, Registered>>,
    wake: tokio::sync::Notify,
}

/// The node's replication service. Dropping every handle stops its task.
#[derive(Clone)]
pub struct ReplicationService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ReplicationService {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReplicationService")
            .field("node", &self.shared.node.name())
            .finish()
    }
}

impl ReplicationService {
    /// Starts the service on `node`.
    pub fn start(node: &Node, config: ServiceConfig) -> Self {
        let shared = Arc::new(Shared {
            node: node.clone(),
            config,
            tables: Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
        });
        let weak = Arc::downgrade(&shared);
        let events = node.subscribe();
        tokio::spawn(run(weak, events));
        ReplicationService { shared }
    }

    /// Keeps `table` joined with every node up.
    pub fn register<K: WireKey, V: WireValue>(&self, table: &ReplicatedTable<K, V>) {
        let reader = table.table().clone();
        self.shared.tables.lock().insert(
            table.name().to_string(),
            Registered {
                table: Arc::new(table.clone()),
                memory: Box::new(move || reader.info().map_or(0, |info| info.memory_bytes)),
                last_join_error: None,
            },
        );
        self.shared.wake.notify_one();
    }

    /// Stops looking after the table `name`. Returns whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.shared.tables.lock().remove(name).is_some()
    }

    /// Sweeps now.
    pub fn sweep_now(&self) {
        self.shared.wake.notify_one();
    }

    /// The cluster and its tables, as this node sees them.
    pub async fn status(&self) -> ReplicationStatus {
        let cluster = self.shared.node.status();
        let tables: Vec<Snapshot> = self
            .shared
            .tables
            .lock()
            .iter()
            .map(|(name, registered)| {
                (
                    name.clone(),
                    registered.table.clone(),
                    (registered.memory)(),
                    registered.last_join_error.clone(),
                )
            })
            .collect();
        let mut statuses = Vec::new();
        let mut conflicts = Vec::new();
        for (name, table, memory_bytes, last_join_error) in tables {
            let status = match table.status().await {
                Ok(status) => status,
                Err(error) => {
                    conflicts.push(name.clone());
                    statuses.push(TableStatus {
                        name,
                        joined: Vec::new(),
                        not_joined: Vec::new(),
                        leader: String::new(),
                        size: 0,
                        memory_bytes,
                        last_join_error: Some(error.to_string()),
                    });
                    continue;
                }
            };
            let mut joined = status.members.clone();
            joined.push(status.node.clone());
            joined.sort();
            let not_joined: Vec<String> = status
                .reachable
                .iter()
                .filter(|node| !status.members.contains(node))
                .cloned()
                .collect();
            let all_discovered_joined = cluster
                .discovered
                .iter()
                .all(|node| status.members.contains(node));
            if !not_joined.is_empty() || !all_discovered_joined {
                conflicts.push(name.clone());
            }
            statuses.push(TableStatus {
                name,
                joined,
                not_joined,
                leader: status.leader,
                size: status.size,
                memory_bytes,
                last_join_error,
            });
        }
        let healthy = cluster.discovery_works && conflicts.is_empty();
        ReplicationStatus {
            cluster,
            tables: statuses,
            conflicts,
            healthy,
        }
    }
}

async fn run(weak: Weak<Shared>, mut events: tokio::sync::broadcast::Receiver<NodeEvent>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let interval = shared.config.sweep_interval;
        tokio::select! {
            event = events.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = event {
                    return;
                }
                // A node came up (or went down): its server may take a moment
                // to appear in the process group; the sweep retries anyway.
            }
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
        sweep(&shared).await;
    }
}

async fn sweep(shared: &Shared) {
    let tables: Vec<(String, Arc<dyn Joinable>)> = shared
        .tables
        .lock()
        .iter()
        .map(|(name, registered)| (name.clone(), registered.table.clone()))
        .collect();
    for (name, table) in tables {
        let Ok(status) = table.status().await else {
            continue;
        };
        let missing: Vec<String> = status
            .reachable
            .iter()
            .filter(|node| !status.members.contains(node))
            .cloned()
            .collect();
        for node in missing {
            let jitter_max = shared.config.join_jitter_max.as_micros() as u64;
            let jitter = Duration::from_micros(rand::random_range(0..=jitter_max));
            tokio::time::sleep(jitter).await;
            let result = table.join(&node).await;
            let error = match &result {
                Ok(outcome) => {
                    tracing::info!(table = %name, %node, ?outcome, "discovery join");
                    None
                }
                Err(error) => {
                    tracing::info!(table = %name, %node, %error, "discovery join failed; will retry");
                    Some(error.to_string())
                }
            };
            if let Some(registered) = shared.tables.lock().get_mut(&name) {
                registered.last_join_error = error;
            }
        }
    }
}
