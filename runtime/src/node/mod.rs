//! Nodes: OS processes that form a cluster over ractor_cluster, with Erlang's guarantees.
//!
//! ractor_cluster carries messages between processes and checks a cookie, and no more. A
//! [`Node`] closes the gaps an Erlang user would fall into:
//!
//! - **Identity by name.** Peers are `name@host`; ractor's per-connection numbers never leak.
//! - **Up means ready.** [`Node::connect`] returns once the peer is authenticated and its
//!   agent is reachable, or fails with [`ConnectError::WrongCookie`] /
//!   [`ConnectError::Unreachable`] / [`ConnectError::Timeout`].
//! - **Failure detection.** Each node pings every peer every `heartbeat_interval`; a peer silent
//!   for `heartbeat_deadline` (frozen with SIGSTOP, cut off) is declared down and its session
//!   cut, so nothing waits for TCP's own timeout. Subscribers get [`NodeEvent::Up`] and
//!   [`NodeEvent::Down`] with a [`DownReason`].
//! - **Reconnection**, driven by [`crate::discovery`]: listed nodes that are not up are
//!   connected to, with per-node backoff; a node going down triggers a poll at once.
//! - **Global names and remote calls.** [`Node::register_global`] makes an actor callable from
//!   every node by name ([`Node::call`], [`Node::cast`]); [`Node::monitor_global`] reports how it
//!   ended, including "its node went down". A call to a node that dies fails at once.
//! - **Frame bounds.** A request larger than `frame_bytes_max` is refused with
//!   [`RemoteError::TooLarge`] before it is sent (ractor_cluster would tear the session down).
//!
//! ractor_cluster's state is process-global: one node per OS process. Multi-node tests start
//! several processes.
//!
//! Starting a node that finds its peers in the SQL registry, and watching them come and go:
//!
//! ```no_run
//! use std::sync::Arc;
//! use bream_runtime::discovery::{SqlRegistry, SqlRegistryConfig};
//! use bream_runtime::node::{Node, NodeConfig, NodeEvent};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let name = "a@127.0.0.1";
//! let registry = SqlRegistry::connect(SqlRegistryConfig::new(
//!     "sqlite://cluster.db?mode=rwc", // every node of the cluster names the same database
//!     "my-cluster",
//!     name,
//!     "127.0.0.1:4371",
//! ))
//! .await?;
//! let config = NodeConfig::new(name, "127.0.0.1:4371".parse()?, "secret-cookie");
//! let node = Node::start(config, Some(Arc::new(registry))).await?;
//! let mut events = node.subscribe();
//! while let Ok(event) = events.recv().await {
//!     match event {
//!         NodeEvent::Up { node } => tracing::info!(%node, "up"),
//!         NodeEvent::Down { node, reason } => tracing::info!(%node, %reason, "down"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Protocol logic (who is up, when to give up on a peer) is the plain state machine in
//! [`membership`]; the agent actor is its shell.

mod agent;
mod config;
mod connect;
mod discovery_loop;
pub mod global;
pub mod membership;
mod names;
mod status;
mod tls;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ractor::{Actor, ActorRef};
use ractor_cluster::{NodeServer, NodeServerMessage, NodeSessionMessage};
use tokio::sync::{broadcast, oneshot, Notify};

pub use config::*;
pub use connect::ConnectError;
pub use global::RemoteMessage;
pub use membership::DownReason;
pub use names::{GlobalRegisterError, RemoteError, RemoteMonitor};
pub use status::{ClusterStatus, DiscoveryStatus};
pub use tls::TlsError;
pub use wire::{RemoteExit, RemoteFailure};

use crate::discovery::Discovery;
use crate::supervisor::{
    ChildSpec, StartError, Started, Supervisor, SupervisorRef, SupervisorSpec,
};
use global::GlobalNames;
use membership::{Membership, SessionId};
use wire::{AgentMsg, Envelope, Wire};

/// The node's supervisor's name (its entry in a tree view).
pub const NODE_SUPERVISOR_NAME: &str = "node";

/// How long the node's processes may take to stop.
const CHILDREN_SHUTDOWN: Duration = Duration::from_secs(5);

/// Events a subscriber may lag behind before it skips ahead.
pub const NODE_EVENTS_CAPACITY: usize = 1024;

/// A change in membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// A peer is connected, authenticated and reachable.
    Up {
        /// Its name.
        node: String,
    },
    /// A peer is gone.
    Down {
        /// Its name.
        node: String,
        /// Why.
        reason: DownReason,
    },
}

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The node TLS files could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// ractor_cluster's server did not start (the port may be taken).
    #[error("the node server did not start on {address}: {reason}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What failed.
        reason: String,
    },
}

pub(crate) struct PendingCall {
    node: String,
    reply: oneshot::Sender<Result<Vec<u8>, RemoteError>>,
}

pub(crate) struct Watching {
    node: String,
    down: oneshot::Sender<RemoteExit>,
}

/// Everything the agent and the API share; one lock, never held across an await.
pub(crate) struct NodeState {
    pub membership: Membership<ActorRef<AgentMsg>>,
    pub names: GlobalNames,
    pub pending_calls: HashMap<u64, PendingCall>,
    pub watching: HashMap<u64, Watching>,
    /// Monitors this node holds for peers' [`Wire::Monitor`] requests.
    pub serving: HashMap<(String, u64), Option<crate::monitor::MonitorRef>>,
    pub pending_connects: HashMap<String, Vec<oneshot::Sender<Result<String, ConnectError>>>>,
    /// Addresses that turned out to lead to a named node (a connection that lost ractor's
    /// duplicate-session election).
    pub aliases: HashMap<String, String>,
    pub session_actors: HashMap<SessionId, ActorRef<NodeSessionMessage>>,
    pub discovery: DiscoveryStatus,
}

pub(crate) struct NodeInner {
    pub config: NodeConfig,
    pub server: OnceLock<ActorRef<NodeServerMessage>>,
    pub agent: OnceLock<ActorRef<AgentMsg>>,
    pub supervisor: SupervisorRef,
    pub state: Mutex<NodeState>,
    pub events: broadcast::Sender<NodeEvent>,
    pub next_id: AtomicU64,
    /// Wakes the discovery loop (a node went down: look again now).
    pub poll_now: Notify,
    pub discovery: Option<Arc<dyn Discovery>>,
    pub tls: Option<tls::NodeTlsContext>,
}

/// This process's node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Node")
            .field(&self.inner.config.name)
            .finish()
    }
}

impl Node {
    /// Starts the node: listens on `config.listen`, and, with `discovery`, keeps connecting to
    /// the nodes it lists. Its processes run under a supervisor of their own (see
    /// [`Node::supervisor`]) with no parent.
    pub async fn start(
        config: NodeConfig,
        discovery: Option<Arc<dyn Discovery>>,
    ) -> Result<Node, NodeError> {
        Node::start_linked(config, discovery, None).await
    }

    /// A child spec `id` that starts the node under the supervisor it is put in, and the
    /// handle it left there once started. The node's tree never restarts a child of its own,
    /// so the parent should not restart it either without starting what depends on the node
    /// again: a `one_for_all` or `rest_for_one` parent, or one that gives up at once.
    pub fn child_spec(
        id: &str,
        config: NodeConfig,
        discovery: Option<Arc<dyn Discovery>>,
    ) -> (ChildSpec, Started<Node>) {
        let started = Started::default();
        let handle = started.clone();
        let spec = ChildSpec::subtree(id, move |parent| {
            let config = config.clone();
            let discovery = discovery.clone();
            let handle = handle.clone();
            async move {
                let node = Node::start_linked(config, discovery, Some(parent))
                    .await
                    .map_err(|error| StartError::Spawn(error.to_string()))?;
                handle.set(node.clone());
                Ok(node.supervisor().clone())
            }
        });
        (spec, started)
    }

    async fn start_linked(
        config: NodeConfig,
        discovery: Option<Arc<dyn Discovery>>,
        parent: Option<ractor::ActorCell>,
    ) -> Result<Node, NodeError> {
        config.validate()?;
        let address = config.listen;
        let listen_error = move |reason: String| NodeError::Listen { address, reason };
        // ractor_cluster binds in the background and only logs a failure: bind here first so a
        // taken port is an error the caller sees.
        std::net::TcpListener::bind(config.listen)
            .map_err(|error| listen_error(error.to_string()))?;
        let tls = config
            .tls
            .as_ref()
            .map(tls::NodeTlsContext::load)
            .transpose()?;
        let spec = SupervisorSpec::new(NODE_SUPERVISOR_NAME).no_restarts();
        let supervisor = match parent {
            Some(parent) => Supervisor::start_linked(spec, parent).await,
            None => Supervisor::start(spec).await,
        }
        .map_err(|error| listen_error(error.to_string()))?;
        let inner = Arc::new(NodeInner {
            state: Mutex::new(NodeState {
                membership: Membership::new(config.heartbeat_deadline),
                names: GlobalNames::default(),
                pending_calls: HashMap::new(),
                watching: HashMap::new(),
                serving: HashMap::new(),
                pending_connects: HashMap::new(),
                aliases: HashMap::new(),
                session_actors: HashMap::new(),
                discovery: DiscoveryStatus {
                    backend: discovery.as_ref().map(|backend| backend.describe()),
                    ..Default::default()
                },
            }),
            config,
            server: OnceLock::new(),
            agent: OnceLock::new(),
            supervisor: supervisor.clone(),
            events: broadcast::channel(NODE_EVENTS_CAPACITY).0,
            next_id: AtomicU64::new(1),
            poll_now: Notify::new(),
            discovery,
            tls,
        });
        if let Err(error) = start_children(&inner).await {
            supervisor.shutdown(CHILDREN_SHUTDOWN).await;
            return Err(listen_error(error.to_string()));
        }
        tracing::info!(node = %inner.config.name, listen = %inner.config.listen, "node started");
        Ok(Node { inner })
    }

    /// The node's supervisor (`node`, `one_for_all`, no restarts): `server` (ractor_cluster's
    /// listener and sessions), `agent` (membership, heartbeats, global names), and `discovery`
    /// (the loop that dials what discovery lists) when there is a backend. A child's end is the
    /// node's: a new agent would be unknown to every peer and a new server would have dropped
    /// every session, so the node as a whole is what a supervisor above restarts.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.inner.supervisor
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The peers that are up.
    pub fn nodes(&self) -> Vec<String> {
        self.inner.state.lock().membership.up_nodes()
    }

    /// The node an actor runs on: this node for a local actor, the peer's name for a remote
    /// actor that arrived through an up session (e.g. a process-group member), `None` otherwise.
    pub fn node_of(&self, actor: &ractor::ActorId) -> Option<String> {
        if actor.is_local() {
            return Some(self.inner.config.name.clone());
        }
        let state = self.inner.state.lock();
        state
            .membership
            .session_name(actor.node())
            .map(str::to_string)
    }

    /// Cuts this node off from `peer`, as a network partition would (the fault kit's
    /// [`crate::fault::cut`]): nothing is sent to it or taken from it, heartbeats included, so
    /// both sides declare the other down by the heartbeat deadline, and no new connection
    /// between the two comes up until [`Node::heal`]. Traffic that does not pass through the
    /// node agent (process-group messages, e.g. replicated tables') goes on until the session
    /// is cut at that deadline: a real partition would lose it at once.
    pub fn cut(&self, peer: &str) {
        tracing::warn!(node = %self.inner.config.name, %peer, "fault injection: link cut");
        self.inner.state.lock().membership.cut(peer);
    }

    /// Ends a [`Node::cut`]; whether `peer` was cut. Discovery reconnects at once.
    pub fn heal(&self, peer: &str) -> bool {
        let healed = self.inner.state.lock().membership.heal(peer);
        if healed {
            tracing::warn!(node = %self.inner.config.name, %peer, "fault injection: link healed");
            self.inner.poll_now.notify_one();
        }
        healed
    }

    /// The peers this node is cut off from, by name.
    pub fn cut_nodes(&self) -> Vec<String> {
        self.inner.state.lock().membership.cut_nodes()
    }

    /// Subscribes to membership changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// Leaves the cluster without stopping the node's processes: leaves discovery, tells
    /// subscribers every peer is down, closes the sessions. For a node in a larger tree, whose
    /// ordered shutdown then stops the processes; [`Node::shutdown`] does both.
    pub async fn depart(&self) {
        if let Some(discovery) = &self.inner.discovery {
            if let Err(error) = discovery.leave().await {
                tracing::warn!(%error, "could not leave discovery");
            }
        }
        let actions = self.inner.state.lock().membership.shutdown();
        agent::carry_out(&self.inner, actions, Instant::now());
    }

    /// Stops the node: [`Node::depart`], then its supervisor (discovery, agent, server, in
    /// that order).
    /// Safe to call again, and after the supervisor was killed: what it left running (a killed
    /// supervisor's children outlive it) is stopped here, so the port is free once this returns.
    pub async fn shutdown(&self) {
        self.depart().await;
        self.inner.supervisor.shutdown(CHILDREN_SHUTDOWN).await;
        if let Some(agent) = self.inner.agent.get() {
            agent.stop(None);
        }
        if let Some(server) = self.inner.server.get() {
            server.stop(None);
            let _ = server.wait(Some(CHILDREN_SHUTDOWN)).await;
        }
    }

    fn envelope(&self, wire: Wire) -> Envelope {
        Envelope {
            from: self.inner.config.name.clone(),
            wire,
        }
    }
}

/// Starts the node's children in order: the server (listening), the agent (subscribed to the
/// server's session events), the discovery loop.
async fn start_children(inner: &Arc<NodeInner>) -> Result<(), StartError> {
    let supervisor = inner.supervisor.clone();
    let server_inner = Arc::clone(inner);
    let server = supervisor
        .start_child(ChildSpec::worker("server", move |parent| {
            let inner = Arc::clone(&server_inner);
            async move { start_server(&inner, parent).await }
        }))
        .await
        .map_err(|error| StartError::Spawn(error.to_string()))?;
    let _ = inner.server.set(server.into());
    let agent_inner = Arc::clone(inner);
    supervisor
        .start_child(ChildSpec::worker("agent", move |parent| {
            let inner = Arc::clone(&agent_inner);
            async move { agent::start(&inner, parent).await }
        }))
        .await
        .map_err(|error| StartError::Spawn(error.to_string()))?;
    if inner.discovery.is_some() {
        let loop_inner = Arc::clone(inner);
        supervisor
            .start_child(ChildSpec::worker("discovery", move |parent| {
                let inner = Arc::clone(&loop_inner);
                async move { discovery_loop::start(&inner, parent).await }
            }))
            .await
            .map_err(|error| StartError::Spawn(error.to_string()))?;
    }
    Ok(())
}

/// ractor_cluster's node server for `inner`'s settings, linked to `parent`.
async fn start_server(
    inner: &NodeInner,
    parent: ractor::ActorCell,
) -> Result<ractor::ActorCell, StartError> {
    let config = &inner.config;
    let encryption = inner
        .tls
        .as_ref()
        .map(|tls| ractor_cluster::IncomingEncryptionMode::Tls(tls.acceptor.clone()));
    // ractor_cluster names a node `node_name@hostname`.
    let short_name = config
        .name
        .split_once('@')
        .map_or(config.name.as_str(), |(short, _)| short);
    let server = NodeServer::new(
        config.listen.port(),
        config.cookie.clone(),
        short_name.to_string(),
        config.host().to_string(),
        encryption,
        Some(ractor_cluster::node::NodeConnectionMode::Isolated),
    )
    .with_listen_addr(config.listen.ip())
    .with_max_inbound_frame_size(config.frame_bytes_max as u64);
    let (server, _) = Actor::spawn_linked(None, server, (), parent).await?;
    Ok(server.get_cell())
}

/// Sends `wire` to every up peer.
pub(crate) fn broadcast_wire(inner: &NodeInner, state: &NodeState, wire: Wire) {
    for peer in state.membership.up_nodes() {
        if let Some(agent) = state.membership.agent(&peer) {
            let _ = agent.cast(AgentMsg::Remote(Envelope {
                from: inner.config.name.clone(),
                wire: wire.clone(),
            }));
        }
    }
}
