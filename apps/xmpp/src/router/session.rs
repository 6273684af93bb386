//! What the router knows of a session: its id, a handle to reach it, and the
//! record it keeps in the session table.
//!
//! The router never sees a session actor's type: it holds a
//! [`SessionHandle`], which delivers a stanza or asks the session to close.
//! The c2s session implements [`SessionControl`] over its actor; router tests
//! implement it over a channel; a remote session (when the table is
//! replicated) implements it over the node link (`crate::cluster::sessions`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::c2s::sm::ResumableState;
use crate::jid::Jid;
use crate::stanza::error::StreamError;
use crate::xml::Element;

/// Identifies one session in the cluster. Ids grow: of two sessions for the
/// same full JID, the one with the larger id bound later and wins.
///
/// Why a clock: in a cluster two nodes hand out ids with no coordination, and
/// "newer wins" must still hold between them. An id is the wall-clock time in
/// microseconds, bumped to stay above the last id of this process (so ids are
/// unique and increasing on one node even when the clock steps back). Across
/// nodes the order is as good as the clocks' agreement, which is what
/// MongooseIM's `{timestamp, pid}` session ids rely on too.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SessionId(u64);

impl SessionId {
    /// A fresh id, larger than every id handed out before in this process.
    pub fn next() -> SessionId {
        static LAST: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return SessionId(next),
                Err(actual) => last = actual,
            }
        }
    }

    /// The id with this number (as it crossed the network).
    pub fn from_raw(value: u64) -> SessionId {
        SessionId(value)
    }

    /// Smaller than every id handed out: the start of a key range.
    pub(crate) const MIN: SessionId = SessionId(0);

    /// The number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Why a stanza did not reach a session. The stanza is handed back when
/// the transport could return it.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The session has ended.
    #[error("session is gone")]
    Gone(Option<Element>),
}

/// How the router reaches one session.
///
/// `deliver` must not wait: the c2s session puts the stanza in its mailbox
/// and its own bounded queue decides whether the client keeps up.
pub trait SessionControl: Send + Sync + 'static {
    /// Hands `stanza` to the session for its client.
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError>;
    /// Asks the session to end its stream with `error` (`conflict` when
    /// replaced, `system-shutdown`, a kick by an administrator).
    fn close(&self, error: StreamError);
    /// Hands the session over to a connection resuming it (XEP-0198): the session stops
    /// being served by its own connection and gives up its resumable state; whatever
    /// reaches it afterwards goes on to `by`. Refused if the session is not resumable.
    ///
    /// The default refuses: a transport that cannot carry a handover keeps it.
    fn take_over(&self, by: SessionHandle) -> BoxFuture<'_, Result<ResumableState, TakeoverError>> {
        let _ = by;
        Box::pin(std::future::ready(Err(TakeoverError::Unsupported)))
    }
    /// After a [`SessionControl::take_over`] succeeded, the resumed session is in the
    /// session table on every node: the old place may stop forwarding. The cluster's remote
    /// handle tells the old node (which forwards until then, so nothing routed through a
    /// stale record is lost); the default does nothing.
    fn resumed(&self) {}
}

/// Why a session was not handed over. Serde: it crosses nodes as the answer of a handover.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum TakeoverError {
    /// This transport cannot hand a session over.
    #[error("this session cannot be handed over from here")]
    Unsupported,
    /// The session is not resumable (stream management off or without resumption, or
    /// ending).
    #[error("the session is not resumable")]
    NotResumable,
    /// The session is gone or did not answer in time.
    #[error("the session did not answer: {0}")]
    NoAnswer(String),
}

/// A cheap, clonable handle on a session. Two handles are equal when they
/// are clones of one another.
#[derive(Clone)]
pub struct SessionHandle(Arc<dyn SessionControl>);

impl SessionHandle {
    /// Wraps a session's control.
    pub fn new(control: impl SessionControl) -> SessionHandle {
        SessionHandle(Arc::new(control))
    }

    /// See [`SessionControl::deliver`].
    pub fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        self.0.deliver(stanza)
    }

    /// See [`SessionControl::close`].
    pub fn close(&self, error: StreamError) {
        self.0.close(error);
    }

    /// See [`SessionControl::resumed`].
    pub fn resumed(&self) {
        self.0.resumed();
    }

    /// See [`SessionControl::take_over`].
    pub fn take_over(
        &self,
        by: SessionHandle,
    ) -> BoxFuture<'_, Result<ResumableState, TakeoverError>> {
        self.0.take_over(by)
    }
}

impl PartialEq for SessionHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SessionHandle")
    }
}

/// A bound client as hooks see it: who and which session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSession {
    /// The full JID.
    pub jid: Jid,
    /// The session's id.
    pub sid: SessionId,
}

/// One record of the session table.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionEntry {
    /// The full JID.
    pub jid: Jid,
    /// The session's id.
    pub sid: SessionId,
    /// How to reach it.
    pub handle: SessionHandle,
    /// The priority of its last broadcast presence (RFC 6121 §4.7.2.3);
    /// 0 until it sends one.
    pub priority: i8,
    /// Whether it has sent available presence (and not unavailable since).
    /// Only available sessions receive messages and presence for the bare
    /// JID (RFC 6121 §8.5.2).
    pub available: bool,
    /// Its last available broadcast presence, to answer probes for it from
    /// any node; `None` while unavailable.
    pub presence: Option<Element>,
    /// What it asked of the server beyond presence, visible on every node.
    pub features: SessionFeatures,
}

/// What a session asked of the server that other sessions' traffic depends on (so it lives in
/// the session table, replicated, rather than in the session): each off until asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionFeatures {
    /// Message carbons (XEP-0280) are enabled: it gets copies of its account's messages.
    pub carbons: bool,
}

impl SessionEntry {
    /// A freshly bound session: priority 0, not available.
    pub fn new(jid: Jid, sid: SessionId, handle: SessionHandle) -> SessionEntry {
        SessionEntry {
            jid,
            sid,
            handle,
            priority: 0,
            available: false,
            presence: None,
            features: SessionFeatures::default(),
        }
    }

    /// The session as hooks see it.
    pub fn client(&self) -> ClientSession {
        ClientSession {
            jid: self.jid.clone(),
            sid: self.sid,
        }
    }
}
