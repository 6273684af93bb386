//! What the client-to-server listeners are told: [`C2sSettings`] for the
//! whole server and a [`ListenerSettings`] per listener, with every bound and
//! timeout named here with its default.
//!
//! The server maps its configuration file onto these settings (one
//! `[[listen.c2s]]` section per [`ListenerSettings`]); tests build them with
//! [`C2sSettings::new`] and change what they need.
//!
//! ```text
//! setting                 default                     MongooseIM
//! C2sSettings
//!   domains               (given)                     general.hosts
//!   data_dir              ./data
//!   listeners             one: ListenerSettings::default()   listen.c2s
//!   mechanisms            SCRAM-SHA-512, -256, -1,    auth.sasl_mechanisms
//!                         PLAIN
//!   auth_failures_max     3                           (RFC 6120 §6.4.5: 2 to 5 retries)
//!   sessions_max          100000                      listen.c2s.max_connections
//!   write_timeout         30 s
//!   tls_handshake_timeout 10 s
//!   shutdown_timeout      10 s
//!   stream_management     on: SmConfig::default()      modules.mod_stream_management
//!     buffer_max          100 stanzas                 buffer_max
//!     ack_freq            1                           ack_freq
//!     resume_timeout      600 s                       resume_timeout
//!     stale_h             off (1800 s, 3600 s)        stale_h.enabled, repeat_after, geriatric
//!   client_state          on: CsiConfig::default()    modules.mod_csi
//!     buffer_max          20 stanzas                  buffer_max
//!   sasl2                 on                          modules.mod_sasl2
//!   bind2                 on (with sasl2)             modules.mod_bind2
//!   server_pings          off: PingConfig::default()  modules.mod_ping.send_pings
//!     interval            60 s                        ping_interval
//!     timeout             32 s                        ping_req_timeout
//!     kill_on_timeout     false                       timeout_action = "kill"
//! ListenerSettings
//!   bind                  0.0.0.0:5222                listen.c2s.ip_address, port
//!   tls_mode              Starttls                    listen.c2s.tls.mode
//!   certificate           none: self-signed in        listen.c2s.tls.certfile, keyfile
//!                         <data_dir>/tls/
//!   stanza_bytes_max      65536                       listen.c2s.max_stanza_size
//!   negotiation_timeout   5 s per step                listen.c2s.state_timeout
//!   idle_timeout          600 s
//!   outgoing_queue_max    1000 stanzas                (ejabberd's max_fsm_queue is 10000)
//! ```
//!
//! Choosing values: `outgoing_queue_max` is how far a client may fall behind
//! before it is disconnected; each queued stanza costs its serialized size,
//! so the worst case per session is `outgoing_queue_max` × the largest
//! stanza routed to it. `negotiation_timeout` bounds how long an
//! unauthenticated connection may wait between two steps (header, STARTTLS,
//! each SASL message, bind); `idle_timeout` how long any connection may stay
//! silent (clients send whitespace keepalives or pings more often than
//! that).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::csi::CsiConfig;
use super::keepalive::PingConfig;
use super::sm::SmConfig;
use crate::sasl::Mechanism;
use crate::xml::Limits;

/// The client-to-server port (RFC 6120 §14.7).
pub const C2S_PORT: u16 = 5222;
/// The conventional port for direct TLS (XEP-0368).
pub const C2S_DIRECT_TLS_PORT: u16 = 5223;
/// Default [`ListenerSettings::idle_timeout`].
pub const IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);
/// Default [`ListenerSettings::negotiation_timeout`] (MongooseIM's
/// `state_timeout`).
pub const NEGOTIATION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Default [`ListenerSettings::outgoing_queue_max`].
pub const OUTGOING_QUEUE_MAX_DEFAULT: usize = 1000;
/// Default [`C2sSettings::write_timeout`].
pub const WRITE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Default [`C2sSettings::tls_handshake_timeout`].
pub const TLS_HANDSHAKE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default [`C2sSettings::auth_failures_max`].
pub const AUTH_FAILURES_MAX_DEFAULT: u32 = 3;
/// Default [`C2sSettings::sessions_max`].
pub const SESSIONS_MAX_DEFAULT: usize = 100_000;
/// Default [`C2sSettings::shutdown_timeout`].
pub const SHUTDOWN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default [`C2sSettings::data_dir`].
pub const DATA_DIR_DEFAULT: &str = "./data";

/// Stanzas a connection parses ahead of its session once bound (before
/// binding it parses one at a time, so that a stream restart or STARTTLS
/// never finds input parsed under the old stream). A slow session thus holds
/// at most this many parsed stanzas, and then the socket stops being read.
pub const INCOMING_EVENTS_MAX: usize = 32;
/// Bytes read from a socket at a time; the parser then holds at most one
/// unfinished stanza plus one chunk.
pub const READ_CHUNK_BYTES: usize = 4096;
/// How long the credentials lookup of one SASL exchange may take before it
/// counts as `temporary-auth-failure`.
pub const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a resuming connection waits for the session it resumes to hand itself over
/// (one message to a local actor: a session that takes longer is stuck, and the resume
/// fails with `item-not-found`).
pub const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);
/// The listen backlog: pending connections the kernel queues before
/// accept. 1024 lets a burst of connections (a restart's reconnecting
/// clients) wait rather than be retried after a second.
pub const LISTEN_BACKLOG: u32 = 1024;
/// How long an accept loop waits after an accept error (out of file
/// descriptors) before trying again.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

const _: () = assert!(INCOMING_EVENTS_MAX >= 1);
const _: () = assert!(OUTGOING_QUEUE_MAX_DEFAULT >= 1);
const _: () = assert!(READ_CHUNK_BYTES <= Limits::DEFAULT.stanza_bytes_max);

/// How a listener does TLS (MongooseIM's `tls.mode`, plus no TLS at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS: STARTTLS is not offered.
    Off,
    /// STARTTLS offered, not required (`starttls`, the default).
    Starttls,
    /// STARTTLS required before authentication (`starttls_required`).
    StarttlsRequired,
    /// TLS from the first byte (`tls`: direct TLS, XEP-0368).
    Tls,
}

/// A certificate and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertificateFiles {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// One listener. See the module docs for the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    /// Where it listens.
    pub bind: SocketAddr,
    /// How it does TLS.
    pub tls_mode: TlsMode,
    /// Its certificate; `None` uses the self-signed one made in
    /// `<data_dir>/tls/` on first start and reused after.
    pub certificate: Option<CertificateFiles>,
    /// The largest stanza a client may send, in bytes; larger is
    /// `policy-violation`.
    pub stanza_bytes_max: usize,
    /// Before its resource is bound, a connection that takes longer than
    /// this for its next step is closed with `connection-timeout`.
    pub negotiation_timeout: Duration,
    /// A connection that sends nothing for this long is closed with
    /// `connection-timeout`.
    pub idle_timeout: Duration,
    /// Stanzas queued for one client; a client that lets the queue fill is
    /// disconnected rather than buffered without end.
    pub outgoing_queue_max: usize,
}

impl Default for ListenerSettings {
    /// STARTTLS on 0.0.0.0:5222 with the documented defaults.
    fn default() -> Self {
        ListenerSettings::new(SocketAddr::from((Ipv4Addr::UNSPECIFIED, C2S_PORT)))
    }
}

impl ListenerSettings {
    /// A STARTTLS listener on `bind` with the documented defaults.
    pub fn new(bind: SocketAddr) -> ListenerSettings {
        ListenerSettings {
            bind,
            tls_mode: TlsMode::Starttls,
            certificate: None,
            stanza_bytes_max: Limits::DEFAULT.stanza_bytes_max,
            negotiation_timeout: NEGOTIATION_TIMEOUT_DEFAULT,
            idle_timeout: IDLE_TIMEOUT_DEFAULT,
            outgoing_queue_max: OUTGOING_QUEUE_MAX_DEFAULT,
        }
    }

    /// The parser limits: the defaults with `stanza_bytes_max`, and the
    /// per-part bounds lowered to it when they exceed it.
    pub fn limits(&self) -> Limits {
        let stanza_bytes_max = self.stanza_bytes_max;
        Limits {
            stanza_bytes_max,
            attribute_value_bytes_max: Limits::DEFAULT
                .attribute_value_bytes_max
                .min(stanza_bytes_max),
            text_bytes_max: Limits::DEFAULT.text_bytes_max.min(stanza_bytes_max),
            name_bytes_max: Limits::DEFAULT.name_bytes_max.min(stanza_bytes_max),
            ..Limits::DEFAULT
        }
    }
}

/// The settings of the client-to-server part. See the module docs for the
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct C2sSettings {
    /// The served domains; the first is the default for a stream header
    /// without `to`.
    pub domains: Vec<String>,
    /// The server's data directory (for the self-signed certificate).
    pub data_dir: PathBuf,
    /// Whether the self-signed certificate is kept in `data_dir` (made once,
    /// reused) or made in memory at every start (a cluster node keeps
    /// nothing on disk). Default: on disk.
    pub certificate_on_disk: bool,
    /// The listeners, in order; none is allowed (routing only).
    pub listeners: Vec<ListenerSettings>,
    /// The SASL mechanisms offered, in order.
    pub mechanisms: Vec<Mechanism>,
    /// Failed authentication attempts before the stream is closed with
    /// `policy-violation`.
    pub auth_failures_max: u32,
    /// Connections served at once, over all listeners; more are closed at
    /// accept.
    pub sessions_max: usize,
    /// A write to a client that does not complete within this long closes
    /// the connection.
    pub write_timeout: Duration,
    /// A TLS handshake that takes longer fails.
    pub tls_handshake_timeout: Duration,
    /// How long a graceful shutdown waits for sessions to close.
    pub shutdown_timeout: Duration,
    /// Sessions one account may have at once; a bind past it closes the
    /// oldest with `policy-violation`. Default `None`: no limit.
    pub max_user_sessions: Option<usize>,
    /// Stream management (XEP-0198); `None` does not offer it. Default: on, with
    /// [`SmConfig::default`].
    pub stream_management: Option<SmConfig>,
    /// Client state indication (XEP-0352); `None` does not offer it. Default: on, with
    /// [`CsiConfig::default`].
    pub client_state: Option<CsiConfig>,
    /// XEP-0199 pings to clients silent for a while; `None` sends none. Default `None` (as
    /// MongooseIM's `send_pings = false`).
    pub server_pings: Option<PingConfig>,
    /// SASL2 (XEP-0388) offered beside SASL1. Default on.
    pub sasl2: bool,
    /// Bind 2 (XEP-0386) offered inline in SASL2. Default on.
    pub bind2: bool,
}

impl C2sSettings {
    /// The defaults, serving `domain` with one STARTTLS listener on 5222.
    pub fn new(domain: impl Into<String>) -> C2sSettings {
        C2sSettings {
            domains: vec![domain.into()],
            data_dir: PathBuf::from(DATA_DIR_DEFAULT),
            certificate_on_disk: true,
            listeners: vec![ListenerSettings::default()],
            mechanisms: Mechanism::ALL.to_vec(),
            auth_failures_max: AUTH_FAILURES_MAX_DEFAULT,
            sessions_max: SESSIONS_MAX_DEFAULT,
            write_timeout: WRITE_TIMEOUT_DEFAULT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT_DEFAULT,
            shutdown_timeout: SHUTDOWN_TIMEOUT_DEFAULT,
            max_user_sessions: None,
            stream_management: Some(SmConfig::default()),
            client_state: Some(CsiConfig::default()),
            server_pings: None,
            sasl2: true,
            bind2: true,
        }
    }

    /// Checks the bounds and timeouts that must be positive.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let zero = |setting: String| Err(SettingsError::Zero { setting });
        if self.sessions_max == 0 {
            return zero("sessions_max".into());
        }
        for (setting, value) in [
            ("write_timeout", self.write_timeout),
            ("tls_handshake_timeout", self.tls_handshake_timeout),
        ] {
            if value.is_zero() {
                return zero(setting.into());
            }
        }
        if let Some(sm) = &self.stream_management {
            if sm.buffer_max == 0 {
                return zero("stream_management.buffer_max".into());
            }
            if sm.ack_freq == 0 {
                return zero("stream_management.ack_freq".into());
            }
            if sm.resume_timeout.is_zero() {
                return zero("stream_management.resume_timeout".into());
            }
        }
        if self
            .client_state
            .as_ref()
            .is_some_and(|csi| csi.buffer_max == 0)
        {
            return zero("client_state.buffer_max".into());
        }
        if let Some(pings) = &self.server_pings {
            if pings.interval.is_zero() {
                return zero("server_pings.interval".into());
            }
            if pings.timeout.is_zero() {
                return zero("server_pings.timeout".into());
            }
        }
        for (index, listener) in self.listeners.iter().enumerate() {
            let name = |field: &str| format!("listeners[{index}].{field}");
            if listener.stanza_bytes_max == 0 {
                return zero(name("stanza_bytes_max"));
            }
            if listener.outgoing_queue_max == 0 {
                return zero(name("outgoing_queue_max"));
            }
            for (field, value) in [
                ("negotiation_timeout", listener.negotiation_timeout),
                ("idle_timeout", listener.idle_timeout),
            ] {
                if value.is_zero() {
                    return zero(name(field));
                }
            }
        }
        Ok(())
    }
}

/// A setting with a value that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A bound or timeout of zero.
    #[error("{setting} must be greater than zero")]
    Zero {
        /// The setting's name, such as `listeners[0].outgoing_queue_max`.
        setting: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let settings = C2sSettings::new("localhost");
        assert_eq!(settings.listeners.len(), 1);
        let listener = &settings.listeners[0];
        assert_eq!(listener.bind.port(), 5222);
        assert_eq!(listener.tls_mode, TlsMode::Starttls);
        assert_eq!(listener.limits(), Limits::DEFAULT);
        assert_eq!(settings.validate(), Ok(()));
        let small = ListenerSettings {
            stanza_bytes_max: 1000,
            ..listener.clone()
        };
        assert_eq!(small.limits().text_bytes_max, 1000);
        assert_eq!(small.limits().name_bytes_max, 256);
        let mut zero = settings.clone();
        zero.listeners[0].outgoing_queue_max = 0;
        assert_eq!(
            zero.validate(),
            Err(SettingsError::Zero {
                setting: "listeners[0].outgoing_queue_max".into()
            })
        );
        let none = C2sSettings {
            listeners: Vec::new(),
            ..settings
        };
        assert_eq!(none.validate(), Ok(()));
    }
}
