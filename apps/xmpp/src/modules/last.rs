//! Last Activity (XEP-0012) over [`Storage`]'s `last` table.
//!
//! - To the server's JID: its uptime (seconds since this module started,
//!   that is since the server started), XEP-0012 §5.
//! - To a user's bare JID: 0 seconds while the user has an available
//!   resource; otherwise the seconds since the user's last session ended
//!   and the status it left with (§4), or `item-not-found` if the user
//!   never logged out. Only the user and contacts subscribed to the user's
//!   presence (`from`/`both`, from [`Contacts`]) may ask; others get
//!   `forbidden`, since the answer reveals presence.
//! - Recording: when a user's last session closes, the time and the status
//!   of its last unavailable presence (empty if it sent none) are stored.
//!   The status is kept per session by a presence hook until then.
//!
//! Edges: a failed store is logged (the previous record stays); a clock
//! that went backwards reads as 0 seconds ago.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::presence::Contacts;
use super::{account, storage_failed, unix_seconds_now};
use crate::router::{
    ClientSession, Flow, HooksBuilder, IqHandler, IqRequest, IqResult, IqScope, Module,
    PresenceHook, Router, SessionHook, SessionId,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::Storage;
use crate::xml::{Element, NS_CLIENT};

/// The last activity namespace, also its disco feature.
pub const NS_LAST: &str = "jabber:iq:last";

/// The last activity module.
pub struct Last {
    storage: Storage,
    contacts: Arc<dyn Contacts>,
    started: Instant,
    /// The status of each session's last unavailable broadcast presence;
    /// one entry per session that sent one, dropped when it closes.
    statuses: Mutex<HashMap<SessionId, String>>,
}

impl std::fmt::Debug for Last {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Last")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Last {
    /// Last activity over `storage`; `contacts` says who may ask about a
    /// user. Uptime counts from now.
    pub fn new(storage: Storage, contacts: Arc<dyn Contacts>) -> Last {
        Last {
            storage,
            contacts,
            started: Instant::now(),
            statuses: Mutex::new(HashMap::new()),
        }
    }

    async fn user_last(&self, router: &Router, request: &IqRequest) -> IqResult {
        let user = request.to.bare();
        let Some((domain, username)) = account(user) else {
            return Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable));
        };
        let allowed = request.is_own_account()
            || self
                .contacts
                .subscribers(user)
                .await
                .contains(request.from.bare());
        if !allowed {
            return Err(StanzaError::new(StanzaErrorCondition::Forbidden));
        }
        let online = router
            .sessions()
            .user_sessions(user)
            .map(|sessions| sessions.iter().any(|entry| entry.available))
            .unwrap_or(false);
        if online {
            return Ok(Some(
                Element::new("query", NS_LAST).with_attr("seconds", "0"),
            ));
        }
        let last = self
            .storage
            .last_activity(domain, username)
            .await
            .map_err(|error| storage_failed("last_activity", &error))?;
        let Some((seconds, status)) = last else {
            return Err(StanzaError::new(StanzaErrorCondition::ItemNotFound));
        };
        let ago = (unix_seconds_now() - seconds).max(0);
        Ok(Some(
            Element::new("query", NS_LAST)
                .with_attr("seconds", ago.to_string())
                .with_text(status),
        ))
    }
}

impl Module for Last {
    fn name(&self) -> &'static str {
        "last"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::Server, NS_LAST, self.clone());
        hooks.iq(IqScope::User, NS_LAST, self.clone());
        hooks.presence(self.clone());
        hooks.session(self);
    }
}

impl IqHandler for Last {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        request.get_only()?;
        if request.to.local().is_none() {
            let uptime = self.started.elapsed().as_secs();
            return Ok(Some(
                Element::new("query", NS_LAST).with_attr("seconds", uptime.to_string()),
            ));
        }
        self.user_last(router, request).await
    }
}

impl PresenceHook for Last {
    async fn user_send_presence(
        &self,
        _router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> Flow {
        if presence.attr("to").is_none() && presence.attr("type") == Some("unavailable") {
            let status = presence
                .child("status", NS_CLIENT)
                .map(Element::text)
                .unwrap_or_default();
            self.statuses.lock().insert(sender.sid, status);
        }
        Flow::Continue
    }
}

impl SessionHook for Last {
    async fn session_closed(&self, router: &Router, session: &ClientSession) {
        let status = self
            .statuses
            .lock()
            .remove(&session.sid)
            .unwrap_or_default();
        let user = session.jid.to_bare();
        let Some((domain, username)) = account(&user) else {
            return;
        };
        let others = router
            .sessions()
            .user_sessions(&user)
            .map(|sessions| !sessions.is_empty())
            .unwrap_or(false);
        if others {
            return;
        }
        if let Err(error) = self
            .storage
            .set_last_activity(domain, username, unix_seconds_now(), &status)
            .await
        {
            tracing::warn!(%user, %error, "last activity not recorded");
        }
    }
}
