//! The replication protocol's vocabulary: the ids, bounds and callbacks of a
//! replica, what callers and peers send it ([`Input`], [`PeerMsg`]), what it
//! asks its server to do ([`Action`]), and its answers and errors. The rules
//! that connect them are in [`super::Replica`] and the module doc of
//! [`super`].

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A node's name, `name@host`.
pub type NodeName = String;
/// Identifies a join; all members share one. A fresh one per join.
pub type JoinRef = u64;
/// The shell's identifier of a client request; answers carry it back.
pub type RequestId = u64;
/// Identifies a pause, for [`Input::Unpause`].
pub type PauseId = u64;
/// The shell's identifier of a pause holder (for example a monitored actor).
pub type HolderId = u64;

/// Default bound on writes queued while paused; past it a write fails with
/// [`ProtocolError::PausedWritesFull`]. A join pauses a table for about the
/// time to move its dump; 100 k queued writes is seconds of heavy traffic.
pub const PAUSED_WRITES_MAX_DEFAULT: usize = 100_000;
/// Default number of node-down events kept per table.
pub const DOWN_HISTORY_MAX_DEFAULT: usize = 64;
/// Default records per dump chunk in a join: keeps a chunk of small records
/// well under ractor_cluster's frame limit.
pub const DUMP_CHUNK_RECORDS_DEFAULT: usize = 10_000;
/// Default time a join may take before its coordinator aborts it (the discovery sweep then
/// tries again). A trade-off: a join whose peer restarted under it without a down notice
/// waits this long, which bounds how soon a node whose cluster part restarted is whole again
/// (the chaos test allows 15 s); a dump of 100 k records joins in a few seconds here.
pub const JOIN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

const _: () = assert!(DUMP_CHUNK_RECORDS_DEFAULT > 0 && PAUSED_WRITES_MAX_DEFAULT > 0);

/// Merges a key held with different values on the two sides of a join:
/// `handler(left, right)`; see [`join`] for which side is left. Its key is ignored: the merged record keeps the key.
pub type MergeHandler<K, V> = Arc<dyn Fn(&(K, V), &(K, V)) -> (K, V) + Send + Sync>;
/// Says whether a record is owned by a node: `owned(key, value, node)`.
pub type NodeOwned<K, V> = Arc<dyn Fn(&K, &V, &str) -> bool + Send + Sync>;

/// A write, as applied on every copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op<K, V> {
    /// Insert records (one: `insert`; many: `insert_many`, atomically per copy).
    Insert(Vec<(K, V)>),
    /// Delete keys (`delete`, `delete_many`).
    Delete(Vec<K>),
    /// Delete records (`delete_object`, `delete_objects`).
    DeleteObject(Vec<(K, V)>),
}

/// An operation decided on the leader's copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LeaderOp<K, V> {
    /// Insert unless the key is present.
    InsertNew(K, V),
    /// Insert unless the key is present; answer the values under the key.
    InsertNewOrLookup(K, V),
    /// Insert, serialised through the leader (every copy sees one order).
    InsertSerial(K, V),
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<V> {
    /// The write is on every live member.
    Written,
    /// `insert_new`: whether it inserted (if so, the record is on every live member).
    InsertedNew(bool),
    /// `insert_new_or_lookup`: whether it inserted, and the values now under the key.
    InsertedOrFound {
        /// Whether it inserted.
        inserted: bool,
        /// The values under the key.
        values: Vec<V>,
    },
    /// The table is paused; unpause with this id.
    Paused(PauseId),
    /// The pause is released.
    Unpaused,
    /// The join is done.
    Joined(JoinOutcome),
}

impl<V> Reply<V> {
    /// The reply's kind, for errors that must not print values.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Written => "Written",
            Reply::InsertedNew(_) => "InsertedNew",
            Reply::InsertedOrFound { .. } => "InsertedOrFound",
            Reply::Paused(_) => "Paused",
            Reply::Unpaused => "Unpaused",
            Reply::Joined(_) => "Joined",
        }
    }
}

/// How a join ended well.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinOutcome {
    /// The two sides are one; these are the members (with self).
    Joined {
        /// Every member, sorted.
        members: Vec<NodeName>,
    },
    /// The node was already a member: nothing done.
    AlreadyJoined,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProtocolError {
    /// The replica asked is not the leader; retry (with backoff).
    #[error("{asked} is not the leader (it believes {leader} is)")]
    WrongLeader {
        /// Who was asked.
        asked: NodeName,
        /// Who it believes leads.
        leader: NodeName,
    },
    /// The leader went down before answering: the operation may or may not
    /// have happened.
    #[error("leader {leader} went down during the request")]
    LeaderDown {
        /// The leader.
        leader: NodeName,
    },
    /// Too many writes are queued behind a pause.
    #[error("{limit} writes are already queued behind a pause (paused_writes_max)")]
    PausedWritesFull {
        /// The bound.
        limit: usize,
    },
    /// No such pause.
    #[error("no pause {0}")]
    NoSuchPause(PauseId),
    /// A join failed; both sides keep working as before.
    #[error("join failed: {0}")]
    Join(#[from] JoinError),
}

/// Why a join failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum JoinError {
    /// A participant is locked by another join, or this replica coordinates one.
    #[error("{node} is busy with another join")]
    Busy {
        /// Who answered busy.
        node: NodeName,
    },
    /// The node to join is not reachable from here.
    #[error("{node} is not connected")]
    NotConnected {
        /// The node.
        node: NodeName,
    },
    /// A participant cannot reach another.
    #[error("{from} cannot reach {node}")]
    Unreachable {
        /// Who checked.
        from: NodeName,
        /// Whom it cannot reach.
        node: NodeName,
    },
    /// A participant went down.
    #[error("{node} went down during the join")]
    NodeDown {
        /// The node.
        node: NodeName,
    },
    /// The join took too long.
    #[error("the join timed out")]
    Timeout,
}

/// What replicas of one table say to each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PeerMsg<K, V> {
    /// Apply this write and acknowledge.
    Write {
        /// The sender's join reference.
        join_ref: JoinRef,
        /// The sender's id of the write.
        write_id: u64,
        /// The write.
        op: Op<K, V>,
    },
    /// Every write the receiver sent to the sender up to `write_id` is
    /// applied (or was refused, with [`PeerMsg::Dropped`], before this).
    /// Cumulative, so a batch of writes needs one ack: the link is FIFO and
    /// a replica applies its peers' writes in order, so an ack for a write
    /// vouches for every earlier one.
    Ack {
        /// The last write applied.
        write_id: u64,
    },
    /// The write was refused: the sender is not a member here, or its
    /// join reference is old.
    Dropped {
        /// Its id.
        write_id: u64,
    },
    /// Decide this on the leader's copy.
    LeaderRequest {
        /// The sender's join reference.
        join_ref: JoinRef,
        /// The sender's id of the request.
        request_id: u64,
        /// The operation.
        op: LeaderOp<K, V>,
    },
    /// The leader's answer.
    LeaderReply {
        /// The request's id.
        request_id: u64,
        /// The answer.
        result: Result<Reply<V>, ProtocolError>,
    },
    /// Join: take the lock for join `join_id` (coordinated by the sender).
    JoinLock {
        /// The join.
        join_id: u64,
    },
    /// Join: locked; these are my members and my join reference.
    JoinLocked {
        /// The join.
        join_id: u64,
        /// The sender's members (without itself).
        members: Vec<NodeName>,
        /// The sender's join reference.
        join_ref: JoinRef,
    },
    /// Join: locked by another join.
    JoinBusy {
        /// The join.
        join_id: u64,
    },
    /// Join: check you reach every one of `nodes`, and flush to them.
    JoinCheck {
        /// The join.
        join_id: u64,
        /// Every participant.
        nodes: Vec<NodeName>,
    },
    /// Join: a participant's probe.
    JoinPing {
        /// The join.
        join_id: u64,
    },
    /// Join: the probe's answer.
    JoinPong {
        /// The join.
        join_id: u64,
    },
    /// Join: the check's result.
    JoinChecked {
        /// The join.
        join_id: u64,
        /// The node that could not be reached, if any.
        unreachable: Option<NodeName>,
    },
    /// Join: send me your records.
    JoinDumpRequest {
        /// The join.
        join_id: u64,
    },
    /// Join: a chunk of a dump.
    JoinDump {
        /// The join.
        join_id: u64,
        /// Records.
        records: Vec<(K, V)>,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// Join: insert these records (what the receiver's copy lacks of the merge).
    JoinRecords {
        /// The join.
        join_id: u64,
        /// Records.
        records: Vec<(K, V)>,
    },
    /// Join: take these members and this join reference.
    JoinCommit {
        /// The join.
        join_id: u64,
        /// Every member, the receiver included.
        members: Vec<NodeName>,
        /// The new join reference.
        join_ref: JoinRef,
    },
    /// Join: committed.
    JoinCommitted {
        /// The join.
        join_id: u64,
    },
    /// Join: release the lock.
    JoinUnlock {
        /// The join.
        join_id: u64,
    },
    /// The sender stopped counting `node` as a member (it went down, or
    /// refused a write): stop too, so member lists stay one consistent
    /// group after a partial partition. If `node` is the receiver, it stops
    /// counting the sender.
    MemberGone {
        /// The node.
        node: NodeName,
    },
    /// Status: what are your members?
    StatusRequest {
        /// The asker's id.
        request_id: u64,
    },
    /// Status: the answer.
    StatusReply {
        /// The asker's id.
        request_id: u64,
        /// Members, without the sender.
        members: Vec<NodeName>,
        /// Join reference.
        join_ref: JoinRef,
        /// Records in the sender's copy.
        size: usize,
    },
}

/// An input to a replica.
#[derive(Clone, Debug)]
pub enum Input<K, V> {
    /// A client write.
    Write {
        /// Answered with this id.
        request: RequestId,
        /// The write.
        op: Op<K, V>,
    },
    /// A client's leader operation.
    Leader {
        /// Answered with this id.
        request: RequestId,
        /// The operation.
        op: LeaderOp<K, V>,
    },
    /// Pause the table for `holder`.
    Pause {
        /// Answered with this id.
        request: RequestId,
        /// Who holds the pause.
        holder: HolderId,
    },
    /// Release a pause.
    Unpause {
        /// Answered with this id.
        request: RequestId,
        /// The pause.
        pause: PauseId,
    },
    /// A pause holder stopped: release its pauses.
    HolderDown {
        /// The holder.
        holder: HolderId,
    },
    /// Join this replica's group with `with`'s.
    Join {
        /// Answered with this id.
        request: RequestId,
        /// A replica of the other group.
        with: NodeName,
        /// A fresh id for the join.
        join_id: u64,
        /// A fresh join reference, used if the join succeeds.
        new_join_ref: JoinRef,
    },
    /// The join's timer fired.
    JoinTimeout {
        /// The join.
        join_id: u64,
    },
    /// A message from another replica of this table.
    Remote {
        /// The sender's node.
        from: NodeName,
        /// The message.
        message: PeerMsg<K, V>,
    },
    /// The replica on `node` is reachable.
    PeerUp {
        /// The node.
        node: NodeName,
    },
    /// The replica on `node` is gone (its node went down, or it stopped).
    PeerDown {
        /// The node.
        node: NodeName,
        /// Why, for the history.
        reason: String,
    },
}

/// A node-down event in a table's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownEvent {
    /// The node.
    pub node: NodeName,
    /// Why.
    pub reason: String,
    /// Whether it was a member.
    pub was_member: bool,
    /// The leader before.
    pub leader_before: NodeName,
    /// The leader after.
    pub leader_after: NodeName,
    /// Node-owned records removed here.
    pub owned_records_removed: usize,
}

/// What a replica asks its shell to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<K, V> {
    /// Send to the replica on `to`.
    Send {
        /// The node.
        to: NodeName,
        /// The message.
        message: PeerMsg<K, V>,
    },
    /// Answer a client request.
    Reply {
        /// The request.
        request: RequestId,
        /// The answer.
        result: Result<Reply<V>, ProtocolError>,
    },
    /// A peer went down: run the table's down handler (off the server).
    NodeDown(DownEvent),
    /// Feed [`Input::JoinTimeout`] back after `after`.
    SetJoinTimer {
        /// The join.
        join_id: u64,
        /// When.
        after: Duration,
    },
    /// A peer answered a status request.
    Status {
        /// The peer.
        from: NodeName,
        /// The request.
        request_id: u64,
        /// Its members (without itself).
        members: Vec<NodeName>,
        /// Its join reference.
        join_ref: JoinRef,
        /// Its size.
        size: usize,
    },
}
