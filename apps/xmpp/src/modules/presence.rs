//! Presence without a roster (RFC 6121 §4): what a server must do with
//! presence before it knows anyone's contacts.
//!
//! - **Broadcast presence** (no `to`) from a client: available presence
//!   records the session's priority and availability in the session table
//!   (which routing to the bare JID reads) and goes to every available
//!   resource of the user, the sender included (§4.2.2); unavailable
//!   presence clears them and goes to the user's other available resources
//!   (§4.5.2). Other types without `to` are dropped.
//! - **Directed presence** (with `to`): remembered per session, so that the
//!   recipients get unavailable presence when the session goes away
//!   (§4.6.3, at most [`DIRECTED_PRESENCE_MAX`] per session), then routed
//!   normally.
//! - **Disconnect**: a session that was available broadcasts unavailable
//!   presence, as if the client had sent it, to its own resources, its
//!   contacts and its directed-presence recipients.
//! - **Probes** for a local user are answered with the last presence of
//!   each of the user's available resources, if the prober is a contact.
//!
//! The roster's part is the [`Contacts`] trait: who receives the user's
//! broadcast presence (subscription `from` or `both`) and whose presence the
//! user wants (`to` or `both`), probed at initial presence. [`NoContacts`]
//! answers "nobody" to both, so until a roster module implements it,
//! presence reaches only the user's own resources and directed recipients.
//! Subscription requests are left to that roster module (an
//! [`InboundHook`] of its own); without one they are delivered as they are.
//!
//! State: for each session that sent presence, its last broadcast presence
//! and its directed recipients, behind one lock that is never held across
//! an await; it is dropped when the session closes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use crate::jid::{BareJid, Jid};
use crate::router::{
    ClientSession, Flow, HooksBuilder, InboundHook, Module, PresenceHook, Router, SessionHook,
    SessionId,
};
use crate::xml::{Element, NS_CLIENT};

/// Directed-presence recipients remembered per session; more are routed but
/// not remembered (so they get no unavailable presence on disconnect).
pub const DIRECTED_PRESENCE_MAX: usize = 1000;

/// The roster's answers that presence needs. See the module docs.
pub trait Contacts: Send + Sync + 'static {
    /// Who receives `user`'s broadcast presence (subscription from/both).
    fn subscribers<'a>(&'a self, user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>>;
    /// Whose presence `user` receives (subscription to/both): probed when
    /// `user` sends initial presence.
    fn subscriptions<'a>(&'a self, user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>>;
}

/// No contacts: the default until a roster module provides [`Contacts`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoContacts;

impl Contacts for NoContacts {
    fn subscribers<'a>(&'a self, _user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>> {
        Box::pin(async { Vec::new() })
    }

    fn subscriptions<'a>(&'a self, _user: &'a BareJid) -> BoxFuture<'a, Vec<BareJid>> {
        Box::pin(async { Vec::new() })
    }
}

#[derive(Debug, Default)]
struct SessionPresence {
    /// The last available broadcast presence; `None` while unavailable.
    last: Option<Element>,
    directed: BTreeSet<Jid>,
}

/// The presence module.
pub struct Presence {
    contacts: Arc<dyn Contacts>,
    sessions: Mutex<HashMap<SessionId, SessionPresence>>,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Presence")
            .field("sessions", &self.sessions.lock().len())
            .finish_non_exhaustive()
    }
}

impl Presence {
    /// Presence with the roster's answers from `contacts`.
    pub fn new(contacts: Arc<dyn Contacts>) -> Presence {
        Presence {
            contacts,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The last available presence `sid` broadcast, if it is available.
    pub fn last_presence(&self, sid: SessionId) -> Option<Element> {
        self.sessions
            .lock()
            .get(&sid)
            .and_then(|state| state.last.clone())
    }

    /// Sends `presence` (from `sender`) to the user's available resources,
    /// then to the user's contacts and to `also`.
    async fn broadcast(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
        also: &BTreeSet<Jid>,
    ) {
        let user = sender.jid.to_bare();
        match router.sessions().user_sessions(&user) {
            Ok(sessions) => {
                for entry in sessions.iter().filter(|entry| entry.available) {
                    let mut copy = presence.clone();
                    copy.set_attr("to", entry.jid.to_string());
                    // A session that just went away misses it; nothing to do.
                    let _ = entry.handle.deliver(copy);
                }
            }
            Err(error) => {
                tracing::error!(%error, "session table unavailable: presence not broadcast")
            }
        }
        let contacts = self.contacts.subscribers(&user).await;
        let recipients = contacts
            .into_iter()
            .map(Jid::from)
            .chain(also.iter().cloned())
            .collect::<BTreeSet<_>>();
        for recipient in recipients {
            let mut copy = presence.clone();
            copy.set_attr("to", recipient.to_string());
            router.route(copy).await;
        }
    }

    async fn available(&self, router: &Router, sender: &ClientSession, presence: &Element) {
        let priority = priority(presence);
        let initial = {
            let mut sessions = self.sessions.lock();
            let state = sessions.entry(sender.sid).or_default();
            let initial = state.last.is_none();
            state.last = Some(presence.clone());
            initial
        };
        set_presence(router, sender, priority, Some(presence.clone())).await;
        self.broadcast(router, sender, presence, &BTreeSet::new())
            .await;
        if initial {
            for contact in self.contacts.subscriptions(&sender.jid.to_bare()).await {
                let probe = Element::new("presence", NS_CLIENT)
                    .with_attr("type", "probe")
                    .with_attr("from", sender.jid.to_string())
                    .with_attr("to", contact.to_string());
                router.route(probe).await;
            }
        }
    }

    async fn unavailable(&self, router: &Router, sender: &ClientSession, presence: &Element) {
        let directed = {
            let mut sessions = self.sessions.lock();
            let state = sessions.entry(sender.sid).or_default();
            state.last = None;
            std::mem::take(&mut state.directed)
        };
        set_presence(router, sender, 0, None).await;
        self.broadcast(router, sender, presence, &directed).await;
    }
}

async fn set_presence(
    router: &Router,
    sender: &ClientSession,
    priority: i8,
    presence: Option<Element>,
) {
    match router
        .sessions()
        .set_presence(&sender.jid, sender.sid, priority, presence)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::debug!(jid = %sender.jid, "presence from a session not in the table"),
        Err(error) => tracing::error!(%error, "session table unavailable: presence not recorded"),
    }
}

/// The `<priority/>` of a presence (RFC 6121 §4.7.2.3): an integer from -128
/// to 127, 0 if absent; out-of-range values are clamped, others read as 0.
pub(crate) fn priority(presence: &Element) -> i8 {
    presence
        .child("priority", NS_CLIENT)
        .and_then(|priority| priority.text().trim().parse::<i64>().ok())
        .map(|value| value.clamp(i64::from(i8::MIN), i64::from(i8::MAX)))
        .and_then(|value| i8::try_from(value).ok())
        .unwrap_or(0)
}

impl Module for Presence {
    fn name(&self) -> &'static str {
        "presence"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.presence(self.clone());
        hooks.inbound(self.clone());
        hooks.session(self);
    }
}

impl PresenceHook for Presence {
    async fn user_send_presence(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> Flow {
        let presence_type = presence.attr("type");
        let Some(to) = presence.attr("to") else {
            match presence_type {
                None => self.available(router, sender, presence).await,
                Some("unavailable") => self.unavailable(router, sender, presence).await,
                Some(other) => tracing::debug!(
                    presence_type = other,
                    "broadcast presence of this type dropped"
                ),
            }
            return Flow::Stop;
        };
        let Ok(to) = to.parse::<Jid>() else {
            return Flow::Continue;
        };
        let mut sessions = self.sessions.lock();
        let state = sessions.entry(sender.sid).or_default();
        match presence_type {
            None if state.directed.len() < DIRECTED_PRESENCE_MAX => {
                state.directed.insert(to);
            }
            None => {
                tracing::warn!(jid = %sender.jid, max = DIRECTED_PRESENCE_MAX, "directed presence not remembered: DIRECTED_PRESENCE_MAX reached")
            }
            Some("unavailable") => {
                state.directed.remove(&to);
            }
            Some(_) => {}
        }
        Flow::Continue
    }
}

impl InboundHook for Presence {
    async fn local_stanza(&self, router: &Router, from: &Jid, to: &Jid, stanza: &Element) -> Flow {
        if stanza.name != "presence" || stanza.attr("type") != Some("probe") {
            return Flow::Continue;
        }
        let user = to.to_bare();
        let allowed =
            from.bare() == &user || self.contacts.subscribers(&user).await.contains(from.bare());
        if !allowed {
            return Flow::Stop;
        }
        let sessions = router.sessions().user_sessions(&user).unwrap_or_default();
        for entry in sessions.iter().filter(|entry| entry.available) {
            // The table's copy answers for sessions on other nodes too.
            let last = self
                .last_presence(entry.sid)
                .or_else(|| entry.presence.clone());
            if let Some(mut last) = last {
                last.set_attr("from", entry.jid.to_string());
                last.set_attr("to", from.to_string());
                router.route(last).await;
            }
        }
        Flow::Stop
    }
}

impl SessionHook for Presence {
    async fn session_closed(&self, router: &Router, session: &ClientSession) {
        let state = self.sessions.lock().remove(&session.sid);
        let Some(state) = state else {
            return;
        };
        if state.last.is_none() && state.directed.is_empty() {
            return;
        }
        let unavailable = Element::new("presence", NS_CLIENT)
            .with_attr("type", "unavailable")
            .with_attr("from", session.jid.to_string());
        if state.last.is_some() {
            self.broadcast(router, session, &unavailable, &state.directed)
                .await;
        } else {
            for recipient in &state.directed {
                let mut copy = unavailable.clone();
                copy.set_attr("to", recipient.to_string());
                router.route(copy).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_is_read_clamped_and_defaulted() {
        let with = |text: &str| {
            Element::new("presence", NS_CLIENT)
                .with_child(Element::new("priority", NS_CLIENT).with_text(text))
        };
        assert_eq!(priority(&Element::new("presence", NS_CLIENT)), 0);
        assert_eq!(priority(&with("5")), 5);
        assert_eq!(priority(&with(" -3 ")), -3);
        assert_eq!(priority(&with("1000")), 127);
        assert_eq!(priority(&with("-1000")), -128);
        assert_eq!(priority(&with("high")), 0);
    }
}
