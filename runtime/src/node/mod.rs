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
mod discovery_loop;
pub mod global;
pub mod membership;
mod tls;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ractor::{Actor, ActorRef};
use ractor_cluster::{NodeServer, NodeServerMessage, NodeSessionMessage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{broadcast, oneshot, Notify};

pub use config::*;
pub use global::RemoteMessage;
pub use membership::DownReason;
pub use tls::TlsError;
pub use wire::{RemoteExit, RemoteFailure};

use crate::discovery::Discovery;
use crate::monitor::{demonitor, monitor_fn};
use global::{service_handlers, GlobalNames, Service};
use membership::{Membership, SessionId};
use wire::{AgentMsg, Envelope, Wire};

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

/// Why a connection attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Nothing accepted the TCP connection.
    #[error("{address} is unreachable: {reason}")]
    Unreachable {
        /// The address.
        address: String,
        /// The socket error.
        reason: String,
    },
    /// The peer refused our cookie (or we refused its).
    #[error("{address} refused the cookie")]
    WrongCookie {
        /// The address.
        address: String,
    },
    /// The connection closed during the handshake.
    #[error("{address} closed the connection during the handshake")]
    HandshakeFailed {
        /// The address.
        address: String,
    },
    /// The handshake did not finish in time.
    #[error("connecting to {address} took longer than {after:?}")]
    Timeout {
        /// The address.
        address: String,
        /// The deadline.
        after: Duration,
    },
}

/// Why a remote operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// No node holds that global name.
    #[error("no actor is registered globally as {0:?}")]
    NoSuchName(String),
    /// The node holding the name is down (or went down during the call).
    #[error("node {0} is down")]
    NodeDown(String),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request is larger than a frame may be.
    #[error("the request is {size} bytes, over the {max}-byte frame limit")]
    TooLarge {
        /// Its encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The request or answer did not encode or decode.
    #[error("encoding: {0}")]
    Encoding(String),
    /// The serving node reported a failure.
    #[error(transparent)]
    Failed(#[from] RemoteFailure),
}

/// Why a global name was not registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GlobalRegisterError {
    /// Some node already holds it.
    #[error("{name:?} is already registered on {node}")]
    Taken {
        /// The name.
        name: String,
        /// Who holds it.
        node: String,
    },
    /// The actor is not alive.
    #[error("the actor is not alive")]
    NoProc,
}

/// Discovery as this node last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryStatus {
    /// The backend, e.g. "rdbms postgres".
    pub backend: Option<String>,
    /// Whether the last poll worked.
    pub works: bool,
    /// The last poll's error, if it failed.
    pub last_error: Option<String>,
    /// The other nodes it listed.
    pub discovered: Vec<String>,
    /// This node's number in the cluster.
    pub node_num: Option<u32>,
}

/// The cluster as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterStatus {
    /// This node.
    pub node: String,
    /// This node's number, from discovery.
    pub node_num: Option<u32>,
    /// Nodes discovery lists (other than this one).
    pub discovered: Vec<String>,
    /// Nodes connected and up.
    pub connected: Vec<String>,
    /// Listed but not connected.
    pub unavailable: Vec<String>,
    /// Whether discovery works.
    pub discovery_works: bool,
    /// The discovery backend and its last error.
    pub discovery: DiscoveryStatus,
}

/// A monitor on a global name ([`Node::monitor_global`]).
#[derive(Debug)]
pub struct RemoteMonitor {
    /// Identifies it, for [`Node::demonitor_global`].
    pub id: u64,
    /// Completes when the actor (or its node) stops.
    pub down: oneshot::Receiver<RemoteExit>,
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
    pub server: ActorRef<NodeServerMessage>,
    pub agent: OnceLock<ActorRef<AgentMsg>>,
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
    /// the nodes it lists.
    pub async fn start(
        config: NodeConfig,
        discovery: Option<Arc<dyn Discovery>>,
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
        let encryption = tls
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
        let (server, _) = Actor::spawn(None, server, ())
            .await
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
            server,
            agent: OnceLock::new(),
            events: broadcast::channel(NODE_EVENTS_CAPACITY).0,
            next_id: AtomicU64::new(1),
            poll_now: Notify::new(),
            discovery,
            tls,
        });
        agent::start(&inner)
            .await
            .map_err(|error| listen_error(error.to_string()))?;
        discovery_loop::start(&inner);
        tracing::info!(node = %inner.config.name, listen = %inner.config.listen, "node started");
        Ok(Node { inner })
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

    /// Subscribes to membership changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// Connects to the node at `address` (`host:port`); returns its name once it is up.
    pub async fn connect(&self, address: &str) -> Result<String, ConnectError> {
        connect(&self.inner, address).await
    }

    /// Makes `actor` callable as `name` from every node.
    pub fn register_global<M: RemoteMessage>(
        &self,
        name: &str,
        actor: &ActorRef<M>,
    ) -> Result<(), GlobalRegisterError> {
        if !crate::call::is_alive(&actor.get_cell()) {
            return Err(GlobalRegisterError::NoProc);
        }
        let own = self.inner.config.name.clone();
        let (call, cast) = service_handlers(actor);
        let mut state = self.inner.state.lock();
        if let Some(node) = state.names.owner(name) {
            return Err(GlobalRegisterError::Taken {
                name: name.to_string(),
                node: node.to_string(),
            });
        }
        let weak = Arc::downgrade(&self.inner);
        let released = name.to_string();
        let actor_id = actor.get_id();
        let cleanup = monitor_fn(&actor.get_cell(), move |_| {
            if let Some(inner) = weak.upgrade() {
                release_global(&inner, &released, Some(actor_id));
            }
        });
        state.names.insert_local(
            name.to_string(),
            &own,
            Service {
                call,
                cast,
                actor: actor.get_cell(),
                cleanup,
            },
        );
        broadcast_wire(
            &self.inner,
            &state,
            Wire::NameRegistered {
                name: name.to_string(),
            },
        );
        Ok(())
    }

    /// Releases a global name held on this node. Returns whether it was held here.
    pub fn unregister_global(&self, name: &str) -> bool {
        release_global(&self.inner, name, None)
    }

    /// The node holding `name`.
    pub fn whereis_global(&self, name: &str) -> Option<String> {
        self.inner
            .state
            .lock()
            .names
            .owner(name)
            .map(str::to_string)
    }

    /// Every global name and its node, sorted by name.
    pub fn global_names(&self) -> Vec<(String, String)> {
        self.inner.state.lock().names.all()
    }

    /// Calls the actor registered globally as `name`, wherever it runs.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        name: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RemoteError> {
        let payload = self.encode(request)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let local_call = {
            let mut state = self.inner.state.lock();
            let owner = state
                .names
                .owner(name)
                .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?
                .to_string();
            if owner == self.inner.config.name {
                let service = state
                    .names
                    .local(name)
                    .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?;
                Some(service.call.clone())
            } else {
                let agent = state
                    .membership
                    .agent(&owner)
                    .cloned()
                    .ok_or_else(|| RemoteError::NodeDown(owner.clone()))?;
                state.pending_calls.insert(
                    id,
                    PendingCall {
                        node: owner.clone(),
                        reply,
                    },
                );
                let envelope = self.envelope(Wire::Request {
                    id,
                    name: name.to_string(),
                    payload: payload.clone(),
                    timeout_ms: timeout.as_millis().try_into().unwrap_or(u64::MAX),
                });
                if agent.cast(AgentMsg::Remote(envelope)).is_err() {
                    state.pending_calls.remove(&id);
                    return Err(RemoteError::NodeDown(owner));
                }
                None
            }
        };
        let bytes = match local_call {
            Some(handler) => handler(payload, timeout).await?,
            None => match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(result)) => result?,
                Ok(Err(_)) => return Err(RemoteError::NodeDown(name.to_string())),
                Err(_) => {
                    self.inner.state.lock().pending_calls.remove(&id);
                    return Err(RemoteError::Timeout(timeout));
                }
            },
        };
        postcard::from_bytes(&bytes).map_err(|error| RemoteError::Encoding(error.to_string()))
    }

    /// Casts to the actor registered globally as `name`; delivery is not confirmed.
    pub fn cast<Req: Serialize>(&self, name: &str, request: &Req) -> Result<(), RemoteError> {
        let payload = self.encode(request)?;
        let state = self.inner.state.lock();
        let owner = state
            .names
            .owner(name)
            .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?;
        if owner == self.inner.config.name {
            let service = state
                .names
                .local(name)
                .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?;
            return Ok((service.cast)(payload)?);
        }
        let agent = state
            .membership
            .agent(owner)
            .ok_or_else(|| RemoteError::NodeDown(owner.to_string()))?;
        agent
            .cast(AgentMsg::Remote(self.envelope(Wire::Cast {
                name: name.to_string(),
                payload,
            })))
            .map_err(|_| RemoteError::NodeDown(owner.to_string()))
    }

    /// Monitors the actor registered globally as `name`: the receiver completes with how it
    /// ended, or with [`RemoteExit::NodeDown`] if its node goes down first.
    pub fn monitor_global(&self, name: &str) -> Result<RemoteMonitor, RemoteError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (down_sender, down) = oneshot::channel();
        let mut state = self.inner.state.lock();
        let owner = state
            .names
            .owner(name)
            .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?
            .to_string();
        if owner == self.inner.config.name {
            let service = state
                .names
                .local(name)
                .ok_or_else(|| RemoteError::NoSuchName(name.to_string()))?;
            monitor_fn(&service.actor, move |notice| {
                let _ = down_sender.send(RemoteExit::from(notice.reason));
            });
            return Ok(RemoteMonitor { id, down });
        }
        let agent = state
            .membership
            .agent(&owner)
            .cloned()
            .ok_or_else(|| RemoteError::NodeDown(owner.clone()))?;
        state.watching.insert(
            id,
            Watching {
                node: owner.clone(),
                down: down_sender,
            },
        );
        let envelope = self.envelope(Wire::Monitor {
            id,
            name: name.to_string(),
        });
        if agent.cast(AgentMsg::Remote(envelope)).is_err() {
            state.watching.remove(&id);
            return Err(RemoteError::NodeDown(owner));
        }
        Ok(RemoteMonitor { id, down })
    }

    /// Cancels a remote monitor. Returns whether it was still set.
    pub fn demonitor_global(&self, id: u64) -> bool {
        let mut state = self.inner.state.lock();
        let Some(watching) = state.watching.remove(&id) else {
            return false;
        };
        if let Some(agent) = state.membership.agent(&watching.node) {
            let _ = agent.cast(AgentMsg::Remote(self.envelope(Wire::Demonitor { id })));
        }
        true
    }

    /// The cluster as this node sees it.
    pub fn status(&self) -> ClusterStatus {
        let state = self.inner.state.lock();
        let connected = state.membership.up_nodes();
        let discovered = state.discovery.discovered.clone();
        let unavailable = discovered
            .iter()
            .filter(|node| !connected.contains(node))
            .cloned()
            .collect();
        ClusterStatus {
            node: self.inner.config.name.clone(),
            node_num: state.discovery.node_num,
            discovered,
            connected,
            unavailable,
            discovery_works: state.discovery.works,
            discovery: state.discovery.clone(),
        }
    }

    /// Stops the node: leaves discovery, tells subscribers every peer is down, closes sessions.
    pub async fn shutdown(&self) {
        if let Some(discovery) = &self.inner.discovery {
            if let Err(error) = discovery.leave().await {
                tracing::warn!(%error, "could not leave discovery");
            }
        }
        let actions = self.inner.state.lock().membership.shutdown();
        agent::carry_out(&self.inner, actions, Instant::now());
        if let Some(agent) = self.inner.agent.get() {
            agent.stop(None);
        }
        self.inner.server.stop(None);
        let _ = self.inner.server.wait(Some(Duration::from_secs(5))).await;
    }

    fn encode<Req: Serialize>(&self, request: &Req) -> Result<Vec<u8>, RemoteError> {
        let payload = postcard::to_allocvec(request)
            .map_err(|error| RemoteError::Encoding(error.to_string()))?;
        let max = self
            .inner
            .config
            .frame_bytes_max
            .saturating_sub(config::FRAME_OVERHEAD_BYTES);
        if payload.len() > max {
            return Err(RemoteError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        Ok(payload)
    }

    fn envelope(&self, wire: Wire) -> Envelope {
        Envelope {
            from: self.inner.config.name.clone(),
            wire,
        }
    }
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

fn release_global(inner: &NodeInner, name: &str, actor: Option<ractor::ActorId>) -> bool {
    let mut state = inner.state.lock();
    let Some(service) = state.names.remove_local(name, actor) else {
        return false;
    };
    broadcast_wire(
        inner,
        &state,
        Wire::NameReleased {
            name: name.to_string(),
        },
    );
    drop(state);
    demonitor(service.cleanup);
    true
}

async fn connect(inner: &Arc<NodeInner>, address: &str) -> Result<String, ConnectError> {
    let timeout = inner.config.connect_timeout;
    let unreachable = |reason: String| ConnectError::Unreachable {
        address: address.to_string(),
        reason,
    };
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address))
        .await
        .map_err(|_| unreachable("name lookup timed out".into()))?
        .map_err(|error| unreachable(error.to_string()))?
        .next()
        .ok_or_else(|| unreachable("no address".into()))?;
    let key = resolved.to_string();
    let (done, result) = oneshot::channel();
    inner
        .state
        .lock()
        .pending_connects
        .entry(key.clone())
        .or_default()
        .push(done);
    let started = Instant::now();
    let connected = match &inner.tls {
        None => {
            tokio::time::timeout(
                timeout,
                ractor_cluster::client_connect(&inner.server, resolved),
            )
            .await
        }
        Some(tls) => {
            let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
            let name = tls::server_name(host).map_err(|error| unreachable(error.to_string()))?;
            let connector = tls.connector.clone();
            tokio::time::timeout(
                timeout,
                ractor_cluster::client_connect_enc(&inner.server, resolved, connector, name),
            )
            .await
        }
    };
    let failure = match connected {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(unreachable(error.to_string())),
        Err(_) => Some(ConnectError::Timeout {
            address: key.clone(),
            after: timeout,
        }),
    };
    if let Some(failure) = failure {
        inner.state.lock().pending_connects.remove(&key);
        return Err(failure);
    }
    let left = timeout.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, result).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) | Err(_) => {
            inner.state.lock().pending_connects.remove(&key);
            Err(ConnectError::Timeout {
                address: key,
                after: timeout,
            })
        }
    }
}
