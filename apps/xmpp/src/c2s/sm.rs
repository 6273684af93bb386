//! XEP-0198 stream management (`urn:xmpp:sm:3`) for one stream, as plain data: the two
//! counters, the buffer of unacknowledged stanzas, and the rules that move them. No I/O, no
//! clock: [`super::stream::Stream`] calls it, and the session actor carries out what comes
//! back.
//!
//! What a stream with stream management enabled keeps:
//! - `handled_in`: stanzas handled from the client (the `h` we answer `<r/>` with);
//! - `sent_out`: stanzas sent to the client, and `acked_out`: how many of them the client
//!   has acknowledged with `<a h/>`; both count modulo 2³², as the XEP says (§4: "the value
//!   of h SHALL be reset from 2^32-1 back to zero"), so every comparison is a wrapping
//!   difference;
//! - the unacknowledged stanzas, oldest first, at most [`SmConfig::buffer_max`]: one more is
//!   the stream error `resource-constraint`;
//! - whether the client asked for resumption, and the id it resumes with.
//!
//! The hot path, one stanza to the client: the stream counts it and hands it out in
//! [`super::stream::Action::SendStanza`]; the shell serialises it for the socket and gives
//! the element back ([`super::stream::Stream::stanza_written`]), which moves it into the
//! buffer: no clone, no allocation beyond the `VecDeque`'s amortised growth. Decision: the
//! buffer keeps [`Element`]s, not the serialised bytes shared with the write queue
//! (`Arc<String>`). Bytes would be smaller, but the two uses of the buffer besides resending
//! need elements: re-routing a dead session's messages (bare-JID rules, offline storage),
//! and handing the state to another node ([`ResumableState`] crosses as element trees, as
//! every stanza between nodes does). Resending after a resumption serialises again, which is
//! rare.
//!
//! Requests: an `<r/>` after every `ack_freq` stanzas, but not while the previous one is
//! unanswered (the answer counts every stanza the client handled by then, so under load one
//! round trip acknowledges a whole burst instead of one `<r/>` and one `<a/>` per stanza);
//! stanzas left unrequested get one after [`ACK_REQUEST_IDLE`], answered or not, which also
//! asks again a client that did not answer.
//!
//! Edges: an `<a h/>` acknowledging more than was sent is `undefined-condition` with
//! `<handled-count-too-high/>` (§4); an `h` that acknowledges less than before (an old `<a/>`
//! arriving late) acknowledges nothing. Only stanzas (`message`, `presence`, `iq`) count, in
//! both directions; the SM elements themselves never do.

use std::collections::VecDeque;
use std::time::Duration;

use crate::random::Randomness;
use crate::router::SessionFeatures;
use crate::xml::Element;

/// The stream management namespace (XEP-0198 version 3).
pub const NS_SM: &str = "urn:xmpp:sm:3";

/// Random bytes in a stream management id (hex: 32 characters, 128 bits: unguessable, so
/// knowing a user's password is not enough to take over another connection's session
/// without also having seen its id).
pub const SM_ID_BYTES: usize = 16;

/// Default [`SmConfig::buffer_max`] (MongooseIM's `buffer_max`).
pub const BUFFER_MAX_DEFAULT: usize = 100;
/// Default [`SmConfig::ack_freq`] (MongooseIM's `ack_freq`: a request after every stanza).
pub const ACK_FREQ_DEFAULT: u32 = 1;
/// Default [`SmConfig::resume_timeout`] (MongooseIM's `resume_timeout`, 600 s).
pub const RESUME_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);
/// Default [`StaleH::repeat_after`] (MongooseIM's `stale_h.repeat_after`, 1800 s).
pub const STALE_H_REPEAT_AFTER_DEFAULT: Duration = Duration::from_secs(1800);
/// Default [`StaleH::geriatric`] (MongooseIM's `stale_h.geriatric`, 3600 s).
pub const STALE_H_GERIATRIC_DEFAULT: Duration = Duration::from_secs(3600);

/// How long stanzas sent fewer than `ack_freq` since our last `<r/>` wait before we ask
/// anyway: with `ack_freq` above 1 a quiet stream would otherwise leave its last stanzas
/// unacknowledged (and unresent if the connection drops unnoticed) until more traffic comes.
pub const ACK_REQUEST_IDLE: Duration = Duration::from_secs(1);

const _: () = assert!(BUFFER_MAX_DEFAULT >= 1);
const _: () = assert!(ACK_FREQ_DEFAULT >= 1);

/// How stream management behaves on every stream of a server (`[modules.mod_stream_management]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmConfig {
    /// Unacknowledged stanzas kept per session; one more closes the stream with
    /// `resource-constraint`. Default [`BUFFER_MAX_DEFAULT`] (100).
    pub buffer_max: usize,
    /// The server asks for an acknowledgement (`<r/>`) after this many unacknowledged
    /// stanzas since its last request. Default [`ACK_FREQ_DEFAULT`] (1).
    pub ack_freq: u32,
    /// How long a resumable session waits, detached, for its client to resume it.
    /// Default [`RESUME_TIMEOUT_DEFAULT`] (600 s).
    pub resume_timeout: Duration,
    /// Whether the `h` of sessions that timed out is remembered, and for how long.
    /// Default `None` (MongooseIM: `stale_h.enabled = false`).
    pub stale_h: Option<StaleH>,
    /// Other nodes each resumable session's unacknowledged buffer is mirrored to, so that a
    /// resumption survives the death of the session's node: 0 or 1
    /// ([`BUFFER_REPLICAS_MAX`]). Only a cluster mirrors; one node ignores it. Default
    /// [`BUFFER_REPLICAS_DEFAULT`] (0).
    pub buffer_replicas: usize,
}

/// Default [`SmConfig::buffer_replicas`]: no mirror (see `crate::cluster::sm_mirror` for
/// what one costs).
pub const BUFFER_REPLICAS_DEFAULT: usize = 0;
/// The most [`SmConfig::buffer_replicas`] can be: one mirror node per session.
pub const BUFFER_REPLICAS_MAX: usize = 1;

const _: () = assert!(
    BUFFER_REPLICAS_MAX == 1,
    "the mirror keeps one copy (cluster::sm_mirror)"
);

impl Default for SmConfig {
    fn default() -> Self {
        SmConfig {
            buffer_max: BUFFER_MAX_DEFAULT,
            ack_freq: ACK_FREQ_DEFAULT,
            resume_timeout: RESUME_TIMEOUT_DEFAULT,
            stale_h: None,
            buffer_replicas: BUFFER_REPLICAS_DEFAULT,
        }
    }
}

/// MongooseIM's `stale_h`: after a session's resumption timed out, a resume with its id
/// gets `<failed h='...'/>`, so the client learns which of its stanzas the server handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleH {
    /// How often expired entries are purged. Default [`STALE_H_REPEAT_AFTER_DEFAULT`].
    pub repeat_after: Duration,
    /// How long an entry is kept. Default [`STALE_H_GERIATRIC_DEFAULT`].
    pub geriatric: Duration,
}

impl Default for StaleH {
    fn default() -> Self {
        StaleH {
            repeat_after: STALE_H_REPEAT_AFTER_DEFAULT,
            geriatric: STALE_H_GERIATRIC_DEFAULT,
        }
    }
}

/// A stream management id: random, opaque, unguessable (see [`SM_ID_BYTES`]).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SmId(String);

impl SmId {
    /// A fresh id from the system's randomness.
    pub fn random() -> SmId {
        SmId::from_randomness(&Randomness::system())
    }

    /// A fresh id from `random` (the stream's source, seeded in replayable tests).
    pub fn from_randomness(random: &Randomness) -> SmId {
        let mut bytes = [0u8; SM_ID_BYTES];
        random.fill(&mut bytes);
        let mut id = String::with_capacity(SM_ID_BYTES * 2);
        for byte in bytes {
            id.push(char::from(HEX[usize::from(byte >> 4)]));
            id.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        SmId(id)
    }

    /// The id a client sent (`previd`), as it is.
    pub fn from_client(previd: &str) -> SmId {
        SmId(previd.to_owned())
    }

    /// The text of the id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Display for SmId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What a session hands over to the connection that resumes it: everything the resumed
/// stream needs and nothing that is tied to this process (no actor, no socket), so that it
/// can cross to another node through the cluster relay as it is (serde).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResumableState {
    /// The stream management id.
    pub id: SmId,
    /// The bound full JID, as text (prepared).
    pub jid: String,
    /// The session id: a resumed session is the same session.
    pub sid: u64,
    /// Stanzas handled from the client.
    pub handled_in: u32,
    /// Stanzas sent to the client.
    pub sent_out: u32,
    /// Of those, how many the client acknowledged.
    pub acked_out: u32,
    /// The unacknowledged stanzas, oldest first (`sent_out - acked_out` of them).
    pub buffer: Vec<Element>,
    /// The session's presence priority.
    pub priority: i8,
    /// Its last available broadcast presence; `None` while unavailable.
    pub presence: Option<Element>,
    /// What it asked of the server (message carbons ...), as the session table had it.
    pub features: SessionFeatures,
}

/// Why an acknowledgement was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckTooHigh {
    /// The `h` the client sent.
    pub h: u32,
    /// How many stanzas we sent.
    pub sent: u32,
}

impl AckTooHigh {
    /// The stream error of XEP-0198 §4: `undefined-condition`, its text, and the
    /// application-specific `<handled-count-too-high/>` element.
    pub fn to_stream_error(self) -> crate::stanza::error::StreamError {
        use crate::stanza::error::{StreamError, StreamErrorCondition};
        StreamError::new(StreamErrorCondition::UndefinedCondition).with_text(format!(
            "You acknowledged {} stanzas, but I only sent you {} so far.",
            self.h, self.sent
        ))
    }

    /// `<handled-count-too-high h='..' send-count='..' xmlns='urn:xmpp:sm:3'/>`.
    pub fn to_element(self) -> Element {
        Element::new("handled-count-too-high", NS_SM)
            .with_attr("h", self.h.to_string())
            .with_attr("send-count", self.sent.to_string())
    }
}

/// The stream management state of one stream once `<enable/>` succeeded. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct SmState {
    id: SmId,
    resumable: bool,
    handled_in: u32,
    sent_out: u32,
    acked_out: u32,
    /// Stanzas sent since our last `<r/>`.
    unrequested: u32,
    /// Whether the shell has a [`ACK_REQUEST_IDLE`] timer running for them.
    idle_timer_armed: bool,
    /// Whether our last `<r/>` is still unanswered: no new one goes out after a stanza
    /// until it is (the answer will count everything the client handled by then), only
    /// after [`ACK_REQUEST_IDLE`].
    request_outstanding: bool,
    /// The unacknowledged stanzas written so far (those handed out in `SendStanza` and
    /// not yet given back are counted in `sent_out` but not here yet).
    buffer: VecDeque<Element>,
}

impl SmState {
    /// A freshly enabled stream.
    pub fn new(id: SmId, resumable: bool) -> SmState {
        SmState {
            id,
            resumable,
            handled_in: 0,
            sent_out: 0,
            acked_out: 0,
            unrequested: 0,
            idle_timer_armed: false,
            request_outstanding: false,
            buffer: VecDeque::new(),
        }
    }

    /// The state of a session being resumed, before the client's `h` is applied.
    pub fn resumed(state: ResumableState) -> SmState {
        SmState {
            id: state.id,
            resumable: true,
            handled_in: state.handled_in,
            sent_out: state.sent_out,
            acked_out: state.acked_out,
            unrequested: 0,
            idle_timer_armed: false,
            request_outstanding: false,
            buffer: state.buffer.into(),
        }
    }

    /// The id.
    pub fn id(&self) -> &SmId {
        &self.id
    }

    /// Whether the client asked for resumption.
    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    /// Stanzas handled from the client, modulo 2³².
    pub fn handled_in(&self) -> u32 {
        self.handled_in
    }

    /// Stanzas sent to the client, modulo 2³².
    pub fn sent_out(&self) -> u32 {
        self.sent_out
    }

    /// Of the stanzas sent, how many the client acknowledged, modulo 2³².
    pub fn acked_out(&self) -> u32 {
        self.acked_out
    }

    /// The newest `count` stanzas of the buffer (fewer if it holds fewer), oldest first:
    /// what a mirror has not seen yet.
    pub fn newest(&self, count: usize) -> impl Iterator<Item = &Element> {
        self.buffer
            .iter()
            .skip(self.buffer.len().saturating_sub(count))
    }

    /// A copy of the state to hand over, the buffer cloned (for a mirror on another node;
    /// the session keeps its own).
    pub fn snapshot(
        &self,
        jid: String,
        sid: u64,
        (priority, presence, features): (i8, Option<Element>, SessionFeatures),
    ) -> ResumableState {
        ResumableState {
            id: self.id.clone(),
            jid,
            sid,
            handled_in: self.handled_in,
            sent_out: self.sent_out,
            acked_out: self.acked_out,
            buffer: self.buffer.iter().cloned().collect(),
            priority,
            presence,
            features,
        }
    }

    /// Stanzas sent and not yet acknowledged.
    pub fn unacked(&self) -> u32 {
        self.sent_out.wrapping_sub(self.acked_out)
    }

    /// The stanzas in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// One more stanza handled from the client.
    pub fn count_in(&mut self) {
        self.handled_in = self.handled_in.wrapping_add(1);
    }

    /// Whether one more unacknowledged stanza would pass `buffer_max`.
    pub fn is_full(&self, buffer_max: usize) -> bool {
        usize::try_from(self.unacked()).unwrap_or(usize::MAX) >= buffer_max
    }

    /// One more stanza sent; whether it is time for an `<r/>` (every `ack_freq`).
    pub fn count_out(&mut self, ack_freq: u32) -> bool {
        self.sent_out = self.sent_out.wrapping_add(1);
        self.unrequested = self.unrequested.saturating_add(1);
        if self.unrequested >= ack_freq.max(1) && !self.request_outstanding {
            self.unrequested = 0;
            self.request_outstanding = true;
            true
        } else {
            false
        }
    }

    /// Whether stanzas wait for an `<r/>` and no idle timer runs for them: if so, it is
    /// now taken as running.
    pub fn arm_idle_timer(&mut self) -> bool {
        if self.unrequested == 0 || self.idle_timer_armed {
            return false;
        }
        self.idle_timer_armed = true;
        true
    }

    /// The idle timer fired: whether to send an `<r/>` (stanzas still unrequested).
    pub fn idle_timer_fired(&mut self) -> bool {
        self.idle_timer_armed = false;
        let request = self.unrequested > 0;
        self.unrequested = 0;
        self.request_outstanding |= request;
        request
    }

    /// A counted stanza, written (or kept while detached): into the buffer.
    pub fn keep(&mut self, stanza: Element) {
        self.buffer.push_back(stanza);
    }

    /// The client acknowledged `h` stanzas in all: the acknowledged ones leave the buffer.
    /// An `h` above what was sent is refused; one below the last acknowledgement (a late,
    /// older `<a/>`) acknowledges nothing.
    pub fn ack(&mut self, h: u32) -> Result<(), AckTooHigh> {
        let newly = h.wrapping_sub(self.acked_out);
        let unacked = self.unacked();
        if newly > unacked {
            // Below the last acknowledgement: modulo 2³² that is a huge "newly"; tell the
            // two apart by the distance backwards, which an honest client keeps small.
            if self.acked_out.wrapping_sub(h) <= u32::MAX / 2 {
                return Ok(());
            }
            return Err(AckTooHigh {
                h,
                sent: self.sent_out,
            });
        }
        self.acked_out = h;
        self.request_outstanding = false;
        // Stanzas handed out but not yet given back are the newest: drop from the front.
        let drop = usize::try_from(newly)
            .unwrap_or(usize::MAX)
            .min(self.buffer.len());
        self.buffer.drain(..drop);
        Ok(())
    }

    /// Every unacknowledged stanza, oldest first, leaving the buffer empty (to resend them
    /// or to re-route them).
    pub fn take_buffer(&mut self) -> Vec<Element> {
        self.buffer.drain(..).collect()
    }

    /// The state to hand over, with the session's identity and presence.
    pub fn into_resumable(
        mut self,
        jid: String,
        sid: u64,
        (priority, presence, features): (i8, Option<Element>, SessionFeatures),
    ) -> ResumableState {
        ResumableState {
            buffer: self.take_buffer(),
            id: self.id,
            jid,
            sid,
            handled_in: self.handled_in,
            sent_out: self.sent_out,
            acked_out: self.acked_out,
            priority,
            presence,
            features,
        }
    }
}

/// `<a xmlns='urn:xmpp:sm:3' h='..'/>`.
pub fn answer(h: u32) -> Element {
    Element::new("a", NS_SM).with_attr("h", h.to_string())
}

/// `<r xmlns='urn:xmpp:sm:3'/>` as written into a client stream.
pub const REQUEST_XML: &str = "<r xmlns='urn:xmpp:sm:3'/>";

/// `<failed xmlns='urn:xmpp:sm:3' [h]><condition xmlns=stanzas/></failed>`.
pub fn failed(condition: crate::stanza::error::StanzaErrorCondition, h: Option<u32>) -> Element {
    let condition = Element::new(
        condition.to_string(),
        crate::stanza::error::NS_STANZA_ERRORS,
    );
    let mut failed = Element::new("failed", NS_SM).with_child(condition);
    if let Some(h) = h {
        failed.set_attr("h", h.to_string());
    }
    failed
}

/// The `h` attribute of an `<a/>` or `<resume/>`: a decimal u32.
pub fn h_attr(element: &Element) -> Option<u32> {
    element.attr("h").and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(n: u32) -> Element {
        Element::new("message", crate::xml::NS_CLIENT).with_attr("id", n.to_string())
    }

    fn send(sm: &mut SmState, n: u32) {
        sm.count_out(1);
        sm.keep(stanza(n));
    }

    #[test]
    fn acks_drop_the_oldest_stanzas() {
        let mut sm = SmState::new(SmId::random(), true);
        for n in 0..5 {
            send(&mut sm, n);
        }
        assert_eq!((sm.unacked(), sm.buffered()), (5, 5));
        assert_eq!(sm.ack(2), Ok(()));
        assert_eq!((sm.unacked(), sm.buffered()), (3, 3));
        // A late, older acknowledgement acknowledges nothing.
        assert_eq!(sm.ack(1), Ok(()));
        assert_eq!(sm.unacked(), 3);
        assert_eq!(sm.ack(6), Err(AckTooHigh { h: 6, sent: 5 }));
        assert_eq!(sm.ack(5), Ok(()));
        assert_eq!((sm.unacked(), sm.buffered()), (0, 0));
    }

    #[test]
    fn counters_wrap_at_two_to_the_32() {
        let mut sm = SmState::resumed(ResumableState {
            id: SmId::random(),
            jid: "alice@localhost/phone".into(),
            sid: 1,
            handled_in: u32::MAX,
            sent_out: u32::MAX - 1,
            acked_out: u32::MAX - 1,
            buffer: Vec::new(),
            priority: 0,
            presence: None,
            features: SessionFeatures::default(),
        });
        sm.count_in();
        assert_eq!(sm.handled_in(), 0);
        for n in 0..3 {
            send(&mut sm, n);
        }
        assert_eq!(sm.sent_out(), 1);
        assert_eq!(sm.unacked(), 3);
        // h = 0 acknowledges the two sent before the wrap.
        assert_eq!(sm.ack(0), Ok(()));
        assert_eq!((sm.unacked(), sm.buffered()), (1, 1));
        assert_eq!(sm.ack(2), Err(AckTooHigh { h: 2, sent: 1 }));
        assert_eq!(sm.ack(1), Ok(()));
        assert_eq!(sm.unacked(), 0);
    }

    #[test]
    fn requests_every_ack_freq_stanzas_and_full_at_buffer_max() {
        let mut sm = SmState::new(SmId::random(), false);
        let mut requests: Vec<bool> = (0..3).map(|_| sm.count_out(3)).collect();
        assert_eq!(sm.ack(1), Ok(()), "the answer to the first <r/>");
        requests.extend((0..3).map(|_| sm.count_out(3)));
        assert_eq!(requests, [false, false, true, false, false, true]);
        // Unanswered, the next <r/> waits for the idle timer, whatever ack_freq says.
        assert!(!sm.count_out(1));
        assert!(sm.arm_idle_timer());
        assert!(sm.idle_timer_fired(), "the idle timer asks again");
        assert!(sm.is_full(6));
        assert!(!sm.is_full(7));
        assert!(SmState::new(SmId::random(), false).is_full(0));
    }

    #[test]
    fn an_idle_timer_covers_the_stanzas_below_ack_freq() {
        let mut sm = SmState::new(SmId::random(), false);
        assert!(!sm.arm_idle_timer());
        assert!(!sm.count_out(3));
        assert!(sm.arm_idle_timer());
        assert!(!sm.count_out(3));
        assert!(!sm.arm_idle_timer());
        assert!(sm.idle_timer_fired());
        assert!(!sm.idle_timer_fired());
        assert!(!sm.arm_idle_timer());
    }

    #[test]
    fn newest_and_snapshot_see_what_is_kept() {
        let mut sm = SmState::new(SmId::random(), true);
        for n in 0..4 {
            send(&mut sm, n);
        }
        sm.ack(1).expect("in range");
        let ids: Vec<_> = sm
            .newest(2)
            .filter_map(|stanza| stanza.attr("id"))
            .collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(sm.newest(10).count(), 3);
        let copy = sm.snapshot("a@b/c".into(), 9, (1, None, SessionFeatures::default()));
        assert_eq!(
            (copy.sent_out, copy.acked_out, copy.buffer.len()),
            (4, 1, 3)
        );
        assert_eq!(sm.buffered(), 3, "the session keeps its own buffer");
    }

    #[test]
    fn ids_are_random_hex() {
        let (one, two) = (SmId::random(), SmId::random());
        assert_ne!(one, two);
        assert_eq!(one.as_str().len(), SM_ID_BYTES * 2);
        assert!(one.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
    }
}
