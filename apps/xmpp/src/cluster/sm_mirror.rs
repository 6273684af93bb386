//! Mirrors of stream management state on another node (`buffer_replicas = 1`): a resumable
//! session's unacknowledged buffer and resumable state, copied to one other live node, so a
//! client can resume after the session's node died (`kill -9`, a crash, a lost machine).
//!
//! The idea. The owner of a session (the node its actor runs on) picks a buddy, the next
//! live node by name ([`pick_buddy`], the same pick on every node, re-picked at the session's
//! next change after the buddy left or a node joined before it), and sends it, through the buddy's relay, a full copy once ([`MirrorCommand::Snapshot`])
//! and then after every input that kept a stanza or handled one from the client the
//! difference ([`MirrorCommand::Update`]: the stanzas kept since, the acknowledgement and
//! handled counts; an acknowledgement alone waits for the next update). When the session ends for real or is handed over, [`MirrorCommand::Drop`]. The
//! buddy keeps the copies in a [`MirrorStore`] and registers, in the replicated `sm_ids`
//! table, a record of its own for each id ([`super::sm`]): a record owned by the buddy, so it
//! survives the owner's death. A client that resumes on any node after the owner died finds
//! the mirror's record and takes the state from the buddy ([`MirrorCommand`]s go to the
//! relay, the take is `SessionCommand::TakeMirror`), and its new session resends the buffer.
//!
//! Ordering. Every message from the owner to the buddy (mirror updates, stanzas routed
//! between them, the handover) goes over the one node link between the two, in order; the
//! mirror applies updates in the order they were sent. An update names its owner, so a late
//! update or drop from a former owner (the session moved to another node, whose snapshot
//! arrived first) is ignored.
//!
//! What can still be lost, and the bound. The owner mirrors after each input, so a stanza
//! written to the client's socket and kept in the buffer is mirrored in the same message
//! handling, before the next input; what the owner's death can lose is what it had not yet
//! sent: at most the stanzas of the one input being handled (one delivery: one stanza) plus
//! what sat in the owner's outgoing node-link queue when the process died (the link writes as
//! it goes; a `kill -9` loses what the kernel had not sent). Stanzas in the owner's mailbox,
//! not yet handled, were never counted: their senders see them lost exactly as on a crash
//! without a mirror. A stanza the client acknowledged in the same instant may be resent once:
//! the client's `h` on resumption trims what it has, as XEP-0198 intends. Presence and
//! priority are read from the mirror node's own copy of the session table on every update,
//! so they are as fresh as the last update; after the owner's death, contacts were told
//! the session went unavailable (node-down cleanup), and a resumed session does not announce
//! itself again (FIXME: re-broadcast the mirrored presence on such a resumption).
//!
//! Bounds: a mirror holds at most `buffer_max` stanzas per session (the owner ends a session
//! at that bound anyway) and at most [`MIRRORED_SESSIONS_MAX`] sessions per node (a snapshot
//! past it is refused, logged, and that session has no mirror); copies whose owner died are
//! kept for `resume_timeout` after the death, then dropped (FIXME: re-route their messages
//! to offline storage then, as a session that times out does); a mirror whose owner is up
//! but no longer holds the id (a lost drop, a crashed session) is swept at the next snapshot
//! (at most once per [`MIRROR_SWEEP_INTERVAL`]) or take. Only orphans are ever taken: while
//! the owner is up, the session itself is taken over, never its copy, which may be behind.
//!
//! Cost: each stanza to a mirrored session is cloned, postcard-encoded and cast to one more
//! node (the criterion bench `sm_mirror` measures the path).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_runtime::node::Node;
use bream_tables::replicated::{Op, ReplicatedTable};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::relay::{relay_name, SessionCommand};
use super::sessions::{SessionKey, SessionRecord};
use super::sm::{SmIdRecord, SmKey};
use crate::c2s::sm::{ResumableState, SmId};
use crate::c2s::sm_mirror::{MirrorCursor, MirrorView, SmMirror};
use crate::jid::Jid;
use crate::router::table::session_key;
use crate::router::{SessionFeatures, SessionId, TakeoverError};
use crate::xml::Element;

/// Sessions one node mirrors at most: at `buffer_max` 100 and stanzas of about 1 KiB, a full
/// mirror is about 1 GiB; in practice buffers hold a few stanzas.
pub const MIRRORED_SESSIONS_MAX: usize = 10_000;

/// How often a snapshot may sweep the store (each sweep looks at every mirror): when a node
/// joins, every session whose buddy it becomes sends a snapshot, and a sweep for each would
/// cost `MIRRORED_SESSIONS_MAX²`. A take always sweeps (one per resumption).
pub const MIRROR_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// What an owner sends its session's mirror.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MirrorCommand {
    /// A full copy (first, or after the buddy changed or a send failed).
    Snapshot {
        /// The owning node.
        owner: String,
        /// The state, with the whole buffer.
        state: ResumableState,
    },
    /// What changed since the last command.
    Update {
        /// The owning node.
        owner: String,
        /// The session's id.
        id: SmId,
        /// Stanzas handled from the client.
        handled_in: u32,
        /// Stanzas sent to the client.
        sent_out: u32,
        /// Of those, acknowledged.
        acked_out: u32,
        /// The stanzas kept since the last command, oldest first (the newest of the buffer).
        stanzas: Vec<Element>,
    },
    /// Forget the session.
    Drop {
        /// The owning node.
        owner: String,
        /// The session's id.
        id: SmId,
    },
}

/// The next live node after `me` by name (wrapping to the first): every node picks the same
/// buddy for the same membership, and a departed buddy is replaced by the next one.
pub fn pick_buddy<'a>(me: &str, up: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut after: Option<&str> = None;
    let mut first: Option<&str> = None;
    for node in up {
        if node == me {
            continue;
        }
        if first.is_none_or(|current| node < current) {
            first = Some(node);
        }
        if node > me && after.is_none_or(|current| node < current) {
            after = Some(node);
        }
    }
    after.or(first)
}

/// One mirrored session.
#[derive(Debug)]
struct Mirrored {
    owner: String,
    /// The state without its buffer, which is `buffer`.
    state: ResumableState,
    buffer: VecDeque<Element>,
    /// When its owner was seen to go down.
    orphaned_at: Option<Instant>,
}

/// What a snapshot did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// A new id: its mirror record is to be written.
    Added,
    /// An id already mirrored, replaced (the session moved, or was re-sent).
    Replaced,
    /// [`MIRRORED_SESSIONS_MAX`] reached: not kept.
    Full,
}

/// The mirrors one node keeps, as plain data (the clock is an input). See the
/// [module documentation](self).
#[derive(Debug)]
pub struct MirrorStore {
    sessions: HashMap<SmId, Mirrored>,
    buffer_max: usize,
    sessions_max: usize,
    resume_timeout: Duration,
}

impl MirrorStore {
    /// An empty store bounded by `buffer_max` stanzas per session, `sessions_max` sessions,
    /// orphans kept `resume_timeout`.
    pub fn new(buffer_max: usize, sessions_max: usize, resume_timeout: Duration) -> MirrorStore {
        MirrorStore {
            sessions: HashMap::new(),
            buffer_max,
            sessions_max,
            resume_timeout,
        }
    }

    /// Mirrored sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether nothing is mirrored.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// A full copy from `owner`.
    pub fn snapshot(&mut self, owner: &str, mut state: ResumableState) -> SnapshotOutcome {
        let replacing = self.sessions.contains_key(&state.id);
        if !replacing && self.sessions.len() >= self.sessions_max {
            return SnapshotOutcome::Full;
        }
        let mut buffer: VecDeque<Element> = std::mem::take(&mut state.buffer).into();
        let excess = buffer.len().saturating_sub(self.buffer_max);
        buffer.drain(..excess);
        let id = state.id.clone();
        self.sessions.insert(
            id,
            Mirrored {
                owner: owner.to_owned(),
                state,
                buffer,
                orphaned_at: None,
            },
        );
        if replacing {
            SnapshotOutcome::Replaced
        } else {
            SnapshotOutcome::Added
        }
    }

    /// An update from `owner`: the acknowledged stanzas leave, the new ones join. Whether it
    /// applied (an unknown id, or one another node owns now, is ignored).
    pub fn update(
        &mut self,
        owner: &str,
        id: &SmId,
        (handled_in, sent_out, acked_out): (u32, u32, u32),
        stanzas: Vec<Element>,
    ) -> bool {
        let Some(mirrored) = self.sessions.get_mut(id) else {
            return false;
        };
        if mirrored.owner != owner {
            return false;
        }
        mirrored.buffer.extend(stanzas);
        let state = &mut mirrored.state;
        state.handled_in = handled_in;
        state.sent_out = sent_out;
        state.acked_out = acked_out;
        let unacked = usize::try_from(sent_out.wrapping_sub(acked_out)).unwrap_or(usize::MAX);
        let keep = unacked.min(self.buffer_max);
        let excess = mirrored.buffer.len().saturating_sub(keep);
        mirrored.buffer.drain(..excess);
        if mirrored.buffer.len() < unacked {
            tracing::warn!(%id, %owner, unacked, mirrored = mirrored.buffer.len(), "mirror missed stanzas: a resumption from it resends fewer");
        }
        true
    }

    /// The owner's presence as the session table has it.
    pub fn set_presence(
        &mut self,
        id: &SmId,
        (priority, presence, features): (i8, Option<Element>, SessionFeatures),
    ) {
        if let Some(mirrored) = self.sessions.get_mut(id) {
            mirrored.state.priority = priority;
            mirrored.state.presence = presence;
            mirrored.state.features = features;
        }
    }

    /// `owner` forgets `id`: whether it was mirrored for that owner (and is gone now).
    pub fn drop_session(&mut self, owner: &str, id: &SmId) -> bool {
        if self.sessions.get(id).is_some_and(|m| m.owner == owner) {
            self.sessions.remove(id);
            return true;
        }
        false
    }

    /// The owner of `id`'s mirror.
    pub fn owner(&self, id: &SmId) -> Option<&str> {
        self.sessions
            .get(id)
            .map(|mirrored| mirrored.owner.as_str())
    }

    /// Takes `id`'s state out (a resumption from the mirror), the buffer oldest first; only
    /// an orphan (its owner went down): a session whose owner is up is taken over from the
    /// owner, never from its copy, which may be behind.
    pub fn take(&mut self, id: &SmId) -> Option<ResumableState> {
        // Not an orphan: None.
        self.sessions.get(id)?.orphaned_at?;
        let mirrored = self.sessions.remove(id)?;
        let mut state = mirrored.state;
        state.buffer = mirrored.buffer.into();
        Some(state)
    }

    /// `node` went down at `now`: its sessions' mirrors start their `resume_timeout`.
    pub fn owner_down(&mut self, node: &str, now: Instant) {
        for mirrored in self.sessions.values_mut() {
            if mirrored.owner == node && mirrored.orphaned_at.is_none() {
                mirrored.orphaned_at = Some(now);
            }
        }
    }

    /// Marks as orphans the mirrors whose owner is not `up` (a down notice this store missed),
    /// then drops the orphans older than `resume_timeout` and the mirrors of an owner that
    /// is up but no longer holds the id (`holds` false: a drop that was lost); their ids.
    ///
    /// An orphan stays one when its node comes back (the same name, restarted): the restarted
    /// node knows nothing of the session, the mirror is all there is.
    pub fn expire(
        &mut self,
        now: Instant,
        up: impl Fn(&str) -> bool,
        holds: impl Fn(&SmId, &str) -> bool,
    ) -> Vec<SmId> {
        let timeout = self.resume_timeout;
        for mirrored in self.sessions.values_mut() {
            if mirrored.orphaned_at.is_none() && !up(&mirrored.owner) {
                mirrored.orphaned_at = Some(now);
            }
        }
        let expired: Vec<SmId> = self
            .sessions
            .iter()
            .filter(|(id, mirrored)| match mirrored.orphaned_at {
                Some(at) => now.saturating_duration_since(at) >= timeout,
                None => !holds(id, &mirrored.owner),
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.sessions.remove(id);
        }
        expired
    }
}

/// A node's mirror service: the sending side ([`SmMirror`], for this node's sessions) and the
/// receiving side (the relay hands it [`MirrorCommand`]s and takes).
pub struct MirrorService {
    node: Node,
    store: Arc<Mutex<MirrorStore>>,
    sm_table: ReplicatedTable<SmKey, SmIdRecord>,
    sessions: ReplicatedTable<SessionKey, SessionRecord>,
    /// Parsed JIDs of mirrored sessions, for the session-table look-ups of every update.
    jids: Mutex<HashMap<SmId, (Jid, SessionId)>>,
    /// When a snapshot last swept the store.
    last_sweep: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for MirrorService {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MirrorService")
            .field("node", &self.node.name())
            .field("mirrored", &self.store.lock().len())
            .finish_non_exhaustive()
    }
}

impl MirrorService {
    pub(crate) fn new(
        node: Node,
        store: Arc<Mutex<MirrorStore>>,
        sm_table: ReplicatedTable<SmKey, SmIdRecord>,
        sessions: ReplicatedTable<SessionKey, SessionRecord>,
    ) -> MirrorService {
        MirrorService {
            node,
            store,
            sm_table,
            sessions,
            jids: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(None),
        }
    }

    fn send(&self, target: &str, command: MirrorCommand) -> bool {
        match self
            .node
            .cast(&relay_name(target), &SessionCommand::Mirror(command))
        {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%target, %error, "mirror unreachable");
                false
            }
        }
    }

    /// Priority, presence and features of session `sid` of `jid` in this node's copy of the
    /// session table.
    fn presence_of(&self, jid: &Jid, sid: SessionId) -> (i8, Option<Element>, SessionFeatures) {
        match self.sessions.table().get(&session_key(jid, sid)) {
            Ok(Some(record)) => (record.priority, record.presence, record.features),
            _ => (0, None, SessionFeatures::default()),
        }
    }

    /// A command from an owner, through this node's relay.
    pub(crate) fn handle(&self, command: MirrorCommand) {
        match command {
            MirrorCommand::Snapshot { owner, mut state } => {
                let jid = state.jid.parse::<Jid>();
                let sid = SessionId::from_raw(state.sid);
                if let Ok(jid) = &jid {
                    let (priority, presence, features) = self.presence_of(jid, sid);
                    state.priority = priority;
                    state.presence = presence;
                    state.features = features;
                }
                let id = state.id.clone();
                let record = SmIdRecord::Mirror {
                    jid: state.jid.clone(),
                    sid: state.sid,
                };
                let now = Instant::now();
                let due = {
                    let mut last = self.last_sweep.lock();
                    let due = last.is_none_or(|at| {
                        now.saturating_duration_since(at) >= MIRROR_SWEEP_INTERVAL
                    });
                    if due {
                        *last = Some(now);
                    }
                    due
                };
                if due {
                    self.expire();
                }
                let outcome = self.store.lock().snapshot(&owner, state);
                match outcome {
                    SnapshotOutcome::Full => {
                        tracing::warn!(%id, %owner, sessions_max = MIRRORED_SESSIONS_MAX, "MIRRORED_SESSIONS_MAX reached: session not mirrored");
                        return;
                    }
                    SnapshotOutcome::Added | SnapshotOutcome::Replaced => {}
                }
                if let Ok(jid) = jid {
                    self.jids.lock().insert(id.clone(), (jid, sid));
                }
                let key = (id.as_str().to_owned(), self.node.name().to_owned());
                if let Err(error) = self.sm_table.write_async(Op::Insert(vec![(key, record)])) {
                    tracing::error!(%error, "cannot record a mirror");
                }
            }
            MirrorCommand::Update {
                owner,
                id,
                handled_in,
                sent_out,
                acked_out,
                stanzas,
            } => {
                let session = self.jids.lock().get(&id).cloned();
                let mut store = self.store.lock();
                if store.update(&owner, &id, (handled_in, sent_out, acked_out), stanzas) {
                    if let Some((jid, sid)) = session {
                        store.set_presence(&id, self.presence_of(&jid, sid));
                    }
                }
            }
            MirrorCommand::Drop { owner, id } => {
                let dropped = self.store.lock().drop_session(&owner, &id);
                if dropped {
                    self.forget_record(&id);
                }
            }
        }
    }

    fn forget_record(&self, id: &SmId) {
        self.jids.lock().remove(id);
        let key = (id.as_str().to_owned(), self.node.name().to_owned());
        if let Err(error) = self.sm_table.write_async(Op::Delete(vec![key])) {
            tracing::error!(%error, "cannot remove a mirror's record");
        }
    }

    /// A resuming connection on some node asks for `id`'s mirrored state. Refused while the
    /// owner is up (the session itself is to be taken over, never its copy).
    pub(crate) fn take(&self, id: &SmId) -> Result<ResumableState, TakeoverError> {
        self.expire();
        let state = self
            .store
            .lock()
            .take(id)
            .ok_or(TakeoverError::NotResumable)?;
        self.forget_record(id);
        tracing::info!(%id, jid = state.jid, unacked = state.buffer.len(), "mirrored session handed to a resuming connection");
        Ok(state)
    }

    /// Drops expired orphans and mirrors whose live owner no longer has the id.
    fn expire(&self) {
        let table = self.sm_table.table();
        let up = self.node.nodes();
        let holds = |id: &SmId, owner: &str| {
            let key = (id.as_str().to_owned(), owner.to_owned());
            // A table that cannot answer keeps the mirror.
            !matches!(
                table.get(&key),
                Ok(None) | Ok(Some(SmIdRecord::Stale { .. }))
            )
        };
        let expired = self.store.lock().expire(
            Instant::now(),
            |owner| up.iter().any(|node| node == owner),
            holds,
        );
        for id in expired {
            self.forget_record(&id);
        }
    }

    /// Sessions mirrored here (metrics, tests).
    pub fn mirrored(&self) -> usize {
        self.store.lock().len()
    }
}

impl SmMirror for MirrorService {
    fn sync(&self, session: &MirrorView<'_>, cursor: &mut MirrorCursor) {
        let sm = session.sm;
        // An acknowledgement alone is not sent: it only trims the mirror, which the next
        // stanza's update does too (it carries the current `acked_out`), so the mirror holds
        // at most what the owner held at its last update (≤ `buffer_max`), and a client
        // resuming from it trims the rest with its own `h`. Measured: one node-link message
        // fewer per stanza with `ack_freq` 1 (ARCHITECTURE.md, "mirror").
        let unchanged = cursor.sent_out == sm.sent_out() && cursor.handled_in == sm.handled_in();
        // Nothing new (a timer, an `<r/>`, an `<a/>`): not even the buddy is looked at; a
        // buddy that left meanwhile is replaced at the next change.
        if cursor.target.is_some() && unchanged {
            return;
        }
        let me = self.node.name();
        let up = self.node.nodes();
        let Some(buddy) = pick_buddy(me, up.iter().map(String::as_str)) else {
            cursor.target = None;
            return;
        };
        let command = if cursor.target.as_deref() == Some(buddy) {
            let new = sm.sent_out().wrapping_sub(cursor.sent_out);
            MirrorCommand::Update {
                owner: me.to_owned(),
                id: session.id.clone(),
                handled_in: sm.handled_in(),
                sent_out: sm.sent_out(),
                acked_out: sm.acked_out(),
                stanzas: sm
                    .newest(usize::try_from(new).unwrap_or(usize::MAX))
                    .cloned()
                    .collect(),
            }
        } else {
            if let Some(old) = cursor.target.take() {
                self.send(
                    &old,
                    MirrorCommand::Drop {
                        owner: me.to_owned(),
                        id: session.id.clone(),
                    },
                );
            }
            let table = self.presence_of(session.jid, session.sid);
            MirrorCommand::Snapshot {
                owner: me.to_owned(),
                state: sm.snapshot(session.jid.to_string(), session.sid.get(), table),
            }
        };
        if self.send(buddy, command) {
            *cursor = MirrorCursor {
                target: Some(buddy.to_owned()),
                sent_out: sm.sent_out(),
                acked_out: sm.acked_out(),
                handled_in: sm.handled_in(),
            };
        } else {
            cursor.target = None;
        }
    }

    fn forget(&self, id: &SmId, cursor: &mut MirrorCursor) {
        if let Some(target) = cursor.target.take() {
            let owner = self.node.name().to_owned();
            self.send(
                &target,
                MirrorCommand::Drop {
                    owner,
                    id: id.clone(),
                },
            );
        }
        *cursor = MirrorCursor::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NS_CLIENT;

    fn stanza(n: u32) -> Element {
        Element::new("message", NS_CLIENT).with_attr("id", n.to_string())
    }

    fn state(id: &SmId, sent: u32, acked: u32, buffer: Vec<Element>) -> ResumableState {
        ResumableState {
            id: id.clone(),
            jid: "alice@localhost/phone".into(),
            sid: 7,
            handled_in: 0,
            sent_out: sent,
            acked_out: acked,
            buffer,
            priority: 0,
            presence: None,
            features: SessionFeatures::default(),
        }
    }

    fn ids(state: &ResumableState) -> Vec<&str> {
        state
            .buffer
            .iter()
            .filter_map(|stanza| stanza.attr("id"))
            .collect()
    }

    #[test]
    fn the_buddy_is_the_next_live_node_by_name_wrapping_around() {
        assert_eq!(pick_buddy("b", ["a", "c", "d"]), Some("c"));
        assert_eq!(pick_buddy("d", ["a", "c", "b"]), Some("a"));
        assert_eq!(pick_buddy("a", ["a"]), None);
        assert_eq!(pick_buddy("a", []), None);
        // The buddy left: the next one.
        assert_eq!(pick_buddy("b", ["a", "d"]), Some("d"));
    }

    #[test]
    fn updates_append_and_trim_to_the_unacknowledged_stanzas() {
        let mut store = MirrorStore::new(100, 10, Duration::from_secs(60));
        let id = SmId::random();
        let first = state(&id, 2, 0, vec![stanza(1), stanza(2)]);
        let start = Instant::now();
        assert_eq!(store.snapshot("a", first), SnapshotOutcome::Added);
        assert!(store.update("a", &id, (0, 3, 0), vec![stanza(3)]));
        // The client acknowledged two; one more was sent.
        assert!(store.update("a", &id, (1, 4, 2), vec![stanza(4)]));
        // From a former owner: ignored.
        assert!(!store.update("b", &id, (0, 9, 0), vec![stanza(9)]));
        assert!(!store.drop_session("b", &id));
        // Never taken while its owner is up.
        assert!(store.take(&id).is_none());
        store.owner_down("a", start);
        let taken = store.take(&id).expect("mirrored");
        assert_eq!(ids(&taken), ["3", "4"]);
        assert_eq!(
            (taken.handled_in, taken.sent_out, taken.acked_out),
            (1, 4, 2)
        );
        assert!(store.is_empty());
    }

    #[test]
    fn buffers_and_sessions_are_bounded() {
        let mut store = MirrorStore::new(2, 1, Duration::from_secs(60));
        let id = SmId::random();
        let full = state(&id, 3, 0, vec![stanza(1), stanza(2), stanza(3)]);
        assert_eq!(store.snapshot("a", full), SnapshotOutcome::Added);
        assert!(store.update("a", &id, (0, 4, 0), vec![stanza(4)]));
        let other = SmId::random();
        assert_eq!(
            store.snapshot("a", state(&other, 0, 0, Vec::new())),
            SnapshotOutcome::Full
        );
        // The same id again (the session moved to node b) replaces.
        let moved = state(&id, 4, 3, vec![stanza(4)]);
        assert_eq!(store.snapshot("b", moved), SnapshotOutcome::Replaced);
        assert_eq!(store.owner(&id), Some("b"));
        // Node b went down unnoticed by the down handler: the next sweep sees it.
        store.expire(Instant::now(), |node| node != "b", |_, _| true);
        assert_eq!(ids(&store.take(&id).expect("mirrored")), ["4"]);
    }

    #[test]
    fn orphans_expire_after_the_resume_timeout_and_lost_drops_are_swept() {
        let start = Instant::now();
        let mut store = MirrorStore::new(10, 10, Duration::from_secs(60));
        let (orphan, live, forgotten) = (SmId::random(), SmId::random(), SmId::random());
        store.snapshot("a", state(&orphan, 0, 0, Vec::new()));
        store.snapshot("b", state(&live, 0, 0, Vec::new()));
        store.snapshot("b", state(&forgotten, 0, 0, Vec::new()));
        store.owner_down("a", start);
        // Node a is back (restarted, same name): its orphan stays an orphan.
        let up = |_: &str| true;
        let holds = |id: &SmId, _: &str| *id != forgotten;
        assert_eq!(
            store.expire(start + Duration::from_secs(59), up, holds),
            vec![forgotten.clone()]
        );
        assert_eq!(
            store.expire(start + Duration::from_secs(60), up, holds),
            [orphan]
        );
        assert_eq!(store.len(), 1);
        assert!(store.drop_session("b", &live));
    }
}
