//! The presence subscription state machine of RFC 6121 §3 and Appendix A, as two pure
//! functions over a [`RosterItem`]: [`outbound`] for a subscription stanza the user sends,
//! [`inbound`] for one a contact sends the user. Each updates the item in place and says what
//! the server does with the stanza; the roster module ([`super`]) loads and stores the item and
//! routes. No I/O, no storage, no router: tested here without a server.

use crate::storage::{Ask, RosterItem, Subscription};

/// A subscription-related presence type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// `subscribe`.
    Subscribe,
    /// `subscribed`.
    Subscribed,
    /// `unsubscribe`.
    Unsubscribe,
    /// `unsubscribed`.
    Unsubscribed,
}

impl SubscriptionKind {
    /// The kind of a presence `type` attribute, if it is one.
    pub fn from_type(presence_type: Option<&str>) -> Option<SubscriptionKind> {
        match presence_type? {
            "subscribe" => Some(SubscriptionKind::Subscribe),
            "subscribed" => Some(SubscriptionKind::Subscribed),
            "unsubscribe" => Some(SubscriptionKind::Unsubscribe),
            "unsubscribed" => Some(SubscriptionKind::Unsubscribed),
            _ => None,
        }
    }

    /// The presence `type` attribute of this kind.
    pub(super) fn name(self) -> &'static str {
        match self {
            SubscriptionKind::Subscribe => "subscribe",
            SubscriptionKind::Subscribed => "subscribed",
            SubscriptionKind::Unsubscribe => "unsubscribe",
            SubscriptionKind::Unsubscribed => "unsubscribed",
        }
    }
}

/// What the user's server does with a subscription stanza the user sends
/// (RFC 6121 Appendix A.2, A.3): `item` is updated in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundEffect {
    /// The item changed: store it and push it.
    pub changed: bool,
    /// Route the stanza to the contact.
    pub route: bool,
}

/// The outbound half of the state machine. `subscribed` without a pending
/// request is not routed (no pre-approval, which is optional in RFC 6121).
pub fn outbound(kind: SubscriptionKind, item: &mut RosterItem) -> OutboundEffect {
    let before = item.clone();
    let route = match kind {
        SubscriptionKind::Subscribe => {
            if matches!(item.subscription, Subscription::None | Subscription::From) {
                item.ask = Ask::Subscribe;
            }
            true
        }
        SubscriptionKind::Subscribed => {
            if item.pending_in.take().is_some() {
                item.subscription = match item.subscription {
                    Subscription::None => Subscription::From,
                    Subscription::To => Subscription::Both,
                    other => other,
                };
                true
            } else {
                false
            }
        }
        SubscriptionKind::Unsubscribe => {
            item.ask = Ask::None;
            item.subscription = match item.subscription {
                Subscription::To => Subscription::None,
                Subscription::Both => Subscription::From,
                other => other,
            };
            true
        }
        SubscriptionKind::Unsubscribed => {
            item.pending_in = None;
            item.subscription = match item.subscription {
                Subscription::From => Subscription::None,
                Subscription::Both => Subscription::To,
                other => other,
            };
            true
        }
    };
    OutboundEffect {
        changed: *item != before,
        route,
    }
}

/// What the user's server does with a subscription stanza from a contact
/// (RFC 6121 Appendix A.2, A.3, the contact's side): `item` (the user's item
/// for the contact) is updated in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundEffect {
    /// Deliver it to the user's available resources; `changed`: store the
    /// item (and push it if it is visible).
    Deliver {
        /// The item changed.
        changed: bool,
    },
    /// The contact is already subscribed: answer `subscribed` on the user's
    /// behalf, deliver nothing.
    AutoReply,
    /// Nothing to do: drop it.
    Drop,
}

/// The inbound half of the state machine.
pub fn inbound(kind: SubscriptionKind, status: &str, item: &mut RosterItem) -> InboundEffect {
    let before = item.clone();
    match kind {
        SubscriptionKind::Subscribe => {
            if matches!(item.subscription, Subscription::From | Subscription::Both) {
                return InboundEffect::AutoReply;
            }
            item.pending_in = Some(status.to_owned());
        }
        SubscriptionKind::Subscribed => {
            if item.ask != Ask::Subscribe {
                return InboundEffect::Drop;
            }
            item.ask = Ask::None;
            item.subscription = match item.subscription {
                Subscription::None => Subscription::To,
                Subscription::From => Subscription::Both,
                other => other,
            };
        }
        SubscriptionKind::Unsubscribe => {
            let subscribed = matches!(item.subscription, Subscription::From | Subscription::Both);
            if !subscribed && item.pending_in.is_none() {
                return InboundEffect::Drop;
            }
            item.pending_in = None;
            item.subscription = match item.subscription {
                Subscription::From => Subscription::None,
                Subscription::Both => Subscription::To,
                other => other,
            };
        }
        SubscriptionKind::Unsubscribed => {
            let subscribed = matches!(item.subscription, Subscription::To | Subscription::Both);
            if !subscribed && item.ask == Ask::None {
                return InboundEffect::Drop;
            }
            item.ask = Ask::None;
            item.subscription = match item.subscription {
                Subscription::To => Subscription::None,
                Subscription::Both => Subscription::From,
                other => other,
            };
        }
    }
    InboundEffect::Deliver {
        changed: *item != before,
    }
}

/// Whether a row exists only to keep a pending inbound request, and so is
/// not part of the roster the user sees.
pub fn is_hidden(item: &RosterItem) -> bool {
    item.subscription == Subscription::None
        && item.ask == Ask::None
        && item.pending_in.is_some()
        && item.name.is_none()
        && item.groups.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(subscription: Subscription, ask: Ask, pending_in: bool) -> RosterItem {
        RosterItem {
            subscription,
            ask,
            pending_in: pending_in.then(String::new),
            ..RosterItem::new("contact@localhost")
        }
    }

    #[test]
    fn the_handshake_walks_both_rosters_to_both() {
        use SubscriptionKind::*;
        let mut user = RosterItem::new("contact@localhost");
        let mut contact = RosterItem::new("user@localhost");
        assert!(outbound(Subscribe, &mut user).route);
        assert_eq!(user, item(Subscription::None, Ask::Subscribe, false));
        assert_eq!(
            inbound(Subscribe, "", &mut contact),
            InboundEffect::Deliver { changed: true }
        );
        assert!(is_hidden(&contact));
        assert!(outbound(Subscribed, &mut contact).route);
        assert_eq!(contact.subscription, Subscription::From);
        assert_eq!(
            inbound(Subscribed, "", &mut user),
            InboundEffect::Deliver { changed: true }
        );
        assert_eq!(user, item(Subscription::To, Ask::None, false));
        // A second subscribe from a subscribed contact is answered by the server.
        assert_eq!(
            inbound(Subscribe, "", &mut contact),
            InboundEffect::AutoReply
        );
        // Unsubscribed without a subscription or request is dropped.
        let mut stranger = RosterItem::new("x@localhost");
        assert_eq!(
            inbound(Unsubscribed, "", &mut stranger),
            InboundEffect::Drop
        );
        assert_eq!(inbound(Subscribed, "", &mut stranger), InboundEffect::Drop);
        // Approving nothing is not routed.
        assert!(!outbound(Subscribed, &mut stranger).route);
    }

    #[test]
    fn cancelling_moves_both_to_one_side() {
        use SubscriptionKind::*;
        let mut both = item(Subscription::Both, Ask::None, false);
        outbound(Unsubscribe, &mut both);
        assert_eq!(both.subscription, Subscription::From);
        outbound(Unsubscribed, &mut both);
        assert_eq!(both.subscription, Subscription::None);
        let mut both = item(Subscription::Both, Ask::None, false);
        assert_eq!(
            inbound(Unsubscribe, "", &mut both),
            InboundEffect::Deliver { changed: true }
        );
        assert_eq!(both.subscription, Subscription::To);
        assert_eq!(
            inbound(Unsubscribed, "", &mut both),
            InboundEffect::Deliver { changed: true }
        );
        assert_eq!(both.subscription, Subscription::None);
    }
}
