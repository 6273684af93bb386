//! The session table of a cluster: a replicated `bream_tables` ordered set
//! that every node holds whole, behind the router's [`SessionTable`].
//!
//! A record says which node holds the session; the handle the router gets
//! for it is this node's own session actor when the node is this one, and a
//! [`RemoteSession`] (a stanza carried over the node link to the owner's
//! [`super::relay`]) otherwise. Reads are local and direct; a write
//! returns once every node up has it, so a session that binds sees, right
//! after its insert, every session another node bound before: both sides of
//! a resource conflict across two nodes see both entries, and the newer one
//! wins on both.
//!
//! Only the owner writes a session's record (bind, presence, close). When a
//! node goes down, every other node drops its records at once (the table's
//! node-owned rule, no message needed) and hands them to the
//! [`super::cleanup`] that tells their contacts.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use bream_tables::replicated::{Op, ReplicatedTable, ReplicationError};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::relay::Relay;
use crate::jid::Jid;
pub(crate) use crate::router::table::SessionKey;
use crate::router::table::SESSION_TABLE_NAME;
use crate::router::table::{session_key, SessionRange};
use crate::router::{
    DeliverError, SessionControl, SessionEntry, SessionFeatures, SessionHandle, SessionId,
    SessionTable, SessionTableError,
};
use crate::stanza::error::StreamError;
use crate::xml::Element;

/// What the cluster knows of one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The full JID, as bound.
    pub jid: String,
    /// The node whose session actor it is.
    pub node: String,
    /// Priority of its last broadcast presence.
    pub priority: i8,
    /// Its last available broadcast presence; `None` while unavailable.
    pub presence: Option<Element>,
    /// What the session asked of the server (carbons, ...).
    pub features: SessionFeatures,
}

/// Records dropped because their node went down, waiting for the cleanup.
pub(crate) type Graveyard = Arc<Mutex<HashMap<String, Vec<SessionRecord>>>>;

/// [`SessionTable`] over a replicated table. See the module docs.
pub struct ReplicatedSessionTable {
    table: ReplicatedTable<SessionKey, SessionRecord>,
    me: String,
    relay: Arc<Relay>,
    /// This node's sessions' handles: a record names the node, the handle
    /// only lives here.
    local: Arc<Mutex<HashMap<SessionId, SessionHandle>>>,
}

impl std::fmt::Debug for ReplicatedSessionTable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReplicatedSessionTable")
            .field("node", &self.me)
            .field("local", &self.local.lock().len())
            .finish_non_exhaustive()
    }
}

fn unavailable(error: ReplicationError) -> SessionTableError {
    SessionTableError::Unavailable {
        table: SESSION_TABLE_NAME.to_owned(),
        reason: error.to_string(),
    }
}

impl ReplicatedSessionTable {
    pub(crate) fn new(
        table: ReplicatedTable<SessionKey, SessionRecord>,
        me: String,
        relay: Arc<Relay>,
        local: Arc<Mutex<HashMap<SessionId, SessionHandle>>>,
    ) -> ReplicatedSessionTable {
        ReplicatedSessionTable {
            table,
            me,
            relay,
            local,
        }
    }

    /// The replicated table underneath (status, joins).
    pub fn replicated(&self) -> &ReplicatedTable<SessionKey, SessionRecord> {
        &self.table
    }

    /// Changes the record of session `sid` of `jid` with `change` (only the owner writes a
    /// session's record, so read-modify-write does not race); whether it was found.
    fn update<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        change: impl FnOnce(&mut SessionRecord) + Send + 'a,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        Box::pin(async move {
            let key = session_key(jid, sid);
            let found = self
                .table
                .table()
                .lookup(&key)
                .map_err(|error| unavailable(ReplicationError::from(error)))?;
            let Some(mut record) = found.into_iter().next() else {
                return Ok(false);
            };
            change(&mut record);
            self.table.insert(key, record).await.map_err(unavailable)?;
            Ok(true)
        })
    }

    fn entry(&self, key: &SessionKey, record: &SessionRecord) -> Option<SessionEntry> {
        let jid = match record.jid.parse::<Jid>() {
            Ok(jid) => jid,
            Err(error) => {
                tracing::warn!(jid = record.jid, %error, "session record with a bad JID skipped");
                return None;
            }
        };
        let sid = key.3;
        let handle = if record.node == self.me {
            self.local
                .lock()
                .get(&sid)
                .cloned()
                .unwrap_or_else(|| SessionHandle::new(EndedSession))
        } else {
            SessionHandle::new(RemoteSession {
                relay: Arc::clone(&self.relay),
                node: record.node.clone(),
                sid,
            })
        };
        Some(SessionEntry {
            jid,
            sid,
            handle,
            priority: record.priority,
            available: record.presence.is_some(),
            presence: record.presence.clone(),
            features: record.features,
        })
    }
}

impl SessionTable for ReplicatedSessionTable {
    fn insert(&self, entry: SessionEntry) -> BoxFuture<'_, Result<(), SessionTableError>> {
        Box::pin(async move {
            let key = session_key(&entry.jid, entry.sid);
            let record = SessionRecord {
                jid: entry.jid.to_string(),
                node: self.me.clone(),
                priority: entry.priority,
                presence: entry.presence.clone(),
                features: entry.features,
            };
            self.local.lock().insert(entry.sid, entry.handle.clone());
            let inserted = self.table.insert(key, record).await.map_err(unavailable);
            if inserted.is_err() {
                self.local.lock().remove(&entry.sid);
            }
            inserted
        })
    }

    fn remove<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        Box::pin(async move {
            let key = session_key(jid, sid);
            let was_local = self.local.lock().remove(&sid).is_some();
            let present = !self
                .table
                .table()
                .lookup(&key)
                .map_err(|error| unavailable(ReplicationError::from(error)))?
                .is_empty();
            if present {
                self.table.delete(key).await.map_err(unavailable)?;
            }
            Ok(present || was_local)
        })
    }

    fn forget(&self, jid: &Jid, sid: SessionId) {
        // Another node's session is that node's to remove (or its cleanup's).
        if self.local.lock().remove(&sid).is_none() {
            return;
        }
        if let Err(error) = self
            .table
            .write_async(Op::Delete(vec![session_key(jid, sid)]))
        {
            tracing::error!(%error, "cannot remove a gone session");
        }
    }

    fn select(&self, range: SessionRange) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.table
            .table()
            .select_map(range, |key, record| self.entry(key, record))
            .map_err(|error| unavailable(ReplicationError::from(error)))
    }

    fn set_presence<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        priority: i8,
        presence: Option<Element>,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        self.update(jid, sid, move |record| {
            record.priority = priority;
            record.presence = presence;
        })
    }

    fn carbon_sessions(
        &self,
        user: &crate::jid::BareJid,
    ) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.table
            .table()
            .select_map(crate::router::table::account_range(user), |key, record| {
                if record.features.carbons {
                    self.entry(key, record)
                } else {
                    None
                }
            })
            .map_err(|error| unavailable(ReplicationError::from(error)))
    }

    fn set_features<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        features: SessionFeatures,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        self.update(jid, sid, move |record| record.features = features)
    }

    fn count(&self) -> Result<usize, SessionTableError> {
        self.table
            .table()
            .size()
            .map_err(|error| unavailable(ReplicationError::from(error)))
    }

    fn all(&self) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.select((Bound::Unbounded, Bound::Unbounded))
    }
}

/// A handle on session `sid` on `node`, through the relays.
pub(crate) fn remote_handle(relay: Arc<Relay>, node: String, sid: SessionId) -> SessionHandle {
    SessionHandle::new(RemoteSession { relay, node, sid })
}

/// A session on another node: stanzas go to that node's relay; a resumption asks that
/// node's relay to hand the session over ([`Relay::take_over`]).
struct RemoteSession {
    relay: Arc<Relay>,
    node: String,
    sid: SessionId,
}

impl SessionControl for RemoteSession {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        self.relay.deliver(&self.node, self.sid, stanza)
    }

    fn close(&self, error: StreamError) {
        self.relay.close(&self.node, self.sid, error);
    }

    fn take_over(
        &self,
        by: SessionHandle,
    ) -> BoxFuture<'_, Result<crate::c2s::sm::ResumableState, crate::router::TakeoverError>> {
        Box::pin(self.relay.take_over(&self.node, self.sid, by))
    }

    fn resumed(&self) {
        self.relay.handover_done(&self.node, self.sid);
    }
}

/// This node's session whose record outlived its actor for a moment.
struct EndedSession;

impl SessionControl for EndedSession {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        Err(DeliverError::Gone(Some(stanza)))
    }

    fn close(&self, _error: StreamError) {}
}
