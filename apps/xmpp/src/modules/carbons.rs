//! Message Carbons (XEP-0280, `urn:xmpp:carbons:2`), MongooseIM's `mod_carboncopy`: every
//! device of an account sees the whole conversation, whichever device sent or received it.
//!
//! - **Enabling**: `<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>` (or
//!   `<disable/>`), to the user's own bare JID, to no `to` at all, or to the server. The flag
//!   is the session's [`crate::router::SessionFeatures::carbons`], in the session table, so every node sees
//!   it: copies reach carbon-enabled sessions on any node through their node's relay.
//! - **Received copies** (§5.1): when a message for a local user has been handed to some of
//!   the user's sessions (a [`DeliveredHook`], which gets the sessions the router already
//!   read), each *other* carbon-enabled session of the user gets
//!   `<received><forwarded>original</forwarded></received>` from the user's bare JID. A message
//!   that went offline is copied to nobody (nobody was online to see it).
//! - **Sent copies** (§5.2): a message a client sends (an [`OutboundHook`]) is copied to the
//!   sender's other carbon-enabled sessions as `<sent><forwarded>original</forwarded></sent>`.
//! - **Eligible** (§6): `chat` messages, and `normal` ones with a body, a delivery receipt or a
//!   chat marker; never `groupchat`, `headline` or `error` (the XEP's "error in answer to an
//!   eligible message" needs the original, which is not kept: not copied), never a carbon
//!   itself, and never one with `<private xmlns='urn:xmpp:carbons:2'/>` (§7) or XEP-0334's
//!   `<no-copy/>`. Messages between an account's own resources are not copied either: both
//!   ends already see them.
//!
//! Cost: a sent message reads the sender's sessions once more (one range scan of the session
//! table, local); a received one nothing more, the router hands the sessions over.

use std::sync::Arc;

use crate::jid::Jid;
use crate::router::{
    ClientSession, DeliveredHook, Flow, HooksBuilder, IqHandler, IqKind, IqRequest, IqResult,
    IqScope, Module, OutboundHook, Router, SessionEntry, SessionId,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::xml::{Element, NS_CLIENT};

/// The carbons namespace, also its disco feature.
pub const NS_CARBONS: &str = "urn:xmpp:carbons:2";

/// Stanza forwarding (XEP-0297), the wrapper of a copy.
pub const NS_FORWARD: &str = "urn:xmpp:forward:0";

/// Message processing hints (XEP-0334).
pub const NS_HINTS: &str = "urn:xmpp:hints";

/// Delivery receipts (XEP-0184) and chat markers (XEP-0333): `normal` messages carrying them
/// are eligible.
const RECEIPT_NAMESPACES: [&str; 2] = ["urn:xmpp:receipts", "urn:xmpp:chat-markers:0"];

/// The carbons module. See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Carbons;

impl Module for Carbons {
    fn name(&self) -> &'static str {
        "carboncopy"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::User, NS_CARBONS, Arc::clone(&self));
        hooks.iq(IqScope::Server, NS_CARBONS, Arc::clone(&self));
        hooks.outbound(Arc::clone(&self));
        hooks.delivered(self);
    }
}

impl IqHandler for Carbons {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        if request.kind != IqKind::Set {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
        }
        let enable = match request.payload.name.as_str() {
            "enable" => true,
            "disable" => false,
            _ => return Err(StanzaError::new(StanzaErrorCondition::BadRequest)),
        };
        let own = request.to.local().is_none() || request.is_own_account();
        if !own || request.from.resource().is_none() {
            return Err(StanzaError::new(StanzaErrorCondition::Forbidden));
        }
        let session = newest_session(router, &request.from)
            .ok_or_else(|| StanzaError::new(StanzaErrorCondition::ItemNotFound))?;
        let mut features = session.features;
        features.carbons = enable;
        match router
            .sessions()
            .set_features(&request.from, session.sid, features)
            .await
        {
            Ok(true) => {
                tracing::debug!(jid = %request.from, enable, "carbons");
                Ok(None)
            }
            Ok(false) => Err(StanzaError::new(StanzaErrorCondition::ItemNotFound)),
            Err(error) => {
                tracing::error!(%error, "session table unavailable: carbons unchanged");
                Err(StanzaError::new(StanzaErrorCondition::InternalServerError))
            }
        }
    }
}

impl OutboundHook for Carbons {
    async fn user_send_stanza(
        &self,
        router: &Router,
        sender: &ClientSession,
        stanza: &Element,
    ) -> Flow {
        if !eligible(stanza) || to_own_account(stanza, &sender.jid) {
            return Flow::Continue;
        }
        let user = sender.jid.to_bare();
        let sessions = match router.sessions().user_sessions(&user) {
            Ok(sessions) => sessions,
            Err(error) => {
                tracing::error!(%error, "session table unavailable: no sent carbons");
                return Flow::Continue;
            }
        };
        for entry in sessions
            .iter()
            .filter(|entry| entry.features.carbons && entry.sid != sender.sid)
        {
            // A session that just went away misses its copy, as it would the message.
            let _ = entry.handle.deliver(copy("sent", stanza, &entry.jid));
        }
        Flow::Continue
    }
}

impl DeliveredHook for Carbons {
    fn message_delivered(
        &self,
        _router: &Router,
        message: &Element,
        sessions: &[SessionEntry],
        receivers: &[SessionId],
    ) {
        if !sessions.iter().any(|entry| entry.features.carbons) || !eligible(message) {
            return;
        }
        if let Some(first) = sessions.first() {
            if from_own_account(message, &first.jid) {
                return;
            }
        }
        for entry in sessions
            .iter()
            .filter(|entry| entry.features.carbons && !receivers.contains(&entry.sid))
        {
            let _ = entry.handle.deliver(copy("received", message, &entry.jid));
        }
    }
}

/// The newest session bound to the full JID `jid`.
fn newest_session(router: &Router, jid: &Jid) -> Option<SessionEntry> {
    router
        .sessions()
        .resource_sessions(jid)
        .ok()?
        .into_iter()
        .max_by_key(|entry| entry.sid)
}

/// Whether `message` is copied at all (§6, §7, XEP-0334).
pub fn eligible(message: &Element) -> bool {
    if message.name != "message" {
        return false;
    }
    let kind_eligible = match message.attr("type").unwrap_or("normal") {
        "chat" => true,
        "normal" => message.elements().any(|child| {
            (child.name == "body" && child.namespace == message.namespace)
                || RECEIPT_NAMESPACES.contains(&child.namespace.as_str())
        }),
        _ => false,
    };
    kind_eligible
        && !message.elements().any(|child| {
            (child.namespace == NS_CARBONS
                && matches!(child.name.as_str(), "private" | "sent" | "received"))
                || (child.namespace == NS_HINTS && child.name == "no-copy")
        })
}

/// Whether `message` (sent by `sender`) is addressed to the sender's own account.
fn to_own_account(message: &Element, sender: &Jid) -> bool {
    match message.attr("to").map(str::parse::<Jid>) {
        Some(Ok(to)) => to.bare() == sender.bare(),
        // No `to`: for the sender's own bare JID.
        None => true,
        Some(Err(_)) => false,
    }
}

/// Whether `message` (delivered to a session of `user`) comes from the same account.
fn from_own_account(message: &Element, user: &Jid) -> bool {
    message
        .attr("from")
        .and_then(|from| from.parse::<Jid>().ok())
        .is_some_and(|from| from.bare() == user.bare())
}

/// The `direction` (`sent` or `received`) copy of `message` for the session `to`, from its
/// account's bare JID (§5).
fn copy(direction: &str, message: &Element, to: &Jid) -> Element {
    let mut forwarded = message.clone();
    if forwarded.namespace.is_empty() {
        forwarded.namespace = NS_CLIENT.to_owned();
    }
    let mut wrapper = Element::new("message", NS_CLIENT)
        .with_attr("from", to.to_bare().to_string())
        .with_attr("to", to.to_string())
        .with_child(
            Element::new(direction, NS_CARBONS)
                .with_child(Element::new("forwarded", NS_FORWARD).with_child(forwarded)),
        );
    if let Some(kind) = message.attr("type") {
        wrapper.set_attr("type", kind);
    }
    wrapper
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: Option<&str>, children: &[(&str, &str)]) -> Element {
        let mut message = Element::new("message", NS_CLIENT)
            .with_attr("from", "romeo@example.com/garden")
            .with_attr("to", "juliet@example.com");
        if let Some(kind) = kind {
            message.set_attr("type", kind);
        }
        for (name, namespace) in children {
            message.push_child(Element::new(*name, *namespace));
        }
        message
    }

    #[test]
    fn eligibility_follows_the_xep() {
        assert!(eligible(&message(Some("chat"), &[])));
        assert!(eligible(&message(None, &[("body", NS_CLIENT)])));
        assert!(eligible(&message(
            Some("normal"),
            &[("received", "urn:xmpp:receipts")]
        )));
        assert!(!eligible(&message(Some("normal"), &[])));
        for kind in ["groupchat", "headline", "error"] {
            assert!(
                !eligible(&message(Some(kind), &[("body", NS_CLIENT)])),
                "{kind}"
            );
        }
        assert!(!eligible(&message(
            Some("chat"),
            &[("body", NS_CLIENT), ("private", NS_CARBONS)]
        )));
        assert!(!eligible(&message(
            Some("chat"),
            &[("body", NS_CLIENT), ("no-copy", NS_HINTS)]
        )));
        assert!(!eligible(&message(
            Some("chat"),
            &[("received", NS_CARBONS)]
        )));
        assert!(!eligible(&Element::new("presence", NS_CLIENT)));
    }

    #[test]
    fn a_copy_wraps_the_original_from_the_bare_jid() {
        let original = message(Some("chat"), &[("body", NS_CLIENT)]);
        let to: Jid = "juliet@example.com/balcony".parse().expect("jid");
        let copy = copy("received", &original, &to);
        assert_eq!(copy.attr("from"), Some("juliet@example.com"));
        assert_eq!(copy.attr("to"), Some("juliet@example.com/balcony"));
        assert_eq!(copy.attr("type"), Some("chat"));
        let received = copy.elements().next().expect("received");
        assert_eq!(
            (received.name.as_str(), received.namespace.as_str()),
            ("received", NS_CARBONS)
        );
        let forwarded = received.elements().next().expect("forwarded");
        assert_eq!(forwarded.namespace, NS_FORWARD);
        assert_eq!(forwarded.elements().next(), Some(&original));
    }
}
