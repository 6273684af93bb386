//! Joins: the coordinator's steps and the participant's answers.
//!
//! A join is asked of one replica (the coordinator) with a node `with`. The
//! coordinator locks itself, its members and `with`; every lock answer
//! carries that replica's member list and join reference, and any node
//! named there is locked too, so the participants are the transitive
//! closure of both groups. Usually that is two clean sides; after a partial
//! partition (a and b each dropped the other while c kept both) it is one
//! tangle of disagreeing lists, and the same steps repair it.
//!
//! The coordinator takes a dump from every participant, merges them, and
//! sends each participant only what its copy lacks; then it commits the
//! member list and a fresh join reference on everyone, and unlocks. The
//! merge runs in one place, so every copy ends the same whatever the
//! handler does, and any join leaves its participants identical.
//!
//! One dump per group of replicas sharing a member list would move less
//! data, and was our first design; the property tests found it wrong: after
//! a refused write (or a half-committed join) two replicas can share a
//! member list and differ, and the join would never repair them. So a join
//! of a new node into an N-node cluster moves N + 1 dumps.
//!
//! Merge order: participants sorted by node name. Per key, the merge
//! handler folds the distinct values in that order, `handler(merged so
//! far, next)`: with two clean sides, left is the value of the side whose
//! node sorts first. Without a handler the value held by the greatest node
//! name wins (the leader after the join).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Action, JoinError, JoinOutcome, JoinRef, NodeName, PauseHolder, PeerMsg, Replica, Reply,
    RequestId,
};
use crate::record::{Key, Value};
use crate::replicated::store::Store;

/// This replica's part in someone's join check.
pub(super) struct Check {
    pub(super) coordinator: NodeName,
    pub(super) join_id: u64,
    pub(super) waiting: BTreeSet<NodeName>,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Lock,
    Check,
    Dump,
    Commit,
}

/// A join this replica coordinates.
pub(super) struct Run<K, V> {
    pub(super) join_id: u64,
    request: RequestId,
    pub(super) with: NodeName,
    new_join_ref: JoinRef,
    phase: Phase,
    /// Everyone a lock was sent to: the participants, and who to unlock.
    pub(super) lock_sent: BTreeSet<NodeName>,
    /// Who has yet to answer the current phase.
    waiting: BTreeSet<NodeName>,
    /// Each participant's join reference and members (itself included).
    views: BTreeMap<NodeName, (JoinRef, BTreeSet<NodeName>)>,
    /// Each participant's dump.
    dumps: BTreeMap<NodeName, Vec<(K, V)>>,
}

/// Copies that hold the same records, and those records, for the merge.
struct View<K, V> {
    nodes: Vec<NodeName>,
    dump: Vec<(K, V)>,
}

impl<K: Key, V: Value, S: Store<K, V>> Replica<K, V, S> {
    pub(super) fn start_join(
        &mut self,
        request: RequestId,
        with: NodeName,
        join_id: u64,
        new_join_ref: JoinRef,
    ) {
        if with == self.me || self.members.contains(&with) {
            self.reply(request, Ok(Reply::Joined(JoinOutcome::AlreadyJoined)));
            return;
        }
        if self.run.is_some() || self.join_lock.is_some() {
            let error = JoinError::Busy {
                node: self.me.clone(),
            };
            self.reply(request, Err(error.into()));
            return;
        }
        if !self.up.contains(&with) {
            self.reply(request, Err(JoinError::NotConnected { node: with }.into()));
            return;
        }
        let mut lock_sent: BTreeSet<NodeName> = self.members.clone();
        lock_sent.insert(self.me.clone());
        lock_sent.insert(with.clone());
        tracing::info!(table = %self.table, node = %self.me, %with, join_id, "join started");
        self.run = Some(Run {
            join_id,
            request,
            with,
            new_join_ref,
            phase: Phase::Lock,
            lock_sent: lock_sent.clone(),
            waiting: lock_sent.clone(),
            views: BTreeMap::new(),
            dumps: BTreeMap::new(),
        });
        self.actions.push(Action::SetJoinTimer {
            join_id,
            after: self.config.join_timeout,
        });
        for node in lock_sent {
            self.send(&node, PeerMsg::JoinLock { join_id });
        }
    }

    pub(super) fn abort_join(&mut self, error: JoinError) {
        let Some(run) = self.run.take() else {
            return;
        };
        tracing::info!(table = %self.table, node = %self.me, with = %run.with,
            join_id = run.join_id, %error, "join aborted");
        for node in &run.lock_sent {
            self.send(
                node,
                PeerMsg::JoinUnlock {
                    join_id: run.join_id,
                },
            );
        }
        self.reply(run.request, Err(error.into()));
    }

    /// A join message for the join this replica coordinates.
    fn coordinate(&mut self, from: NodeName, message: PeerMsg<K, V>) {
        let up = &self.up;
        let me = &self.me;
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let mut failure = None;
        let mut sends: Vec<(NodeName, PeerMsg<K, V>)> = Vec::new();
        let mut next = false;
        match message {
            PeerMsg::JoinBusy { .. } => failure = Some(JoinError::Busy { node: from }),
            PeerMsg::JoinLocked {
                members, join_ref, ..
            } if run.phase == Phase::Lock => {
                let mut view: BTreeSet<NodeName> = members.into_iter().collect();
                view.insert(from.clone());
                for node in &view {
                    if run.lock_sent.contains(node) {
                        continue;
                    }
                    if node != me && !up.contains(node) {
                        failure = Some(JoinError::Unreachable {
                            from: me.clone(),
                            node: node.clone(),
                        });
                        break;
                    }
                    run.lock_sent.insert(node.clone());
                    run.waiting.insert(node.clone());
                    let join_id = run.join_id;
                    sends.push((node.clone(), PeerMsg::JoinLock { join_id }));
                }
                run.views.insert(from.clone(), (join_ref, view));
                run.waiting.remove(&from);
                next = run.waiting.is_empty();
            }
            PeerMsg::JoinChecked { unreachable, .. } if run.phase == Phase::Check => {
                match unreachable {
                    Some(node) => failure = Some(JoinError::Unreachable { from, node }),
                    None => {
                        run.waiting.remove(&from);
                        next = run.waiting.is_empty();
                    }
                }
            }
            PeerMsg::JoinDump { records, last, .. } if run.phase == Phase::Dump => {
                if run.waiting.contains(&from) {
                    run.dumps.entry(from.clone()).or_default().extend(records);
                    if last {
                        run.waiting.remove(&from);
                    }
                }
                next = run.waiting.is_empty();
            }
            PeerMsg::JoinCommitted { .. } if run.phase == Phase::Commit => {
                run.waiting.remove(&from);
                next = run.waiting.is_empty();
            }
            _ => {}
        }
        for (to, message) in sends {
            self.send(&to, message);
        }
        if let Some(error) = failure {
            self.abort_join(error);
        } else if next {
            self.next_phase();
        }
    }

    /// Every participant answered the current phase: start the next.
    fn next_phase(&mut self) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let join_id = run.join_id;
        let participants: Vec<NodeName> = run.lock_sent.iter().cloned().collect();
        match run.phase {
            Phase::Lock => {
                run.phase = Phase::Check;
                run.waiting = run.lock_sent.clone();
                for node in &participants {
                    self.send(
                        node,
                        PeerMsg::JoinCheck {
                            join_id,
                            nodes: participants.clone(),
                        },
                    );
                }
            }
            Phase::Check => {
                run.phase = Phase::Dump;
                run.waiting = run.lock_sent.clone();
                for node in &participants {
                    self.send(node, PeerMsg::JoinDumpRequest { join_id });
                }
            }
            Phase::Dump => {
                run.phase = Phase::Commit;
                run.waiting = run.lock_sent.clone();
                let join_ref = run.new_join_ref;
                let views: Vec<View<K, V>> = participants
                    .iter()
                    .map(|node| View {
                        nodes: vec![node.clone()],
                        dump: run.dumps.remove(node).unwrap_or_default(),
                    })
                    .collect();
                let lacking = self.merge_views(&views);
                let chunk = self.config.dump_chunk_records.max(1);
                for (view, records) in views.iter().zip(lacking) {
                    let mut parts = chunked(records, chunk);
                    for (position, node) in view.nodes.iter().enumerate() {
                        // The last node of the view takes the parts themselves.
                        let sending = if position + 1 == view.nodes.len() {
                            std::mem::take(&mut parts)
                        } else {
                            parts.clone()
                        };
                        for records in sending {
                            self.send(node, PeerMsg::JoinRecords { join_id, records });
                        }
                        self.send(
                            node,
                            PeerMsg::JoinCommit {
                                join_id,
                                members: participants.clone(),
                                join_ref,
                            },
                        );
                    }
                }
            }
            Phase::Commit => self.finish_join(),
        }
    }

    /// Merges the views' dumps; returns, per view, the records its copies lack.
    ///
    /// Every record is listed once, as (key, view, value), and sorted by
    /// key (a stable sort, so each key's entries stay in view order): one
    /// allocation and a sort, where a map of key to values cost an
    /// allocation per key and dominated the join of large tables.
    fn merge_views(&self, views: &[View<K, V>]) -> Vec<Vec<(K, V)>> {
        let mut lacking: Vec<Vec<(K, V)>> = views.iter().map(|_| Vec::new()).collect();
        let total = views.iter().map(|view| view.dump.len()).sum();
        let mut entries: Vec<(&K, usize, &V)> = Vec::with_capacity(total);
        for (index, view) in views.iter().enumerate() {
            entries.extend(view.dump.iter().map(|(key, value)| (key, index, value)));
        }
        entries.sort_by(|left, right| left.0.cmp(right.0));
        let bag = self.store.is_bag();
        let mut distinct: Vec<&V> = Vec::new();
        for group in entries.chunk_by(|left, right| left.0 == right.0) {
            let key = group[0].0;
            distinct.clear();
            for (_, _, value) in group {
                if !distinct.contains(value) {
                    distinct.push(value);
                }
            }
            if bag {
                // The union: every view lacks the values it does not hold.
                for (index, lack) in lacking.iter_mut().enumerate() {
                    for value in &distinct {
                        let held = group
                            .iter()
                            .any(|(_, view, held)| *view == index && held == value);
                        if !held {
                            lack.push((key.clone(), (*value).clone()));
                        }
                    }
                }
                continue;
            }
            let merged: V = match &self.config.merge_handler {
                Some(handler) if distinct.len() > 1 => {
                    let mut merged = (key.clone(), distinct[0].clone());
                    for value in &distinct[1..] {
                        merged = handler(&merged, &(key.clone(), (*value).clone()));
                    }
                    merged.1
                }
                // Participants are sorted by name: the last holder is the
                // greatest (with one distinct value, it is that value).
                _ => group[group.len() - 1].2.clone(),
            };
            for (index, lack) in lacking.iter_mut().enumerate() {
                let held = group.iter().find(|(_, view, _)| *view == index);
                if held.is_none_or(|(_, _, value)| **value != merged) {
                    lack.push((key.clone(), merged.clone()));
                }
            }
        }
        lacking
    }

    fn finish_join(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        for node in &run.lock_sent {
            self.send(
                node,
                PeerMsg::JoinUnlock {
                    join_id: run.join_id,
                },
            );
        }
        let members: Vec<NodeName> = run.lock_sent.into_iter().collect();
        tracing::info!(table = %self.table, node = %self.me, with = %run.with,
            members = members.len(), "join done");
        self.reply(
            run.request,
            Ok(Reply::Joined(JoinOutcome::Joined { members })),
        );
    }

    /// A join message: for this replica as a participant, or as the coordinator.
    pub(super) fn join_message(&mut self, from: NodeName, message: PeerMsg<K, V>) {
        match message {
            PeerMsg::JoinLock { join_id } => {
                let own = self
                    .run
                    .as_ref()
                    .is_some_and(|run| run.join_id == join_id && from == self.me);
                if self.join_lock.is_none() && (self.run.is_none() || own) {
                    self.join_lock = Some((from.clone(), join_id));
                    let pause = self.fresh_id();
                    self.pauses.insert(
                        pause,
                        PauseHolder::Join {
                            coordinator: from.clone(),
                            join_id,
                        },
                    );
                    let members = self.members.iter().cloned().collect();
                    let join_ref = self.join_ref;
                    self.send(
                        &from,
                        PeerMsg::JoinLocked {
                            join_id,
                            members,
                            join_ref,
                        },
                    );
                } else {
                    self.send(&from, PeerMsg::JoinBusy { join_id });
                }
            }
            PeerMsg::JoinUnlock { join_id } if self.locked_by(&from, join_id) => {
                self.release_join_lock();
            }
            PeerMsg::JoinCheck { join_id, nodes } if self.locked_by(&from, join_id) => {
                self.start_check(from, join_id, nodes);
            }
            PeerMsg::JoinPing { join_id } => self.send(&from, PeerMsg::JoinPong { join_id }),
            PeerMsg::JoinPong { join_id } => {
                let Some(check) = self.check.as_mut() else {
                    return;
                };
                if check.join_id != join_id {
                    return;
                }
                check.waiting.remove(&from);
                if check.waiting.is_empty() {
                    let coordinator = check.coordinator.clone();
                    self.check = None;
                    self.send(
                        &coordinator,
                        PeerMsg::JoinChecked {
                            join_id,
                            unreachable: None,
                        },
                    );
                }
            }
            PeerMsg::JoinDumpRequest { join_id } => {
                if !self.locked_by(&from, join_id) {
                    return;
                }
                let chunk = self.config.dump_chunk_records.max(1);
                let mut parts = chunked(self.store.dump(), chunk);
                if parts.is_empty() {
                    parts.push(Vec::new());
                }
                let count = parts.len();
                for (index, records) in parts.into_iter().enumerate() {
                    self.send(
                        &from,
                        PeerMsg::JoinDump {
                            join_id,
                            records,
                            last: index + 1 == count,
                        },
                    );
                }
            }
            PeerMsg::JoinRecords { join_id, records }
                if self.locked_by(&from, join_id) && !records.is_empty() =>
            {
                self.store.apply_owned(super::Op::Insert(records));
            }
            PeerMsg::JoinCommit {
                join_id,
                members,
                join_ref,
            } => {
                if !self.locked_by(&from, join_id) {
                    return;
                }
                // Members must stay reachable peers: one that went down
                // since the check (its down notice already handled) is left
                // out, and the others are told, as for any lost member.
                let (members, gone): (BTreeSet<NodeName>, BTreeSet<NodeName>) = members
                    .into_iter()
                    .filter(|node| *node != self.me)
                    .partition(|node| self.up.contains(node));
                self.dropped_while_up.retain(|node| !members.contains(node));
                self.members = members;
                self.join_ref = join_ref;
                self.elect();
                self.send(&from, PeerMsg::JoinCommitted { join_id });
                let members: Vec<NodeName> = self.members.iter().cloned().collect();
                for node in gone {
                    for member in &members {
                        self.send(member, PeerMsg::MemberGone { node: node.clone() });
                    }
                }
            }
            coordinator_message @ (PeerMsg::JoinLocked { .. }
            | PeerMsg::JoinBusy { .. }
            | PeerMsg::JoinChecked { .. }
            | PeerMsg::JoinDump { .. }
            | PeerMsg::JoinCommitted { .. }) => {
                let current = self
                    .run
                    .as_ref()
                    .is_some_and(|run| Some(run.join_id) == join_id_of(&coordinator_message));
                if current {
                    self.coordinate(from, coordinator_message);
                }
            }
            _ => {}
        }
    }

    /// Checks this replica reaches every other participant, and pings them:
    /// a pong proves every write sent before it has arrived (FIFO links).
    fn start_check(&mut self, coordinator: NodeName, join_id: u64, nodes: Vec<NodeName>) {
        let others: BTreeSet<NodeName> =
            nodes.into_iter().filter(|node| *node != self.me).collect();
        let missing = others.iter().find(|node| !self.up.contains(*node)).cloned();
        if missing.is_some() || others.is_empty() {
            self.send(
                &coordinator,
                PeerMsg::JoinChecked {
                    join_id,
                    unreachable: missing,
                },
            );
            return;
        }
        for node in &others {
            self.send(node, PeerMsg::JoinPing { join_id });
        }
        self.check = Some(Check {
            coordinator,
            join_id,
            waiting: others,
        });
    }

    fn locked_by(&self, coordinator: &str, join_id: u64) -> bool {
        self.join_lock
            .as_ref()
            .is_some_and(|(holder, id)| holder == coordinator && *id == join_id)
    }
}

fn join_id_of<K, V>(message: &PeerMsg<K, V>) -> Option<u64> {
    match message {
        PeerMsg::JoinLock { join_id }
        | PeerMsg::JoinLocked { join_id, .. }
        | PeerMsg::JoinBusy { join_id }
        | PeerMsg::JoinCheck { join_id, .. }
        | PeerMsg::JoinPing { join_id }
        | PeerMsg::JoinPong { join_id }
        | PeerMsg::JoinChecked { join_id, .. }
        | PeerMsg::JoinDumpRequest { join_id }
        | PeerMsg::JoinDump { join_id, .. }
        | PeerMsg::JoinRecords { join_id, .. }
        | PeerMsg::JoinCommit { join_id, .. }
        | PeerMsg::JoinCommitted { join_id }
        | PeerMsg::JoinUnlock { join_id } => Some(*join_id),
        _ => None,
    }
}

/// `items` in owned chunks of at most `chunk` (≥ 1), in order, without
/// cloning them.
fn chunked<T>(items: Vec<T>, chunk: usize) -> Vec<Vec<T>> {
    let mut parts = Vec::with_capacity(items.len().div_ceil(chunk));
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(chunk).collect();
        if part.is_empty() {
            return parts;
        }
        parts.push(part);
    }
}
