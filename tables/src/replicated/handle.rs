//! [`ReplicatedTable`], the handle users hold: one table, whatever its
//! number of shards.
//!
//! Reads go to the local table ([`ReplicatedTable::table`]) without a
//! message: with shards, the shards' servers share that one table, so a
//! lookup, a scan, `select` or `size` covers every shard. Writes go to the
//! server of the key's shard ([`super::shard::shard_of`]); a write naming
//! keys of several shards is split, sent to each, and complete when every
//! part is. Pauses, joins and statuses cover every shard.
//!
//! Every call has a deadline ([`ReplicatedOptions::call_timeout`], default
//! 5 s, as an Erlang call). Leader operations retry "wrong leader" answers
//! with backoff until that deadline.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_runtime::node::Node;
use bream_runtime::supervisor::{
    ChildSpec, StartError, Started, Supervisor, SupervisorRef, SupervisorSpec,
};
use ractor::{ActorCell, ActorRef};
use tokio::sync::oneshot;

use super::cluster_view::ClusterView;
use super::options::{
    self, ReplicatedOptions, ReplicationError, WireKey, WireValue, LEADER_RETRY_BACKOFF_MAX,
    LEADER_RETRY_BACKOFF_MIN,
};
use super::protocol::{JoinOutcome, LeaderOp, Op, PauseId, ProtocolError, ReplicaStatus, Reply};
use super::server::{Answer, Arguments as ServerArguments, ClientRequest, Server, ServerMsg};
use super::shard::{shard_of, Shard};
use crate::{Table, TableOptions};

/// How long a table's servers may take to stop when its start is undone.
const TABLE_SHUTDOWN: Duration = Duration::from_secs(5);

/// The answers a write waits for: one per shard it touches.
enum Answers<V> {
    One(oneshot::Receiver<Answer<V>>),
    Many(Vec<oneshot::Receiver<Answer<V>>>),
}

/// A write sent and not yet waited for ([`ReplicatedTable::insert_async`]).
#[must_use = "a write handle does nothing unless waited for"]
pub struct WriteHandle<V> {
    table: Arc<str>,
    answers: Answers<V>,
}

impl<V> WriteHandle<V> {
    /// Waits until the write is on every live member, or `timeout`.
    pub async fn wait(self, timeout: Duration) -> Result<(), ReplicationError> {
        match self.answers {
            Answers::One(answer) => answer_of(&self.table, answer, timeout).await.map(|_| ()),
            Answers::Many(answers) => {
                let deadline = Instant::now() + timeout;
                for answer in answers {
                    let left = deadline.saturating_duration_since(Instant::now());
                    answer_of(&self.table, answer, left).await?;
                }
                Ok(())
            }
        }
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

/// Holds a pause (on every shard); dropping it unpauses.
pub struct PauseGuard<K: WireKey, V: WireValue> {
    pauses: Vec<(ActorRef<ServerMsg<K, V>>, PauseId)>,
}

impl<K: WireKey, V: WireValue> Drop for PauseGuard<K, V> {
    fn drop(&mut self) {
        for (server, pause) in self.pauses.drain(..) {
            let _ = server.cast(ServerMsg::client(ClientRequest::Unpause(pause), None));
        }
    }
}

/// A replicated table on this node. Cheap to clone.
pub struct ReplicatedTable<K: WireKey, V: WireValue> {
    name: Arc<str>,
    table: Table<K, V>,
    /// The servers, by shard.
    servers: Arc<[ActorRef<ServerMsg<K, V>>]>,
    /// The supervisor of the table's servers.
    supervisor: SupervisorRef,
    call_timeout: Duration,
}

impl<K: WireKey, V: WireValue> Clone for ReplicatedTable<K, V> {
    fn clone(&self) -> Self {
        ReplicatedTable {
            name: self.name.clone(),
            table: self.table.clone(),
            servers: self.servers.clone(),
            supervisor: self.supervisor.clone(),
            call_timeout: self.call_timeout,
        }
    }
}

impl<K: WireKey, V: WireValue> fmt::Debug for ReplicatedTable<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ReplicatedTable")
            .field("name", &self.name)
            .field("shards", &self.servers.len())
            .finish()
    }
}

impl<K: WireKey, V: WireValue> ReplicatedTable<K, V> {
    /// Starts this node's servers of table `name`, one per shard
    /// ([`ReplicatedOptions::shards`]), under a supervisor of their own with no parent (see
    /// [`ReplicatedTable::supervisor`]; [`ReplicatedTable::child_spec`] puts the table in a
    /// tree instead). It finds the servers of the same table on other nodes by itself;
    /// joining them is [`ReplicatedTable::join`]'s or the joiner's job
    /// ([`super::ReplicationService`]).
    ///
    /// Errors: `InvalidOption` for a shard count outside `1..=SHARDS_MAX`;
    /// `Start` if a server does not start.
    pub async fn start(
        node: &Node,
        name: &str,
        options: ReplicatedOptions<K, V>,
    ) -> Result<Self, ReplicationError> {
        Self::start_linked(node, name, options, None).await
    }

    /// A child spec `id` that starts the table under the supervisor it is put in, and the
    /// handle the latest start left. A restart of the child starts an empty local copy that
    /// the replication service joins back to its peers (the copy is rebuilt from them, not
    /// kept), with a new handle: take it from the returned [`Started`] after each restart.
    pub fn child_spec(
        id: &str,
        node: &Node,
        name: &str,
        options: ReplicatedOptions<K, V>,
    ) -> (ChildSpec, Started<Self>) {
        let started = Started::default();
        let handle = started.clone();
        let node = node.clone();
        let name = name.to_string();
        let spec = ChildSpec::subtree(id, move |parent| {
            let (node, name, options, handle) =
                (node.clone(), name.clone(), options.clone(), handle.clone());
            async move {
                let table = Self::start_linked(&node, &name, options, Some(parent))
                    .await
                    .map_err(|error| StartError::Spawn(error.to_string()))?;
                let supervisor = table.supervisor.clone();
                handle.set(table);
                Ok(supervisor)
            }
        });
        (spec, started)
    }

    async fn start_linked(
        node: &Node,
        name: &str,
        options: ReplicatedOptions<K, V>,
        parent: Option<ActorCell>,
    ) -> Result<Self, ReplicationError> {
        options::check(name, &options)?;
        let call_timeout = options.call_timeout;
        let start_error = |reason: String| ReplicationError::Start {
            table: name.to_string(),
            reason,
        };
        // No restarts: a shard's server that came back alone would be empty and unjoined
        // while its siblings hold their records, and its peers would already have dropped
        // this node's records of it. The table as a whole is what a supervisor above restarts.
        let spec = SupervisorSpec::new(name).no_restarts();
        let supervisor = match parent {
            Some(parent) => Supervisor::start_linked(spec, parent).await,
            None => Supervisor::start(spec).await,
        }
        .map_err(|error| start_error(error.to_string()))?;
        // The local copy belongs to the supervisor: it lives exactly as long as the table's
        // servers do, and every shard's server writes to it.
        let table = match Table::new(name, &supervisor.cell(), TableOptions::new(options.kind)) {
            Ok(table) => table,
            Err(error) => {
                supervisor.shutdown(TABLE_SHUTDOWN).await;
                return Err(start_error(error.to_string()));
            }
        };
        let count = options.shards;
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            let (node, replica, table) = (node.clone(), options.replica.clone(), table.clone());
            // One handler call per node down: shard 0's.
            let down_handler = if index == 0 {
                options.down_handler.clone()
            } else {
                None
            };
            let (table_name, peer_batch_records_max) =
                (name.to_string(), options.peer_batch_records_max);
            let child = ChildSpec::actor(format!("shard_{index}"), Server::new, move || {
                ServerArguments {
                    name: table_name.clone(),
                    shard: Shard { index, count },
                    node: node.clone(),
                    replica: replica.clone(),
                    down_handler: down_handler.clone(),
                    peer_batch_records_max,
                    table: table.clone(),
                }
            });
            match supervisor.start_child(child).await {
                Ok(server) => servers.push(ActorRef::<ServerMsg<K, V>>::from(server)),
                Err(error) => {
                    supervisor.shutdown(TABLE_SHUTDOWN).await;
                    return Err(start_error(error.to_string()));
                }
            }
        }
        if count > 1 {
            tracing::info!(table = %name, shards = count, "sharded replicated table started");
        }
        Ok(ReplicatedTable {
            name: name.into(),
            table: table.without_owner_rights(),
            servers: servers.into(),
            supervisor,
            call_timeout,
        })
    }

    /// The table's supervisor on this node (`one_for_all`, no restarts): one child
    /// `shard_<i>` per shard.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.supervisor
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local copy, for reads (no message; writes through it are
    /// refused). With shards it holds every shard's records.
    pub fn table(&self) -> &Table<K, V> {
        &self.table
    }

    /// How many shards the table has.
    pub fn shards(&self) -> usize {
        self.servers.len()
    }

    /// The shard that holds `key`.
    pub fn shard_of(&self, key: &K) -> usize {
        shard_of(key, self.servers.len())
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

    fn server_of(&self, key: &K) -> &ActorRef<ServerMsg<K, V>> {
        &self.servers[self.shard_of(key)]
    }

    fn server_down(&self) -> ReplicationError {
        ReplicationError::ServerDown {
            table: self.name.to_string(),
        }
    }

    fn send_to(
        &self,
        server: &ActorRef<ServerMsg<K, V>>,
        request: ClientRequest<K, V>,
    ) -> Result<oneshot::Receiver<Answer<V>>, ReplicationError> {
        let (reply, answer) = oneshot::channel();
        server
            .cast(ServerMsg::client(request, Some(reply)))
            .map_err(|_| self.server_down())?;
        Ok(answer)
    }

    async fn call_to(
        &self,
        server: &ActorRef<ServerMsg<K, V>>,
        request: ClientRequest<K, V>,
    ) -> Result<Reply<V>, ReplicationError> {
        let answer = self.send_to(server, request)?;
        answer_of(&self.name, answer, self.call_timeout).await
    }

    /// Sends a write; the handle waits for it. A write naming keys of
    /// several shards is split, one part per shard, each atomic on each copy.
    pub fn write_async(&self, op: Op<K, V>) -> Result<WriteHandle<V>, ReplicationError> {
        let count = self.servers.len();
        let answers = match single_shard(&op, count) {
            Some(shard) => {
                Answers::One(self.send_to(&self.servers[shard], ClientRequest::Write(op))?)
            }
            None => {
                let mut answers = Vec::new();
                for (shard, part) in split(op, count) {
                    answers.push(self.send_to(&self.servers[shard], ClientRequest::Write(part))?);
                }
                Answers::Many(answers)
            }
        };
        Ok(WriteHandle {
            table: self.name.clone(),
            answers,
        })
    }

    /// `insert`, without waiting.
    pub fn insert_async(&self, key: K, value: V) -> Result<WriteHandle<V>, ReplicationError> {
        self.write_async(Op::Insert(vec![(key, value)]))
    }

    /// Applies a write here and on every member; returns once every live member has it.
    pub async fn write(&self, op: Op<K, V>) -> Result<(), ReplicationError> {
        self.write_async(op)?.wait(self.call_timeout).await
    }

    /// Inserts a record everywhere.
    pub async fn insert(&self, key: K, value: V) -> Result<(), ReplicationError> {
        self.write(Op::Insert(vec![(key, value)])).await
    }

    /// Inserts records everywhere, atomically on each copy (per shard).
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

    /// Runs a leader operation on the key's shard, retrying "wrong leader"
    /// with backoff until the deadline.
    async fn leader(&self, key: &K, op: LeaderOp<K, V>) -> Result<Reply<V>, ReplicationError> {
        let server = self.server_of(key);
        let deadline = Instant::now() + self.call_timeout;
        let mut backoff = LEADER_RETRY_BACKOFF_MIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.send_to(server, ClientRequest::Leader(op.clone()))?;
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
        let op = LeaderOp::InsertNew(key.clone(), value);
        match self.leader(&key, op).await? {
            Reply::InsertedNew(inserted) => Ok(inserted),
            other => Err(self.unexpected("insert_new", other)),
        }
    }

    /// Inserts unless present; returns whether it inserted and the values under the key.
    pub async fn insert_new_or_lookup(
        &self,
        key: K,
        value: V,
    ) -> Result<(bool, Vec<V>), ReplicationError> {
        let op = LeaderOp::InsertNewOrLookup(key.clone(), value);
        match self.leader(&key, op).await? {
            Reply::InsertedOrFound { inserted, values } => Ok((inserted, values)),
            other => Err(self.unexpected("insert_new_or_lookup", other)),
        }
    }

    /// Inserts through the leader, so every copy sees one order of serial inserts.
    pub async fn insert_serial(&self, key: K, value: V) -> Result<(), ReplicationError> {
        let op = LeaderOp::InsertSerial(key.clone(), value);
        self.leader(&key, op).await.map(|_| ())
    }

    /// A reply of the wrong kind to `request`: a broken invariant of the protocol. The caller
    /// gets it as such (not as a server that is down, which it would retry or re-route).
    fn unexpected(&self, request: &'static str, reply: Reply<V>) -> ReplicationError {
        tracing::error!(table = %self.name, request, reply = reply.kind(), "protocol invariant broken: reply of the wrong kind");
        ReplicationError::UnexpectedReply {
            table: self.name.to_string(),
            request,
            reply: reply.kind().to_string(),
        }
    }

    /// Pauses writes here until the guard drops (nested pauses stack).
    pub async fn pause(&self) -> Result<PauseGuard<K, V>, ReplicationError> {
        self.pause_with(|| ClientRequest::Pause).await
    }

    /// Pauses writes here until the guard drops or `holder` stops, whichever
    /// comes first (Erlang's pause tied to the calling process: a holder
    /// that is killed, panics or stops releases its pause even if its guard
    /// was moved elsewhere or leaked).
    pub async fn pause_for(
        &self,
        holder: &ActorCell,
    ) -> Result<PauseGuard<K, V>, ReplicationError> {
        self.pause_with(|| ClientRequest::PauseFor(holder.clone()))
            .await
    }

    /// Pauses every shard in order; a failure releases the pauses taken.
    async fn pause_with(
        &self,
        request: impl Fn() -> ClientRequest<K, V>,
    ) -> Result<PauseGuard<K, V>, ReplicationError> {
        let mut guard = PauseGuard { pauses: Vec::new() };
        for server in self.servers.iter() {
            match self.call_to(server, request()).await? {
                Reply::Paused(pause) => guard.pauses.push((server.clone(), pause)),
                other => return Err(self.unexpected("pause", other)),
            }
        }
        Ok(guard)
    }

    /// Joins this node's group of the table with `node`'s, every shard at
    /// once. `AlreadyJoined` if every shard already was; the first error
    /// otherwise (the shards that joined stay joined; a retry joins the rest).
    pub async fn join(&self, node: &str) -> Result<JoinOutcome, ReplicationError> {
        let joins = self
            .servers
            .iter()
            .map(|server| self.call_to(server, ClientRequest::Join(node.to_string())));
        let mut outcome = JoinOutcome::AlreadyJoined;
        for reply in futures::future::join_all(joins).await {
            match reply? {
                Reply::Joined(JoinOutcome::AlreadyJoined) => {}
                Reply::Joined(joined) => outcome = joined,
                other => return Err(self.unexpected("join", other)),
            }
        }
        Ok(outcome)
    }

    /// The replica's status on this node. With shards: members joined on
    /// every shard, peers reachable on any, shard 0's leader, join
    /// reference and down history, and the sums of the counts (see
    /// [`ReplicatedTable::shard_statuses`] for each).
    pub async fn status(&self) -> Result<ReplicaStatus, ReplicationError> {
        let mut statuses = self.shard_statuses().await?;
        if statuses.len() == 1 {
            return statuses.pop().ok_or_else(|| self.server_down());
        }
        Ok(super::status::combine(&self.name, statuses))
    }

    /// Each shard's replica status on this node, by shard.
    pub async fn shard_statuses(&self) -> Result<Vec<ReplicaStatus>, ReplicationError> {
        let asks = self.servers.iter().map(|server| async move {
            let (reply, answer) = oneshot::channel();
            server
                .cast(ServerMsg::status(reply))
                .map_err(|_| self.server_down())?;
            self.await_answer(answer).await
        });
        futures::future::join_all(asks).await.into_iter().collect()
    }

    /// Each shard's member lists on every reachable node, by shard (see
    /// [`super::cluster_view`]). Peers that do not answer within half the
    /// call deadline are listed as unanswered.
    pub async fn cluster_views(&self) -> Result<Vec<ClusterView>, ReplicationError> {
        let within = self.call_timeout / 2;
        let asks = self.servers.iter().map(|server| async move {
            let (reply, answer) = oneshot::channel();
            server
                .cast(ServerMsg::cluster_view(reply, within))
                .map_err(|_| self.server_down())?;
            self.await_answer(answer).await
        });
        futures::future::join_all(asks).await.into_iter().collect()
    }

    async fn await_answer<T>(&self, answer: oneshot::Receiver<T>) -> Result<T, ReplicationError> {
        match tokio::time::timeout(self.call_timeout, answer).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(self.server_down()),
            Err(_) => Err(ReplicationError::Timeout {
                table: self.name.to_string(),
                after: self.call_timeout,
            }),
        }
    }

    /// Stops this node's servers (the local copy goes with them). For a table started with
    /// [`ReplicatedTable::start`]; one in a tree stops with the tree.
    pub fn stop(&self) {
        self.supervisor.actor().stop(None);
    }
}

/// The one shard every key of `op` belongs to, if there is one.
fn single_shard<K: WireKey, V>(op: &Op<K, V>, count: usize) -> Option<usize> {
    if count == 1 {
        return Some(0);
    }
    let mut keys: Box<dyn Iterator<Item = &K>> = match op {
        Op::Insert(records) | Op::DeleteObject(records) => Box::new(records.iter().map(|r| &r.0)),
        Op::Delete(keys) => Box::new(keys.iter()),
    };
    let first = shard_of(keys.next()?, count);
    keys.all(|key| shard_of(key, count) == first)
        .then_some(first)
}

/// Splits `op` into one part per shard its keys touch, by shard, keeping
/// the order of the keys within each part.
fn split<K: WireKey, V>(op: Op<K, V>, count: usize) -> Vec<(usize, Op<K, V>)> {
    fn bucket<T>(items: Vec<T>, count: usize, key: impl Fn(&T) -> usize) -> Vec<(usize, Vec<T>)> {
        let mut buckets: Vec<Vec<T>> = (0..count).map(|_| Vec::new()).collect();
        for item in items {
            let shard = key(&item);
            buckets[shard].push(item);
        }
        buckets
            .into_iter()
            .enumerate()
            .filter(|(_, items)| !items.is_empty())
            .collect()
    }
    match op {
        Op::Insert(records) => bucket(records, count, |(key, _)| shard_of(key, count))
            .into_iter()
            .map(|(shard, part)| (shard, Op::Insert(part)))
            .collect(),
        Op::DeleteObject(records) => bucket(records, count, |(key, _)| shard_of(key, count))
            .into_iter()
            .map(|(shard, part)| (shard, Op::DeleteObject(part)))
            .collect(),
        Op::Delete(keys) => bucket(keys, count, |key| shard_of(key, count))
            .into_iter()
            .map(|(shard, part)| (shard, Op::Delete(part)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_over_several_shards_splits_by_shard_keeping_key_order() {
        let records: Vec<(u64, u64)> = (0..100).map(|key| (key, key)).collect();
        let parts = split(Op::Insert(records), 4);
        let mut seen = 0;
        for (shard, part) in &parts {
            let Op::Insert(records) = part else {
                panic!("an insert splits into inserts");
            };
            assert!(records.windows(2).all(|pair| pair[0].0 < pair[1].0));
            assert!(records.iter().all(|(key, _)| shard_of(key, 4) == *shard));
            seen += records.len();
        }
        assert_eq!(seen, 100);
        assert_eq!(
            single_shard(&Op::<u64, u64>::Delete(vec![7]), 4),
            Some(shard_of(&7u64, 4))
        );
        assert_eq!(single_shard(&Op::<u64, u64>::Delete(vec![]), 4), None);
    }
}
