//! Offline messages (XEP-0160) over [`Storage`]'s `offline_message` table.
//!
//! - **Storing**: [`Offline`] is the router's [`OfflineSink`]. A `chat` or
//!   `normal` message for an existing account with no available resource is
//!   stored, up to `max_messages` per user (MongooseIM's
//!   `max_user_offline_messages`). When the user's storage is full the
//!   router bounces the message with `resource-constraint` (type `wait`), as
//!   MongooseIM's `mod_offline` does. Messages with nothing to read later
//!   (chat states only, no body or subject) are dropped rather than stored,
//!   as MongooseIM does, so they cannot fill the storage.
//! - **Delivering**: when a session sends initial presence (available, no
//!   `to`, before it was available) with a non-negative priority (XEP-0160
//!   §3), the stored messages are taken (read and deleted in one statement,
//!   so two sessions never both get one), stamped with an XEP-0203
//!   `<delay xmlns='urn:xmpp:delay' from='domain' stamp='…'/>` and handed to
//!   that session, oldest first. This runs as a presence hook before the
//!   presence module's, so it sees the session still unavailable.
//! - Disco: the server advertises `msgoffline`.
//!
//! Edges: a session that goes away while messages are handed to it gets the
//! rest stored again (they are not lost, but later messages may now come
//! before them); a row that no longer parses is logged and skipped; storage
//! failures bounce the message (`service-unavailable`) or leave the stored
//! messages for the next login.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::presence::priority;
use super::{account, parse_stored, xep0082_stamp, InitialPresence};
use crate::jid::BareJid;
use crate::router::{
    ClientSession, Flow, HooksBuilder, IqScope, Module, OfflineError, OfflineSink, PresenceHook,
    Router,
};
use crate::storage::{Storage, StorageError};
use crate::xml::{Element, NS_CLIENT};

/// The XEP-0203 namespace.
pub const NS_DELAY: &str = "urn:xmpp:delay";

/// The disco feature of offline storage (XEP-0160 §7).
pub const FEATURE_MSGOFFLINE: &str = "msgoffline";

/// The chat state namespace (XEP-0085): such notifications are not stored.
const NS_CHATSTATES: &str = "http://jabber.org/protocol/chatstates";

/// The offline module. See the module docs.
#[derive(Debug)]
pub struct Offline {
    storage: Storage,
    messages_max: usize,
}

impl Offline {
    /// Offline storage over `storage`, keeping at most `messages_max`
    /// messages per user (0 keeps none: every message is refused).
    pub fn new(storage: Storage, messages_max: usize) -> Offline {
        Offline {
            storage,
            messages_max,
        }
    }

    async fn deliver(&self, initial: &InitialPresence) {
        let user = &initial.user;
        let (domain, username) = initial.account();
        let messages = match self.storage.take_offline(domain, username).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::error!(%user, %error, "offline messages not taken; kept for the next login");
                return;
            }
        };
        let mut pending = messages.into_iter();
        while let Some(stored) = pending.next() {
            let Some(mut message) = parse_stored(&stored.packet_xml) else {
                tracing::warn!(%user, from = stored.from, "a stored offline message does not parse: skipped");
                continue;
            };
            message.push_child(
                Element::new("delay", NS_DELAY)
                    .with_attr("from", domain)
                    .with_attr("stamp", xep0082_stamp(stored.stored_at)),
            );
            if initial.entry.handle.deliver(message).is_err() {
                tracing::info!(%user, "session gone while offline messages were delivered: storing the rest again");
                for rest in std::iter::once(stored).chain(pending) {
                    if let Err(error) = self
                        .storage
                        .store_offline(
                            domain,
                            username,
                            &rest.from,
                            &rest.packet_xml,
                            self.messages_max,
                        )
                        .await
                    {
                        tracing::error!(%user, %error, "offline message lost");
                    }
                }
                return;
            }
        }
    }
}

/// Whether a message has something to read later: anything but chat states.
fn worth_storing(message: &Element) -> bool {
    message
        .elements()
        .any(|child| child.namespace != NS_CHATSTATES)
}

impl OfflineSink for Offline {
    fn store<'a>(
        &'a self,
        user: &'a BareJid,
        message: &'a Element,
    ) -> BoxFuture<'a, Result<(), OfflineError>> {
        Box::pin(async move {
            let Some((domain, username)) = account(user) else {
                return Err(OfflineError::NotEnabled);
            };
            if !worth_storing(message) {
                tracing::debug!(%user, "message without content for later: dropped");
                return Ok(());
            }
            let from = message.attr("from").unwrap_or_default();
            self.storage
                .store_offline(
                    domain,
                    username,
                    from,
                    &message.to_string(),
                    self.messages_max,
                )
                .await
                .map_err(|error| match error {
                    StorageError::OfflineFull { limit, .. } => OfflineError::Full {
                        user: user.to_string(),
                        max: limit,
                    },
                    other => OfflineError::Unavailable {
                        reason: other.to_string(),
                    },
                })
        })
    }
}

impl Module for Offline {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.feature(IqScope::Server, FEATURE_MSGOFFLINE);
        hooks.presence(self);
    }
}

impl PresenceHook for Offline {
    async fn user_send_presence(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> Flow {
        let initial_candidate = presence.attr("to").is_none()
            && presence.attr("type").is_none()
            && presence.name == "presence"
            && presence.namespace == NS_CLIENT
            && priority(presence) >= 0;
        if initial_candidate {
            if let Some(initial) = InitialPresence::of(router, sender) {
                self.deliver(&initial).await;
            }
        }
        Flow::Continue
    }
}
