//! The session table: who is connected, keyed by (domain, user, resource,
//! session id).
//!
//! Why a trait: on one node the table is a local `bream_tables` ordered set;
//! in a cluster it becomes the replicated table (DESIGN.md, apps/xmpp), where
//! an entry's handle reaches a session on another node. Routing only uses
//! [`SessionTable`], so clustering swaps the backend and nothing else.
//!
//! Why the session id is part of the key: two connections may hold the same
//! full JID for a moment (a new bind replaces an old session, which is being
//! told to close). With the id in the key both entries exist, each session
//! removes exactly its own, and the router can tell which one is newer (the
//! larger id) without a read-modify-write race. The bare-JID lookup is one
//! range scan of the ordered set.
//!
//! Reads are synchronous: on every backend they read a local copy, on the
//! caller's thread, as ETS does. Writes return futures: the replicated table
//! answers once every node has the write, and a binding session must see the
//! sessions other nodes bound before it decides who wins. The local table
//! answers at once. The table lives as long as its owner
//! actor (the c2s sessions supervisor); once it is gone every operation
//! returns [`SessionTableError::Unavailable`].

use std::ops::Bound;

use bream_runtime::ractor::ActorCell;
use bream_tables::{Access, Table, TableError, TableOptions};
use futures::future::BoxFuture;

use super::session::{SessionEntry, SessionFeatures, SessionId};
use crate::jid::{BareJid, Jid};
use crate::xml::Element;

/// Why the session table did not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionTableError {
    /// The backend failed (for the local table: it was deleted with its
    /// owner).
    #[error("session table {table} unavailable: {reason}")]
    Unavailable {
        /// The table's name.
        table: String,
        /// What the backend said.
        reason: String,
    },
}

/// The sessions of this node (or, replicated, of the cluster).
pub trait SessionTable: Send + Sync + 'static {
    /// Adds a session. An entry with the same full JID and id is replaced.
    fn insert(&self, entry: SessionEntry) -> BoxFuture<'_, Result<(), SessionTableError>>;
    /// Removes the session `sid` of `jid`; whether it was there.
    fn remove<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>>;
    /// Removes a session found gone, without waiting: the router calls it
    /// while it delivers. A backend may leave the removal to the session's
    /// own node (a replicated table removes only this node's entries).
    fn forget(&self, jid: &Jid, sid: SessionId);
    /// The sessions whose keys fall in `range`, in key order.
    fn select(&self, range: SessionRange) -> Result<Vec<SessionEntry>, SessionTableError>;
    /// The sessions bound to the full JID `jid`, oldest first (normally one).
    fn resource_sessions(&self, jid: &Jid) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.select(resource_range(jid))
    }
    /// Every session of the account `user`, in resource order.
    fn user_sessions(&self, user: &BareJid) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.select(account_range(user))
    }
    /// Records a session's broadcast presence (`presence` is the last
    /// available one, `None` when it went unavailable); whether the session
    /// was found.
    fn set_presence<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        priority: i8,
        presence: Option<Element>,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>>;
    /// Records what a session asked of the server (see [`SessionFeatures`]); whether the
    /// session was found.
    fn set_features<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        features: SessionFeatures,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>>;
    /// How many sessions there are.
    fn count(&self) -> Result<usize, SessionTableError>;
    /// Every session (for administration: listing, shutdown).
    fn all(&self) -> Result<Vec<SessionEntry>, SessionTableError>;
}

/// `(domain, user, resource, id)`: one account's sessions are adjacent.
pub type SessionKey = (String, String, String, SessionId);

/// The key of session `sid` bound to `jid`.
pub(crate) fn session_key(jid: &Jid, sid: SessionId) -> SessionKey {
    (
        jid.domain().to_owned(),
        jid.local().unwrap_or_default().to_owned(),
        jid.resource().unwrap_or_default().to_owned(),
        sid,
    )
}

/// A range of session keys, for an ordered table's range scan.
pub type SessionRange = (Bound<SessionKey>, Bound<SessionKey>);

/// The keys of the sessions bound to the full JID `jid`. `s + "\0"` is the smallest string
/// greater than `s`, so `[(.., s, MIN), (.., s + "\0", MIN))` holds exactly the keys whose
/// resource is `s`.
pub(crate) fn resource_range(jid: &Jid) -> SessionRange {
    let (domain, user) = (jid.domain(), jid.local().unwrap_or_default());
    let resource = jid.resource().unwrap_or_default();
    (
        Bound::Included((domain.into(), user.into(), resource.into(), SessionId::MIN)),
        Bound::Excluded((
            domain.into(),
            user.into(),
            format!("{resource}\0"),
            SessionId::MIN,
        )),
    )
}

/// The keys of every session of the account `user`, by the same rule on the user part.
pub(crate) fn account_range(user: &BareJid) -> SessionRange {
    let (domain, local) = (user.domain(), user.local().unwrap_or_default());
    (
        Bound::Included((domain.into(), local.into(), String::new(), SessionId::MIN)),
        Bound::Excluded((
            domain.into(),
            format!("{local}\0"),
            String::new(),
            SessionId::MIN,
        )),
    )
}

/// The table name, for errors and `bream_tables` introspection.
pub const SESSION_TABLE_NAME: &str = "c2s_sessions";

/// [`SessionTable`] on a local `bream_tables` ordered set. See the module
/// docs.
#[derive(Clone, Debug)]
pub struct LocalSessionTable {
    table: Table<SessionKey, SessionEntry>,
}

impl LocalSessionTable {
    /// A new, empty table owned by `owner`: it is deleted when `owner`
    /// stops. Public access, so that every session writes its own entry.
    pub fn new(owner: &ActorCell) -> Result<LocalSessionTable, SessionTableError> {
        let options = TableOptions::ordered_set().access(Access::Public);
        let table = Table::new(SESSION_TABLE_NAME, owner, options).map_err(unavailable)?;
        Ok(LocalSessionTable { table })
    }
}

fn unavailable(error: TableError) -> SessionTableError {
    SessionTableError::Unavailable {
        table: SESSION_TABLE_NAME.to_owned(),
        reason: error.to_string(),
    }
}

impl SessionTable for LocalSessionTable {
    fn insert(&self, entry: SessionEntry) -> BoxFuture<'_, Result<(), SessionTableError>> {
        let key = session_key(&entry.jid, entry.sid);
        let inserted = self.table.insert(key, entry).map_err(unavailable);
        Box::pin(std::future::ready(inserted))
    }

    fn remove<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        let removed = self
            .table
            .take(&session_key(jid, sid))
            .map(|removed| !removed.is_empty())
            .map_err(unavailable);
        Box::pin(std::future::ready(removed))
    }

    fn forget(&self, jid: &Jid, sid: SessionId) {
        if let Err(error) = self.table.take(&session_key(jid, sid)) {
            tracing::error!(%error, "cannot remove a gone session");
        }
    }

    fn select(&self, range: SessionRange) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.table
            .select_map(range, |_, entry| Some(entry.clone()))
            .map_err(unavailable)
    }

    fn set_presence<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        priority: i8,
        presence: Option<Element>,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        let updated = self
            .table
            .update_element(&session_key(jid, sid), |entry| {
                entry.priority = priority;
                entry.available = presence.is_some();
                entry.presence = presence;
            })
            .map(|updated| updated.is_some())
            .map_err(unavailable);
        Box::pin(std::future::ready(updated))
    }

    fn set_features<'a>(
        &'a self,
        jid: &'a Jid,
        sid: SessionId,
        features: SessionFeatures,
    ) -> BoxFuture<'a, Result<bool, SessionTableError>> {
        let updated = self
            .table
            .update_element(&session_key(jid, sid), |entry| entry.features = features)
            .map(|updated| updated.is_some())
            .map_err(unavailable);
        Box::pin(std::future::ready(updated))
    }

    fn count(&self) -> Result<usize, SessionTableError> {
        self.table.size().map_err(unavailable)
    }

    fn all(&self) -> Result<Vec<SessionEntry>, SessionTableError> {
        self.select((Bound::Unbounded, Bound::Unbounded))
    }
}
