//! Unique and stable stanza ids (XEP-0359, `urn:xmpp:sid:0`): every message the router hands
//! to a local user (delivered or stored offline) carries `<stanza-id id=… by='user@domain'/>`,
//! the id by which the user's archive will know it, so a client can tell a message it got live
//! from the same one in the archive.
//!
//! A `<stanza-id/>` that claims to be by this server (its `by` is one of the served domains
//! or an account on one) and was not put there by the router is a forgery, and is removed
//! before the router's own is added (§5: only the entity named in `by` may add it). Any other
//! `<stanza-id/>` (another server's), and the sender's `<origin-id/>`, are left alone.
//!
//! Not stamped (but stripped of forgeries): `error` messages and `groupchat` ones (a room
//! stamps its own, by the room).
//!
//! The id is time-ordered (microseconds since 1970, bumped to stay increasing in this
//! process) with 12 random low bits, so two nodes stamping in the same microsecond still differ
//! (a 1 in 4096 chance each time, for one user's two messages arriving on two nodes in the
//! same microsecond), written in decimal.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::jid::{BareJid, Jid};
use crate::xml::{Element, Node};

/// The namespace of `<stanza-id/>` and `<origin-id/>`, also the disco feature.
pub const NS_SID: &str = "urn:xmpp:sid:0";

/// Random low bits of an id.
const RANDOM_BITS: u32 = 12;

/// Stamps `message` for `user`: removes the `<stanza-id/>`s by a served domain (`is_local`
/// decides), from every message, and adds a fresh one by `user` to those that are stamped.
pub(crate) fn stamp(message: &mut Element, user: &BareJid, is_local: impl Fn(&str) -> bool) {
    message.children.retain(|child| match child {
        Node::Element(element) => !(is_stanza_id(element) && claims(element, &is_local)),
        Node::Text(_) => true,
    });
    if matches!(message.attr("type"), Some("error" | "groupchat")) {
        return;
    }
    message.children.push(Node::Element(
        Element::new("stanza-id", NS_SID)
            .with_attr("id", next_id().to_string())
            .with_attr("by", user.to_string()),
    ));
}

fn is_stanza_id(element: &Element) -> bool {
    element.name == "stanza-id" && element.namespace == NS_SID
}

/// Whether `stanza_id`'s `by` names this server or one of its accounts.
fn claims(stanza_id: &Element, is_local: &impl Fn(&str) -> bool) -> bool {
    match stanza_id.attr("by").map(str::parse::<Jid>) {
        Some(Ok(by)) => is_local(by.domain()),
        // An unparsable `by` names nobody; one without `by` is invalid and claims nothing.
        _ => false,
    }
}

/// A new id, increasing in this process.
pub(crate) fn next_id() -> u64 {
    static LAST_MICROS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX >> RANDOM_BITS))
        .unwrap_or(0);
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    let micros = loop {
        let next = now.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(actual) => last = actual,
        }
    };
    let random = rand::random::<u64>() & ((1 << RANDOM_BITS) - 1);
    (micros << RANDOM_BITS) | random
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NS_CLIENT;

    fn local(domain: &str) -> bool {
        domain == "example.com"
    }

    fn stanza_ids(message: &Element) -> Vec<(String, String)> {
        message
            .elements()
            .filter(|child| is_stanza_id(child))
            .map(|child| {
                (
                    child.attr("by").unwrap_or_default().to_owned(),
                    child.attr("id").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_forged_id_by_this_server_is_replaced_and_others_are_kept() {
        let user: BareJid = "juliet@example.com".parse().expect("jid");
        let mut message = Element::new("message", NS_CLIENT)
            .with_attr("type", "chat")
            .with_child(
                Element::new("stanza-id", NS_SID)
                    .with_attr("id", "forged")
                    .with_attr("by", "juliet@example.com"),
            )
            .with_child(
                Element::new("stanza-id", NS_SID)
                    .with_attr("id", "forged-too")
                    .with_attr("by", "example.com"),
            )
            .with_child(
                Element::new("stanza-id", NS_SID)
                    .with_attr("id", "theirs")
                    .with_attr("by", "other.example"),
            )
            .with_child(Element::new("origin-id", NS_SID).with_attr("id", "client-made"));
        stamp(&mut message, &user, local);
        let ids = stanza_ids(&message);
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[0], ("other.example".into(), "theirs".into()));
        assert_eq!(ids[1].0, "juliet@example.com");
        assert!(ids[1].1.parse::<u64>().is_ok(), "{ids:?}");
        assert!(message.child("origin-id", NS_SID).is_some());
    }

    #[test]
    fn errors_and_groupchat_are_not_stamped() {
        let user: BareJid = "juliet@example.com".parse().expect("jid");
        for kind in ["error", "groupchat"] {
            let mut message = Element::new("message", NS_CLIENT).with_attr("type", kind);
            stamp(&mut message, &user, local);
            assert!(stanza_ids(&message).is_empty(), "{kind}");
        }
    }

    #[test]
    fn ids_increase() {
        let first = next_id();
        let second = next_id();
        assert!(second > first);
    }
}
