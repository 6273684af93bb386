//! Dead-connection detection: XEP-0199 pings from the server to a client that has been
//! silent for `ping_interval` (MongooseIM's `mod_ping` with `send_pings = true`).
//!
//! Why the server asks at all: a phone that lost its network leaves a TCP connection that
//! looks open for as long as the kernel's retransmissions last (15 minutes and more), while
//! messages routed to it go nowhere. With stream management the session should detach at
//! once instead, so that the client's next connection resumes it; without, it should end, so
//! that its messages go to another resource or offline storage.
//!
//! Who does what: the session actor knows when the client last sent anything and fires
//! [`super::stream::Input::PingDue`] after `ping_interval` of silence; the stream machine
//! sends the ping (as a stanza, so stream management counts it), remembers its id, and takes
//! the client's answer (`result`, or an `error`: either proves the client is there) off the
//! routing path. [`super::stream::Input::PingTimeout`] with the ping still unanswered applies
//! `timeout_action`: `kill` detaches a resumable session and closes any other with
//! `connection-timeout`; `none` only logs, as MongooseIM.

use std::time::Duration;

use crate::xml::{Element, NS_CLIENT};

/// The ping namespace.
pub const NS_PING: &str = "urn:xmpp:ping";

/// How server pings behave on every stream (`[modules.mod_ping]` with `send_pings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingConfig {
    /// Client silence before a ping. MongooseIM's `ping_interval`, default 60 s.
    pub interval: Duration,
    /// How long the answer may take. MongooseIM's `ping_req_timeout`, default 32 s.
    pub timeout: Duration,
    /// Whether an unanswered ping ends (or detaches) the session: MongooseIM's
    /// `timeout_action = "kill"`. Default `false` (`none`).
    pub kill_on_timeout: bool,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            interval: crate::config::modules::PING_INTERVAL_DEFAULT,
            timeout: crate::config::modules::PING_REQ_TIMEOUT_DEFAULT,
            kill_on_timeout: false,
        }
    }
}

/// The ping to `to` from its server `domain`, with `id`.
pub fn ping_iq(id: &str, domain: &str, to: &str) -> Element {
    Element::new("iq", NS_CLIENT)
        .with_attr("type", "get")
        .with_attr("id", id)
        .with_attr("from", domain)
        .with_attr("to", to)
        .with_child(Element::new("ping", NS_PING))
}

/// Whether `stanza` from the client answers the ping with `id` (a result or an error:
/// either comes from a live client).
pub fn answers(stanza: &Element, id: &str, domain: &str) -> bool {
    stanza.name == "iq"
        && matches!(stanza.attr("type"), Some("result" | "error"))
        && stanza.attr("id") == Some(id)
        && stanza.attr("to").is_none_or(|to| to == domain)
}
