//! The replication protocol as a plain state machine: one [`Replica`] per
//! table per node. Inputs in ([`Input`]), actions out ([`Action`]); no I/O,
//! no clock, no randomness of its own (the shell passes fresh join
//! references and join ids in, and turns [`Action::SetJoinTimer`] into a
//! timer). The server actor ([`super::server`]) and the simulated network of
//! the tests are two shells around it.
//!
//! # What a replica holds
//!
//! - its local copy (a [`Store`]);
//! - `members`: the peers it is joined with (never itself), and `up`: the
//!   peers the transport reports reachable;
//! - the join reference shared by all members: a remote write or leader
//!   request carrying another reference is refused ([`PeerMsg::Dropped`]);
//! - writes waiting for acknowledgements, forwarded leader requests,
//!   pauses and the writes queued behind them, the join it coordinates (if
//!   any), the join lock it holds for another coordinator (if any), and the
//!   down history.
//!
//! # Rules
//!
//! - **Writes** apply locally, then go to every member; the write completes
//!   when every member acknowledged. A member that goes down counts as
//!   acknowledged. The transport must be reliable and FIFO per pair of
//!   nodes while a session lasts (ractor_cluster's TCP session is; a lost
//!   message means a lost session, reported as [`Input::PeerDown`]), which
//!   gives per-origin order on every member. It also makes acknowledgements
//!   cumulative ([`PeerMsg::Ack`]): a shell may send one ack for a run of
//!   writes (the server sends one per batch it receives).
//! - **Leader**: the member (or self) with the greatest node name. CETS
//!   picks the greatest server pid; pids are not comparable across restarts
//!   or meaningful to operators, names are. Every member computes the same
//!   leader from the same member list. `insert_new`, `insert_new_or_lookup`
//!   and `insert_serial` are forwarded to the leader, decided on its copy,
//!   replicated from there as ordinary writes, and answered once acked. A
//!   replica asked while not the leader answers [`ProtocolError::WrongLeader`]
//!   (the caller retries with backoff); a leader that goes down fails the
//!   forwarded requests with [`ProtocolError::LeaderDown`].
//! - **Pause** nests: client writes and leader requests queue (bounded by
//!   [`ReplicaConfig::paused_writes_max`]) and run in order on the last
//!   unpause. A holder reported down ([`Input::HolderDown`]) releases its
//!   pauses. Remote writes from members still apply, as in CETS.
//! - **Join** (coordinated by the replica asked to join; see [`join`] for
//!   the steps and the merge) takes a try-lock on every participant: a
//!   replica already locked answers busy and the join fails at once, to be
//!   retried by the joiner with jittered backoff. Nobody waits on a lock, so
//!   joins cannot deadlock (CETS takes a cluster-wide `global` lock and
//!   deadlocked at 8 nodes, MongooseIM issue 4758). A participant going
//!   down, a busy lock, an unreachable participant or the timeout aborts:
//!   everyone is unlocked and keeps its old members and reference (merged
//!   records already sent stay: the merge only adds).
//! - **Merge**: records from the other side are added; for a set, a key
//!   holding different values on the two sides is decided by the merge
//!   handler, or without one by the side holding the greatest node name
//!   (the leader after the join). The merge is computed once, by the
//!   coordinator, so every copy ends the same. CETS without a handler lets
//!   the values swap sides; ours converge. Bags take the union.
//! - **Node down**: the peer leaves `members` and `up`; its pending
//!   acknowledgements are released; requests forwarded to it (as leader)
//!   fail; its join locks are released and joins it takes part in abort; the
//!   leader is recomputed; the event goes to the down history and out as
//!   [`Action::NodeDown`], for the shell to run the down handler off the
//!   server (so the handler cannot deadlock it). With the node-owned option,
//!   records owned by that node are removed from the local copy; every
//!   replica does the same on its own down notice, so they vanish
//!   cluster-wide.
//!
//! # Differences from CETS
//!
//! - Leader by greatest node name, not greatest pid.
//! - Join lock is a per-replica try-lock, not `global:trans`; a contended
//!   join fails fast instead of waiting.
//! - A deterministic default merge rule (see Merge).
//! - A refused remote write is answered ([`PeerMsg::Dropped`]) rather than
//!   silently ignored, and the origin stops counting the refusing node as a
//!   member (their member lists disagree: a half-applied join). Discovery
//!   joins them again.
//! - A replica that stops counting a member tells the others
//!   ([`PeerMsg::MemberGone`]), and they drop it too. After a partial
//!   partition (a lost b, c still reaches both) CETS leaves c listing both
//!   while a and b list each other no more, and a write of a is acked
//!   without reaching b; if a then dies, nothing ever repairs b. Here the
//!   group splits into consistent lists and the joiner's joins (which merge
//!   every participant's dump) repair it.
//! - Like CETS: when an origin dies, its last writes may be on some copies
//!   only (one not yet acknowledged; or one acknowledged by a member that
//!   had already dropped the origin and refused it, which counts like a
//!   member down). The next join involving those copies repairs them;
//!   copies already in one group are not compared (no anti-entropy).
//! - Node-owned records (an option CETS lacks).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::store::Store;

pub mod join;

use crate::record::{Key, Value};
use join::{Check, Run};

mod messages;
pub use messages::*;

/// A replica's settings.
pub struct ReplicaConfig<K, V> {
    /// Merges a key the two sides of a join hold with different values; `None`: the side holding the greatest node name wins.
    pub merge_handler: Option<MergeHandler<K, V>>,
    /// Node-owned records: removed when their node goes down.
    pub node_owned: Option<NodeOwned<K, V>>,
    /// Bound on writes queued behind a pause.
    pub paused_writes_max: usize,
    /// Node-down events kept.
    pub down_history_max: usize,
    /// Records per join dump chunk.
    pub dump_chunk_records: usize,
    /// How long a join may take.
    pub join_timeout: Duration,
}

impl<K, V> Default for ReplicaConfig<K, V> {
    fn default() -> Self {
        ReplicaConfig {
            merge_handler: None,
            node_owned: None,
            paused_writes_max: PAUSED_WRITES_MAX_DEFAULT,
            down_history_max: DOWN_HISTORY_MAX_DEFAULT,
            dump_chunk_records: DUMP_CHUNK_RECORDS_DEFAULT,
            join_timeout: JOIN_TIMEOUT_DEFAULT,
        }
    }
}

impl<K, V> Clone for ReplicaConfig<K, V> {
    fn clone(&self) -> Self {
        ReplicaConfig {
            merge_handler: self.merge_handler.clone(),
            node_owned: self.node_owned.clone(),
            paused_writes_max: self.paused_writes_max,
            down_history_max: self.down_history_max,
            dump_chunk_records: self.dump_chunk_records,
            join_timeout: self.join_timeout,
        }
    }
}

impl<K, V> fmt::Debug for ReplicaConfig<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ReplicaConfig")
            .field("merge_handler", &self.merge_handler.is_some())
            .field("node_owned", &self.node_owned.is_some())
            .field("paused_writes_max", &self.paused_writes_max)
            .field("down_history_max", &self.down_history_max)
            .field("dump_chunk_records", &self.dump_chunk_records)
            .field("join_timeout", &self.join_timeout)
            .finish()
    }
}

/// Who is told when a write completes.
#[derive(Clone, Debug)]
enum Completion<V> {
    Client(RequestId, Reply<V>),
    Peer {
        node: NodeName,
        request_id: u64,
        reply: Reply<V>,
    },
}

struct PendingWrite<V> {
    /// Members yet to acknowledge.
    remaining: usize,
    completion: Completion<V>,
}

/// A write or leader operation waiting behind a pause.
enum Queued<K, V> {
    Write(RequestId, Op<K, V>),
    Leader(Origin, LeaderOp<K, V>),
}

#[derive(Clone, Debug)]
enum Origin {
    Client(RequestId),
    Peer { node: NodeName, request_id: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PauseHolder {
    Client(HolderId),
    Join { coordinator: NodeName, join_id: u64 },
}

/// One table's replica on one node. See the module doc.
pub struct Replica<K, V, S> {
    table: String,
    me: NodeName,
    config: ReplicaConfig<K, V>,
    store: S,
    members: BTreeSet<NodeName>,
    up: BTreeSet<NodeName>,
    join_ref: JoinRef,
    leader: NodeName,
    next_id: u64,
    pending_writes: HashMap<u64, PendingWrite<V>>,
    /// Per member, the writes sent to it and not yet acknowledged, oldest
    /// first.
    unacked: HashMap<NodeName, VecDeque<u64>>,
    /// Leader requests sent from here: id → (leader, client request).
    forwarded: HashMap<u64, (NodeName, RequestId)>,
    pauses: BTreeMap<PauseId, PauseHolder>,
    queued: VecDeque<Queued<K, V>>,
    /// The join lock held for some coordinator: (coordinator, join id).
    join_lock: Option<(NodeName, u64)>,
    check: Option<Check>,
    run: Option<Run<K, V>>,
    down_history: VecDeque<DownEvent>,
    /// Members dropped while their node was still up (a refused write, a
    /// `MemberGone`): when that node does go down it still counts as a
    /// member's down, so the down handler runs on every node, whichever
    /// heard of it first.
    dropped_while_up: BTreeSet<NodeName>,
    member_disagreements: u64,
    actions: Vec<Action<K, V>>,
    /// Messages to self (the coordinator is a participant too).
    inbox: VecDeque<PeerMsg<K, V>>,
}

/// A replica's view of itself, for status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// The table.
    pub table: String,
    /// This node.
    pub node: NodeName,
    /// Members, without this node, sorted.
    pub members: Vec<NodeName>,
    /// Reachable peers with a replica of the table.
    pub reachable: Vec<NodeName>,
    /// The leader.
    pub leader: NodeName,
    /// The join reference.
    pub join_ref: JoinRef,
    /// Records in the local copy.
    pub size: usize,
    /// Active pauses.
    pub pauses: usize,
    /// Writes queued behind pauses.
    pub queued_writes: usize,
    /// Writes waiting for acknowledgements.
    pub pending_writes: usize,
    /// Writes refused by a peer that disagreed about membership, so far.
    pub member_disagreements: u64,
    /// Recent node-down events, oldest first.
    pub down_history: Vec<DownEvent>,
}

impl<K: Key, V: Value, S: Store<K, V>> Replica<K, V, S> {
    /// A replica of `table` on node `me`, alone, with join reference `join_ref`
    /// (pick it at random: two lone replicas must not share one).
    pub fn new(
        table: impl Into<String>,
        me: impl Into<NodeName>,
        store: S,
        join_ref: JoinRef,
        config: ReplicaConfig<K, V>,
    ) -> Self {
        let me = me.into();
        Replica {
            table: table.into(),
            leader: me.clone(),
            me,
            config,
            store,
            members: BTreeSet::new(),
            up: BTreeSet::new(),
            join_ref,
            next_id: 1,
            pending_writes: HashMap::new(),
            unacked: HashMap::new(),
            forwarded: HashMap::new(),
            pauses: BTreeMap::new(),
            queued: VecDeque::new(),
            join_lock: None,
            check: None,
            run: None,
            down_history: VecDeque::new(),
            dropped_while_up: BTreeSet::new(),
            member_disagreements: 0,
            actions: Vec::new(),
            inbox: VecDeque::new(),
        }
    }

    /// The local copy.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// This node.
    pub fn node(&self) -> &str {
        &self.me
    }

    /// Members, without self.
    pub fn members(&self) -> &BTreeSet<NodeName> {
        &self.members
    }

    /// The leader.
    pub fn leader(&self) -> &str {
        &self.leader
    }

    /// The join reference.
    pub fn join_ref(&self) -> JoinRef {
        self.join_ref
    }

    /// Whether any pause (a join lock included) is active.
    pub fn is_paused(&self) -> bool {
        !self.pauses.is_empty()
    }

    /// A status snapshot.
    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            table: self.table.clone(),
            node: self.me.clone(),
            members: self.members.iter().cloned().collect(),
            reachable: self.up.iter().cloned().collect(),
            leader: self.leader.clone(),
            join_ref: self.join_ref,
            size: self.store.len(),
            pauses: self.pauses.len(),
            queued_writes: self.queued.len(),
            pending_writes: self.pending_writes.len(),
            member_disagreements: self.member_disagreements,
            down_history: self.down_history.iter().cloned().collect(),
        }
    }

    /// Feeds one input; returns what to do.
    pub fn handle(&mut self, input: Input<K, V>) -> Vec<Action<K, V>> {
        match input {
            Input::Write { request, op } => {
                if self.is_paused() {
                    self.enqueue(Queued::Write(request, op), Origin::Client(request));
                } else {
                    self.write(op, Completion::Client(request, Reply::Written));
                }
            }
            Input::Leader { request, op } => self.leader_from_client(request, op),
            Input::Pause { request, holder } => {
                let pause = self.fresh_id();
                self.pauses.insert(pause, PauseHolder::Client(holder));
                self.reply(request, Ok(Reply::Paused(pause)));
            }
            Input::Unpause { request, pause } => {
                let result = match self.pauses.get(&pause) {
                    Some(PauseHolder::Client(_)) => {
                        self.pauses.remove(&pause);
                        self.drain_if_unpaused();
                        Ok(Reply::Unpaused)
                    }
                    _ => Err(ProtocolError::NoSuchPause(pause)),
                };
                self.reply(request, result);
            }
            Input::HolderDown { holder } => {
                self.pauses
                    .retain(|_, held| *held != PauseHolder::Client(holder));
                self.drain_if_unpaused();
            }
            Input::Join {
                request,
                with,
                join_id,
                new_join_ref,
            } => self.start_join(request, with, join_id, new_join_ref),
            Input::JoinTimeout { join_id } => {
                if self.run.as_ref().is_some_and(|run| run.join_id == join_id) {
                    self.abort_join(JoinError::Timeout);
                }
            }
            Input::Remote { from, message } => self.remote(from, message),
            Input::PeerUp { node } => {
                if node != self.me {
                    self.up.insert(node);
                }
            }
            Input::PeerDown { node, reason } => self.peer_down(node, reason),
        }
        while let Some(message) = self.inbox.pop_front() {
            let me = self.me.clone();
            self.remote(me, message);
        }
        std::mem::take(&mut self.actions)
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn send(&mut self, to: &str, message: PeerMsg<K, V>) {
        if to == self.me {
            self.inbox.push_back(message);
        } else {
            self.actions.push(Action::Send {
                to: to.to_string(),
                message,
            });
        }
    }

    fn reply(&mut self, request: RequestId, result: Result<Reply<V>, ProtocolError>) {
        self.actions.push(Action::Reply { request, result });
    }

    fn complete(&mut self, completion: Completion<V>) {
        match completion {
            Completion::Client(request, reply) => self.reply(request, Ok(reply)),
            Completion::Peer {
                node,
                request_id,
                reply,
            } => self.send(
                &node,
                PeerMsg::LeaderReply {
                    request_id,
                    result: Ok(reply),
                },
            ),
        }
    }

    fn fail(&mut self, origin: Origin, error: ProtocolError) {
        match origin {
            Origin::Client(request) => self.reply(request, Err(error)),
            Origin::Peer { node, request_id } => self.send(
                &node,
                PeerMsg::LeaderReply {
                    request_id,
                    result: Err(error),
                },
            ),
        }
    }

    fn enqueue(&mut self, queued: Queued<K, V>, origin: Origin) {
        if self.queued.len() >= self.config.paused_writes_max {
            let limit = self.config.paused_writes_max;
            self.fail(origin, ProtocolError::PausedWritesFull { limit });
        } else {
            self.queued.push_back(queued);
        }
    }

    fn drain_if_unpaused(&mut self) {
        while !self.is_paused() {
            let Some(queued) = self.queued.pop_front() else {
                return;
            };
            match queued {
                Queued::Write(request, op) => {
                    self.write(op, Completion::Client(request, Reply::Written))
                }
                Queued::Leader(origin, op) => self.decide(origin, op),
            }
        }
    }

    /// Applies locally and replicates; `completion` runs once every member acked.
    fn write(&mut self, op: Op<K, V>, completion: Completion<V>) {
        self.store.apply(&op);
        if self.members.is_empty() {
            self.complete(completion);
            return;
        }
        let write_id = self.fresh_id();
        let join_ref = self.join_ref;
        let count = self.members.len();
        let mut op = Some(op);
        // Fields, not `self.send`: members are never self, and borrowing
        // them while queueing saves cloning the member list per write.
        for (index, member) in self.members.iter().enumerate() {
            // The last member takes the op itself: one clone fewer.
            let op = if index + 1 == count {
                op.take()
            } else {
                op.clone()
            };
            let Some(op) = op else { continue };
            self.actions.push(Action::Send {
                to: member.clone(),
                message: PeerMsg::Write {
                    join_ref,
                    write_id,
                    op,
                },
            });
            match self.unacked.get_mut(member) {
                Some(queue) => queue.push_back(write_id),
                None => {
                    self.unacked
                        .insert(member.clone(), VecDeque::from([write_id]));
                }
            }
        }
        self.pending_writes.insert(
            write_id,
            PendingWrite {
                remaining: count,
                completion,
            },
        );
    }

    /// `from` acknowledged every write sent to it up to `write_id` (acks
    /// are cumulative: see [`PeerMsg::Ack`]).
    fn acked(&mut self, write_id: u64, from: &str) {
        loop {
            let Some(queue) = self.unacked.get_mut(from) else {
                return;
            };
            match queue.front() {
                Some(&id) if id <= write_id => {
                    queue.pop_front();
                    self.settle(id);
                }
                _ => return,
            }
        }
    }

    /// One member fewer to wait for on write `id`; completes it at zero.
    fn settle(&mut self, id: u64) {
        let done = match self.pending_writes.get_mut(&id) {
            Some(pending) => {
                pending.remaining -= 1;
                pending.remaining == 0
            }
            None => false,
        };
        if done {
            if let Some(pending) = self.pending_writes.remove(&id) {
                self.complete(pending.completion);
            }
        }
    }

    /// Counts every write waiting on `node` as acknowledged by it (in the
    /// order the writes were made, so answers keep that order).
    fn release_acks_of(&mut self, node: &str) {
        let Some(queue) = self.unacked.remove(node) else {
            return;
        };
        for id in queue {
            self.settle(id);
        }
    }

    fn elect(&mut self) {
        let leader = self
            .members
            .iter()
            .chain(std::iter::once(&self.me))
            .max()
            .cloned()
            .unwrap_or_else(|| self.me.clone());
        if leader != self.leader {
            tracing::debug!(table = %self.table, node = %self.me, %leader, "leader changed");
            self.leader = leader;
        }
    }

    fn leader_from_client(&mut self, request: RequestId, op: LeaderOp<K, V>) {
        if self.leader == self.me {
            self.leader_request(Origin::Client(request), op);
            return;
        }
        let request_id = self.fresh_id();
        let leader = self.leader.clone();
        self.forwarded.insert(request_id, (leader.clone(), request));
        let join_ref = self.join_ref;
        self.send(
            &leader,
            PeerMsg::LeaderRequest {
                join_ref,
                request_id,
                op,
            },
        );
    }

    /// A leader request that reached this replica (from a client here or a peer).
    fn leader_request(&mut self, origin: Origin, op: LeaderOp<K, V>) {
        if self.leader != self.me {
            let error = ProtocolError::WrongLeader {
                asked: self.me.clone(),
                leader: self.leader.clone(),
            };
            self.fail(origin, error);
        } else if self.is_paused() {
            self.enqueue(Queued::Leader(origin.clone(), op), origin);
        } else {
            self.decide(origin, op);
        }
    }

    fn decide(&mut self, origin: Origin, op: LeaderOp<K, V>) {
        // Leadership may have moved while the request was queued.
        if self.leader != self.me {
            let error = ProtocolError::WrongLeader {
                asked: self.me.clone(),
                leader: self.leader.clone(),
            };
            self.fail(origin, error);
            return;
        }
        let (write, reply) = match op {
            LeaderOp::InsertNew(key, value) => {
                if self.store.lookup(&key).is_empty() {
                    (
                        Some(Op::Insert(vec![(key, value)])),
                        Reply::InsertedNew(true),
                    )
                } else {
                    (None, Reply::InsertedNew(false))
                }
            }
            LeaderOp::InsertNewOrLookup(key, value) => {
                let values = self.store.lookup(&key);
                if values.is_empty() {
                    (
                        Some(Op::Insert(vec![(key, value.clone())])),
                        Reply::InsertedOrFound {
                            inserted: true,
                            values: vec![value],
                        },
                    )
                } else {
                    (
                        None,
                        Reply::InsertedOrFound {
                            inserted: false,
                            values,
                        },
                    )
                }
            }
            LeaderOp::InsertSerial(key, value) => {
                (Some(Op::Insert(vec![(key, value)])), Reply::Written)
            }
        };
        let completion = match origin {
            Origin::Client(request) => Completion::Client(request, reply),
            Origin::Peer { node, request_id } => Completion::Peer {
                node,
                request_id,
                reply,
            },
        };
        match write {
            Some(op) => self.write(op, completion),
            None => self.complete(completion),
        }
    }

    fn is_current(&self, from: &str, join_ref: JoinRef) -> bool {
        join_ref == self.join_ref && (from == self.me || self.members.contains(from))
    }

    fn remote(&mut self, from: NodeName, message: PeerMsg<K, V>) {
        match message {
            PeerMsg::Write {
                join_ref,
                write_id,
                op,
            } => {
                if self.is_current(&from, join_ref) {
                    self.store.apply_owned(op);
                    self.send(&from, PeerMsg::Ack { write_id });
                } else {
                    tracing::debug!(table = %self.table, node = %self.me, %from,
                        "write with an old join reference dropped");
                    self.send(&from, PeerMsg::Dropped { write_id });
                }
            }
            PeerMsg::Ack { write_id } => self.acked(write_id, &from),
            PeerMsg::Dropped { write_id } => {
                if self.members.contains(&from) {
                    tracing::warn!(table = %self.table, node = %self.me, peer = %from,
                        "peer refused a write: it no longer counts as a member");
                    self.member_disagreements += 1;
                    self.forget_member(&from, true);
                }
                self.acked(write_id, &from);
            }
            PeerMsg::MemberGone { node } => {
                if !self.members.contains(&from) {
                    return;
                }
                if node == self.me {
                    self.member_disagreements += 1;
                    self.forget_member(&from, false);
                } else if self.members.contains(&node) {
                    tracing::info!(table = %self.table, node = %self.me, peer = %node, %from,
                        "a member dropped a peer: dropping it too");
                    self.forget_member(&node, false);
                }
            }
            PeerMsg::LeaderRequest {
                join_ref,
                request_id,
                op,
            } => {
                let origin = Origin::Peer {
                    node: from.clone(),
                    request_id,
                };
                if self.is_current(&from, join_ref) {
                    self.leader_request(origin, op);
                } else {
                    let error = ProtocolError::WrongLeader {
                        asked: self.me.clone(),
                        leader: self.leader.clone(),
                    };
                    self.fail(origin, error);
                }
            }
            PeerMsg::LeaderReply { request_id, result } => {
                if let Some((_, request)) = self.forwarded.remove(&request_id) {
                    self.reply(request, result);
                }
            }
            PeerMsg::StatusRequest { request_id } => {
                let members = self.members.iter().cloned().collect();
                let join_ref = self.join_ref;
                let size = self.store.len();
                self.send(
                    &from,
                    PeerMsg::StatusReply {
                        request_id,
                        members,
                        join_ref,
                        size,
                    },
                );
            }
            PeerMsg::StatusReply {
                request_id,
                members,
                join_ref,
                size,
            } => self.actions.push(Action::Status {
                from,
                request_id,
                members,
                join_ref,
                size,
            }),
            join_message => self.join_message(from, join_message),
        }
    }

    /// Stops counting `node` as a member: releases the writes waiting on
    /// it, re-elects, and (with `tell`) tells the remaining members.
    fn forget_member(&mut self, node: &str, tell: bool) {
        if !self.members.remove(node) {
            return;
        }
        if self.up.contains(node) {
            self.dropped_while_up.insert(node.to_string());
        }
        self.elect();
        self.release_acks_of(node);
        if tell {
            let members: Vec<NodeName> = self.members.iter().cloned().collect();
            for member in members {
                self.send(
                    &member,
                    PeerMsg::MemberGone {
                        node: node.to_string(),
                    },
                );
            }
        }
    }

    fn peer_down(&mut self, node: NodeName, reason: String) {
        if node == self.me {
            return;
        }
        self.up.remove(&node);
        let was_member = self.dropped_while_up.remove(&node) || self.members.contains(&node);
        let leader_before = self.leader.clone();
        self.forget_member(&node, true);
        self.release_acks_of(&node);
        let failed: Vec<u64> = self
            .forwarded
            .iter()
            .filter(|(_, (leader, _))| *leader == node)
            .map(|(id, _)| *id)
            .collect();
        for id in failed {
            if let Some((leader, request)) = self.forwarded.remove(&id) {
                self.reply(request, Err(ProtocolError::LeaderDown { leader }));
            }
        }
        // Its join lock, its part in a check, a join it takes part in.
        if self
            .join_lock
            .as_ref()
            .is_some_and(|(coordinator, _)| *coordinator == node)
        {
            self.release_join_lock();
        }
        if let Some(check) = &self.check {
            if check.waiting.contains(&node) || check.coordinator == node {
                let (coordinator, join_id) = (check.coordinator.clone(), check.join_id);
                self.check = None;
                self.send(
                    &coordinator,
                    PeerMsg::JoinChecked {
                        join_id,
                        unreachable: Some(node.clone()),
                    },
                );
            }
        }
        if let Some(run) = &self.run {
            if run.lock_sent.contains(&node) {
                self.abort_join(JoinError::NodeDown { node: node.clone() });
            }
        }
        let owned_records_removed = match &self.config.node_owned {
            Some(owned) => {
                let owned = owned.clone();
                self.store
                    .remove_where(&|key, value| owned(key, value, &node))
            }
            None => 0,
        };
        if !was_member && owned_records_removed == 0 {
            return;
        }
        let event = DownEvent {
            node,
            reason,
            was_member,
            leader_before,
            leader_after: self.leader.clone(),
            owned_records_removed,
        };
        tracing::info!(table = %self.table, node = %self.me, peer = %event.node,
            reason = %event.reason, leader = %event.leader_after, "replica down");
        if self.down_history.len() >= self.config.down_history_max {
            self.down_history.pop_front();
        }
        if self.config.down_history_max > 0 {
            self.down_history.push_back(event.clone());
        }
        self.actions.push(Action::NodeDown(event));
    }

    fn release_join_lock(&mut self) {
        if let Some((coordinator, join_id)) = self.join_lock.take() {
            self.pauses.retain(|_, holder| {
                *holder
                    != PauseHolder::Join {
                        coordinator: coordinator.clone(),
                        join_id,
                    }
            });
            if self
                .check
                .as_ref()
                .is_some_and(|check| check.join_id == join_id && check.coordinator == coordinator)
            {
                self.check = None;
            }
            self.drain_if_unpaused();
        }
    }
}
