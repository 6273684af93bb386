//! XEP-0352 client state indication (`urn:xmpp:csi:0`) for one stream, as plain data: while
//! the client says it is `<inactive/>` (a phone in a pocket), what it does not need at once
//! is held back here, so the radio is woken less often. No I/O, no clock:
//! [`super::stream::Stream`] asks [`CsiState::offer`] about every stanza for the client.
//!
//! Which stanzas wait, and which wake the client ([`urgency`]), following the XEP's §5
//! guidance and what Prosody's `mod_csi_simple` and Conversations expect:
//! - **urgent**, sent at once and flushing everything held before them, in order: every iq
//!   (a reply someone waits for), a message with a `<body>`, a `<subject>` or an encrypted
//!   payload (OMEMO, OpenPGP, XEP-0380), a message error, and presence other than plain
//!   availability (subscription requests and their answers, errors). A carbon copy or other
//!   forwarded message is judged by the message it wraps;
//! - **dropped**: a message carrying only a chat state notification (XEP-0085; besides ids,
//!   a thread, a delay stamp or hints): stale by the time the client looks;
//! - **held**: availability presence (no `type`, or `unavailable`), coalesced to the latest
//!   per sender, since only the contact's current state matters; and everything else
//!   (receipts, markers, headlines, PubSub events), in arrival order.
//!
//! The queue is bounded by [`CsiConfig::buffer_max`]: the one stanza that would overflow it
//! flushes the lot (as MongooseIM's `mod_csi` does), so an inactive client still gets
//! everything, late but in order. `<active/>` flushes too. Nothing held is lost when the
//! stream ends: the stream hands held stanzas to stream management's buffer or to the
//! re-routing of an ended session ([`super::stream::Stream::take_unacked`]).
//!
//! Deviation: the XEP defines no disco#info feature; CSI is advertised only as the stream
//! feature `<csi xmlns='urn:xmpp:csi:0'/>`, as every server does.

use std::collections::VecDeque;

use crate::xml::Element;

/// The client state indication namespace.
pub const NS_CSI: &str = "urn:xmpp:csi:0";

/// Default [`CsiConfig::buffer_max`] (MongooseIM's `mod_csi` `buffer_max`, 20).
pub const BUFFER_MAX_DEFAULT: usize = 20;

const NS_CHAT_STATES: &str = "http://jabber.org/protocol/chatstates";
const NS_FORWARD: &str = "urn:xmpp:forward:0";
/// What says nothing by itself: a message with only these besides a chat state is a chat
/// state (the server's `<stanza-id/>`, the client's `<origin-id/>`, a delay stamp, hints).
const INCIDENTAL: [&str; 3] = ["urn:xmpp:sid:0", "urn:xmpp:delay", "urn:xmpp:hints"];
/// Encrypted payloads: a message carrying one is urgent even without a `<body>`.
const ENCRYPTED_PAYLOADS: [&str; 5] = [
    "eu.siacs.conversations.axolotl",
    "urn:xmpp:omemo:2",
    "jabber:x:encrypted",
    "urn:xmpp:openpgp:0",
    "urn:xmpp:eme:0",
];

/// How client state indication behaves on every stream (`[modules.mod_csi]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsiConfig {
    /// Stanzas held for an inactive client at most; one more flushes them all.
    /// Default [`BUFFER_MAX_DEFAULT`] (20).
    pub buffer_max: usize,
}

impl Default for CsiConfig {
    fn default() -> Self {
        CsiConfig {
            buffer_max: BUFFER_MAX_DEFAULT,
        }
    }
}

/// What a stanza for an inactive client is. See the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// Send now, after what is held.
    Urgent,
    /// Hold until the next flush.
    Held,
    /// Availability presence: held, replacing an earlier one from the same sender.
    Coalesced,
    /// Not worth sending late.
    Dropped,
}

/// Judges one stanza for an inactive client. See the [module documentation](self).
pub fn urgency(stanza: &Element) -> Urgency {
    match stanza.name.as_str() {
        "presence" => match stanza.attr("type") {
            None | Some("unavailable") => Urgency::Coalesced,
            Some(_) => Urgency::Urgent,
        },
        "message" => message_urgency(stanza),
        _ => Urgency::Urgent,
    }
}

fn message_urgency(message: &Element) -> Urgency {
    if message.attr("type") == Some("error") {
        return Urgency::Urgent;
    }
    if let Some(inner) = forwarded_message(message) {
        return match message_urgency(inner) {
            // A copy of a chat state is held, not dropped: the wrapper may carry more.
            Urgency::Dropped => Urgency::Held,
            urgency => urgency,
        };
    }
    let mut chat_state = false;
    let mut other = false;
    for child in message.elements() {
        let urgent = matches!(child.name.as_str(), "body" | "subject")
            || ENCRYPTED_PAYLOADS.contains(&child.namespace.as_str());
        if urgent {
            return Urgency::Urgent;
        }
        if child.namespace == NS_CHAT_STATES {
            chat_state = true;
        } else if child.name != "thread" && !INCIDENTAL.contains(&child.namespace.as_str()) {
            other = true;
        }
    }
    if chat_state && !other {
        Urgency::Dropped
    } else {
        Urgency::Held
    }
}

/// The message a carbon copy (`<sent/>`/`<received/>`) or a MAM result forwards, if any.
fn forwarded_message(message: &Element) -> Option<&Element> {
    message
        .elements()
        .flat_map(Element::elements)
        .find(|child| child.is("forwarded", NS_FORWARD))
        .and_then(|forwarded| forwarded.elements().find(|child| child.name == "message"))
}

/// What the stream does with one stanza offered while inactive.
#[derive(Debug, PartialEq)]
pub enum Offered {
    /// Held (or dropped): nothing to send now.
    Kept,
    /// Send these, in order (what was held, then the stanza if it is not held).
    Flush(Vec<Element>),
}

/// One stream's client state: active (nothing held) or inactive with its queue.
#[derive(Debug, Default)]
pub struct CsiState {
    inactive: bool,
    held: VecDeque<Element>,
}

impl CsiState {
    /// Whether the client said `<inactive/>` last.
    pub fn is_inactive(&self) -> bool {
        self.inactive
    }

    /// Stanzas held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// `<inactive/>`: hold from now on.
    pub fn set_inactive(&mut self) {
        self.inactive = true;
    }

    /// `<active/>`: everything held, oldest first, to send now.
    pub fn set_active(&mut self) -> Vec<Element> {
        self.inactive = false;
        self.take_held()
    }

    /// Everything held, oldest first (the stream is ending or detaching).
    pub fn take_held(&mut self) -> Vec<Element> {
        self.held.drain(..).collect()
    }

    /// A stanza for the client while the state is as it is: sent at once when active.
    pub fn offer(&mut self, stanza: Element, buffer_max: usize) -> Offered {
        if !self.inactive {
            return Offered::Flush(vec![stanza]);
        }
        match urgency(&stanza) {
            Urgency::Dropped => return Offered::Kept,
            Urgency::Urgent => {
                let mut out = self.take_held();
                out.push(stanza);
                return Offered::Flush(out);
            }
            Urgency::Coalesced => {
                let from = stanza.attr("from");
                let older = self.held.iter().position(|held| {
                    held.name == "presence"
                        && held.attr("from") == from
                        && urgency(held) == Urgency::Coalesced
                });
                if let Some(older) = older {
                    self.held.remove(older);
                }
            }
            Urgency::Held => {}
        }
        if self.held.len() >= buffer_max {
            let mut out = self.take_held();
            out.push(stanza);
            return Offered::Flush(out);
        }
        self.held.push_back(stanza);
        Offered::Kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::stanza_for_test as element;

    fn ids(stanzas: &[Element]) -> Vec<&str> {
        stanzas
            .iter()
            .map(|stanza| stanza.attr("id").unwrap_or_default())
            .collect()
    }

    #[test]
    fn judges_stanzas_as_the_xep_suggests() {
        let cases = [
            ("<iq xmlns='jabber:client' type='get' id='1'/>", Urgency::Urgent),
            ("<message xmlns='jabber:client'><body>hi</body></message>", Urgency::Urgent),
            ("<message xmlns='jabber:client' type='groupchat'><subject>s</subject></message>", Urgency::Urgent),
            ("<message xmlns='jabber:client'><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>", Urgency::Urgent),
            ("<message xmlns='jabber:client' type='error'/>", Urgency::Urgent),
            ("<presence xmlns='jabber:client' type='subscribe'/>", Urgency::Urgent),
            ("<presence xmlns='jabber:client'/>", Urgency::Coalesced),
            ("<presence xmlns='jabber:client' type='unavailable'/>", Urgency::Coalesced),
            ("<message xmlns='jabber:client'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", Urgency::Dropped),
            ("<message xmlns='jabber:client'><thread>t</thread><paused xmlns='http://jabber.org/protocol/chatstates'/><stanza-id xmlns='urn:xmpp:sid:0' id='1' by='a@x'/><no-store xmlns='urn:xmpp:hints'/></message>", Urgency::Dropped),
            ("<message xmlns='jabber:client'><received xmlns='urn:xmpp:receipts' id='x'/></message>", Urgency::Held),
            ("<message xmlns='jabber:client'><active xmlns='http://jabber.org/protocol/chatstates'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>", Urgency::Held),
            (
                "<message xmlns='jabber:client'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>b</body></message></forwarded></received></message>",
                Urgency::Urgent,
            ),
            (
                "<message xmlns='jabber:client'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><gone xmlns='http://jabber.org/protocol/chatstates'/></message></forwarded></sent></message>",
                Urgency::Held,
            ),
        ];
        for (xml, expected) in cases {
            assert_eq!(urgency(&element(xml)), expected, "{xml}");
        }
    }

    #[test]
    fn an_active_client_gets_everything_at_once() {
        let mut csi = CsiState::default();
        let presence = element("<presence xmlns='jabber:client' id='p'/>");
        assert_eq!(
            csi.offer(presence.clone(), 20),
            Offered::Flush(vec![presence])
        );
        assert_eq!(csi.held(), 0);
    }

    #[test]
    fn holds_coalesces_drops_and_flushes_in_order_on_an_urgent_stanza() {
        let mut csi = CsiState::default();
        csi.set_inactive();
        let offers = [
            "<presence xmlns='jabber:client' from='a@x/1' id='a1'/>",
            "<presence xmlns='jabber:client' from='b@x/1' id='b1'/>",
            "<message xmlns='jabber:client' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
            "<message xmlns='jabber:client' id='r'><received xmlns='urn:xmpp:receipts'/></message>",
            "<presence xmlns='jabber:client' from='a@x/1' id='a2' type='unavailable'/>",
        ];
        for xml in offers {
            assert_eq!(csi.offer(element(xml), 20), Offered::Kept, "{xml}");
        }
        assert_eq!(csi.held(), 3);
        let Offered::Flush(out) = csi.offer(
            element("<message xmlns='jabber:client' id='m'><body>x</body></message>"),
            20,
        ) else {
            panic!("a body is urgent");
        };
        assert_eq!(ids(&out), ["b1", "r", "a2", "m"]);
        assert_eq!(csi.held(), 0);
        assert!(csi.is_inactive(), "a flush does not make the client active");
    }

    #[test]
    fn the_stanza_past_buffer_max_flushes_the_queue() {
        let mut csi = CsiState::default();
        csi.set_inactive();
        for n in 0..3 {
            let xml = format!("<presence xmlns='jabber:client' from='c{n}@x' id='{n}'/>");
            assert_eq!(csi.offer(element(&xml), 3), Offered::Kept);
        }
        let Offered::Flush(out) = csi.offer(
            element("<presence xmlns='jabber:client' from='c9@x' id='9'/>"),
            3,
        ) else {
            panic!("full");
        };
        assert_eq!(ids(&out), ["0", "1", "2", "9"]);
    }

    #[test]
    fn active_flushes_what_is_held() {
        let mut csi = CsiState::default();
        csi.set_inactive();
        let presence = element("<presence xmlns='jabber:client' from='a@x' id='p'/>");
        assert_eq!(csi.offer(presence.clone(), 20), Offered::Kept);
        assert_eq!(csi.set_active(), vec![presence]);
        assert!(!csi.is_inactive());
    }
}
