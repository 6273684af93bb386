//! The replicated table's server: one actor per table per node, the shell
//! around [`Replica`], and [`ReplicatedTable`], the handle users hold.
//!
//! The server owns a local [`Table`] (reads go straight to it through
//! [`ReplicatedTable::table`], no message), joins the process group
//! `bream.table.<name>`, which ractor_cluster syncs between nodes, to find
//! the servers of the same table on other nodes, and hears node up/down from
//! [`Node::subscribe`]. Messages between servers are postcard-encoded
//! [`PeerMsg`]s in ractor's `SerializedMessage::Cast`; the client variants
//! never leave the node.
//!
//! Every call has a deadline ([`ReplicatedOptions::call_timeout`], default
//! 5 s, as an Erlang call). Leader operations retry "wrong leader" answers
//! with backoff until that deadline. The down handler runs on its own task,
//! so it may call the table (or block) without deadlocking the server.
//!
//! What goes to a peer is batched ([`super::outbox`]): the protocol's
//! messages wait in an outbox until the server's mailbox has caught up, then
//! leave as one frame per peer, in order.
//!
//! Edges: a peer whose node the node layer does not name yet (its session is
//! not up) is remembered and resolved on the next node-up; a server that
//! stops fails every waiting call with [`ReplicationError::ServerDown`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_runtime::monitor::{self, MonitorRef};
use bream_runtime::node::{Node, NodeEvent};
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::pg::GroupChangeMessage;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, Message, SupervisionEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::outbox::{Outbox, PEER_BATCH_RECORDS_MAX};
use super::protocol::{
    Action, DownEvent, Input, JoinOutcome, LeaderOp, NodeName, Op, PauseId, PeerMsg, ProtocolError,
    Replica, ReplicaConfig, ReplicaStatus, Reply, RequestId,
};
use super::store::TableStore;
use crate::record::{Key, Value};
use crate::{Table, TableError, TableKind, TableOptions};

/// Default deadline of a call to the server (Erlang's default call timeout).
pub const CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// First wait before retrying a leader operation that met a wrong leader.
pub const LEADER_RETRY_BACKOFF_MIN: Duration = Duration::from_millis(2);
/// Longest wait between retries of a leader operation.
pub const LEADER_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(200);

const _: () = assert!(LEADER_RETRY_BACKOFF_MIN.as_nanos() < LEADER_RETRY_BACKOFF_MAX.as_nanos());

/// The process group of a table's servers.
pub fn group_name(table: &str) -> String {
    format!("bream.table.{table}")
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
    /// The server did not start.
    #[error("table {table}: the server did not start: {reason}")]
    Start {
        /// The table.
        table: String,
        /// Why.
        reason: String,
    },
}

/// Options of a replicated table; each has a default.
pub struct ReplicatedOptions<K, V> {
    /// The local table's kind: set (default), ordered set or bag.
    pub kind: TableKind,
    /// Protocol settings: conflict handler, node-owned records, bounds.
    pub replica: ReplicaConfig<K, V>,
    /// Called (on its own task) when a peer goes down.
    pub down_handler: Option<DownHandler>,
    /// Deadline of calls.
    pub call_timeout: Duration,
    /// Bound on the records one batch to a peer carries (default
    /// [`PEER_BATCH_RECORDS_MAX`]); 1 sends every message in its own frame.
    pub peer_batch_records_max: usize,
}

impl<K, V> Default for ReplicatedOptions<K, V> {
    fn default() -> Self {
        ReplicatedOptions {
            kind: TableKind::Set,
            replica: ReplicaConfig::default(),
            down_handler: None,
            call_timeout: CALL_TIMEOUT_DEFAULT,
            peer_batch_records_max: PEER_BATCH_RECORDS_MAX,
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
            .finish()
    }
}

type Answer<V> = Result<Reply<V>, ProtocolError>;

/// What a client asks.
enum ClientRequest<K, V> {
    Write(Op<K, V>),
    Leader(LeaderOp<K, V>),
    Pause,
    /// A pause released when this actor stops.
    PauseFor(ActorCell),
    Unpause(PauseId),
    Join(NodeName),
}

/// Messages between servers: who sent them, and what, in order.
#[derive(Serialize, Deserialize)]
struct Envelope<K, V> {
    from: NodeName,
    messages: Vec<PeerMsg<K, V>>,
}

/// The server's mailbox. Only peer messages cross the network.
pub struct ServerMsg<K, V>(Inner<K, V>);

enum Inner<K, V> {
    Peer(Envelope<K, V>),
    Client {
        request: ClientRequest<K, V>,
        reply: Option<oneshot::Sender<Answer<V>>>,
    },
    Node(NodeEvent),
    JoinTimeout(u64),
    Status(oneshot::Sender<ReplicaStatus>),
    /// Send what the outbox holds (see [`super::outbox`]).
    Flush,
    /// The holder of pauses (its id is the request that paused) stopped.
    HolderDown(RequestId),
}

impl<K: WireKey, V: WireValue> Message for ServerMsg<K, V> {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        match self.0 {
            Inner::Peer(envelope) => Ok(SerializedMessage::Cast {
                variant: String::new(),
                args: postcard::to_allocvec(&envelope).map_err(|_| BoxedDowncastErr)?,
                metadata: None,
            }),
            _ => Err(BoxedDowncastErr),
        }
    }

    fn deserialize(bytes: SerializedMessage) -> Result<Self, BoxedDowncastErr> {
        match bytes {
            SerializedMessage::Cast { args, .. } => postcard::from_bytes(&args)
                .map(|envelope| ServerMsg(Inner::Peer(envelope)))
                .map_err(|_| BoxedDowncastErr),
            _ => Err(BoxedDowncastErr),
        }
    }
}

struct Server<K, V>(std::marker::PhantomData<fn() -> (K, V)>);

struct Arguments<K, V> {
    name: String,
    node: Node,
    options: ReplicatedOptions<K, V>,
    table_out: oneshot::Sender<Table<K, V>>,
}

struct State<K: Key, V: Value> {
    name: String,
    node: Node,
    group: String,
    replica: Replica<K, V, TableStore<K, V>>,
    peers: HashMap<NodeName, ActorRef<ServerMsg<K, V>>>,
    /// Remote servers whose node is not named yet.
    unresolved: Vec<ActorCell>,
    waiting: HashMap<RequestId, oneshot::Sender<Answer<V>>>,
    next_request: RequestId,
    down_handler: Option<DownHandler>,
    outbox: Outbox<K, V>,
    /// Monitors of pause holders, by holder id (the request that paused).
    holder_monitors: HashMap<RequestId, MonitorRef>,
    /// The holder of each monitored pause.
    pause_holders: HashMap<PauseId, RequestId>,
}

impl<K: WireKey, V: WireValue> Actor for Server<K, V> {
    type Msg = ServerMsg<K, V>;
    type State = State<K, V>;
    type Arguments = Arguments<K, V>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: Arguments<K, V>,
    ) -> Result<State<K, V>, ActorProcessingErr> {
        let Arguments {
            name,
            node,
            options,
            table_out,
        } = arguments;
        let table = Table::new(&name, &myself.get_cell(), TableOptions::new(options.kind))?;
        let _ = table_out.send(table.without_owner_rights());
        let join_ref = rand::random();
        let replica = Replica::new(
            name.clone(),
            node.name(),
            TableStore::new(table),
            join_ref,
            options.replica,
        );
        let group = group_name(&name);
        ractor::pg::join(group.clone(), vec![myself.get_cell()]);
        ractor::pg::monitor(group.clone(), myself.get_cell());
        let mut events = node.subscribe();
        let forward = myself.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if forward.cast(ServerMsg(Inner::Node(event))).is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "replicated table: node events lagged");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let mut state = State {
            name,
            node,
            group,
            replica,
            peers: HashMap::new(),
            unresolved: Vec::new(),
            waiting: HashMap::new(),
            next_request: 1,
            down_handler: options.down_handler,
            outbox: Outbox::new(options.peer_batch_records_max),
            holder_monitors: HashMap::new(),
            pause_holders: HashMap::new(),
        };
        let cells = ractor::pg::get_members(&state.group);
        state.learn(&myself, cells);
        tracing::info!(table = %state.name, node = %state.node.name(), "replicated table started");
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut State<K, V>,
    ) -> Result<(), ActorProcessingErr> {
        match message.0 {
            Inner::Peer(Envelope { from, messages }) => {
                if state.peers.contains_key(&from) {
                    for message in messages {
                        let from = from.clone();
                        state.input(&myself, Input::Remote { from, message });
                    }
                } else {
                    tracing::debug!(table = %state.name, %from, "message from an unknown peer dropped");
                }
            }
            Inner::Client { request, reply } => {
                let id = state.next_request;
                state.next_request += 1;
                if let Some(reply) = reply {
                    state.waiting.insert(id, reply);
                }
                let input = match request {
                    ClientRequest::Write(op) => Input::Write { request: id, op },
                    ClientRequest::Leader(op) => Input::Leader { request: id, op },
                    ClientRequest::Pause => Input::Pause {
                        request: id,
                        holder: id,
                    },
                    ClientRequest::PauseFor(holder) => {
                        let monitor = monitor::monitor(&holder, &myself, move |_| {
                            ServerMsg(Inner::HolderDown(id))
                        });
                        state.holder_monitors.insert(id, monitor);
                        Input::Pause {
                            request: id,
                            holder: id,
                        }
                    }
                    ClientRequest::Unpause(pause) => {
                        if let Some(holder) = state.pause_holders.remove(&pause) {
                            if let Some(monitor) = state.holder_monitors.remove(&holder) {
                                monitor::demonitor(monitor);
                            }
                        }
                        Input::Unpause { request: id, pause }
                    }
                    ClientRequest::Join(with) => Input::Join {
                        request: id,
                        with,
                        join_id: rand::random(),
                        new_join_ref: rand::random(),
                    },
                };
                state.input(&myself, input);
            }
            Inner::Node(NodeEvent::Up { .. }) => {
                let mut cells = std::mem::take(&mut state.unresolved);
                cells.extend(ractor::pg::get_members(&state.group));
                state.learn(&myself, cells);
            }
            Inner::Node(NodeEvent::Down { node, reason }) => {
                if state.peers.remove(&node).is_some() {
                    state.outbox.forget(&node);
                    let reason = reason.to_string();
                    state.input(&myself, Input::PeerDown { node, reason });
                }
            }
            Inner::JoinTimeout(join_id) => state.input(&myself, Input::JoinTimeout { join_id }),
            Inner::Status(reply) => {
                let _ = reply.send(state.replica.status());
            }
            Inner::Flush => state.flush(),
            Inner::HolderDown(holder) => {
                if state.holder_monitors.remove(&holder).is_some() {
                    state.pause_holders.retain(|_, held| *held != holder);
                    tracing::info!(table = %state.name, holder, "pause holder stopped: pause released");
                    state.input(&myself, Input::HolderDown { holder });
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut State<K, V>,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ProcessGroupChanged(change) = event {
            match change {
                GroupChangeMessage::Join(_, group, cells) if group == state.group => {
                    state.learn(&myself, cells);
                }
                GroupChangeMessage::Leave(_, group, cells) if group == state.group => {
                    for cell in cells {
                        let id = cell.get_id();
                        let gone: Option<NodeName> = state
                            .peers
                            .iter()
                            .find(|(_, peer)| peer.get_id() == id)
                            .map(|(node, _)| node.clone());
                        if let Some(node) = gone {
                            state.peers.remove(&node);
                            state.outbox.forget(&node);
                            let reason = "its server left the group".to_string();
                            state.input(&myself, Input::PeerDown { node, reason });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut State<K, V>,
    ) -> Result<(), ActorProcessingErr> {
        ractor::pg::leave(state.group.clone(), vec![myself.get_cell()]);
        Ok(())
    }
}

impl<K: WireKey, V: WireValue> State<K, V> {
    /// Learns remote servers from process-group cells.
    fn learn(&mut self, myself: &ActorRef<ServerMsg<K, V>>, cells: Vec<ActorCell>) {
        for cell in cells {
            let id = cell.get_id();
            if id.is_local() {
                continue;
            }
            match self.node.node_of(&id) {
                Some(peer) if peer != self.node.name() => {
                    let known = self
                        .peers
                        .get(&peer)
                        .is_some_and(|held| held.get_id() == id);
                    if !known {
                        self.peers.insert(peer.clone(), ActorRef::from(cell));
                        self.input(myself, Input::PeerUp { node: peer });
                    }
                }
                Some(_) => {}
                None => {
                    if !self.unresolved.iter().any(|held| held.get_id() == id) {
                        self.unresolved.push(cell);
                    }
                }
            }
        }
    }

    /// Sends what the outbox holds, one envelope per batch.
    fn flush(&mut self) {
        for (to, messages) in self.outbox.take() {
            match self.peers.get(&to) {
                Some(peer) => {
                    let envelope = Envelope {
                        from: self.node.name().to_string(),
                        messages,
                    };
                    if let Err(error) = peer.cast(ServerMsg(Inner::Peer(envelope))) {
                        tracing::debug!(table = %self.name, %to, %error, "send to peer failed");
                    }
                }
                None => {
                    tracing::debug!(table = %self.name, %to, "no server known on that node")
                }
            }
        }
    }

    fn input(&mut self, myself: &ActorRef<ServerMsg<K, V>>, input: Input<K, V>) {
        let actions = self.replica.handle(input);
        for action in actions {
            match action {
                Action::Send { to, message } => {
                    if self.outbox.push(to, message) {
                        // The marker arrives after every message already queued.
                        if let Err(error) = myself.cast(ServerMsg(Inner::Flush)) {
                            tracing::debug!(table = %self.name, %error, "flush marker not queued");
                        }
                    }
                }
                Action::Reply { request, result } => {
                    if let (Ok(Reply::Paused(pause)), true) =
                        (&result, self.holder_monitors.contains_key(&request))
                    {
                        self.pause_holders.insert(*pause, request);
                    }
                    if let Some(reply) = self.waiting.remove(&request) {
                        let _ = reply.send(result);
                    }
                }
                Action::NodeDown(event) => {
                    if let Some(handler) = self.down_handler.clone() {
                        tokio::spawn(async move { handler(event) });
                    }
                }
                Action::SetJoinTimer { join_id, after } => {
                    let server = myself.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = server.cast(ServerMsg(Inner::JoinTimeout(join_id)));
                    });
                }
                Action::Status { .. } => {}
            }
        }
    }
}

/// A write sent and not yet waited for ([`ReplicatedTable::insert_async`]).
#[must_use = "a write handle does nothing unless waited for"]
pub struct WriteHandle<V> {
    table: String,
    answer: oneshot::Receiver<Answer<V>>,
}

impl<V> WriteHandle<V> {
    /// Waits until the write is on every live member, or `timeout`.
    pub async fn wait(self, timeout: Duration) -> Result<(), ReplicationError> {
        let table = self.table.clone();
        answer_of(&table, self.answer, timeout).await.map(|_| ())
    }
}

/// Waits for every handle, in order, under one deadline.
pub async fn wait_all<V>(
    handles: impl IntoIterator<Item = WriteHandle<V>>,
    timeout: Duration,
) -> Result<(), ReplicationError> {
    let deadline = Instant::now() + timeout;
    for handle in handles {
        let left = deadline.saturating_duration_since(Instant::now());
        handle.wait(left).await?;
    }
    Ok(())
}

async fn answer_of<V>(
    table: &str,
    answer: oneshot::Receiver<Answer<V>>,
    timeout: Duration,
) -> Result<Reply<V>, ReplicationError> {
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Ok(reply))) => Ok(reply),
        Ok(Ok(Err(error))) => Err(ReplicationError::Protocol {
            table: table.to_string(),
            error,
        }),
        Ok(Err(_)) => Err(ReplicationError::ServerDown {
            table: table.to_string(),
        }),
        Err(_) => Err(ReplicationError::Timeout {
            table: table.to_string(),
            after: timeout,
        }),
    }
}

/// Holds a pause; dropping it unpauses.
pub struct PauseGuard<K: WireKey, V: WireValue> {
    server: ActorRef<ServerMsg<K, V>>,
    pause: PauseId,
}

impl<K: WireKey, V: WireValue> Drop for PauseGuard<K, V> {
    fn drop(&mut self) {
        let _ = self.server.cast(ServerMsg(Inner::Client {
            request: ClientRequest::Unpause(self.pause),
            reply: None,
        }));
    }
}

/// A replicated table on this node. Cheap to clone.
pub struct ReplicatedTable<K: WireKey, V: WireValue> {
    name: String,
    table: Table<K, V>,
    server: ActorRef<ServerMsg<K, V>>,
    call_timeout: Duration,
}

impl<K: WireKey, V: WireValue> Clone for ReplicatedTable<K, V> {
    fn clone(&self) -> Self {
        ReplicatedTable {
            name: self.name.clone(),
            table: self.table.clone(),
            server: self.server.clone(),
            call_timeout: self.call_timeout,
        }
    }
}

impl<K: WireKey, V: WireValue> fmt::Debug for ReplicatedTable<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ReplicatedTable")
            .field("name", &self.name)
            .finish()
    }
}

impl<K: WireKey, V: WireValue> ReplicatedTable<K, V> {
    /// Starts this node's server of table `name`. It finds the servers of
    /// the same table on other nodes by itself; joining them is
    /// [`ReplicatedTable::join`]'s or discovery's job
    /// ([`super::discovery::ReplicationService`]).
    pub async fn start(
        node: &Node,
        name: &str,
        options: ReplicatedOptions<K, V>,
    ) -> Result<Self, ReplicationError> {
        let call_timeout = options.call_timeout;
        let (table_out, table_in) = oneshot::channel();
        let start_error = |reason: String| ReplicationError::Start {
            table: name.to_string(),
            reason,
        };
        let (server, _) = Actor::spawn(
            None,
            Server(std::marker::PhantomData),
            Arguments {
                name: name.to_string(),
                node: node.clone(),
                options,
                table_out,
            },
        )
        .await
        .map_err(|error| start_error(error.to_string()))?;
        let table = table_in
            .await
            .map_err(|_| start_error("no table".to_string()))?;
        Ok(ReplicatedTable {
            name: name.to_string(),
            table,
            server,
            call_timeout,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local copy, for reads (no message; writes through it are refused).
    pub fn table(&self) -> &Table<K, V> {
        &self.table
    }

    /// The deadline of this handle's calls.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The same table with another call deadline.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    fn send(
        &self,
        request: ClientRequest<K, V>,
    ) -> Result<oneshot::Receiver<Answer<V>>, ReplicationError> {
        let (reply, answer) = oneshot::channel();
        self.server
            .cast(ServerMsg(Inner::Client {
                request,
                reply: Some(reply),
            }))
            .map_err(|_| ReplicationError::ServerDown {
                table: self.name.clone(),
            })?;
        Ok(answer)
    }

    async fn call(&self, request: ClientRequest<K, V>) -> Result<Reply<V>, ReplicationError> {
        let answer = self.send(request)?;
        answer_of(&self.name, answer, self.call_timeout).await
    }

    /// Sends a write; the handle waits for it.
    pub fn write_async(&self, op: Op<K, V>) -> Result<WriteHandle<V>, ReplicationError> {
        Ok(WriteHandle {
            table: self.name.clone(),
            answer: self.send(ClientRequest::Write(op))?,
        })
    }

    /// `insert`, without waiting.
    pub fn insert_async(&self, key: K, value: V) -> Result<WriteHandle<V>, ReplicationError> {
        self.write_async(Op::Insert(vec![(key, value)]))
    }

    /// Applies a write here and on every member; returns once every live member has it.
    pub async fn write(&self, op: Op<K, V>) -> Result<(), ReplicationError> {
        self.call(ClientRequest::Write(op)).await.map(|_| ())
    }

    /// Inserts a record everywhere.
    pub async fn insert(&self, key: K, value: V) -> Result<(), ReplicationError> {
        self.write(Op::Insert(vec![(key, value)])).await
    }

    /// Inserts records everywhere, atomically on each copy.
    pub async fn insert_many(&self, records: Vec<(K, V)>) -> Result<(), ReplicationError> {
        self.write(Op::Insert(records)).await
    }

    /// Deletes a key everywhere.
    pub async fn delete(&self, key: K) -> Result<(), ReplicationError> {
        self.write(Op::Delete(vec![key])).await
    }

    /// Deletes keys everywhere.
    pub async fn delete_many(&self, keys: Vec<K>) -> Result<(), ReplicationError> {
        self.write(Op::Delete(keys)).await
    }

    /// Deletes a record everywhere.
    pub async fn delete_object(&self, key: K, value: V) -> Result<(), ReplicationError> {
        self.write(Op::DeleteObject(vec![(key, value)])).await
    }

    /// Deletes records everywhere.
    pub async fn delete_objects(&self, records: Vec<(K, V)>) -> Result<(), ReplicationError> {
        self.write(Op::DeleteObject(records)).await
    }

    /// Runs a leader operation, retrying "wrong leader" with backoff until the deadline.
    async fn leader(&self, op: LeaderOp<K, V>) -> Result<Reply<V>, ReplicationError> {
        let deadline = Instant::now() + self.call_timeout;
        let mut backoff = LEADER_RETRY_BACKOFF_MIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.send(ClientRequest::Leader(op.clone()))?;
            match answer_of(&self.name, answer, left).await {
                Err(ReplicationError::Protocol {
                    error: ProtocolError::WrongLeader { .. },
                    ..
                }) if Instant::now() + backoff < deadline => {
                    let jitter = rand::random_range(0..=backoff.as_micros() as u64 / 2);
                    tokio::time::sleep(backoff + Duration::from_micros(jitter)).await;
                    backoff = (backoff * 2).min(LEADER_RETRY_BACKOFF_MAX);
                }
                other => return other,
            }
        }
    }

    /// Inserts unless the key is present anywhere (decided by the leader);
    /// returns whether it inserted. A leader that dies mid-call is an error
    /// (`LeaderDown`): the insert may or may not have happened.
    pub async fn insert_new(&self, key: K, value: V) -> Result<bool, ReplicationError> {
        match self.leader(LeaderOp::InsertNew(key, value)).await? {
            Reply::InsertedNew(inserted) => Ok(inserted),
            other => Err(self.unexpected(other)),
        }
    }

    /// Inserts unless present; returns whether it inserted and the values under the key.
    pub async fn insert_new_or_lookup(
        &self,
        key: K,
        value: V,
    ) -> Result<(bool, Vec<V>), ReplicationError> {
        match self.leader(LeaderOp::InsertNewOrLookup(key, value)).await? {
            Reply::InsertedOrFound { inserted, values } => Ok((inserted, values)),
            other => Err(self.unexpected(other)),
        }
    }

    /// Inserts through the leader, so every copy sees one order of serial inserts.
    pub async fn insert_serial(&self, key: K, value: V) -> Result<(), ReplicationError> {
        self.leader(LeaderOp::InsertSerial(key, value))
            .await
            .map(|_| ())
    }

    fn unexpected(&self, reply: Reply<V>) -> ReplicationError {
        // A reply of the wrong kind is a broken invariant of the protocol.
        tracing::error!(table = %self.name, "unexpected reply kind");
        let _ = reply;
        ReplicationError::ServerDown {
            table: self.name.clone(),
        }
    }

    /// Pauses writes here until the guard drops (nested pauses stack).
    pub async fn pause(&self) -> Result<PauseGuard<K, V>, ReplicationError> {
        match self.call(ClientRequest::Pause).await? {
            Reply::Paused(pause) => Ok(PauseGuard {
                server: self.server.clone(),
                pause,
            }),
            other => Err(self.unexpected(other)),
        }
    }

    /// Pauses writes here until the guard drops or `holder` stops, whichever
    /// comes first (Erlang's pause tied to the calling process: a holder
    /// that is killed, panics or stops releases its pause even if its guard
    /// was moved elsewhere or leaked).
    pub async fn pause_for(
        &self,
        holder: &ActorCell,
    ) -> Result<PauseGuard<K, V>, ReplicationError> {
        match self.call(ClientRequest::PauseFor(holder.clone())).await? {
            Reply::Paused(pause) => Ok(PauseGuard {
                server: self.server.clone(),
                pause,
            }),
            other => Err(self.unexpected(other)),
        }
    }

    /// Joins this node's group of the table with `node`'s.
    pub async fn join(&self, node: &str) -> Result<JoinOutcome, ReplicationError> {
        match self.call(ClientRequest::Join(node.to_string())).await? {
            Reply::Joined(outcome) => Ok(outcome),
            other => Err(self.unexpected(other)),
        }
    }

    /// The replica's status on this node.
    pub async fn status(&self) -> Result<ReplicaStatus, ReplicationError> {
        let (reply, answer) = oneshot::channel();
        self.server
            .cast(ServerMsg(Inner::Status(reply)))
            .map_err(|_| ReplicationError::ServerDown {
                table: self.name.clone(),
            })?;
        match tokio::time::timeout(self.call_timeout, answer).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err(ReplicationError::ServerDown {
                table: self.name.clone(),
            }),
            Err(_) => Err(ReplicationError::Timeout {
                table: self.name.clone(),
                after: self.call_timeout,
            }),
        }
    }

    /// Stops this node's server (the local copy goes with it).
    pub fn stop(&self) {
        self.server.stop(None);
    }
}
