//! The delivery rules for a stanza to a local user (RFC 6121 §8.5), as a pure function: given
//! the stanza's kind, its `to` and the user's sessions found in the table, [`plan`] says what
//! to do, and [`Router`](super::Router) carries it out. No I/O here: the session table, the
//! account store, the offline sink and the deliveries are the router's.
//!
//! A delivery can fail (the session ended between the lookup and the delivery), so
//! [`Plan::Deliver`] carries what to do when no session took the stanza. That fallback is
//! planned from the same sessions: a gone session is tried again by the fallback if the rules
//! pick it again (and fails again).

use crate::jid::Jid;
use crate::stanza::error::StanzaErrorCondition;
use crate::xml::Element;

use super::session::SessionEntry;

/// What the delivery rules look at in a stanza.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StanzaKind<'s> {
    /// A message, by its `type`.
    Message(MessageType),
    /// A presence, by its `type` (none: available).
    Presence(Option<&'s str>),
    /// An iq; `request`: of type get or set.
    Iq {
        /// Get or set (else a result, an error, or no type).
        request: bool,
    },
}

/// A message's `type` (RFC 6121 §5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MessageType {
    /// `normal`, no type, or a type RFC 6121 does not define (read as normal).
    Normal,
    /// `chat`.
    Chat,
    /// `groupchat`.
    Groupchat,
    /// `headline`.
    Headline,
    /// `error`.
    Error,
}

impl StanzaKind<'_> {
    /// The kind of `stanza`; none for an element that is not a message, presence or iq.
    pub(crate) fn of(stanza: &Element) -> Option<StanzaKind<'_>> {
        let stanza_type = stanza.attr("type");
        match stanza.name.as_str() {
            "message" => Some(StanzaKind::Message(match stanza_type {
                Some("chat") => MessageType::Chat,
                Some("groupchat") => MessageType::Groupchat,
                Some("headline") => MessageType::Headline,
                Some("error") => MessageType::Error,
                _ => MessageType::Normal,
            })),
            "presence" => Some(StanzaKind::Presence(stanza_type)),
            "iq" => Some(StanzaKind::Iq {
                request: super::is_request(stanza),
            }),
            _ => None,
        }
    }
}

/// What to do with a stanza for a local user.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Plan<'a> {
    /// Hand the stanza to each of these sessions (never empty); if none takes it (all gone),
    /// do `otherwise`.
    Deliver {
        /// The sessions, in the table's order.
        sessions: Vec<&'a SessionEntry>,
        /// What to do when no session took it.
        otherwise: Box<Plan<'a>>,
    },
    /// Store it in the offline sink; `check_account`: first check that the account exists
    /// (it has no session), and answer `service-unavailable` if not.
    StoreOffline {
        /// The user has no session, so the account may not exist.
        check_account: bool,
    },
    /// Pass the iq to the [`IqScope::User`](super::IqScope::User) handler of its payload
    /// namespace, answering on the user's behalf; `check_account` as for
    /// [`Plan::StoreOffline`].
    HandleIq {
        /// The user has no session, so the account may not exist.
        check_account: bool,
    },
    /// Answer with this error (unless the stanza is an error itself).
    Bounce(StanzaErrorCondition),
    /// Nothing: drop it.
    Drop,
}

/// The plan for a stanza of `kind` addressed `to` (a local user, bare or full JID) whose
/// user has `sessions` (every session of the bare JID, from the table). See the router's
/// module documentation for the rules in prose.
pub(crate) fn plan<'a>(kind: StanzaKind<'_>, to: &Jid, sessions: &'a [SessionEntry]) -> Plan<'a> {
    match kind {
        StanzaKind::Message(message_type) => message(message_type, to, sessions),
        StanzaKind::Presence(presence_type) => presence(presence_type, to, sessions),
        StanzaKind::Iq { request } => iq(request, to, sessions),
    }
}

fn message<'a>(message_type: MessageType, to: &Jid, sessions: &'a [SessionEntry]) -> Plan<'a> {
    if to.resource().is_some() {
        let otherwise = match message_type {
            MessageType::Groupchat => Plan::Bounce(StanzaErrorCondition::ServiceUnavailable),
            MessageType::Headline | MessageType::Error => Plan::Drop,
            // chat, normal, and unknown types (read as normal): the bare JID's rules.
            MessageType::Normal | MessageType::Chat => message_to_bare(message_type, sessions),
        };
        return deliver_or(newest(sessions, to).into_iter().collect(), otherwise);
    }
    message_to_bare(message_type, sessions)
}

fn message_to_bare(message_type: MessageType, sessions: &[SessionEntry]) -> Plan<'_> {
    let eligible = || {
        sessions
            .iter()
            .filter(|entry| entry.available && entry.priority >= 0)
    };
    match message_type {
        MessageType::Error => Plan::Drop,
        MessageType::Groupchat => Plan::Bounce(StanzaErrorCondition::ServiceUnavailable),
        MessageType::Headline => deliver_or(eligible().collect(), Plan::Drop),
        MessageType::Normal | MessageType::Chat => {
            let best = eligible().map(|entry| entry.priority).max();
            let targets = match best {
                Some(best) => sessions
                    .iter()
                    .filter(|entry| entry.available && entry.priority == best)
                    .collect(),
                None => Vec::new(),
            };
            deliver_or(
                targets,
                Plan::StoreOffline {
                    check_account: sessions.is_empty(),
                },
            )
        }
    }
}

fn presence<'a>(presence_type: Option<&str>, to: &Jid, sessions: &'a [SessionEntry]) -> Plan<'a> {
    let subscription = matches!(
        presence_type,
        Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")
    );
    if to.resource().is_some() && !subscription {
        return if matches!(presence_type, None | Some("unavailable" | "error")) {
            deliver_or(newest(sessions, to).into_iter().collect(), Plan::Drop)
        } else {
            Plan::Drop
        };
    }
    if matches!(presence_type, None | Some("unavailable")) || subscription {
        let available = sessions.iter().filter(|entry| entry.available).collect();
        return deliver_or(available, Plan::Drop);
    }
    // Probes are answered by the presence module's inbound hook; errors for a bare JID and
    // unknown types are dropped.
    Plan::Drop
}

fn iq<'a>(request: bool, to: &Jid, sessions: &'a [SessionEntry]) -> Plan<'a> {
    let full = to.resource().is_some();
    match (request, full) {
        // A result or error for a full JID goes to that client; for a bare JID it answers
        // nothing of ours.
        (false, true) => deliver_or(newest(sessions, to).into_iter().collect(), Plan::Drop),
        (false, false) => Plan::Drop,
        (true, true) => deliver_or(
            newest(sessions, to).into_iter().collect(),
            Plan::Bounce(StanzaErrorCondition::ServiceUnavailable),
        ),
        (true, false) => Plan::HandleIq {
            check_account: sessions.is_empty(),
        },
    }
}

/// Deliver to `sessions`, else `otherwise`; `otherwise` at once when there is no session.
fn deliver_or<'a>(sessions: Vec<&'a SessionEntry>, otherwise: Plan<'a>) -> Plan<'a> {
    if sessions.is_empty() {
        otherwise
    } else {
        Plan::Deliver {
            sessions,
            otherwise: Box::new(otherwise),
        }
    }
}

/// The newest session bound to the full JID `to`.
fn newest<'a>(sessions: &'a [SessionEntry], to: &Jid) -> Option<&'a SessionEntry> {
    sessions
        .iter()
        .filter(|entry| entry.jid == *to)
        .max_by_key(|entry| entry.sid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::session::{DeliverError, SessionControl, SessionHandle, SessionId};
    use crate::stanza::error::StreamError;

    struct Nobody;

    impl SessionControl for Nobody {
        fn deliver(&self, _: Element) -> Result<(), DeliverError> {
            Ok(())
        }

        fn close(&self, _: StreamError) {}
    }

    /// A session of `jid` with id `sid`; `presence`: available with that priority.
    fn session(jid: &str, sid: u64, presence: Option<i8>) -> SessionEntry {
        let mut entry = SessionEntry::new(
            jid.parse().expect("jid"),
            SessionId::from_raw(sid),
            SessionHandle::new(Nobody),
        );
        if let Some(priority) = presence {
            entry.available = true;
            entry.priority = priority;
        }
        entry
    }

    fn jid(jid: &str) -> Jid {
        jid.parse().expect("jid")
    }

    /// The plan with sessions named by id: `Deliver([ids], otherwise)`.
    #[derive(Debug, PartialEq)]
    enum Ids {
        Deliver(Vec<u64>, Box<Ids>),
        StoreOffline { check_account: bool },
        HandleIq { check_account: bool },
        Bounce(StanzaErrorCondition),
        Drop,
    }

    fn ids(plan: Plan<'_>) -> Ids {
        match plan {
            Plan::Deliver {
                sessions,
                otherwise,
            } => {
                assert!(!sessions.is_empty(), "a delivery to nobody is planned");
                Ids::Deliver(
                    sessions.iter().map(|entry| entry.sid.get()).collect(),
                    Box::new(ids(*otherwise)),
                )
            }
            Plan::StoreOffline { check_account } => Ids::StoreOffline { check_account },
            Plan::HandleIq { check_account } => Ids::HandleIq { check_account },
            Plan::Bounce(condition) => Ids::Bounce(condition),
            Plan::Drop => Ids::Drop,
        }
    }

    fn deliver(sids: &[u64], otherwise: Ids) -> Ids {
        Ids::Deliver(sids.to_vec(), Box::new(otherwise))
    }

    const UNAVAILABLE: StanzaErrorCondition = StanzaErrorCondition::ServiceUnavailable;
    const OFFLINE: Ids = Ids::StoreOffline {
        check_account: false,
    };

    fn message(message_type: MessageType, to: &str, sessions: &[SessionEntry]) -> Ids {
        ids(plan(StanzaKind::Message(message_type), &jid(to), sessions))
    }

    fn presence(presence_type: Option<&str>, to: &str, sessions: &[SessionEntry]) -> Ids {
        ids(plan(
            StanzaKind::Presence(presence_type),
            &jid(to),
            sessions,
        ))
    }

    fn iq(request: bool, to: &str, sessions: &[SessionEntry]) -> Ids {
        ids(plan(StanzaKind::Iq { request }, &jid(to), sessions))
    }

    /// Alice's sessions: `a` (1, priority 5), `b` (2, priority 5), `c` (3, priority 1),
    /// `n` (4, priority -1), `u` (5, not available), and a second `a` (6, priority 0, newer).
    fn alice() -> Vec<SessionEntry> {
        vec![
            session("alice@localhost/a", 1, Some(5)),
            session("alice@localhost/b", 2, Some(5)),
            session("alice@localhost/c", 3, Some(1)),
            session("alice@localhost/n", 4, Some(-1)),
            session("alice@localhost/u", 5, None),
            session("alice@localhost/a", 6, Some(0)),
        ]
    }

    #[test]
    fn kinds_are_read_from_the_element() {
        let element = |name: &str, stanza_type: Option<&str>| {
            let element = Element::new(name, crate::xml::NS_CLIENT);
            match stanza_type {
                Some(stanza_type) => element.with_attr("type", stanza_type),
                None => element,
            }
        };
        let kind = |name: &str, stanza_type: Option<&str>, expected: Option<StanzaKind<'_>>| {
            assert_eq!(
                StanzaKind::of(&element(name, stanza_type)),
                expected,
                "{name} {stanza_type:?}"
            );
        };
        use MessageType::*;
        kind("message", None, Some(StanzaKind::Message(Normal)));
        kind("message", Some("normal"), Some(StanzaKind::Message(Normal)));
        kind("message", Some("bogus"), Some(StanzaKind::Message(Normal)));
        kind("message", Some("chat"), Some(StanzaKind::Message(Chat)));
        kind(
            "message",
            Some("groupchat"),
            Some(StanzaKind::Message(Groupchat)),
        );
        kind(
            "message",
            Some("headline"),
            Some(StanzaKind::Message(Headline)),
        );
        kind("message", Some("error"), Some(StanzaKind::Message(Error)));
        kind("presence", None, Some(StanzaKind::Presence(None)));
        kind(
            "presence",
            Some("probe"),
            Some(StanzaKind::Presence(Some("probe"))),
        );
        kind("iq", Some("get"), Some(StanzaKind::Iq { request: true }));
        kind("iq", Some("set"), Some(StanzaKind::Iq { request: true }));
        kind(
            "iq",
            Some("result"),
            Some(StanzaKind::Iq { request: false }),
        );
        kind("iq", None, Some(StanzaKind::Iq { request: false }));
        kind("query", None, None);
    }

    #[test]
    fn bare_jid_chat_and_normal_go_to_the_highest_non_negative_priority() {
        let sessions = alice();
        for message_type in [MessageType::Chat, MessageType::Normal] {
            assert_eq!(
                message(message_type, "alice@localhost", &sessions),
                deliver(&[1, 2], OFFLINE)
            );
        }
        // Only negative priorities or unavailable: offline, the account is known to exist.
        let sessions = [
            session("alice@localhost/n", 4, Some(-1)),
            session("alice@localhost/u", 5, None),
        ];
        assert_eq!(
            message(MessageType::Chat, "alice@localhost", &sessions),
            OFFLINE
        );
        // No session: offline, after checking that the account exists.
        assert_eq!(
            message(MessageType::Chat, "alice@localhost", &[]),
            Ids::StoreOffline {
                check_account: true
            }
        );
        // Priority 0 counts as non-negative.
        let sessions = [session("alice@localhost/z", 7, Some(0))];
        assert_eq!(
            message(MessageType::Normal, "alice@localhost", &sessions),
            deliver(&[7], OFFLINE)
        );
    }

    #[test]
    fn bare_jid_headline_groupchat_and_error() {
        let sessions = alice();
        assert_eq!(
            message(MessageType::Headline, "alice@localhost", &sessions),
            deliver(&[1, 2, 3, 6], Ids::Drop)
        );
        assert_eq!(
            message(MessageType::Headline, "alice@localhost", &[]),
            Ids::Drop
        );
        assert_eq!(
            message(MessageType::Groupchat, "alice@localhost", &sessions),
            Ids::Bounce(UNAVAILABLE)
        );
        assert_eq!(
            message(MessageType::Error, "alice@localhost", &sessions),
            Ids::Drop
        );
        assert_eq!(
            message(MessageType::Error, "alice@localhost", &[]),
            Ids::Drop
        );
    }

    #[test]
    fn full_jid_messages_go_to_the_newest_session_of_that_resource() {
        let sessions = alice();
        // Any type: the newest of the two `a` sessions, whatever its priority.
        assert_eq!(
            message(MessageType::Chat, "alice@localhost/a", &sessions),
            deliver(&[6], deliver(&[1, 2], OFFLINE))
        );
        assert_eq!(
            message(MessageType::Groupchat, "alice@localhost/a", &sessions),
            deliver(&[6], Ids::Bounce(UNAVAILABLE))
        );
        assert_eq!(
            message(MessageType::Headline, "alice@localhost/a", &sessions),
            deliver(&[6], Ids::Drop)
        );
        assert_eq!(
            message(MessageType::Error, "alice@localhost/a", &sessions),
            deliver(&[6], Ids::Drop)
        );
        // Unavailable or negative priority: still delivered to the full JID.
        assert_eq!(
            message(MessageType::Normal, "alice@localhost/u", &sessions),
            deliver(&[5], deliver(&[1, 2], OFFLINE))
        );
        assert_eq!(
            message(MessageType::Chat, "alice@localhost/n", &sessions),
            deliver(&[4], deliver(&[1, 2], OFFLINE))
        );
    }

    #[test]
    fn full_jid_messages_without_that_resource() {
        let sessions = alice();
        let to = "alice@localhost/gone";
        // chat and normal: the bare JID's rules.
        assert_eq!(
            message(MessageType::Chat, to, &sessions),
            deliver(&[1, 2], OFFLINE)
        );
        assert_eq!(
            message(MessageType::Normal, to, &[]),
            Ids::StoreOffline {
                check_account: true
            }
        );
        // groupchat: service-unavailable; headline and error: dropped.
        assert_eq!(
            message(MessageType::Groupchat, to, &sessions),
            Ids::Bounce(UNAVAILABLE)
        );
        assert_eq!(message(MessageType::Headline, to, &sessions), Ids::Drop);
        assert_eq!(message(MessageType::Error, to, &sessions), Ids::Drop);
    }

    #[test]
    fn presence_to_a_bare_jid_goes_to_every_available_resource() {
        let sessions = alice();
        let everyone = [1, 2, 3, 4, 6];
        for presence_type in [
            None,
            Some("unavailable"),
            Some("subscribe"),
            Some("subscribed"),
            Some("unsubscribe"),
            Some("unsubscribed"),
        ] {
            assert_eq!(
                presence(presence_type, "alice@localhost", &sessions),
                deliver(&everyone, Ids::Drop),
                "{presence_type:?}"
            );
            assert_eq!(presence(presence_type, "alice@localhost", &[]), Ids::Drop);
        }
        // Probes are the presence module's; errors and unknown types are dropped.
        for presence_type in [Some("probe"), Some("error"), Some("bogus")] {
            assert_eq!(
                presence(presence_type, "alice@localhost", &sessions),
                Ids::Drop,
                "{presence_type:?}"
            );
        }
    }

    #[test]
    fn presence_to_a_full_jid() {
        let sessions = alice();
        // Available, unavailable and error: to the newest session of the resource, if any.
        for presence_type in [None, Some("unavailable"), Some("error")] {
            assert_eq!(
                presence(presence_type, "alice@localhost/a", &sessions),
                deliver(&[6], Ids::Drop)
            );
            assert_eq!(
                presence(presence_type, "alice@localhost/u", &sessions),
                deliver(&[5], Ids::Drop)
            );
            assert_eq!(
                presence(presence_type, "alice@localhost/gone", &sessions),
                Ids::Drop
            );
        }
        // Subscription states follow the bare JID's rules.
        assert_eq!(
            presence(Some("subscribe"), "alice@localhost/a", &sessions),
            deliver(&[1, 2, 3, 4, 6], Ids::Drop)
        );
        // Probes and unknown types: dropped.
        assert_eq!(
            presence(Some("probe"), "alice@localhost/a", &sessions),
            Ids::Drop
        );
        assert_eq!(
            presence(Some("bogus"), "alice@localhost/a", &sessions),
            Ids::Drop
        );
    }

    #[test]
    fn iqs() {
        let sessions = alice();
        // Requests to a full JID: to that session, else service-unavailable.
        assert_eq!(
            iq(true, "alice@localhost/a", &sessions),
            deliver(&[6], Ids::Bounce(UNAVAILABLE))
        );
        assert_eq!(
            iq(true, "alice@localhost/gone", &sessions),
            Ids::Bounce(UNAVAILABLE)
        );
        // Requests to a bare JID: answered on the user's behalf; with no session the
        // account is checked first.
        assert_eq!(
            iq(true, "alice@localhost", &sessions),
            Ids::HandleIq {
                check_account: false
            }
        );
        assert_eq!(
            iq(true, "alice@localhost", &[]),
            Ids::HandleIq {
                check_account: true
            }
        );
        // Results and errors: to a full JID's session, else dropped; to a bare JID, dropped.
        assert_eq!(
            iq(false, "alice@localhost/b", &sessions),
            deliver(&[2], Ids::Drop)
        );
        assert_eq!(iq(false, "alice@localhost/gone", &sessions), Ids::Drop);
        assert_eq!(iq(false, "alice@localhost", &sessions), Ids::Drop);
    }
}
