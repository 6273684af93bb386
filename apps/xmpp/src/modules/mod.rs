//! Feature modules, each behind the router's hooks ([`crate::router::hooks`]),
//! as MongooseIM's `mod_*` are behind `ejabberd_hooks`.
//!
//! Without storage:
//! - [`ping`]: XEP-0199, for the server and on behalf of users;
//! - [`disco`]: XEP-0030 info and items, for the server and users' bare
//!   JIDs, listing what the other modules registered;
//! - [`version`]: XEP-0092, the server's software version;
//! - [`carbons`]: XEP-0280 message carbons (copies to an account's other
//!   carbon-enabled sessions, on any node);
//! - [`caps`]: XEP-0115, learning what clients' verification strings stand for
//!   (the router's cluster-wide cache), and the server's own string;
//! - [`presence`]: RFC 6121 presence (broadcast to the user's own resources
//!   and to subscribers, directed presence, probes, unavailable on
//!   disconnect), with [`presence::Contacts`] as the point where a roster
//!   plugs in.
//!
//! With storage ([`crate::storage::Storage`]), each doing its own storage
//! calls:
//! - [`roster`]: RFC 6121 rosters, XEP-0237 versioning, and the subscription
//!   state machine; it is the [`presence::Contacts`] of the presence module;
//! - [`offline`]: XEP-0160 offline messages (the router's
//!   [`OfflineSink`](crate::router::OfflineSink), and delivery on initial
//!   presence);
//! - [`vcard`]: XEP-0054; [`private`]: XEP-0049; [`last`]: XEP-0012;
//! - [`blocking`]: XEP-0191, with its enforcement on stanzas in and out;
//! - [`register`]: XEP-0077 in-band registration (off by default): password
//!   change and cancellation for signed-in users, and the policy for sign-ups.
//!
//! Order matters where hooks consume stanzas: [`server::run`](crate::server::run)
//! registers blocking first (it drops what a block list forbids before anyone
//! acts on it), then carbons (copies only what blocking let through), caps (it
//! only looks at broadcast presence), then roster, offline and last (they look at a client's
//! broadcast presence, which the presence module then consumes), then
//! presence.

pub mod blocking;
pub mod caps;
pub mod carbons;
pub mod disco;
pub mod last;
pub mod offline;
pub mod ping;
pub mod presence;
pub mod private;
pub mod register;
pub mod roster;
pub mod vcard;
pub mod version;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::jid::{BareJid, Jid};
use crate::router::{ClientSession, Module, Router, SessionEntry, SessionId};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::{Storage, StorageError};
use crate::xml::{Element, StreamEvent, StreamParser, NS_CLIENT};

/// The storage-free modules with their defaults, in registration order:
/// carbons, ping, disco, version, presence without contacts.
pub fn defaults() -> Vec<Arc<dyn Module>> {
    vec![
        Arc::new(carbons::Carbons),
        Arc::new(ping::Ping),
        Arc::new(disco::Disco::default()),
        Arc::new(version::Version::default()),
        Arc::new(presence::Presence::new(Arc::new(presence::NoContacts))),
    ]
}

/// `(domain, username)` of a local account's bare JID; `None` for a domain.
pub(crate) fn account(user: &BareJid) -> Option<(&str, &str)> {
    user.local().map(|local| (user.domain(), local))
}

/// Logs a storage failure of `operation` and gives the error the client
/// sees: `internal-server-error`, which tells nothing of the database.
pub(crate) fn storage_failed(operation: &'static str, error: &StorageError) -> StanzaError {
    tracing::error!(operation, %error, "storage failed");
    StanzaError::new(StanzaErrorCondition::InternalServerError)
}

/// Reads back an element that was stored with its `Display` form (a
/// standalone element, every namespace declared). `None` when it does not
/// parse, which only a hand-edited row can cause.
pub(crate) fn parse_stored(xml: &str) -> Option<Element> {
    let mut parser = StreamParser::new();
    parser.feed(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    parser.feed(xml.as_bytes());
    match parser.next_event() {
        Ok(Some(StreamEvent::StreamStart(_))) => {}
        _ => return None,
    }
    match parser.next_event() {
        Ok(Some(StreamEvent::Stanza(element))) => Some(element),
        _ => None,
    }
}

/// An element a user keeps on the server, one per kind: the vCard
/// (XEP-0054), or private XML (XEP-0049), one per namespace. Both are stored
/// with their `Display` form and read back with [`parse_stored`]; asking for
/// one that is not stored gets the empty element asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UserXml {
    /// The vCard.
    Vcard,
    /// Private XML, under the element's namespace.
    Private,
}

impl UserXml {
    /// The stored element like `asked` (for private XML, of its namespace),
    /// or `asked`'s name and namespace, empty, when none is stored.
    pub(crate) async fn get(
        self,
        storage: &Storage,
        (domain, username): (&str, &str),
        asked: &Element,
    ) -> Result<Element, StanzaError> {
        let stored = match self {
            UserXml::Vcard => storage
                .vcard(domain, username)
                .await
                .map_err(|error| storage_failed("vcard", &error)),
            UserXml::Private => storage
                .private_xml(domain, username, &asked.namespace)
                .await
                .map_err(|error| storage_failed("private_xml", &error)),
        }?;
        Ok(stored
            .as_deref()
            .and_then(parse_stored)
            .unwrap_or_else(|| Element::new(asked.name.clone(), asked.namespace.clone())))
    }

    /// Stores `element`, replacing what was stored of its kind.
    pub(crate) async fn set(
        self,
        storage: &Storage,
        (domain, username): (&str, &str),
        element: &Element,
    ) -> Result<(), StanzaError> {
        let xml = element.to_string();
        match self {
            UserXml::Vcard => storage
                .set_vcard(domain, username, &xml)
                .await
                .map_err(|error| storage_failed("set_vcard", &error)),
            UserXml::Private => storage
                .set_private_xml(domain, username, &element.namespace, &xml)
                .await
                .map_err(|error| storage_failed("set_private_xml", &error)),
        }
    }
}

/// The table entry of a bound session, if it is still there.
pub(crate) fn session_entry(router: &Router, session: &ClientSession) -> Option<SessionEntry> {
    match router.sessions().resource_sessions(&session.jid) {
        Ok(entries) => entries.into_iter().find(|entry| entry.sid == session.sid),
        Err(error) => {
            tracing::error!(%error, "session table unavailable");
            None
        }
    }
}

/// A session sending its initial presence (RFC 6121 §4.2.2): bound, of a
/// local account, and not yet available. Offline messages and pending
/// subscription requests are delivered to it then; the modules that do so
/// run before the presence module, which marks the session available.
pub(crate) struct InitialPresence {
    /// The session's account.
    pub(crate) user: BareJid,
    /// The session's table entry, to deliver to.
    pub(crate) entry: SessionEntry,
}

impl InitialPresence {
    /// `sender`'s, if it is not available yet; `None` for later presence, a
    /// session gone from the table, or a JID without an account.
    pub(crate) fn of(router: &Router, sender: &ClientSession) -> Option<InitialPresence> {
        let user = sender.jid.to_bare();
        account(&user)?;
        let entry = session_entry(router, sender).filter(|entry| !entry.available)?;
        Some(InitialPresence { user, entry })
    }

    /// `(domain, username)` of the account ([`InitialPresence::of`] checked
    /// that it is one).
    pub(crate) fn account(&self) -> (&str, &str) {
        (self.user.domain(), self.user.local().unwrap_or_default())
    }
}

/// Now, in Unix seconds (0 for a clock before 1970).
pub(crate) fn unix_seconds_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// A fresh id for a server-made iq (roster and block list pushes).
pub(crate) fn push_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("push{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The sessions that asked for a list (the roster, the block list), which
/// are the ones that get pushes when it changes (RFC 6121 §2.1.6 "interested
/// resources", XEP-0191 §3.2). One entry per such session, dropped when the
/// session closes, so it is bounded by the session table.
#[derive(Debug, Default)]
pub(crate) struct Interested {
    sessions: Mutex<HashSet<SessionId>>,
}

impl Interested {
    /// Records that the session bound to the full JID `jid` asked.
    pub(crate) fn add(&self, router: &Router, jid: &Jid) {
        if jid.is_bare() {
            return;
        }
        let newest = router
            .sessions()
            .resource_sessions(jid)
            .ok()
            .and_then(|entries| entries.into_iter().map(|entry| entry.sid).max());
        if let Some(sid) = newest {
            self.sessions.lock().insert(sid);
        }
    }

    /// Forgets a closed session.
    pub(crate) fn remove(&self, sid: SessionId) {
        self.sessions.lock().remove(&sid);
    }

    /// Sends `iq set` pushes with `payload` to the interested sessions of
    /// `user`, `from` the user's bare JID (RFC 6121 §2.1.6).
    pub(crate) fn push(&self, router: &Router, user: &BareJid, payload: &Element) {
        let sessions = match router.sessions().user_sessions(user) {
            Ok(sessions) => sessions,
            Err(error) => {
                tracing::error!(%error, "session table unavailable: no push");
                return;
            }
        };
        let interested = self.sessions.lock().clone();
        for entry in sessions
            .iter()
            .filter(|entry| interested.contains(&entry.sid))
        {
            let push = push_iq(user, &entry.jid, payload.clone());
            // A session that just went away misses it, as it would have
            // missed the change.
            let _ = entry.handle.deliver(push);
        }
    }
}

/// A push of `payload` from `user`'s account to its resource `to` (an iq set with a fresh id).
pub(crate) fn push_iq(user: &BareJid, to: &crate::jid::Jid, payload: Element) -> Element {
    Element::new("iq", NS_CLIENT)
        .with_attr("type", "set")
        .with_attr("id", push_id())
        .with_attr("from", user.to_string())
        .with_attr("to", to.to_string())
        .with_child(payload)
}

/// A Unix time in microseconds as an XEP-0082 `DateTime` in UTC with
/// microseconds (`2026-11-27T10:00:00.000000Z`), for XEP-0203 stamps. Times
/// outside years -9999 to 9999 (`time`'s range) are clamped to its ends.
pub(crate) fn xep0082_stamp(micros: i64) -> String {
    let utc = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or_else(|_| {
            if micros < 0 {
                time::PrimitiveDateTime::MIN.assume_utc()
            } else {
                time::PrimitiveDateTime::MAX.assume_utc()
            }
        });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_xep0082_utc() {
        assert_eq!(xep0082_stamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            xep0082_stamp(1_031_699_305_000_001),
            "2002-09-10T23:08:25.000001Z"
        );
        assert_eq!(
            xep0082_stamp(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(xep0082_stamp(-1), "1969-12-31T23:59:59.999999Z");
        // Beyond `time`'s years, the ends of its range.
        assert_eq!(xep0082_stamp(i64::MAX), "9999-12-31T23:59:59.999999Z");
        assert_eq!(xep0082_stamp(i64::MIN), "-9999-01-01T00:00:00.000000Z");
    }

    #[test]
    fn stored_elements_read_back() {
        let element = Element::new("vCard", "vcard-temp")
            .with_child(Element::new("FN", "vcard-temp").with_text("A & B"));
        assert_eq!(parse_stored(&element.to_string()), Some(element));
        assert_eq!(parse_stored("<unclosed"), None);
    }
}
