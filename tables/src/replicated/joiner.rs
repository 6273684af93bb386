//! The joiner: a node-level service that keeps every registered replicated
//! table joined with every node that is up, and reports the cluster status.
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
//! time with [`ReplicationService::register`] / `unregister`. A sharded
//! table is joined shard by shard: its status lists as members only the
//! nodes joined on every shard, so a node joined on some shards is joined
//! again, which joins the rest.
//!
//! # Status
//!
//! [`ReplicationService::status`] is this node's view of the cluster, as
//! CETS's `cets_status`: the node layer's discovered, connected and
//! unavailable nodes and whether discovery works; per table its members
//! here (per shard too), size, memory and leader; and, cluster-wide, the
//! tables whose member lists disagree between nodes (asked of every
//! reachable node's server, [`super::cluster_view`]). Healthy means
//! discovery works, every table is joined with every discovered node, and
//! no member lists disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bream_runtime::node::{ClusterStatus, Node, NodeEvent};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::cluster_view::ClusterView;
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
    fn shard_statuses(&self) -> BoxFuture<'_, Result<Vec<ReplicaStatus>, ReplicationError>>;
    fn cluster_views(&self) -> BoxFuture<'_, Result<Vec<ClusterView>, ReplicationError>>;
    fn join<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<JoinOutcome, ReplicationError>>;
}

impl<K: WireKey, V: WireValue> Joinable for ReplicatedTable<K, V> {
    fn status(&self) -> BoxFuture<'_, Result<ReplicaStatus, ReplicationError>> {
        Box::pin(ReplicatedTable::status(self))
    }

    fn shard_statuses(&self) -> BoxFuture<'_, Result<Vec<ReplicaStatus>, ReplicationError>> {
        Box::pin(ReplicatedTable::shard_statuses(self))
    }

    fn cluster_views(&self) -> BoxFuture<'_, Result<Vec<ClusterView>, ReplicationError>> {
        Box::pin(ReplicatedTable::cluster_views(self))
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
    /// Reachable nodes whose member list of this table (of any shard)
    /// differs from this node's, sorted.
    pub disagreeing_nodes: Vec<String>,
    /// Reachable nodes whose server did not answer the status question in
    /// time, sorted.
    pub unanswered: Vec<String>,
    /// Each shard, by shard (one for an unsharded table).
    pub shards: Vec<ShardStatus>,
}

/// One shard of a table, as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardStatus {
    /// The shard's index.
    pub index: usize,
    /// Its members with this node, sorted.
    pub joined: Vec<String>,
    /// Its leader.
    pub leader: String,
    /// Its records here.
    pub size: usize,
}

/// The cluster and its tables, as this node sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// Nodes: discovered, connected, unavailable, whether discovery works.
    pub cluster: ClusterStatus,
    /// Each registered table.
    pub tables: Vec<TableStatus>,
    /// Tables whose member lists disagree between nodes, cluster-wide
    /// (CETS's conflict tables): some reachable node lists other members
    /// than this one does.
    pub disagreeing_tables: Vec<String>,
    /// The nodes behind those disagreements (CETS's conflict nodes).
    pub disagreeing_nodes: Vec<String>,
    /// Tables not joined with every discovered and every reachable node
    /// here (joined ≠ discovered for that table).
    pub unjoined: Vec<String>,
    /// This node and the nodes whose member lists agree with this node's
    /// for every table (CETS's joined nodes), sorted.
    pub joined: Vec<String>,
    /// Discovery works, every table is joined with every discovered node,
    /// and no member lists disagree.
    pub healthy: bool,
}

struct Registered {
    table: Arc<dyn Joinable>,
    memory: Box<dyn Fn() -> usize + Send + Sync>,
    last_join_error: Option<String>,
    /// Whether sweeps join it (`register`) or only status reports it (`observe`).
    joined_by_sweeps: bool,
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
        self.add(table, true);
        self.shared.wake.notify_one();
    }

    /// Reports `table` in [`ReplicationService::status`] without joining it:
    /// for tables joined by hand ([`ReplicatedTable::join`]).
    pub fn observe<K: WireKey, V: WireValue>(&self, table: &ReplicatedTable<K, V>) {
        self.add(table, false);
    }

    fn add<K: WireKey, V: WireValue>(&self, table: &ReplicatedTable<K, V>, joined_by_sweeps: bool) {
        let reader = table.table().clone();
        self.shared.tables.lock().insert(
            table.name().to_string(),
            Registered {
                table: Arc::new(table.clone()),
                memory: Box::new(move || reader.info().map_or(0, |info| info.memory_bytes)),
                last_join_error: None,
                joined_by_sweeps,
            },
        );
    }

    /// Stops looking after the table `name`. Returns whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.shared.tables.lock().remove(name).is_some()
    }

    /// Sweeps now.
    pub fn sweep_now(&self) {
        self.shared.wake.notify_one();
    }

    /// The cluster and its tables, as this node sees them (see the module doc).
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
        let mut report = Report::new(&cluster);
        for (name, table, memory_bytes, last_join_error) in tables {
            let (shards, views) = futures::join!(table.shard_statuses(), table.cluster_views());
            report.table(name, shards, views, memory_bytes, last_join_error);
        }
        report.finish(cluster)
    }
}

/// The status being put together, table by table.
struct Report {
    me: String,
    discovered: Vec<String>,
    tables: Vec<TableStatus>,
    disagreeing_tables: Vec<String>,
    disagreeing_nodes: BTreeSet<String>,
    unjoined: Vec<String>,
    /// Peers agreeing with this node on every table so far (`None`: no table yet).
    agreeing: Option<BTreeSet<String>>,
}

impl Report {
    fn new(cluster: &ClusterStatus) -> Self {
        Report {
            me: cluster.node.clone(),
            discovered: cluster.discovered.clone(),
            tables: Vec::new(),
            disagreeing_tables: Vec::new(),
            disagreeing_nodes: BTreeSet::new(),
            unjoined: Vec::new(),
            agreeing: None,
        }
    }

    fn table(
        &mut self,
        name: String,
        shards: Result<Vec<ReplicaStatus>, ReplicationError>,
        views: Result<Vec<ClusterView>, ReplicationError>,
        memory_bytes: usize,
        last_join_error: Option<String>,
    ) {
        let shards = match shards {
            Ok(shards) if !shards.is_empty() => shards,
            Ok(_) | Err(_) => {
                let error = shards.err().map(|error| error.to_string());
                self.unjoined.push(name.clone());
                self.agreeing = Some(BTreeSet::new());
                self.tables.push(TableStatus {
                    name,
                    joined: Vec::new(),
                    not_joined: Vec::new(),
                    leader: String::new(),
                    size: 0,
                    memory_bytes,
                    last_join_error: error.or(last_join_error),
                    disagreeing_nodes: Vec::new(),
                    unanswered: Vec::new(),
                    shards: Vec::new(),
                });
                return;
            }
        };
        let shard_statuses: Vec<ShardStatus> = shards
            .iter()
            .enumerate()
            .map(|(index, shard)| ShardStatus {
                index,
                joined: with_self(&shard.members, &shard.node),
                leader: shard.leader.clone(),
                size: shard.size,
            })
            .collect();
        let status = if shards.len() == 1 {
            let mut shards = shards;
            shards.swap_remove(0)
        } else {
            super::status::combine(&name, shards)
        };
        let not_joined: Vec<String> = status
            .reachable
            .iter()
            .filter(|node| !status.members.contains(node))
            .cloned()
            .collect();
        let all_discovered_joined = self
            .discovered
            .iter()
            .all(|node| status.members.contains(node));
        if !not_joined.is_empty() || !all_discovered_joined {
            self.unjoined.push(name.clone());
        }
        let mut disagreeing_nodes = BTreeSet::new();
        let mut unanswered = BTreeSet::new();
        let mut agreeing: Option<BTreeSet<String>> = None;
        match views {
            Ok(views) => {
                for view in &views {
                    let conflicting = view.disagreeing_nodes();
                    let agree: BTreeSet<String> = view
                        .peers
                        .iter()
                        .map(|peer| peer.node.clone())
                        .filter(|node| !conflicting.contains(node))
                        .collect();
                    agreeing = Some(match agreeing {
                        None => agree,
                        Some(before) => before.intersection(&agree).cloned().collect(),
                    });
                    disagreeing_nodes.extend(conflicting);
                    unanswered.extend(view.unanswered.iter().cloned());
                }
            }
            Err(error) => {
                tracing::debug!(table = %name, %error, "cluster view failed");
                unanswered.extend(status.reachable.iter().cloned());
            }
        }
        let agreeing = agreeing.unwrap_or_default();
        self.agreeing = Some(match self.agreeing.take() {
            None => agreeing,
            Some(before) => before.intersection(&agreeing).cloned().collect(),
        });
        if !disagreeing_nodes.is_empty() {
            self.disagreeing_tables.push(name.clone());
            self.disagreeing_nodes
                .extend(disagreeing_nodes.iter().cloned());
        }
        self.tables.push(TableStatus {
            name,
            joined: with_self(&status.members, &status.node),
            not_joined,
            leader: status.leader,
            size: status.size,
            memory_bytes,
            last_join_error,
            disagreeing_nodes: disagreeing_nodes.into_iter().collect(),
            unanswered: unanswered.into_iter().collect(),
            shards: shard_statuses,
        });
    }

    fn finish(self, cluster: ClusterStatus) -> ReplicationStatus {
        // With no table, every connected node agrees on nothing, as in CETS.
        let mut joined: BTreeSet<String> = self
            .agreeing
            .unwrap_or_else(|| cluster.connected.iter().cloned().collect());
        joined.insert(self.me);
        let healthy = cluster.discovery_works
            && self.disagreeing_tables.is_empty()
            && self.unjoined.is_empty();
        ReplicationStatus {
            cluster,
            tables: self.tables,
            disagreeing_tables: self.disagreeing_tables,
            disagreeing_nodes: self.disagreeing_nodes.into_iter().collect(),
            unjoined: self.unjoined,
            joined: joined.into_iter().collect(),
            healthy,
        }
    }
}

/// `members` with `node`, sorted.
fn with_self(members: &[String], node: &str) -> Vec<String> {
    let mut joined = members.to_vec();
    joined.push(node.to_string());
    joined.sort();
    joined
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
        .filter(|(_, registered)| registered.joined_by_sweeps)
        .map(|(name, registered)| (name.clone(), registered.table.clone()))
        .collect();
    // Tables join side by side: a join that waits out its `join_timeout` on a peer that is
    // restarting holds up only its own table, not every table registered after it.
    futures::future::join_all(
        tables
            .into_iter()
            .map(|(name, table)| join_missing(shared, name, table)),
    )
    .await;
}

/// Joins `table` to every reachable node it is not a member with, one node at a time.
async fn join_missing(shared: &Shared, name: String, table: Arc<dyn Joinable>) {
    let Ok(status) = table.status().await else {
        return;
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
