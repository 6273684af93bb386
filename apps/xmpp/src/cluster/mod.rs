//! The XMPP server as a cluster: MongooseIM's CETS mode on Bream nodes.
//!
//! With `[internal_databases.cets]` in the config, the server starts a Bream
//! [`Node`] that finds the others through the same SQL database it keeps
//! persistent data in (`backend = "rdbms"`, the `discovery_nodes` table) or a
//! file, and joins them. Nothing of the cluster is on disk: the sessions live
//! in a replicated table (every node a full copy), and a node can be added,
//! removed or restarted at any time.
//!
//! - [`sessions`]: the session table, replicated; the router reads it
//!   locally and reaches sessions on other nodes through their node's
//!   [`relay`].
//! - [`cleanup`]: what survivors do for a node that went down (drop its
//!   sessions, tell their contacts), and what a node that was frozen does
//!   when it wakes (close its stale sessions).
//! - [`sm`]: stream management ids, replicated, so a client resumes on any node (the
//!   handover goes through the old node's [`relay`]); [`sm_mirror`]: with
//!   `buffer_replicas = 1`, each session's buffer mirrored to one other node, so a
//!   resumption survives its node's death.
//!
//! Readiness ([`Cluster::status`]`.ready`) is true once discovery works and
//! every table has joined every node discovered: an orchestrator should send
//! clients to the node from then on. A graceful stop ([`Cluster::leave`])
//! runs after the sessions were closed: the tables stop, the node leaves the
//! registry (its row goes at once) and disconnects.
//!
//! Deviation from MongooseIM: a node joins every node with the same
//! `cluster_name` and cookie that discovery lists; there is no `join_cluster`
//! command, and `leaveCluster` is a graceful stop of the node.

pub mod caps;
pub mod cleanup;
pub mod relay;
pub mod sessions;
pub mod sm;
pub mod sm_mirror;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bream_runtime::discovery::{Discovery, FileDiscovery, SqlRegistry, SqlRegistryConfig};
use bream_runtime::node::{Node, NodeConfig};
use bream_runtime::supervisor::{ChildSpec, Started, Supervisor, SupervisorRef, SupervisorSpec};
use bream_tables::replicated::{
    DownEvent, ReplicaConfig, ReplicatedOptions, ReplicatedTable, ReplicationService,
    ReplicationStatus, ServiceConfig,
};
use bream_tables::TableKind;
use parking_lot::Mutex;

use self::caps::{ReplicatedCapsCache, CAPS_TABLE_NAME};
use self::cleanup::Cleanup;
use self::relay::Relay;
use self::sessions::{Graveyard, ReplicatedSessionTable, SessionKey, SessionRecord};
use self::sm::{ReplicatedSmRegistry, SmIdRecord, SmKey, SM_TABLE_NAME};
use self::sm_mirror::{MirrorService, MirrorStore, MIRRORED_SESSIONS_MAX};
use crate::c2s::sm::SmConfig;
use crate::c2s::SmRegistry;
use crate::modules::presence::Contacts;
use crate::router::table::SESSION_TABLE_NAME;
use crate::router::{Router, SessionTable};

/// Where a node finds the others.
#[derive(Clone, Debug)]
pub enum DiscoveryBackend {
    /// The `discovery_nodes` table of this SQL database.
    Rdbms {
        /// The database URL (the persistent data's).
        url: String,
    },
    /// A file listing `name@host host:port` lines.
    File {
        /// The file.
        path: PathBuf,
    },
}

/// What a node of the cluster needs.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// `name@host`, unique in the cluster.
    pub node_name: String,
    /// Where the node listens for other nodes and what it publishes for them
    /// to dial: the node's own address (a pod IP, 127.0.0.1 on one box).
    pub listen: SocketAddr,
    /// The shared secret; a node with another one never joins.
    pub cookie: String,
    /// Nodes only see nodes of the same cluster name.
    pub cluster_name: String,
    /// How nodes are found.
    pub discovery: DiscoveryBackend,
    /// Silence after which a node is declared down.
    pub heartbeat_deadline: Duration,
    /// Stream management (`None`: off): `stale_h` of the replicated registry, and
    /// `buffer_replicas`, `buffer_max` and `resume_timeout` of the mirrors.
    pub stream_management: Option<SmConfig>,
}

/// A node's part of the cluster. See the module docs.
pub struct Cluster {
    node: Node,
    service: ReplicationService,
    sessions: Arc<ReplicatedSessionTable>,
    relay: Arc<Relay>,
    cleanup: Arc<Cleanup>,
    freeze_watch: tokio::task::JoinHandle<()>,
    supervisor: SupervisorRef,
    caps: Arc<ReplicatedCapsCache>,
    sm: Arc<ReplicatedSmRegistry>,
}

/// What [`Cluster::start_children`] made.
struct StartedParts {
    node: Node,
    sessions: Arc<ReplicatedSessionTable>,
    relay: Arc<Relay>,
    cleanup: Arc<Cleanup>,
    table: ReplicatedTable<SessionKey, SessionRecord>,
    caps: ReplicatedTable<String, Vec<String>>,
    sm: Arc<ReplicatedSmRegistry>,
}

/// The cluster supervisor's name (its entry under the server's `cluster` part).
pub const CLUSTER_SUPERVISOR_NAME: &str = "cluster_sup";

/// How long the cluster's processes may take to stop.
const CLUSTER_SHUTDOWN: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Cluster {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Cluster")
            .field("node", &self.node.name())
            .finish_non_exhaustive()
    }
}

/// What the cluster's state is, as this node sees it.
#[derive(Clone, Debug)]
pub struct ClusterInfo {
    /// This node.
    pub node: String,
    /// Nodes, tables, conflicts.
    pub replication: ReplicationStatus,
    /// Ready for clients: discovery works and every table joined every
    /// node discovered.
    pub ready: bool,
}

impl Cluster {
    /// Starts the node, the session table and the replication service.
    /// `contacts` says whom to tell when a dead node's users go away.
    pub async fn start(
        settings: ClusterSettings,
        contacts: Arc<dyn Contacts>,
    ) -> anyhow::Result<Cluster> {
        let address = settings.listen.to_string();
        let discovery: Arc<dyn Discovery> = match &settings.discovery {
            DiscoveryBackend::Rdbms { url } => {
                let config = SqlRegistryConfig::new(
                    url.clone(),
                    settings.cluster_name.clone(),
                    settings.node_name.clone(),
                    address,
                );
                Arc::new(SqlRegistry::connect(config).await?)
            }
            DiscoveryBackend::File { path } => Arc::new(FileDiscovery::new(
                path.clone(),
                settings.node_name.clone(),
            )?),
        };
        let mut node_config = NodeConfig::new(
            settings.node_name.clone(),
            settings.listen,
            settings.cookie.clone(),
        );
        node_config.heartbeat_deadline = settings.heartbeat_deadline;
        let spec = SupervisorSpec::new(CLUSTER_SUPERVISOR_NAME).no_restarts();
        let supervisor = Supervisor::start(spec).await?;
        let (node_spec, node) = Node::child_spec("node", node_config, Some(discovery));
        let sm_config = settings.stream_management.clone().unwrap_or_default();
        let started =
            Self::start_children(&supervisor, node_spec, &node, contacts, &sm_config).await;
        match started {
            Ok(parts) => {
                let StartedParts {
                    node,
                    sessions,
                    relay,
                    cleanup,
                    table,
                    caps,
                    sm,
                } = parts;
                let service = ReplicationService::start(&node, ServiceConfig::default());
                service.register(&table);
                service.register(&caps);
                service.register(sm.replicated());
                let freeze_watch = cleanup::watch_for_freezes(
                    Arc::downgrade(&cleanup),
                    settings.heartbeat_deadline,
                );
                tracing::info!(node = %node.name(), cluster = %settings.cluster_name, "cluster node started");
                Ok(Cluster {
                    node,
                    service,
                    sessions,
                    relay,
                    cleanup,
                    freeze_watch,
                    supervisor,
                    caps: Arc::new(ReplicatedCapsCache::new(caps)),
                    sm,
                })
            }
            Err(error) => {
                if let Some(node) = node.latest() {
                    node.depart().await;
                }
                supervisor.shutdown(CLUSTER_SHUTDOWN).await;
                Err(error)
            }
        }
    }

    /// Starts the cluster supervisor's children in order: the node, the session table, the
    /// caps table, the stream management table, the relay.
    async fn start_children(
        supervisor: &SupervisorRef,
        node_spec: ChildSpec,
        node: &Started<Node>,
        contacts: Arc<dyn Contacts>,
        sm_config: &SmConfig,
    ) -> anyhow::Result<StartedParts> {
        supervisor.start_child(node_spec).await?;
        let node = node
            .latest()
            .ok_or_else(|| anyhow::anyhow!("the node child left no node"))?;
        let local = Arc::new(Mutex::new(HashMap::new()));
        let graveyard: Graveyard = Arc::new(Mutex::new(HashMap::new()));
        let cleanup = Cleanup::new(Arc::clone(&graveyard), Arc::clone(&local), contacts);
        let (table_spec, table) = session_table_spec(&node, &graveyard, &cleanup);
        supervisor.start_child(table_spec).await?;
        let table = table
            .latest()
            .ok_or_else(|| anyhow::anyhow!("the session table child left no table"))?;
        let (caps_spec, caps) = ReplicatedTable::child_spec(
            "caps_table",
            &node,
            CAPS_TABLE_NAME,
            ReplicatedOptions::default(),
        );
        supervisor.start_child(caps_spec).await?;
        let caps = caps
            .latest()
            .ok_or_else(|| anyhow::anyhow!("the caps table child left no table"))?;
        let store = Arc::new(Mutex::new(MirrorStore::new(
            sm_config.buffer_max,
            MIRRORED_SESSIONS_MAX,
            sm_config.resume_timeout,
        )));
        let (sm_spec, sm_table) = sm_table_spec(&node, &store);
        supervisor.start_child(sm_spec).await?;
        let sm_table = sm_table
            .latest()
            .ok_or_else(|| anyhow::anyhow!("the sm table child left no table"))?;
        let mirrors = Arc::new(MirrorService::new(
            node.clone(),
            store,
            sm_table.clone(),
            table.clone(),
        ));
        let sm = Arc::new(ReplicatedSmRegistry::new(
            sm_table,
            node.clone(),
            sm_config.stale_h,
            Arc::clone(&mirrors),
            sm_config.buffer_replicas >= 1,
        ));
        let relay = Relay::new(node.clone(), Arc::clone(&local), mirrors);
        supervisor.start_child(relay.child_spec()).await?;
        let sessions = Arc::new(ReplicatedSessionTable::new(
            table.clone(),
            node.name().to_string(),
            Arc::clone(&relay),
            local,
        ));
        Ok(StartedParts {
            node,
            sessions,
            relay,
            cleanup,
            table,
            caps,
            sm,
        })
    }

    /// The stream management registry the sessions should use: replicated, with mirrors
    /// when `buffer_replicas` is 1.
    pub fn sm_registry(&self) -> Arc<dyn SmRegistry> {
        Arc::clone(&self.sm) as Arc<dyn SmRegistry>
    }

    /// The session table the router should use.
    pub fn session_table(&self) -> Arc<dyn SessionTable> {
        Arc::clone(&self.sessions) as Arc<dyn SessionTable>
    }

    /// Gives the cluster the router (built on [`Cluster::session_table`]):
    /// stanzas for ended sessions are routed again, and node-down cleanup
    /// reaches this node's clients.
    pub fn attach(&self, router: &Arc<Router>) {
        self.relay.set_router(router);
        self.cleanup.set_router(router);
        router.set_caps_cache(Arc::clone(&self.caps) as Arc<dyn crate::router::caps_cache::CapsCache>);
    }

    /// The cluster's supervisor (`cluster_sup`, `one_for_all`, no restarts): `node` (its
    /// server, agent and discovery loop), `session_table`, `caps_table` and `sm_table` (one
    /// `shard_0` server each) and `relay`.
    /// Any of them ending ends it: a table server that came back alone would have lost this
    /// node's sessions on every peer, a new agent or relay would be unknown to them, so the
    /// cluster restarts as a whole from the server's tree, and the c2s part after it.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.supervisor
    }

    /// This node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Nodes, tables and readiness.
    pub async fn status(&self) -> ClusterInfo {
        let replication = self.service.status().await;
        let ready = replication.healthy;
        ClusterInfo {
            node: self.node.name().to_string(),
            replication,
            ready,
        }
    }

    /// Leaves the cluster: stops the tables, leaves the registry (the row
    /// goes at once) and disconnects. Close the sessions first.
    pub async fn leave(&self) {
        self.freeze_watch.abort();
        self.service.unregister(SESSION_TABLE_NAME);
        self.service.unregister(CAPS_TABLE_NAME);
        self.service.unregister(SM_TABLE_NAME);
        self.node.depart().await;
        self.supervisor.shutdown(CLUSTER_SHUTDOWN).await;
        // After a kill of the supervisor, what it left running.
        self.sessions.replicated().stop();
        self.node.shutdown().await;
        tracing::info!(node = %self.node.name(), "left the cluster");
    }
}

/// The replicated session table, as the cluster supervisor's child `session_table`: an
/// ordered set (one account's sessions are one range), whose records belong to the node they
/// name.
fn session_table_spec(
    node: &Node,
    graveyard: &Graveyard,
    cleanup: &Arc<Cleanup>,
) -> (
    ChildSpec,
    Started<ReplicatedTable<SessionKey, SessionRecord>>,
) {
    let dropped = Arc::clone(graveyard);
    let owned = Arc::new(move |_: &SessionKey, record: &SessionRecord, node: &str| {
        if record.node != node {
            return false;
        }
        // Called only while a node-down removes this node's records: keep
        // them for the cleanup, which tells their contacts.
        dropped
            .lock()
            .entry(node.to_string())
            .or_default()
            .push(record.clone());
        true
    });
    let weak = Arc::downgrade(cleanup);
    let down_handler = Arc::new(move |event: DownEvent| {
        let Some(cleanup) = weak.upgrade() else {
            return;
        };
        tokio::spawn(async move { cleanup.node_down(&event.node).await });
    });
    let options = ReplicatedOptions {
        kind: TableKind::OrderedSet,
        replica: ReplicaConfig {
            node_owned: Some(owned),
            ..ReplicaConfig::default()
        },
        down_handler: Some(down_handler),
        ..ReplicatedOptions::default()
    };
    ReplicatedTable::child_spec("session_table", node, SESSION_TABLE_NAME, options)
}

/// The replicated stream management ids, as the cluster supervisor's child `sm_table`: an
/// ordered set keyed `(id, node)` (one id's records are one range), each record belonging to
/// the node in its key; a node going down starts the `resume_timeout` of the mirrors this
/// node keeps for it.
fn sm_table_spec(
    node: &Node,
    store: &Arc<Mutex<MirrorStore>>,
) -> (ChildSpec, Started<ReplicatedTable<SmKey, SmIdRecord>>) {
    let store = Arc::clone(store);
    let down_handler = Arc::new(move |event: DownEvent| {
        store
            .lock()
            .owner_down(&event.node, std::time::Instant::now());
    });
    let options = ReplicatedOptions {
        kind: TableKind::OrderedSet,
        replica: ReplicaConfig {
            node_owned: Some(Arc::new(sm::owned_by)),
            ..ReplicaConfig::default()
        },
        down_handler: Some(down_handler),
        ..ReplicatedOptions::default()
    };
    ReplicatedTable::child_spec("sm_table", node, SM_TABLE_NAME, options)
}
