//! What the storage hands out: roster items and offline messages, and their column codes.
//!
//! These are plain data. The rules that change them (RFC 6121's subscription state machine,
//! XEP-0160's delivery) live in the modules that use them; storage only keeps what it is given.

/// The subscription state of a roster item (RFC 6121 §2.1.2.5), without the pending flags,
/// which are [`RosterItem::ask`] and [`RosterItem::pending_in`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// Neither side is subscribed to the other's presence.
    #[default]
    None,
    /// The user is subscribed to the contact's presence.
    To,
    /// The contact is subscribed to the user's presence.
    From,
    /// Both.
    Both,
}

impl Subscription {
    /// The value of the `subscription` attribute in a roster item.
    pub fn name(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }

    /// The subscription for a `subscription` attribute value; `None` for anything else
    /// (including `remove`, which is a request, not a state).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Subscription::None),
            "to" => Some(Subscription::To),
            "from" => Some(Subscription::From),
            "both" => Some(Subscription::Both),
            _ => None,
        }
    }

    /// The `rosterusers.subscription` code, as MongooseIM writes it.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Subscription::None => "N",
            Subscription::To => "T",
            Subscription::From => "F",
            Subscription::Both => "B",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code.trim_end() {
            "N" => Some(Subscription::None),
            "T" => Some(Subscription::To),
            "F" => Some(Subscription::From),
            "B" => Some(Subscription::Both),
            _ => None,
        }
    }
}

/// Whether the user has asked to subscribe to the contact and not been answered yet (the
/// `ask='subscribe'` attribute of RFC 6121 §2.1.2.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ask {
    /// No outbound request pending.
    #[default]
    None,
    /// An outbound subscription request is pending.
    Subscribe,
}

/// One contact in a user's roster, as stored.
///
/// A row may exist only to keep a pending inbound request (`subscription` none, no `ask`,
/// `pending_in` set): RFC 6121 §3.1.3 has the server keep such a request without showing the
/// contact in the roster. Filtering those out of roster results is the roster module's job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterItem {
    /// The contact's bare JID, normalised.
    pub jid: String,
    /// The name the user gave the contact. Stored as `nick`, where MongooseIM keeps `''` for no
    /// name, so `Some("")` reads back as `None`.
    pub name: Option<String>,
    /// The subscription state.
    pub subscription: Subscription,
    /// An outbound subscription request pending.
    pub ask: Ask,
    /// An inbound subscription request from the contact, kept until answered and delivered at
    /// the user's next login, with its status text (`Some("")` when it had none).
    pub pending_in: Option<String>,
    /// The groups the contact is in: sorted, without duplicates, when read back.
    pub groups: Vec<String>,
}

impl RosterItem {
    /// An item for `jid` with no name, no subscription, nothing pending, no groups.
    pub fn new(jid: impl Into<String>) -> Self {
        RosterItem {
            jid: jid.into(),
            ..RosterItem::default()
        }
    }

    /// The `rosterusers.ask` code: MongooseIM's `N` (none), `O` (out), `I` (in), `B` (both).
    pub(crate) fn ask_code(&self) -> &'static str {
        match (self.ask, self.pending_in.is_some()) {
            (Ask::None, false) => "N",
            (Ask::Subscribe, false) => "O",
            (Ask::None, true) => "I",
            (Ask::Subscribe, true) => "B",
        }
    }

    /// `(ask, inbound pending)` for a `rosterusers.ask` code. MongooseIM also writes `S`
    /// (subscribe, an outbound request) and `U` (unsubscribe, which Bream does not keep).
    pub(crate) fn from_ask_code(code: &str) -> Option<(Ask, bool)> {
        match code.trim_end() {
            "N" | "U" => Some((Ask::None, false)),
            "O" | "S" => Some((Ask::Subscribe, false)),
            "I" => Some((Ask::None, true)),
            "B" => Some((Ask::Subscribe, true)),
            _ => None,
        }
    }
}

/// One stored offline message (XEP-0160).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineMessage {
    /// The sender's JID, as the stanza's `from`.
    pub from: String,
    /// The whole `<message/>` stanza, serialised.
    pub packet_xml: String,
    /// When it was stored: Unix time in **microseconds** (the unit of MongooseIM's
    /// `offline_message.timestamp`), for the XEP-0203 delay stamp.
    pub stored_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for subscription in [
            Subscription::None,
            Subscription::To,
            Subscription::From,
            Subscription::Both,
        ] {
            assert_eq!(
                Subscription::from_code(subscription.code()),
                Some(subscription)
            );
            assert_eq!(
                Subscription::from_name(subscription.name()),
                Some(subscription)
            );
        }
        for (ask, pending_in) in [
            (Ask::None, None),
            (Ask::Subscribe, None),
            (Ask::None, Some(String::new())),
            (Ask::Subscribe, Some("hi".to_string())),
        ] {
            let item = RosterItem {
                ask,
                pending_in: pending_in.clone(),
                ..RosterItem::new("a@b")
            };
            assert_eq!(
                RosterItem::from_ask_code(item.ask_code()),
                Some((ask, pending_in.is_some()))
            );
        }
        assert_eq!(Subscription::from_code("X"), None);
        assert_eq!(RosterItem::from_ask_code(""), None);
    }
}
