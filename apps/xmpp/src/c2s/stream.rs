//! The client-to-server stream (RFC 6120) as a plain state machine: inputs
//! in, actions out, no I/O.
//!
//! Why a state machine: everything that can go wrong on a client connection
//! — a header for the wrong domain, a stanza before authentication, a
//! password guessed too often, a resource taken by another connection — is
//! decided here, and tested here one input at a time, without sockets,
//! threads or clocks. The session actor ([`super::session`]) is the shell: it
//! feeds [`Input`]s (parsed stream events, the answer of a credentials
//! lookup, timers, requests from the router) to [`Stream::handle`] and
//! carries out the [`Action`]s that come back, in order.
//!
//! ```
//! use std::sync::Arc;
//! use bream_xmpp::c2s::stream::{Action, Input, Stream, StreamConfig, TlsPolicy};
//! use bream_xmpp::sasl::Mechanism;
//! use bream_xmpp::xml::{StreamEvent, StreamParser};
//!
//! let config = StreamConfig::new(&["localhost".to_owned()], TlsPolicy::Optional, &Mechanism::ALL, 3)
//!     .expect("valid");
//! let mut stream = Stream::new(Arc::new(config));
//! let mut parser = StreamParser::new();
//! parser.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
//! let Ok(Some(StreamEvent::StreamStart(header))) = parser.next_event() else { panic!() };
//! let actions = stream.handle(Input::Header(header));
//! // Our header, then <stream:features> with <starttls/> and the SASL mechanisms.
//! assert!(matches!(&actions[..], [Action::SendHeader(_), Action::Send(features)] if features.name == "features"));
//! ```
//!
//! The phases of a stream, and what moves it on:
//!
//! ```text
//! Header ──header──▶ Features ──<starttls/>──▶ Tls ──TlsEstablished──▶ Header (again)
//!                        │
//!                        └──<auth/>──▶ Sasl ⇄ (challenge/response, credentials lookup)
//!                                        │ success: restart
//!                                        ▼
//!                                     Header ──header──▶ Bind ──bind iq──▶ Bound
//!                                                         │  ▲                 │ ▲
//!                                              <resume/>  ▼  │ failed          │ │ (another connection
//!                                                     Resuming ──Resumed──▶ Bound │  resumes it: Closed)
//!                                                                                 │ │
//!                      resumable, connection lost or idle ─▶ Detached ────────────┘ │
//!                                                            │ (resume_timeout, close, overflow)
//!                                                            ▼
//! any phase ──error, end, timeout, close request──▶ Closed
//! ```
//!
//! Rules carried out here (each tested in `stream_tests`):
//! - Header: the content namespace must be `jabber:client`
//!   (`invalid-namespace`), the version 1.x (`unsupported-version`), `to` a
//!   served domain (`host-unknown`; absent means the first domain), and the
//!   same domain after each restart. Every header gets a new stream id.
//! - Features: before TLS on a listener with [`TlsPolicy::Required`], only
//!   `<starttls><required/></starttls>`, and `<auth/>` gets
//!   `<failure><encryption-required/></failure>`; with
//!   [`TlsPolicy::Optional`], STARTTLS and the mechanisms; after TLS (or on
//!   a direct TLS listener), the mechanisms; after SASL, `<bind/>` and an
//!   optional legacy `<session/>`.
//! - SASL: the configured mechanisms only (`invalid-mechanism`), run by
//!   [`crate::sasl::SaslServer`]; each failure other than `aborted` and
//!   `temporary-auth-failure` counts, and at `auth_failures_max` the stream
//!   is closed with `policy-violation`. Success restarts the stream.
//! - Anything else before authentication or before binding is
//!   `not-authorized` (RFC 6120 §4.9.3.12, §7.2).
//! - Binding: the requested resource, prepared, or a random one; the
//!   [`Action::OpenSession`] it produces makes the router replace an older
//!   session with the same full JID (which gets `conflict`). A second bind is
//!   `not-allowed`; a legacy `<session/>` is answered with a result.
//! - Bound: only `message`, `presence` and `iq` in `jabber:client`
//!   (`unsupported-stanza-type`); `from` is stamped with the full JID, and a
//!   `from` that is neither it nor the bare JID is `invalid-from`; a `to`
//!   that is not a JID gets a `jid-malformed` reply, an iq without an id or
//!   with a bad type or payload `bad-request`; the rest is
//!   [`Action::Route`]d.
//! - Stream management (XEP-0198, when [`StreamConfig::with_stream_management`] offers it;
//!   the counting and the buffer are [`super::sm`]): `<sm/>` is a feature after SASL;
//!   `<enable/>` (with `resume='true'`: resumable, with an id and `max`) only once bound,
//!   else `<failed><unexpected-request/></failed>`, and the stream goes on; `<r/>` is
//!   answered with `<a h/>`; `<a h/>` empties the buffer, or, above what was sent, closes
//!   with `undefined-condition` and `<handled-count-too-high/>`; every stanza to the client
//!   goes out as [`Action::SendStanza`] (error replies made here too, since the client
//!   counts them), with an `<r/>` every `ack_freq`; one past `buffer_max` is
//!   `resource-constraint`. Where a bind could come, `<resume previd h/>` asks the shell
//!   ([`Action::Resume`]); [`Input::Resumed`] applies the client's `h` and resends the rest,
//!   [`Input::ResumeFailed`] is `<failed><item-not-found/></failed>` and the client may bind.
//!   A resumable bound stream whose connection is lost or idles out detaches
//!   ([`Action::Detach`]) instead of ending, and buffers deliveries until it is resumed
//!   ([`Stream::take_resumable`]) or ends ([`Input::ResumeTimeout`], a close request, a full
//!   buffer). Without stream management configured its elements are refused as any
//!   unknown element is.
//! - Client state indication (XEP-0352, when [`StreamConfig::with_client_state`] offers it;
//!   what waits is [`super::csi`]): `<csi/>` is a feature after SASL; on a bound stream
//!   `<inactive/>` holds what is not urgent, and the first urgent stanza, a full queue or
//!   `<active/>` sends what was held, in order, ahead of it. Held stanzas go to stream
//!   management's buffer when the stream detaches or is taken over, and to the re-routing of
//!   [`Stream::take_unacked`] when it ends.
//! - Server pings (XEP-0199, when [`StreamConfig::with_server_pings`] sends them; see
//!   [`super::keepalive`]): [`Input::PingDue`] on a bound stream with no ping out sends one
//!   and asks for [`Action::ArmPingTimeout`]; the client's result or error is taken here,
//!   not routed; [`Input::PingTimeout`] with it still unanswered detaches a resumable
//!   session or closes with `connection-timeout` (only if the pings say to kill).
//! - Parser errors map to stream errors through
//!   [`StreamError::from`](crate::stanza::error::StreamError) (`not-well-formed`,
//!   `restricted-xml`, `policy-violation`, ...). A stream error before our
//!   header was sent is preceded by one (RFC 6120 §4.9.1.1).
//!
//! Edges: after [`Action::Close`] or [`Action::Terminate`] the stream is
//! closed and ignores every further input. Randomness (stream ids, server-made
//! resources) is the only thing the machine takes from outside.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::random::Randomness;

use super::csi::{CsiConfig, CsiState, Offered, NS_CSI};
use super::keepalive::{self, PingConfig};
use super::registration::{NS_REGISTER, NS_REGISTER_FEATURE};
use super::sasl2::{self, InlineFeatures, Sasl2Request, NS_SASL2};
use super::sm::{self, ResumableState, SmConfig, SmId, SmState, NS_SM};
use crate::jid::{normalize_domain, normalize_resource, served_domains, DomainsError, Jid};
use crate::sasl::failure::{SaslCondition, SaslFailure};
use crate::sasl::secret::PassDetails;
use crate::sasl::{
    decode_initial_response, decode_response, mechanisms_element, Mechanism, SaslConfig,
    SaslServer, Step, NS_SASL,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition, StreamError, StreamErrorCondition};
use crate::xml::serialize::write_stream_open;
use crate::xml::{Element, ParseError, StreamHeader, NS_CLIENT, NS_STREAMS};

/// The STARTTLS namespace (RFC 6120 §5).
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// The resource binding namespace (RFC 6120 §7).
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// The legacy session establishment namespace (RFC 3921 §3, kept by
/// RFC 6121 as optional).
pub const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";

/// Random bytes in a stream id (hex-encoded: 32 characters).
pub const STREAM_ID_BYTES: usize = 16;
/// Random bytes in a server-made resource (hex-encoded: 16 characters).
pub const RESOURCE_RANDOM_BYTES: usize = 8;
/// The language of our stream headers.
pub const STREAM_LANG: &str = "en";

/// How TLS stands on the listener a stream arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsPolicy {
    /// No TLS: STARTTLS is not offered.
    Off,
    /// STARTTLS offered; SASL allowed without it (MongooseIM's `starttls`).
    Optional,
    /// STARTTLS required before SASL (`starttls_required`).
    Required,
    /// The connection is TLS from its first byte (a direct TLS listener).
    Direct,
}

/// Why a [`StreamConfig`] cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamConfigError {
    /// No domain, or one that is not a valid JID domainpart.
    #[error(transparent)]
    Domains(#[from] DomainsError),
    /// No SASL mechanism to offer.
    #[error("no SASL mechanism configured")]
    NoMechanism,
    /// `auth_failures_max` of zero would close every stream at its first
    /// attempt.
    #[error("auth_failures_max must be at least 1")]
    ZeroAuthFailures,
}

/// What every stream of one listener shares: the served domains, the TLS
/// policy, the SASL mechanisms and the cap on failed attempts.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Prepared domains; the first is the default for a header without `to`.
    domains: Vec<String>,
    tls: TlsPolicy,
    mechanisms: Vec<Mechanism>,
    auth_failures_max: u32,
    /// One per domain, in `domains` order. Shared (cloned) between the
    /// listeners of a server: the fake salts shown to unknown users must be
    /// the same on every port, or comparing them would reveal who exists.
    sasl: Vec<SaslConfig>,
    /// Where stream ids and generated resources come from (the SASL configurations hold the
    /// same source for their nonces).
    random: Randomness,
    /// Stream management (XEP-0198); `None`: not offered.
    sm: Option<SmConfig>,
    /// Client state indication (XEP-0352); `None`: not offered.
    csi: Option<CsiConfig>,
    /// Server pings to silent clients (XEP-0199); `None`: none sent.
    pings: Option<PingConfig>,
    /// Whether clients may create accounts before signing in (XEP-0077).
    registration: bool,
    /// SASL2 (XEP-0388) beside SASL1; `Some` with what Bind 2 (XEP-0386) enables inline
    /// when it is offered too.
    sasl2: Option<Option<InlineFeatures>>,
    /// What modules offer after authentication (roster versioning, the server's caps).
    bound_features: Vec<Element>,
}

impl StreamConfig {
    /// A configuration for `domains` (prepared here), offering `mechanisms`
    /// in the order given (duplicates dropped).
    pub fn new(
        domains: &[String],
        tls: TlsPolicy,
        mechanisms: &[Mechanism],
        auth_failures_max: u32,
    ) -> Result<StreamConfig, StreamConfigError> {
        let prepared = served_domains(domains)?;
        let mut offered = Vec::new();
        for mechanism in mechanisms {
            if !offered.contains(mechanism) {
                offered.push(*mechanism);
            }
        }
        if offered.is_empty() {
            return Err(StreamConfigError::NoMechanism);
        }
        if auth_failures_max == 0 {
            return Err(StreamConfigError::ZeroAuthFailures);
        }
        let sasl = prepared
            .iter()
            .map(|domain| SaslConfig::new(domain))
            .collect();
        Ok(StreamConfig {
            domains: prepared,
            tls,
            mechanisms: offered,
            auth_failures_max,
            sasl,
            random: Randomness::system(),
            sm: None,
            csi: None,
            pings: None,
            registration: false,
            sasl2: None,
            bound_features: Vec::new(),
        })
    }

    /// The same configuration drawing every random byte (stream ids, resources, the SASL
    /// unknown-user keys and nonces) from `random`: [`Randomness::seeded`] makes a stream
    /// reproducible.
    pub fn with_randomness(mut self, random: Randomness) -> StreamConfig {
        self.sasl = self
            .domains
            .iter()
            .map(|domain| SaslConfig::with_randomness(domain, random.clone()))
            .collect();
        self.random = random;
        self
    }

    /// The same configuration offering `features` too in the stream features after
    /// authentication.
    pub fn with_bound_features(&self, features: Vec<Element>) -> StreamConfig {
        StreamConfig {
            bound_features: features,
            ..self.clone()
        }
    }

    /// The same configuration offering stream management as `sm` says (`None`: not
    /// offered).
    pub fn with_stream_management(mut self, sm: Option<SmConfig>) -> StreamConfig {
        self.sm = sm;
        self
    }

    /// The same configuration offering client state indication as `csi` says (`None`: not
    /// offered).
    pub fn with_client_state(mut self, csi: Option<CsiConfig>) -> StreamConfig {
        self.csi = csi;
        self
    }

    /// The same configuration pinging silent clients as `pings` says (`None`: never).
    pub fn with_server_pings(mut self, pings: Option<PingConfig>) -> StreamConfig {
        self.pings = pings;
        self
    }

    /// The same configuration offering SASL2 (`sasl2`), and Bind 2 with it (`bind2`), or not.
    /// What Bind 2 enables inline follows what this configuration offers (stream management,
    /// client state indication) and `carbons` (whether the carbons module runs).
    pub fn with_sasl2(mut self, sasl2: bool, bind2: bool, carbons: bool) -> StreamConfig {
        self.sasl2 = sasl2.then(|| {
            bind2.then_some(InlineFeatures {
                stream_management: self.sm.is_some(),
                carbons,
                client_state: self.csi.is_some(),
            })
        });
        self
    }

    /// The same configuration offering in-band registration before sign-in, or not.
    pub fn with_registration(mut self, offered: bool) -> StreamConfig {
        self.registration = offered;
        self
    }

    /// The server ping configuration, if pings are sent.
    pub fn server_pings(&self) -> Option<&PingConfig> {
        self.pings.as_ref()
    }

    /// The stream management configuration, if offered.
    pub fn stream_management(&self) -> Option<&SmConfig> {
        self.sm.as_ref()
    }

    /// The same configuration for a listener with another TLS policy (the
    /// SASL configurations, and so the unknown-user salts, are shared).
    pub fn with_tls(&self, tls: TlsPolicy) -> StreamConfig {
        StreamConfig {
            tls,
            ..self.clone()
        }
    }

    /// The served domains, prepared.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// The TLS policy.
    pub fn tls(&self) -> TlsPolicy {
        self.tls
    }

    /// The mechanisms offered, in order.
    pub fn mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    fn sasl_config(&self, domain: &str) -> Option<&SaslConfig> {
        self.domains
            .iter()
            .position(|served| served == domain)
            .and_then(|index| self.sasl.get(index))
    }

    fn default_domain(&self) -> &str {
        // `new` refuses an empty list.
        self.domains.first().map(String::as_str).unwrap_or_default()
    }
}

/// What the shell feeds the machine.
#[derive(Debug)]
pub enum Input {
    /// The client's stream header (at the start and after each restart).
    Header(StreamHeader),
    /// A complete first-level element.
    Element(Element),
    /// The client closed its stream (`</stream:stream>`).
    End,
    /// The parser failed; the stream is over.
    ParseError(ParseError),
    /// The TLS handshake asked for by [`Action::StartTls`] completed.
    TlsEstablished,
    /// The answer to [`Action::LookupCredentials`].
    Credentials(Credentials),
    /// A stanza the router delivers to this client.
    Deliver(Element),
    /// Nothing was received for the idle timeout.
    IdleTimeout,
    /// A step of the negotiation (before binding) took longer than the
    /// negotiation timeout.
    NegotiationTimeout,
    /// Someone else ends the stream with `error`: the router (a newer session
    /// took the resource: `conflict`), an administrator, the server's shutdown
    /// (`system-shutdown`).
    Close(StreamError),
    /// The connection is gone (peer closed, I/O error): nothing more can be
    /// sent.
    Disconnected,
    /// The answer to [`Action::Resume`]: the session it named handed itself over.
    Resumed(Box<ResumableState>),
    /// The answer to [`Action::Resume`]: no such session for this user; `h` is the stale
    /// handled count if the server remembers one.
    ResumeFailed {
        /// The stale `h`.
        h: Option<u32>,
    },
    /// A detached session was not resumed within `resume_timeout`.
    ResumeTimeout,
    /// The timer of [`Action::ArmAckTimer`] fired.
    AckTimer,
    /// The client has been silent for the server pings' interval.
    PingDue,
    /// The timer of [`Action::ArmPingTimeout`] fired.
    PingTimeout,
    /// The answer to [`Action::Register`].
    Registered {
        /// The registration iq's id.
        id: String,
        /// Created, or the stanza error condition of the refusal.
        outcome: Result<(), StanzaErrorCondition>,
    },
}

/// The answer to a credentials lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// The user's stored credentials.
    Found(PassDetails),
    /// No such user (SASL goes on and fails as for a wrong password).
    NoSuchUser,
    /// The store failed or did not answer: `temporary-auth-failure`.
    Unavailable,
}

/// What the machine asks the shell to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write this stream header (an open tag, so text rather than an
    /// element).
    SendHeader(String),
    /// Write this element into the stream.
    Send(Element),
    /// Write this stanza into the stream, then give it back with
    /// [`Stream::stanza_written`]: with stream management on, it is kept until the client
    /// acknowledges it (the element is moved, never cloned).
    SendStanza(Element),
    /// After the preceding writes, run the TLS handshake on the connection,
    /// start a fresh parser (dropping any plaintext received after
    /// `<starttls/>`), then feed [`Input::TlsEstablished`].
    StartTls,
    /// After the preceding writes, reset the parser: the next thing the client
    /// sends is a new stream header (RFC 6120 §4.3.3).
    RestartStream,
    /// Look up the stored credentials of `username` on `domain` and feed
    /// [`Input::Credentials`].
    LookupCredentials {
        /// The served domain the client authenticates to.
        domain: String,
        /// The prepared localpart.
        username: String,
    },
    /// The client bound `jid`: register the session with the router (which
    /// replaces an older session with the same full JID). Comes before the
    /// bind result.
    OpenSession {
        /// Whether carbons start enabled (Bind 2's inline `<enable/>`).
        carbons: bool,
        /// The full JID.
        jid: Jid,
    },
    /// Route this stanza from the bound client (`from` stamped).
    Route(Element),
    /// Write `error` if any, then `</stream:stream>`, then close the
    /// connection and end the session.
    Close(Option<StreamError>),
    /// The connection is gone: end the session without writing.
    Terminate,
    /// Stream management was enabled with `id`; if `resumable`, record `id` for this
    /// session in the SM registry (before the `<enabled/>` that follows is written).
    EnableSm {
        /// The new id.
        id: SmId,
        /// Whether the client asked for resumption.
        resumable: bool,
    },
    /// The client asks to resume the session of `previd` (instead of binding): find it
    /// for this user, take it over, and feed [`Input::Resumed`] or
    /// [`Input::ResumeFailed`].
    Resume {
        /// The id the client sent.
        previd: SmId,
    },
    /// The connection is gone but the session is resumable: drop the connection, keep the
    /// session (in the session table, still buffering), and feed [`Input::ResumeTimeout`]
    /// after `resume_timeout`.
    Detach,
    /// Write `<r xmlns='urn:xmpp:sm:3'/>` ([`sm::REQUEST_XML`]): with the default
    /// `ack_freq` of 1 it follows every stanza, so it is a fixed text rather than an
    /// element built and serialised each time.
    RequestAck,
    /// Feed [`Input::AckTimer`] after [`ACK_REQUEST_IDLE`](super::sm::ACK_REQUEST_IDLE):
    /// stanzas wait for an `<r/>` that `ack_freq` has not sent yet.
    ArmAckTimer,
    /// Feed [`Input::PingTimeout`] after the pings' timeout: a ping went out.
    ArmPingTimeout,
    /// Create an account for this client, before sign-in; answer with
    /// [`Input::Registered`].
    Register {
        /// The registration iq's id.
        id: String,
        /// The requested username, as given.
        username: String,
        /// The password.
        password: String,
    },
}

/// Where a stream is; see the module docs for the transitions.
#[derive(Debug)]
enum Phase {
    Header,
    Features,
    Tls,
    Sasl {
        server: Box<SaslServer>,
        awaiting_credentials: bool,
        /// A SASL2 exchange: what it asks for besides authentication.
        sasl2: Option<Box<Sasl2Request>>,
    },
    Bind,
    /// Waiting for the answer to [`Action::Resume`]; `h` is the client's.
    Resuming {
        h: u32,
        /// Resuming inside a SASL2 success: what is left of it.
        sasl2: Option<Box<Sasl2Resume>>,
    },
    Bound,
    /// Resumable, without a connection: stanzas for the client are buffered.
    Detached,
    Closed,
}

/// A SASL2 success waiting for its inline resumption's outcome.
#[derive(Debug)]
struct Sasl2Resume {
    request: Sasl2Request,
    additional_data: Option<Vec<u8>>,
}

/// One client stream. See the [module documentation](self).
#[derive(Debug)]
pub struct Stream {
    config: Arc<StreamConfig>,
    phase: Phase,
    tls_active: bool,
    /// Whether our header of the current stream (since the last restart)
    /// is out: a stream error must follow one.
    header_sent: bool,
    /// The domain chosen by the first header.
    domain: Option<String>,
    /// The authenticated localpart, after SASL success.
    username: Option<String>,
    /// The bound full JID.
    jid: Option<Jid>,
    auth_failures: u32,
    /// Stream management, once enabled (or resumed).
    sm: Option<SmState>,
    /// Client state indication: what is held while the client is inactive.
    csi: CsiState,
    /// The id of our ping the client has not answered yet.
    ping_pending: Option<String>,
}

impl Stream {
    /// A stream that has received nothing yet.
    pub fn new(config: Arc<StreamConfig>) -> Stream {
        let tls_active = config.tls == TlsPolicy::Direct;
        Stream {
            config,
            phase: Phase::Header,
            tls_active,
            header_sent: false,
            domain: None,
            username: None,
            jid: None,
            auth_failures: 0,
            sm: None,
            csi: CsiState::default(),
            ping_pending: None,
        }
    }

    /// The served domain the stream is for, once the first header chose it.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Stream management, once enabled.
    pub fn stream_management(&self) -> Option<&SmState> {
        self.sm.as_ref()
    }

    /// Gives back a stanza handed out in [`Action::SendStanza`], once written: kept until
    /// acknowledged with stream management on, dropped without.
    pub fn stanza_written(&mut self, stanza: Element) {
        if let Some(sm) = self.sm.as_mut() {
            sm.keep(stanza);
        }
    }

    /// The session is taken over by a resuming connection: if it is resumable, the stream
    /// ends here (nothing more is written) and its stream management state goes to the new
    /// one.
    pub fn take_resumable(&mut self) -> Option<SmState> {
        let resumable = matches!(self.phase, Phase::Bound | Phase::Detached)
            && self.sm.as_ref().is_some_and(SmState::is_resumable);
        if !resumable {
            return None;
        }
        self.phase = Phase::Closed;
        let mut sm = self.sm.take()?;
        // Held for an inactive client, never sent: the new connection sends them as unacked.
        for stanza in self.csi.take_held() {
            sm.count_out(u32::MAX);
            sm.keep(stanza);
        }
        Some(sm)
    }

    /// The unacknowledged stanzas, oldest first, to re-route when the session ends for
    /// real (empty without stream management).
    pub fn take_unacked(&mut self) -> Vec<Element> {
        let mut unacked = self
            .sm
            .as_mut()
            .map(SmState::take_buffer)
            .unwrap_or_default();
        unacked.extend(self.csi.take_held());
        unacked
    }

    /// Stanzas held for an inactive client (XEP-0352).
    pub fn held(&self) -> usize {
        self.csi.held()
    }

    /// The bound full JID, once bound.
    pub fn jid(&self) -> Option<&Jid> {
        self.jid.as_ref()
    }

    /// The authenticated localpart, once authenticated.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Whether a resource is bound.
    pub fn is_bound(&self) -> bool {
        matches!(self.phase, Phase::Bound)
    }

    /// Whether the stream has ended (after [`Action::Close`] or
    /// [`Action::Terminate`]).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether TLS protects the connection.
    pub fn is_tls_active(&self) -> bool {
        self.tls_active
    }

    /// Failed authentication attempts so far.
    pub fn auth_failures(&self) -> u32 {
        self.auth_failures
    }

    /// Handles one input and returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.is_closed() {
            return actions;
        }
        match input {
            Input::Header(header) => self.on_header(&header, &mut actions),
            Input::Element(element) => self.on_element(element, &mut actions),
            Input::End => self.close(None, &mut actions),
            Input::ParseError(error) => self.close(Some(StreamError::from(&error)), &mut actions),
            Input::TlsEstablished => {
                if matches!(self.phase, Phase::Tls) {
                    self.tls_active = true;
                    self.header_sent = false;
                    self.phase = Phase::Header;
                } else {
                    let error = StreamError::new(StreamErrorCondition::InternalServerError)
                        .with_text("TLS established without STARTTLS");
                    self.close(Some(error), &mut actions);
                }
            }
            Input::Credentials(answer) => self.on_credentials(answer, &mut actions),
            Input::Deliver(stanza) => match self.phase {
                Phase::Bound => self.deliver(stanza, &mut actions),
                Phase::Detached => self.keep_detached(stanza, &mut actions),
                _ => {}
            },
            Input::IdleTimeout if self.is_resumable_bound() => self.detach(&mut actions),
            Input::IdleTimeout => self.close(
                Some(StreamError::new(StreamErrorCondition::ConnectionTimeout)),
                &mut actions,
            ),
            Input::NegotiationTimeout => {
                if !matches!(self.phase, Phase::Bound | Phase::Detached) {
                    let error = StreamError::new(StreamErrorCondition::ConnectionTimeout)
                        .with_text("no resource bound in time");
                    self.close(Some(error), &mut actions);
                }
            }
            Input::Close(_) | Input::ResumeTimeout if matches!(self.phase, Phase::Detached) => {
                self.phase = Phase::Closed;
                actions.push(Action::Terminate);
            }
            Input::Close(error) => self.close(Some(error), &mut actions),
            Input::ResumeTimeout => {}
            Input::Disconnected if self.is_resumable_bound() => self.detach(&mut actions),
            Input::Disconnected => {
                self.phase = Phase::Closed;
                actions.push(Action::Terminate);
            }
            Input::Resumed(state) => self.on_resumed(*state, &mut actions),
            Input::AckTimer => {
                let fired = self.sm.as_mut().is_some_and(SmState::idle_timer_fired);
                if fired && matches!(self.phase, Phase::Bound) {
                    actions.push(Action::RequestAck);
                }
            }
            Input::PingDue => self.ping(&mut actions),
            Input::Registered { id, outcome } => self.on_registered(&id, outcome, &mut actions),
            Input::PingTimeout => self.ping_timed_out(&mut actions),
            Input::ResumeFailed { h } => {
                let phase = std::mem::replace(&mut self.phase, Phase::Bind);
                match phase {
                    Phase::Resuming { sasl2: None, .. } => {
                        actions.push(Action::Send(sm::failed(
                            StanzaErrorCondition::ItemNotFound,
                            h,
                        )));
                    }
                    // XEP-0386: the failure goes in the success, and the bind goes ahead.
                    Phase::Resuming {
                        sasl2: Some(pending),
                        ..
                    } => {
                        let failed = sm::failed(StanzaErrorCondition::ItemNotFound, h);
                        let Sasl2Resume {
                            request,
                            additional_data,
                        } = *pending;
                        self.sasl2_bind(
                            request,
                            additional_data.as_deref(),
                            Some(failed),
                            &mut actions,
                        );
                    }
                    other => self.phase = other,
                }
            }
        }
        actions
    }

    /// The client has been silent for `ping_interval`: ask it (unless a ping is out).
    fn ping(&mut self, actions: &mut Vec<Action>) {
        let (Phase::Bound, None, Some(jid), Some(domain)) = (
            &self.phase,
            &self.ping_pending,
            self.jid.as_ref(),
            self.domain.as_deref(),
        ) else {
            return;
        };
        if self.config.pings.is_none() {
            return;
        }
        let mut bytes = [0u8; 8];
        self.config.random.fill(&mut bytes);
        let id = format!("ping-{}", hex(&bytes));
        let iq = keepalive::ping_iq(&id, domain, &jid.to_string());
        self.ping_pending = Some(id);
        self.send_stanza(iq, actions);
        actions.push(Action::ArmPingTimeout);
    }

    /// `ping_req_timeout` after a ping: unanswered, the connection is taken for dead (with
    /// `timeout_action = kill`).
    fn ping_timed_out(&mut self, actions: &mut Vec<Action>) {
        if self.ping_pending.take().is_none() || !matches!(self.phase, Phase::Bound) {
            return;
        }
        let kill = self
            .config
            .pings
            .as_ref()
            .is_some_and(|pings| pings.kill_on_timeout);
        tracing::info!(jid = ?self.jid.as_ref().map(Jid::to_string), kill, "no answer to a server ping");
        if !kill {
            return;
        }
        if self.is_resumable_bound() {
            self.detach(actions);
        } else {
            let error = StreamError::new(StreamErrorCondition::ConnectionTimeout)
                .with_text("no answer to a ping");
            self.close(Some(error), actions);
        }
    }

    fn is_resumable_bound(&self) -> bool {
        matches!(self.phase, Phase::Bound) && self.sm.as_ref().is_some_and(SmState::is_resumable)
    }

    fn detach(&mut self, actions: &mut Vec<Action>) {
        self.phase = Phase::Detached;
        actions.push(Action::Detach);
        // What was held for an inactive client waits for the resumption with the rest.
        for stanza in self.csi.take_held() {
            self.keep_detached(stanza, actions);
        }
    }

    /// A stanza for a bound client: through client state indication (held, dropped or
    /// flushed with what was held) to [`Self::send_stanza`].
    fn deliver(&mut self, stanza: Element, actions: &mut Vec<Action>) {
        let Some(config) = self.config.csi.as_ref() else {
            self.send_stanza(stanza, actions);
            return;
        };
        if !self.csi.is_inactive() {
            self.send_stanza(stanza, actions);
            return;
        }
        if let Offered::Flush(stanzas) = self.csi.offer(stanza, config.buffer_max) {
            self.send_all(stanzas, actions);
        }
    }

    /// Sends `stanzas` in order; if one closes the stream (stream management's buffer is
    /// full), the rest are kept with it for re-routing.
    fn send_all(&mut self, stanzas: Vec<Element>, actions: &mut Vec<Action>) {
        for stanza in stanzas {
            match (&self.phase, self.sm.as_mut()) {
                (Phase::Bound, _) => self.send_stanza(stanza, actions),
                (_, Some(sm)) => sm.keep(stanza),
                (_, None) => {}
            }
        }
    }

    /// `<active/>` and `<inactive/>` on a bound stream.
    fn on_csi_element(&mut self, element: &Element, actions: &mut Vec<Action>) {
        match element.name.as_str() {
            "active" => {
                let held = self.csi.set_active();
                self.send_all(held, actions);
            }
            "inactive" => self.csi.set_inactive(),
            _ => self.close_with(StreamErrorCondition::UnsupportedStanzaType, actions),
        }
    }

    /// A stanza for the client: counted, handed out for writing, kept until acknowledged
    /// (with stream management on), with an `<r/>` every `ack_freq` stanzas.
    fn send_stanza(&mut self, stanza: Element, actions: &mut Vec<Action>) {
        let Some(config) = self.config.sm.as_ref() else {
            actions.push(Action::Send(stanza));
            return;
        };
        let (buffer_max, ack_freq) = (config.buffer_max, config.ack_freq);
        let Some(sm) = self.sm.as_mut() else {
            actions.push(Action::Send(stanza));
            return;
        };
        if sm.is_full(buffer_max) {
            // Kept (past the bound by one) so that the shell re-routes it with the rest.
            sm.keep(stanza);
            let error = StreamError::new(StreamErrorCondition::ResourceConstraint).with_text(
                format!("buffer_max ({buffer_max}) unacknowledged stanzas reached"),
            );
            self.close(Some(error), actions);
            return;
        }
        let request = sm.count_out(ack_freq);
        actions.push(Action::SendStanza(stanza));
        if request {
            actions.push(Action::RequestAck);
        } else if sm.arm_idle_timer() {
            actions.push(Action::ArmAckTimer);
        }
    }

    /// A stanza for a detached client: counted and kept for the resumption; past
    /// `buffer_max` the session ends (its buffer is re-routed by the shell).
    fn keep_detached(&mut self, stanza: Element, actions: &mut Vec<Action>) {
        let buffer_max = self
            .config
            .sm
            .as_ref()
            .map_or(0, |config| config.buffer_max);
        let Some(sm) = self.sm.as_mut() else {
            return;
        };
        if matches!(self.phase, Phase::Closed) {
            sm.keep(stanza);
            return;
        }
        if sm.is_full(buffer_max) {
            self.phase = Phase::Closed;
            actions.push(Action::Terminate);
            // The stanza is the newest: it is re-routed after the buffer.
            sm.keep(stanza);
            return;
        }
        sm.count_out(u32::MAX);
        sm.keep(stanza);
    }

    fn on_resumed(&mut self, state: ResumableState, actions: &mut Vec<Action>) {
        let Phase::Resuming { h, sasl2 } = std::mem::replace(&mut self.phase, Phase::Closed) else {
            return;
        };
        let own_user = |jid: &Jid| {
            jid.local() == self.username.as_deref() && Some(jid.domain()) == self.domain.as_deref()
        };
        let jid = match state.jid.parse::<Jid>() {
            Ok(jid) if own_user(&jid) && jid.resource().is_some() => jid,
            _ => {
                self.close_with(StreamErrorCondition::InternalServerError, actions);
                return;
            }
        };
        let mut sm_state = SmState::resumed(state);
        self.jid = Some(jid);
        self.phase = Phase::Bound;
        if let Err(too_high) = sm_state.ack(h) {
            self.sm = Some(sm_state);
            self.ack_too_high(too_high, actions);
            return;
        }
        let resumed = Element::new("resumed", NS_SM)
            .with_attr("previd", sm_state.id().as_str())
            .with_attr("h", sm_state.handled_in().to_string());
        let unacked = sm_state.take_buffer();
        self.sm = Some(sm_state);
        match sasl2 {
            None => actions.push(Action::Send(resumed)),
            Some(pending) => {
                let identifier = self.jid.as_ref().map(Jid::to_string).unwrap_or_default();
                actions.push(Action::Send(sasl2::success(
                    pending.additional_data.as_deref(),
                    &identifier,
                    Some(resumed),
                )));
                actions.push(Action::Send(self.bound_stream_features()));
            }
        }
        let resent = !unacked.is_empty();
        actions.extend(unacked.into_iter().map(Action::SendStanza));
        if resent {
            actions.push(Action::RequestAck);
        }
    }

    fn ack_too_high(&mut self, too_high: sm::AckTooHigh, actions: &mut Vec<Action>) {
        // XEP-0198 §4: undefined-condition with <handled-count-too-high/>; StreamError has
        // no application-specific condition, so the element is written here.
        let mut error = too_high.to_stream_error().to_element();
        error.push_child(too_high.to_element());
        actions.push(Action::Send(error));
        self.close(None, actions);
    }

    /// `<enable/>`, `<r/>`, `<a/>`, `<resume/>` on a bound stream.
    fn on_sm_element(&mut self, element: &Element, actions: &mut Vec<Action>) {
        let unexpected = || Action::Send(sm::failed(StanzaErrorCondition::UnexpectedRequest, None));
        match (element.name.as_str(), self.sm.as_mut()) {
            ("enable", None) => {
                let resumable = matches!(element.attr("resume"), Some("true" | "1"));
                // Only called with stream management configured.
                if let Some((enable, enabled)) = self.enable_sm(resumable) {
                    actions.push(enable);
                    actions.push(Action::Send(enabled));
                }
            }
            ("r", Some(sm)) => actions.push(Action::Send(sm::answer(sm.handled_in()))),
            ("a", Some(sm)) => match sm::h_attr(element).map(|h| sm.ack(h)) {
                Some(Ok(())) => {}
                Some(Err(too_high)) => self.ack_too_high(too_high, actions),
                None => {
                    let error = StreamError::new(StreamErrorCondition::InvalidXml)
                        .with_text("<a/> without a valid h");
                    self.close(Some(error), actions);
                }
            },
            ("enable" | "resume" | "r" | "a", _) => actions.push(unexpected()),
            _ => self.close_with(StreamErrorCondition::UnsupportedStanzaType, actions),
        }
    }

    /// Enables stream management on this bound stream (by `<enable/>` or Bind 2): the action
    /// for the shell and the `<enabled/>` for the client; `None` if it is not configured.
    fn enable_sm(&mut self, resumable: bool) -> Option<(Action, Element)> {
        let config = self.config.sm.as_ref()?;
        let id = SmId::from_randomness(&self.config.random);
        let mut enabled = Element::new("enabled", NS_SM);
        if resumable {
            enabled.set_attr("id", id.as_str());
            enabled.set_attr("resume", "true");
            enabled.set_attr("max", config.resume_timeout.as_secs().to_string());
        }
        self.sm = Some(SmState::new(id.clone(), resumable));
        Some((Action::EnableSm { id, resumable }, enabled))
    }

    /// `<resume previd h/>` where a bind could come (after SASL): ask the shell.
    fn start_resume(&mut self, element: &Element, actions: &mut Vec<Action>) {
        let (Some(previd), Some(h)) = (element.attr("previd"), sm::h_attr(element)) else {
            actions.push(Action::Send(sm::failed(
                StanzaErrorCondition::BadRequest,
                None,
            )));
            return;
        };
        self.phase = Phase::Resuming { h, sasl2: None };
        actions.push(Action::Resume {
            previd: SmId::from_client(previd),
        });
    }

    fn close(&mut self, error: Option<StreamError>, actions: &mut Vec<Action>) {
        if !self.header_sent {
            let domain = self
                .domain
                .clone()
                .unwrap_or_else(|| self.config.default_domain().to_owned());
            actions.push(Action::SendHeader(self.header_xml(&domain, None)));
            self.header_sent = true;
        }
        self.phase = Phase::Closed;
        actions.push(Action::Close(error));
    }

    fn close_with(&mut self, condition: StreamErrorCondition, actions: &mut Vec<Action>) {
        self.close(Some(StreamError::new(condition)), actions);
    }

    fn header_xml(&self, domain: &str, to: Option<&str>) -> String {
        let mut id_bytes = [0u8; STREAM_ID_BYTES];
        self.config.random.fill(&mut id_bytes);
        let id = hex(&id_bytes);
        let mut attrs = vec![("from", domain), ("id", id.as_str())];
        if let Some(to) = to {
            attrs.push(("to", to));
        }
        attrs.push(("version", "1.0"));
        attrs.push(("xml:lang", STREAM_LANG));
        let mut out = String::new();
        write_stream_open(&mut out, NS_CLIENT, &attrs);
        out
    }

    fn on_header(&mut self, header: &StreamHeader, actions: &mut Vec<Action>) {
        if !matches!(self.phase, Phase::Header) {
            // The parser yields a header only at a stream's start.
            self.close_with(StreamErrorCondition::BadFormat, actions);
            return;
        }
        if header.default_namespace != NS_CLIENT {
            let error =
                StreamError::new(StreamErrorCondition::InvalidNamespace).with_text(format!(
                    "content namespace must be {NS_CLIENT}, not {:?}",
                    header.default_namespace
                ));
            self.close(Some(error), actions);
            return;
        }
        let domain = match header.to() {
            // RFC 6120 §4.7.2: without `to`, the default domain (or, after a
            // restart, the one already chosen).
            None => self
                .domain
                .clone()
                .unwrap_or_else(|| self.config.default_domain().to_owned()),
            Some(to) => match normalize_domain(to) {
                Ok(domain) if self.config.domains.contains(&domain) => domain,
                _ => {
                    self.close_with(StreamErrorCondition::HostUnknown, actions);
                    return;
                }
            },
        };
        if self.domain.as_ref().is_some_and(|chosen| *chosen != domain) {
            self.close_with(StreamErrorCondition::HostUnknown, actions);
            return;
        }
        // Echo the client's `from` only if it is a JID (RFC 6120 §4.7.2).
        let peer = header
            .from()
            .and_then(|from| from.parse::<Jid>().ok())
            .map(|jid| jid.to_string());
        actions.push(Action::SendHeader(
            self.header_xml(&domain, peer.as_deref()),
        ));
        self.header_sent = true;
        self.domain = Some(domain);
        if !header.version().is_some_and(is_version_1) {
            self.close_with(StreamErrorCondition::UnsupportedVersion, actions);
            return;
        }
        actions.push(Action::Send(self.features()));
        self.phase = if self.username.is_some() {
            Phase::Bind
        } else {
            Phase::Features
        };
    }

    fn features(&self) -> Element {
        let mut features = Element::new("features", NS_STREAMS);
        if self.username.is_some() {
            features.push_child(Element::new("bind", NS_BIND));
            features.push_child(
                Element::new("session", NS_SESSION)
                    .with_child(Element::new("optional", NS_SESSION)),
            );
            if self.config.sm.is_some() {
                features.push_child(Element::new("sm", NS_SM));
            }
            if self.config.csi.is_some() {
                features.push_child(Element::new("csi", NS_CSI));
            }
            for feature in &self.config.bound_features {
                features.push_child(feature.clone());
            }
            return features;
        }
        let policy = self.config.tls;
        if !self.tls_active && matches!(policy, TlsPolicy::Optional | TlsPolicy::Required) {
            let mut starttls = Element::new("starttls", NS_TLS);
            if policy == TlsPolicy::Required {
                starttls.push_child(Element::new("required", NS_TLS));
            }
            features.push_child(starttls);
        }
        if self.sasl_allowed() {
            features.push_child(mechanisms_element(&self.config.mechanisms));
            if let Some(bind) = self.config.sasl2 {
                let resume = self.config.sm.is_some();
                features.push_child(sasl2::feature(&self.config.mechanisms, bind, resume));
            }
            if self.config.registration {
                features.push_child(Element::new("register", NS_REGISTER_FEATURE));
            }
        }
        features
    }

    fn sasl_allowed(&self) -> bool {
        self.tls_active || self.config.tls != TlsPolicy::Required
    }

    fn on_element(&mut self, element: Element, actions: &mut Vec<Action>) {
        if element.is("error", NS_STREAMS) {
            // The client ends the stream with an error of its own.
            self.close(None, actions);
            return;
        }
        match self.phase {
            Phase::Header => self.close_with(StreamErrorCondition::BadFormat, actions),
            Phase::Features => self.on_negotiation_element(&element, actions),
            // `<proceed/>` is out: the shell drops what follows until TLS is up.
            Phase::Tls => {}
            Phase::Sasl { .. } => self.on_sasl_element(&element, actions),
            // Without stream management configured, its elements are what they were
            // before: not-authorized before binding, unsupported-stanza-type after.
            Phase::Bind if element.namespace == NS_SM && self.config.sm.is_some() => {
                if element.name == "resume" {
                    self.start_resume(&element, actions);
                } else {
                    // XEP-0198 §3: <enable/> before binding is unexpected-request.
                    actions.push(Action::Send(sm::failed(
                        StanzaErrorCondition::UnexpectedRequest,
                        None,
                    )));
                }
            }
            Phase::Bind => self.on_bind_phase_element(&element, actions),
            // The connection parses one element at a time until bound.
            Phase::Resuming { .. } => {}
            Phase::Bound if element.namespace == NS_SM && self.config.sm.is_some() => {
                self.on_sm_element(&element, actions)
            }
            Phase::Bound if element.namespace == NS_CSI && self.config.csi.is_some() => {
                self.on_csi_element(&element, actions)
            }
            Phase::Bound => self.on_bound_element(element, actions),
            Phase::Detached | Phase::Closed => {}
        }
    }

    fn on_negotiation_element(&mut self, element: &Element, actions: &mut Vec<Action>) {
        if element.is("starttls", NS_TLS) {
            let offered = !self.tls_active
                && matches!(self.config.tls, TlsPolicy::Optional | TlsPolicy::Required);
            if offered {
                actions.push(Action::Send(Element::new("proceed", NS_TLS)));
                actions.push(Action::StartTls);
                self.phase = Phase::Tls;
            } else {
                // RFC 6120 §5.4.2.2: <failure/>, then close the stream.
                actions.push(Action::Send(Element::new("failure", NS_TLS)));
                self.close(None, actions);
            }
        } else if element.is("auth", NS_SASL) {
            self.start_auth(element, actions);
        } else if self.config.sasl2.is_some() && element.is("authenticate", NS_SASL2) {
            self.start_authenticate(element, actions);
        } else if self.config.registration && is_iq_with(element, "query", NS_REGISTER) {
            self.registration(element, actions);
        } else if element.is("abort", NS_SASL) {
            self.sasl_failure(SaslFailure::new(SaslCondition::Aborted), None, actions);
        } else if element.is("response", NS_SASL) {
            let failure = SaslFailure::new(SaslCondition::MalformedRequest)
                .with_text("no authentication exchange in progress");
            self.sasl_failure(failure, None, actions);
        } else {
            self.close_with(StreamErrorCondition::NotAuthorized, actions);
        }
    }

    /// A registration iq before sign-in (XEP-0077 §3.1): the fields for a `get`, an account
    /// for a `set` with both, the XEP's errors for the rest.
    fn registration(&mut self, iq: &Element, actions: &mut Vec<Action>) {
        if !self.sasl_allowed() {
            // Not offered before TLS on a listener that requires it.
            self.close_with(StreamErrorCondition::NotAuthorized, actions);
            return;
        }
        let id = iq.attr("id").unwrap_or_default().to_owned();
        let query = iq.child("query", NS_REGISTER);
        let field = |name: &str| {
            query
                .and_then(|query| query.elements().find(|child| child.name == name))
                .map(Element::text)
        };
        match iq.attr("type") {
            Some("get") => {
                let fields = Element::new("query", NS_REGISTER)
                    .with_child(
                        Element::new("instructions", NS_REGISTER)
                            .with_text("Choose a username and password."),
                    )
                    .with_child(Element::new("username", NS_REGISTER))
                    .with_child(Element::new("password", NS_REGISTER));
                let result = Element::new("iq", NS_CLIENT)
                    .with_attr("type", "result")
                    .with_attr("id", id)
                    .with_child(fields);
                actions.push(Action::Send(result));
            }
            Some("set") if field("remove").is_some() => {
                // §3.2: cancelling needs a signed-in account.
                actions.push(Action::Send(error_reply(
                    iq,
                    StanzaErrorCondition::NotAuthorized,
                )));
            }
            Some("set") => match (field("username"), field("password")) {
                (Some(username), Some(password)) if !username.is_empty() => {
                    actions.push(Action::Register {
                        id,
                        username,
                        password,
                    });
                }
                // §3.1: a missing field is not-acceptable.
                _ => self.registration_refused(&id, StanzaErrorCondition::NotAcceptable, actions),
            },
            _ => actions.push(Action::Send(error_reply(
                iq,
                StanzaErrorCondition::BadRequest,
            ))),
        }
    }

    fn on_registered(
        &mut self,
        id: &str,
        outcome: Result<(), StanzaErrorCondition>,
        actions: &mut Vec<Action>,
    ) {
        if !matches!(self.phase, Phase::Features) {
            return;
        }
        match outcome {
            Ok(()) => actions.push(Action::Send(
                Element::new("iq", NS_CLIENT)
                    .with_attr("type", "result")
                    .with_attr("id", id),
            )),
            Err(condition) => self.registration_refused(id, condition, actions),
        }
    }

    /// A refused registration: the error, counted as a failed attempt (see
    /// [`super::registration`]).
    fn registration_refused(
        &mut self,
        id: &str,
        condition: StanzaErrorCondition,
        actions: &mut Vec<Action>,
    ) {
        let iq = Element::new("iq", NS_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", id);
        let counts = condition != StanzaErrorCondition::InternalServerError;
        actions.push(Action::Send(error_reply(&iq, condition)));
        if counts {
            self.count_auth_failure(actions);
        }
    }

    /// One more failed attempt; at `auth_failures_max` the stream is closed with
    /// `policy-violation`.
    fn count_auth_failure(&mut self, actions: &mut Vec<Action>) {
        self.auth_failures += 1;
        if self.auth_failures >= self.config.auth_failures_max {
            let error = StreamError::new(StreamErrorCondition::PolicyViolation).with_text(format!(
                "auth_failures_max ({}) reached",
                self.config.auth_failures_max
            ));
            self.close(Some(error), actions);
        }
    }

    fn start_auth(&mut self, element: &Element, actions: &mut Vec<Action>) {
        if !self.sasl_allowed() {
            self.sasl_failure(
                SaslFailure::new(SaslCondition::EncryptionRequired),
                None,
                actions,
            );
            return;
        }
        let mechanism = element
            .attr("mechanism")
            .and_then(Mechanism::from_name)
            .filter(|mechanism| self.config.mechanisms.contains(mechanism));
        let Some(mechanism) = mechanism else {
            self.sasl_failure(
                SaslFailure::new(SaslCondition::InvalidMechanism),
                None,
                actions,
            );
            return;
        };
        let initial_response = match decode_initial_response(&element.text()) {
            Ok(initial_response) => initial_response,
            Err(failure) => {
                self.sasl_failure(failure, None, actions);
                return;
            }
        };
        self.begin_exchange(mechanism, initial_response.as_deref(), None, actions);
    }

    /// Starts `mechanism`'s exchange (SASL1's, or SASL2's with its `request`) for the
    /// stream's domain.
    fn begin_exchange(
        &mut self,
        mechanism: Mechanism,
        initial_response: Option<&[u8]>,
        request: Option<Box<Sasl2Request>>,
        actions: &mut Vec<Action>,
    ) {
        let domain = self.domain.clone().unwrap_or_default();
        let Some(sasl_config) = self.config.sasl_config(&domain) else {
            // A domain is chosen by every header that leads here.
            self.close_with(StreamErrorCondition::InternalServerError, actions);
            return;
        };
        let mut server = Box::new(SaslServer::new(mechanism, sasl_config.clone()));
        let step = server.start(initial_response);
        self.sasl_step(server, step, request, actions);
    }

    /// SASL2's `<authenticate/>`: the same exchange as `<auth/>`, its request kept for the
    /// success.
    fn start_authenticate(&mut self, element: &Element, actions: &mut Vec<Action>) {
        let sasl2 = Some(Box::default());
        if !self.sasl_allowed() {
            let failure = SaslFailure::new(SaslCondition::EncryptionRequired);
            self.sasl_failure(failure, sasl2.as_deref(), actions);
            return;
        }
        let parsed = match sasl2::parse_authenticate(element) {
            Ok(parsed) => parsed,
            Err(failure) => {
                self.sasl_failure(failure, sasl2.as_deref(), actions);
                return;
            }
        };
        let mechanism = parsed
            .mechanism
            .filter(|mechanism| self.config.mechanisms.contains(mechanism));
        let Some(mechanism) = mechanism else {
            let failure = SaslFailure::new(SaslCondition::InvalidMechanism);
            self.sasl_failure(failure, sasl2.as_deref(), actions);
            return;
        };
        let request = Some(Box::new(parsed.request));
        self.begin_exchange(
            mechanism,
            parsed.initial_response.as_deref(),
            request,
            actions,
        );
    }

    fn on_sasl_element(&mut self, element: &Element, actions: &mut Vec<Action>) {
        let Phase::Sasl {
            mut server,
            awaiting_credentials,
            sasl2,
        } = std::mem::replace(&mut self.phase, Phase::Features)
        else {
            return;
        };
        // Each exchange speaks its own namespace to the end.
        let namespace = if sasl2.is_some() { NS_SASL2 } else { NS_SASL };
        if element.is("response", namespace) && !awaiting_credentials {
            let step = match decode_response(element.text().trim()) {
                Ok(response) => server.respond(&response),
                Err(failure) => Step::Failure(failure),
            };
            self.sasl_step(server, step, sasl2, actions);
        } else if element.is("response", namespace) {
            let failure = SaslFailure::new(SaslCondition::MalformedRequest)
                .with_text("response not expected now");
            self.sasl_failure(failure, sasl2.as_deref(), actions);
        } else if element.is("abort", namespace) {
            let step = server.abort();
            self.sasl_step(server, step, sasl2, actions);
        } else if element.is("auth", NS_SASL) {
            // A new exchange replaces the unfinished one.
            self.start_auth(element, actions);
        } else if self.config.sasl2.is_some() && element.is("authenticate", NS_SASL2) {
            self.start_authenticate(element, actions);
        } else {
            self.close_with(StreamErrorCondition::NotAuthorized, actions);
        }
    }

    fn on_credentials(&mut self, answer: Credentials, actions: &mut Vec<Action>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Features);
        let Phase::Sasl {
            mut server,
            awaiting_credentials: true,
            sasl2,
        } = phase
        else {
            // A late answer for an exchange that is over.
            self.phase = phase;
            return;
        };
        let step = match answer {
            Credentials::Found(details) => server.credentials(Some(&details)),
            Credentials::NoSuchUser => server.credentials(None),
            Credentials::Unavailable => {
                Step::Failure(SaslFailure::new(SaslCondition::TemporaryAuthFailure))
            }
        };
        self.sasl_step(server, step, sasl2, actions);
    }

    fn sasl_step(
        &mut self,
        server: Box<SaslServer>,
        step: Step,
        sasl2: Option<Box<Sasl2Request>>,
        actions: &mut Vec<Action>,
    ) {
        match step {
            Step::Challenge(ref data) => {
                let element = match sasl2 {
                    Some(_) => Some(sasl2::challenge(data)),
                    None => step.to_element(),
                };
                actions.extend(element.map(Action::Send));
                self.phase = Phase::Sasl {
                    server,
                    awaiting_credentials: false,
                    sasl2,
                };
            }
            Step::NeedCredentials { username } => {
                actions.push(Action::LookupCredentials {
                    domain: self.domain.clone().unwrap_or_default(),
                    username,
                });
                self.phase = Phase::Sasl {
                    server,
                    awaiting_credentials: true,
                    sasl2,
                };
            }
            Step::Success(ref authenticated) => {
                crate::metrics::login(server.mechanism().name());
                self.username = Some(authenticated.username.clone());
                if let Some(request) = sasl2 {
                    let data = authenticated.additional_data.clone();
                    self.sasl2_success(*request, data.as_deref(), actions);
                    return;
                }
                if let Some(element) = step.to_element() {
                    actions.push(Action::Send(element));
                }
                actions.push(Action::RestartStream);
                self.header_sent = false;
                self.phase = Phase::Header;
            }
            Step::Failure(failure) => {
                crate::metrics::login_failed(server.mechanism().name());
                self.sasl_failure(failure, sasl2.as_deref(), actions)
            }
        }
    }

    /// SASL2 succeeded: no restart; Bind 2 if asked for (the session opened, stream
    /// management, carbons and the CSI state as asked), then `<success/>` and the features
    /// of the authenticated stream.
    fn sasl2_success(
        &mut self,
        mut request: Sasl2Request,
        additional_data: Option<&[u8]>,
        actions: &mut Vec<Action>,
    ) {
        if let (Some((previd, h)), Some(_)) = (request.resume.take(), self.config.sm.as_ref()) {
            // Resumption first (XEP-0386 §3): the outcome waits for the shell's answer.
            self.phase = Phase::Resuming {
                h,
                sasl2: Some(Box::new(Sasl2Resume {
                    request,
                    additional_data: additional_data.map(<[u8]>::to_vec),
                })),
            };
            actions.push(Action::Resume {
                previd: SmId::from_client(&previd),
            });
            return;
        }
        self.sasl2_bind(request, additional_data, None, actions);
    }

    /// The rest of a SASL2 success once there is no resumption (or it failed, `failed`):
    /// Bind 2 if asked for, `<success/>` (with `failed` in `<bound/>`, or beside the bare
    /// JID), and the features.
    fn sasl2_bind(
        &mut self,
        request: Sasl2Request,
        additional_data: Option<&[u8]>,
        failed: Option<Element>,
        actions: &mut Vec<Action>,
    ) {
        let domain = self.domain.clone().unwrap_or_default();
        let username = self.username.clone().unwrap_or_default();
        let inline = self.config.sasl2.flatten();
        let (Some(bind), Some(inline)) = (request.bind, inline) else {
            let bare = format!("{username}@{domain}");
            actions.push(Action::Send(sasl2::success(additional_data, &bare, failed)));
            self.phase = Phase::Bind;
            actions.push(Action::Send(self.features()));
            return;
        };
        let tag = bind
            .tag
            .as_deref()
            .and_then(|tag| normalize_resource(tag).ok())
            .filter(|tag| !tag.contains('/'));
        let mut bytes = [0u8; RESOURCE_RANDOM_BYTES];
        self.config.random.fill(&mut bytes);
        let account = format!("{username}@{domain}");
        let resource = sasl2::resource(
            tag.as_deref(),
            &account,
            request.user_agent_id.as_deref(),
            &hex(&bytes),
        );
        let jid = match Jid::new(Some(&username), &domain, Some(&resource)) {
            Ok(jid) => jid,
            Err(_) => {
                self.close_with(StreamErrorCondition::InternalServerError, actions);
                return;
            }
        };
        actions.push(Action::OpenSession {
            jid: jid.clone(),
            carbons: bind.carbons && inline.carbons,
        });
        self.jid = Some(jid.clone());
        self.phase = Phase::Bound;
        let mut bound = Element::new("bound", sasl2::NS_BIND2);
        if let Some(failed) = failed {
            bound.push_child(failed);
        }
        if let (Some(resume), true) = (bind.stream_management, inline.stream_management) {
            if let Some((enable, enabled)) = self.enable_sm(resume) {
                actions.push(enable);
                bound.push_child(enabled);
            }
        }
        if let (Some(true), true) = (bind.inactive, inline.client_state) {
            self.csi.set_inactive();
        }
        let identifier = jid.to_string();
        actions.push(Action::Send(sasl2::success(
            additional_data,
            &identifier,
            Some(bound),
        )));
        actions.push(Action::Send(self.bound_stream_features()));
    }

    /// The features of a stream bound by Bind 2: what can still be negotiated.
    fn bound_stream_features(&self) -> Element {
        let mut features = Element::new("features", NS_STREAMS);
        if self.config.sm.is_some() && self.sm.is_none() {
            features.push_child(Element::new("sm", NS_SM));
        }
        if self.config.csi.is_some() {
            features.push_child(Element::new("csi", NS_CSI));
        }
        for feature in &self.config.bound_features {
            features.push_child(feature.clone());
        }
        features
    }

    fn sasl_failure(
        &mut self,
        failure: SaslFailure,
        sasl2: Option<&Sasl2Request>,
        actions: &mut Vec<Action>,
    ) {
        let counts = !matches!(
            failure.condition,
            SaslCondition::Aborted | SaslCondition::TemporaryAuthFailure
        );
        let element = match sasl2 {
            Some(_) => sasl2::failure(&failure),
            None => failure.to_element(),
        };
        actions.push(Action::Send(element));
        self.phase = Phase::Features;
        if counts {
            self.count_auth_failure(actions);
        }
    }

    fn on_bind_phase_element(&mut self, element: &Element, actions: &mut Vec<Action>) {
        if is_iq_with(element, "bind", NS_BIND) {
            self.bind(element, actions);
        } else {
            self.close_with(StreamErrorCondition::NotAuthorized, actions);
        }
    }

    fn bind(&mut self, iq: &Element, actions: &mut Vec<Action>) {
        if iq.attr("type") != Some("set") || iq.attr("id").is_none() {
            actions.push(Action::Send(error_reply(
                iq,
                StanzaErrorCondition::BadRequest,
            )));
            return;
        }
        let requested = iq
            .child("bind", NS_BIND)
            .and_then(|bind| bind.child("resource", NS_BIND))
            .map(Element::text)
            .filter(|resource| !resource.is_empty());
        let resource = match requested {
            Some(requested) => match normalize_resource(&requested) {
                Ok(resource) => resource,
                Err(_) => {
                    actions.push(Action::Send(error_reply(
                        iq,
                        StanzaErrorCondition::BadRequest,
                    )));
                    return;
                }
            },
            None => {
                let mut bytes = [0u8; RESOURCE_RANDOM_BYTES];
                self.config.random.fill(&mut bytes);
                hex(&bytes)
            }
        };
        let domain = self.domain.clone().unwrap_or_default();
        let jid = match Jid::new(self.username.as_deref(), &domain, Some(&resource)) {
            Ok(jid) => jid,
            Err(_) => {
                actions.push(Action::Send(error_reply(
                    iq,
                    StanzaErrorCondition::BadRequest,
                )));
                return;
            }
        };
        let mut result = Element::new("iq", NS_CLIENT).with_attr("type", "result");
        if let Some(id) = iq.attr("id") {
            result.set_attr("id", id);
        }
        result.push_child(
            Element::new("bind", NS_BIND)
                .with_child(Element::new("jid", NS_BIND).with_text(jid.to_string())),
        );
        actions.push(Action::OpenSession {
            jid: jid.clone(),
            carbons: false,
        });
        actions.push(Action::Send(result));
        self.jid = Some(jid);
        self.phase = Phase::Bound;
    }

    fn on_bound_element(&mut self, mut stanza: Element, actions: &mut Vec<Action>) {
        let is_stanza = stanza.namespace == NS_CLIENT
            && matches!(stanza.name.as_str(), "message" | "presence" | "iq");
        if !is_stanza {
            self.close_with(StreamErrorCondition::UnsupportedStanzaType, actions);
            return;
        }
        if let Some(sm) = self.sm.as_mut() {
            sm.count_in();
        }
        let Some(jid) = self.jid.clone() else {
            self.close_with(StreamErrorCondition::InternalServerError, actions);
            return;
        };
        if let Some(from) = stanza.attr("from") {
            let own = from
                .parse::<Jid>()
                .is_ok_and(|from| from == jid || (from.is_bare() && from.bare() == jid.bare()));
            if !own {
                self.close_with(StreamErrorCondition::InvalidFrom, actions);
                return;
            }
        }
        stanza.set_attr("from", jid.to_string());
        if let (Some(id), Some(domain)) = (self.ping_pending.as_deref(), self.domain.as_deref()) {
            if keepalive::answers(&stanza, id, domain) {
                self.ping_pending = None;
                return;
            }
        }
        if is_iq_with(&stanza, "bind", NS_BIND) {
            let reply = error_reply(&stanza, StanzaErrorCondition::NotAllowed);
            self.send_stanza(reply, actions);
            return;
        }
        if is_iq_with(&stanza, "session", NS_SESSION) && stanza.attr("type") == Some("set") {
            let mut result = Element::new("iq", NS_CLIENT).with_attr("type", "result");
            if let Some(id) = stanza.attr("id") {
                result.set_attr("id", id);
            }
            self.send_stanza(result, actions);
            return;
        }
        let stanza_type = stanza.attr("type").unwrap_or_default().to_owned();
        if let Some(to) = stanza.attr("to") {
            if to.parse::<Jid>().is_err() {
                if stanza_type != "error" {
                    let mut reply = error_reply(&stanza, StanzaErrorCondition::JidMalformed);
                    // The reply's `from` would be the malformed address.
                    reply.remove_attr("from");
                    self.send_stanza(reply, actions);
                }
                return;
            }
        }
        if stanza.name == "iq" && !is_valid_iq(&stanza) {
            if stanza_type != "error" && stanza_type != "result" {
                let reply = error_reply(&stanza, StanzaErrorCondition::BadRequest);
                self.send_stanza(reply, actions);
            }
            return;
        }
        actions.push(Action::Route(stanza));
    }
}

/// `1.0`, `1.1`, ...: RFC 6120 §4.7.5 (major version 1).
fn is_version_1(version: &str) -> bool {
    match version.split_once('.') {
        Some((major, minor)) => {
            major.trim_start_matches('0') == "1"
                && !minor.is_empty()
                && minor.bytes().all(|byte| byte.is_ascii_digit())
        }
        None => false,
    }
}

/// An iq in `jabber:client` with a `name` child in `namespace`.
fn is_iq_with(element: &Element, name: &str, namespace: &str) -> bool {
    element.is("iq", NS_CLIENT) && element.child(name, namespace).is_some()
}

/// RFC 6120 §8.2.3: an id; type get or set with exactly one child, result
/// with at most one, or error.
fn is_valid_iq(iq: &Element) -> bool {
    if iq.attr("id").is_none() {
        return false;
    }
    let children = iq.elements().count();
    match iq.attr("type") {
        Some("get" | "set") => children == 1,
        Some("result") => children <= 1,
        Some("error") => true,
        _ => false,
    }
}

/// The error reply to `stanza` in the client stream (to/from swapped by
/// [`StanzaError::reply_to`]).
fn error_reply(stanza: &Element, condition: StanzaErrorCondition) -> Element {
    StanzaError::new(condition).reply_to(stanza)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "stream_sm_tests.rs"]
mod sm_tests;

#[cfg(test)]
#[path = "stream_csi_tests.rs"]
mod csi_tests;

#[cfg(test)]
#[path = "stream_ping_tests.rs"]
mod ping_tests;

#[cfg(test)]
#[path = "stream_register_tests.rs"]
mod register_tests;

#[cfg(test)]
#[path = "stream_sasl2_tests.rs"]
mod sasl2_tests;
