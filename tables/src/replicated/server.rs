//! The replicated table's server: one actor per table (or per shard of a
//! table) per node, the shell around [`Replica`]. The handle users hold is
//! [`ReplicatedTable`] ([`super::handle`]).
//!
//! The local [`Table`] belongs to the table's supervisor on this node (a
//! runtime supervisor, one child per shard: [`ReplicatedTable::supervisor`]);
//! every shard's server writes to it. Reads go straight to the table through
//! [`ReplicatedTable::table`], no message. The server joins its process
//! group (`bream.table.<name>`, or one per shard, [`super::shard::group_of`]),
//! which ractor_cluster syncs between nodes, to find the servers of the same
//! table on other nodes, and hears node up/down from [`Node::subscribe`].
//! Messages between servers are postcard-encoded [`PeerMsg`]s in ractor's
//! `SerializedMessage::Cast`; the client variants never leave the node.
//!
//! The down handler runs on its own task, so it may call the table (or
//! block) without deadlocking the server.
//!
//! What goes to a peer is batched ([`super::outbox`]): the protocol's
//! messages wait in an outbox until the server's mailbox has caught up, then
//! leave as one frame per peer, in order.
//!
//! A cluster view ([`super::cluster_view`]) asks every known peer server for
//! its member list and answers when all have answered, or at its deadline
//! with the silent ones listed.
//!
//! Edges: a peer whose node the node layer does not name yet (its session is
//! not up) is remembered and resolved on the next node-up; a server that
//! stops fails every waiting call with [`ReplicationError::ServerDown`].

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bream_runtime::monitor::{self, MonitorRef};
use bream_runtime::node::{Node, NodeEvent};
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::pg::GroupChangeMessage;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, Message, SupervisionEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::cluster_view::{ClusterView, ReplicaView};
use super::outbox::Outbox;
use super::protocol::{
    Action, Input, LeaderOp, NodeName, Op, PauseId, PeerMsg, ProtocolError, Replica, ReplicaConfig,
    ReplicaStatus, Reply, RequestId,
};
use super::shard::{self, Shard};
use super::store::TableStore;
use crate::record::{Key, Value};
use crate::Table;

pub use super::handle::{wait_all, PauseGuard, ReplicatedTable, WriteHandle};
pub use super::options::{
    group_name, DownHandler, ReplicatedOptions, ReplicationError, WireKey, WireValue,
    CALL_TIMEOUT_DEFAULT, LEADER_RETRY_BACKOFF_MAX, LEADER_RETRY_BACKOFF_MIN,
};

pub(crate) type Answer<V> = Result<Reply<V>, ProtocolError>;

/// What a client asks.
pub(crate) enum ClientRequest<K, V> {
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

impl<K, V> ServerMsg<K, V> {
    /// A client request; `reply` hears the answer.
    pub(crate) fn client(
        request: ClientRequest<K, V>,
        reply: Option<oneshot::Sender<Answer<V>>>,
    ) -> Self {
        ServerMsg(Inner::Client { request, reply })
    }

    /// Asks for the replica's status.
    pub(crate) fn status(reply: oneshot::Sender<ReplicaStatus>) -> Self {
        ServerMsg(Inner::Status(reply))
    }

    /// Asks every known peer server for its member list, answering within `within`.
    pub(crate) fn cluster_view(reply: oneshot::Sender<ClusterView>, within: Duration) -> Self {
        ServerMsg(Inner::ClusterView { reply, within })
    }
}

enum Inner<K, V> {
    Peer(Envelope<K, V>),
    Client {
        request: ClientRequest<K, V>,
        reply: Option<oneshot::Sender<Answer<V>>>,
    },
    Node(NodeEvent),
    JoinTimeout(u64),
    Status(oneshot::Sender<ReplicaStatus>),
    ClusterView {
        reply: oneshot::Sender<ClusterView>,
        within: Duration,
    },
    /// A cluster view's deadline passed.
    ClusterViewDeadline(u64),
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

/// The server actor.
pub(crate) struct Server<K, V>(std::marker::PhantomData<fn() -> (K, V)>);

impl<K, V> Server<K, V> {
    pub(crate) fn new() -> Self {
        Server(std::marker::PhantomData)
    }
}

/// What a server starts from.
pub(crate) struct Arguments<K, V> {
    pub(crate) name: String,
    pub(crate) shard: Shard,
    pub(crate) node: Node,
    pub(crate) replica: ReplicaConfig<K, V>,
    pub(crate) down_handler: Option<DownHandler>,
    pub(crate) peer_batch_records_max: usize,
    /// The local copy, owned by the table's supervisor and shared by its shards' servers (a
    /// handle with owner rights).
    pub(crate) table: Table<K, V>,
}

/// A cluster view being gathered.
struct ViewQuery {
    local: ReplicaView,
    waiting: BTreeSet<NodeName>,
    peers: Vec<ReplicaView>,
    unanswered: Vec<NodeName>,
    reply: oneshot::Sender<ClusterView>,
}

impl ViewQuery {
    fn answer(mut self) {
        self.peers.sort_by(|left, right| left.node.cmp(&right.node));
        self.unanswered.extend(self.waiting);
        self.unanswered.sort();
        let _ = self.reply.send(ClusterView {
            local: self.local,
            peers: self.peers,
            unanswered: self.unanswered,
        });
    }
}

pub(crate) struct State<K: Key, V: Value> {
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
    /// Cluster views being gathered, by request id.
    view_queries: HashMap<u64, ViewQuery>,
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
            shard,
            node,
            replica,
            down_handler,
            peer_batch_records_max,
            table,
        } = arguments;
        let join_ref = rand::random();
        let group = shard::group_of(&name, shard);
        let name = shard::replica_name(&name, shard);
        let replica = Replica::new(
            name.clone(),
            node.name(),
            TableStore::shard(table, shard),
            join_ref,
            replica,
        );
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
            down_handler,
            outbox: Outbox::new(peer_batch_records_max),
            holder_monitors: HashMap::new(),
            pause_holders: HashMap::new(),
            view_queries: HashMap::new(),
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
                state.peer_lost(&myself, node, reason.to_string());
            }
            Inner::JoinTimeout(join_id) => state.input(&myself, Input::JoinTimeout { join_id }),
            Inner::Status(reply) => {
                let _ = reply.send(state.replica.status());
            }
            Inner::ClusterView { reply, within } => state.ask_views(&myself, reply, within),
            Inner::ClusterViewDeadline(id) => {
                if let Some(query) = state.view_queries.remove(&id) {
                    query.answer();
                }
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
                            let reason = "its server left the group".to_string();
                            state.peer_lost(&myself, node, reason);
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
    /// The server on `node` is gone (its node went down, or it left the group).
    fn peer_lost(&mut self, myself: &ActorRef<ServerMsg<K, V>>, node: NodeName, reason: String) {
        if self.peers.remove(&node).is_none() {
            return;
        }
        self.outbox.forget(&node);
        let done: Vec<u64> = self
            .view_queries
            .iter_mut()
            .filter_map(|(id, query)| {
                if query.waiting.remove(&node) {
                    query.unanswered.push(node.clone());
                }
                query.waiting.is_empty().then_some(*id)
            })
            .collect();
        for id in done {
            if let Some(query) = self.view_queries.remove(&id) {
                query.answer();
            }
        }
        self.input(myself, Input::PeerDown { node, reason });
    }

    /// Starts gathering a cluster view: asks every known peer server.
    fn ask_views(
        &mut self,
        myself: &ActorRef<ServerMsg<K, V>>,
        reply: oneshot::Sender<ClusterView>,
        within: Duration,
    ) {
        let id = self.next_request;
        self.next_request += 1;
        let query = ViewQuery {
            local: ReplicaView::of(&self.replica.status()),
            waiting: self.peers.keys().cloned().collect(),
            peers: Vec::new(),
            unanswered: Vec::new(),
            reply,
        };
        if query.waiting.is_empty() {
            query.answer();
            return;
        }
        for peer in &query.waiting {
            self.push(
                myself,
                peer.clone(),
                PeerMsg::StatusRequest { request_id: id },
            );
        }
        self.view_queries.insert(id, query);
        let server = myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(within).await;
            let _ = server.cast(ServerMsg(Inner::ClusterViewDeadline(id)));
        });
    }

    /// A peer's answer to a cluster view's question.
    fn view_answered(&mut self, from: NodeName, request_id: u64, view: ReplicaView) {
        let Some(query) = self.view_queries.get_mut(&request_id) else {
            return;
        };
        if query.waiting.remove(&from) {
            query.peers.push(view);
        }
        if query.waiting.is_empty() {
            if let Some(query) = self.view_queries.remove(&request_id) {
                query.answer();
            }
        }
    }

    /// Queues `message` for `to`; the first message queued schedules a flush.
    fn push(&mut self, myself: &ActorRef<ServerMsg<K, V>>, to: NodeName, message: PeerMsg<K, V>) {
        if self.outbox.push(to, message) {
            // The marker arrives after every message already queued.
            if let Err(error) = myself.cast(ServerMsg(Inner::Flush)) {
                tracing::debug!(table = %self.name, %error, "flush marker not queued");
            }
        }
    }

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
                Action::Send { to, message } => self.push(myself, to, message),
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
                Action::Status {
                    from,
                    request_id,
                    members,
                    join_ref,
                    size,
                } => {
                    let view = ReplicaView::new(from.clone(), members, join_ref, size);
                    self.view_answered(from, request_id, view);
                }
            }
        }
    }
}
