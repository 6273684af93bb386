//! Where messages for offline users go.
//!
//! RFC 6121 §8.5.2.1.1: a `normal` or `chat` message for an existing account
//! with no available resource is stored for later delivery or bounced with
//! `service-unavailable`. Storing needs a database, which routing does not
//! know about, so the router hands such messages to an [`OfflineSink`]: the
//! server wires it to its offline storage (XEP-0160), tests record them, and
//! [`NoOfflineStorage`] refuses every message, so each one is bounced.

use futures::future::BoxFuture;

use crate::jid::BareJid;
use crate::xml::Element;

/// Why a message was not stored; the router bounces it with
/// `service-unavailable`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    /// No offline storage is configured.
    #[error("offline storage is not enabled")]
    NotEnabled,
    /// The user's offline storage is full.
    #[error("offline storage of {user} is full ({max} messages)")]
    Full {
        /// The recipient.
        user: String,
        /// The per-user limit.
        max: usize,
    },
    /// The storage failed.
    #[error("offline storage unavailable: {reason}")]
    Unavailable {
        /// What the storage said.
        reason: String,
    },
}

/// Stores messages for users who are offline.
pub trait OfflineSink: Send + Sync + 'static {
    /// Stores `message` (with `from` and `to` set) for `user`.
    fn store<'a>(
        &'a self,
        user: &'a BareJid,
        message: &'a Element,
    ) -> BoxFuture<'a, Result<(), OfflineError>>;
}

/// Stores nothing: every offline message is bounced.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOfflineStorage;

impl OfflineSink for NoOfflineStorage {
    fn store<'a>(
        &'a self,
        _user: &'a BareJid,
        _message: &'a Element,
    ) -> BoxFuture<'a, Result<(), OfflineError>> {
        Box::pin(async { Err(OfflineError::NotEnabled) })
    }
}
