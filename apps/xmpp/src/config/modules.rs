//! `[modules]`: the XMPP features, each switched on by default and off with `enabled = false`.
//!
//! ```toml
//! [modules.mod_offline]
//! max_messages = 500
//!
//! [modules.mod_ping]
//! send_pings = true
//! ping_interval = 60
//!
//! [modules.mod_vcard]
//! enabled = false
//!
//! [modules.mod_stream_management]
//! buffer_max = 100
//! ack_freq = 1
//! resume_timeout = 600
//! stale_h.enabled = true
//! buffer_replicas = 1   # cluster only: mirror each session's unacknowledged buffer to one other node
//!
//! [modules.mod_csi]
//! buffer_max = 20
//! ```
//!
//! See "Where Bream differs from MongooseIM" in [`super`] for why a listed section does not
//! mean "on" and an absent one "off".

use std::time::Duration;

use serde::Deserialize;

use super::{check_nonzero, seconds, Invalid, Unit};

/// Offline messages kept per user (MongooseIM's `max_user_offline_messages` default is 100).
pub const OFFLINE_MAX_MESSAGES_DEFAULT: usize = 100;

/// Seconds between server pings to an idle client (MongooseIM's default).
pub const PING_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);

/// Seconds a client has to answer a server ping (MongooseIM's default).
pub const PING_REQ_TIMEOUT_DEFAULT: Duration = Duration::from_secs(32);

/// `[modules]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Modules {
    /// Rosters (RFC 6121), roster versioning (XEP-0237).
    pub mod_roster: ModRoster,
    /// Offline messages (XEP-0160).
    pub mod_offline: ModOffline,
    /// Ping (XEP-0199).
    pub mod_ping: ModPing,
    /// Service discovery (XEP-0030).
    pub mod_disco: Switch,
    /// vCards (XEP-0054).
    pub mod_vcard: Switch,
    /// Private XML storage (XEP-0049).
    pub mod_private: Switch,
    /// Last activity (XEP-0012).
    pub mod_last: Switch,
    /// Software version (XEP-0092).
    pub mod_version: ModVersion,
    /// Blocking (XEP-0191).
    pub mod_blocking: Switch,
    /// Stream management (XEP-0198): acknowledgements and resumption, in the c2s stream
    /// itself rather than behind the router's hooks.
    pub mod_stream_management: ModStreamManagement,
    /// Client state indication (XEP-0352).
    pub mod_csi: ModCsi,
    /// Extensible SASL (XEP-0388) beside SASL1.
    pub mod_sasl2: Switch,
    /// Bind 2 (XEP-0386), inline in SASL2.
    pub mod_bind2: Switch,
    /// Message carbons (XEP-0280).
    pub mod_carboncopy: Switch,
    /// Learning clients' capabilities (XEP-0115).
    pub mod_caps: Switch,
    /// In-band registration (XEP-0077); off by default.
    pub mod_register: ModRegister,
}

impl Modules {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        for rule in &self.mod_register.ip_access {
            if rule.address.parse::<ipnet::IpNet>().is_err() {
                return Err(Invalid::new(
                    "modules.mod_register.ip_access.address",
                    &rule.address,
                    "not an address with a prefix length (10.0.0.0/8, ::1/128)",
                ));
            }
        }
        let ping = &self.mod_ping;
        check_nonzero(
            "modules.mod_ping.ping_interval",
            ping.ping_interval,
            Unit::Seconds,
        )?;
        check_nonzero(
            "modules.mod_ping.ping_req_timeout",
            ping.ping_req_timeout,
            Unit::Seconds,
        )?;
        if self.mod_csi.buffer_max == 0 {
            return Err(Invalid::new(
                "modules.mod_csi.buffer_max",
                "0",
                "must be at least 1",
            ));
        }
        let sm = &self.mod_stream_management;
        if sm.buffer_max == 0 {
            return Err(Invalid::new(
                "modules.mod_stream_management.buffer_max",
                "0",
                "must be at least 1",
            ));
        }
        if sm.ack_freq == 0 {
            return Err(Invalid::new(
                "modules.mod_stream_management.ack_freq",
                "0",
                "must be at least 1",
            ));
        }
        if sm.buffer_replicas > crate::c2s::sm::BUFFER_REPLICAS_MAX {
            return Err(Invalid::new(
                "modules.mod_stream_management.buffer_replicas",
                &sm.buffer_replicas.to_string(),
                "must be 0 (no mirror) or 1 (one mirror node per session)",
            ));
        }
        check_nonzero(
            "modules.mod_stream_management.resume_timeout",
            sm.resume_timeout,
            Unit::Seconds,
        )?;
        check_nonzero(
            "modules.mod_stream_management.stale_h.repeat_after",
            sm.stale_h.repeat_after,
            Unit::Seconds,
        )?;
        check_nonzero(
            "modules.mod_stream_management.stale_h.geriatric",
            sm.stale_h.geriatric,
            Unit::Seconds,
        )
    }

    /// The c2s server ping settings: `None` unless `mod_ping` is on with `send_pings`.
    pub fn server_pings(&self) -> Option<crate::c2s::keepalive::PingConfig> {
        let ping = &self.mod_ping;
        (ping.enabled && ping.send_pings).then_some(crate::c2s::keepalive::PingConfig {
            interval: ping.ping_interval,
            timeout: ping.ping_req_timeout,
            kill_on_timeout: ping.timeout_action == PingTimeoutAction::Kill,
        })
    }

    /// The c2s client state indication settings: `None` when the module is off.
    pub fn client_state(&self) -> Option<crate::c2s::csi::CsiConfig> {
        let csi = &self.mod_csi;
        csi.enabled.then_some(crate::c2s::csi::CsiConfig {
            buffer_max: csi.buffer_max,
        })
    }

    /// The c2s stream management settings: `None` when the module is off.
    pub fn stream_management(&self) -> Option<crate::c2s::sm::SmConfig> {
        let sm = &self.mod_stream_management;
        sm.enabled.then(|| crate::c2s::sm::SmConfig {
            buffer_max: sm.buffer_max,
            ack_freq: sm.ack_freq,
            resume_timeout: sm.resume_timeout,
            stale_h: sm.stale_h.enabled.then_some(crate::c2s::sm::StaleH {
                repeat_after: sm.stale_h.repeat_after,
                geriatric: sm.stale_h.geriatric,
            }),
            buffer_replicas: sm.buffer_replicas,
        })
    }
}

/// A module with no options but `enabled`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switch {
    /// Default `true`.
    pub enabled: bool,
}

impl Default for Switch {
    fn default() -> Self {
        Switch { enabled: true }
    }
}

/// `[modules.mod_roster]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModRoster {
    /// Default `true`.
    pub enabled: bool,
    /// Offer XEP-0237 roster versioning. Default `true` (MongooseIM: `false`); it costs one
    /// counter per user.
    pub versioning: bool,
}

impl Default for ModRoster {
    fn default() -> Self {
        ModRoster {
            enabled: true,
            versioning: true,
        }
    }
}

/// `[modules.mod_offline]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModOffline {
    /// Default `true`.
    pub enabled: bool,
    /// Messages kept per user; one more is refused with an error to its sender. Default
    /// [`OFFLINE_MAX_MESSAGES_DEFAULT`] (100). 0 keeps none.
    pub max_messages: usize,
}

impl Default for ModOffline {
    fn default() -> Self {
        ModOffline {
            enabled: true,
            max_messages: OFFLINE_MAX_MESSAGES_DEFAULT,
        }
    }
}

/// `[modules.mod_ping]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModPing {
    /// Answer client pings. Default `true`.
    pub enabled: bool,
    /// Also ping idle clients. Default `false` (as MongooseIM).
    pub send_pings: bool,
    /// Seconds of client silence before a server ping. Default 60.
    #[serde(deserialize_with = "seconds")]
    pub ping_interval: Duration,
    /// Seconds to wait for the answer. Default 32.
    #[serde(deserialize_with = "seconds")]
    pub ping_req_timeout: Duration,
    /// What an unanswered ping does. Default `none`.
    pub timeout_action: PingTimeoutAction,
}

impl Default for ModPing {
    fn default() -> Self {
        ModPing {
            enabled: true,
            send_pings: false,
            ping_interval: PING_INTERVAL_DEFAULT,
            ping_req_timeout: PING_REQ_TIMEOUT_DEFAULT,
            timeout_action: PingTimeoutAction::None,
        }
    }
}

/// What an unanswered server ping does (MongooseIM's `timeout_action`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PingTimeoutAction {
    /// Nothing but a log line.
    #[default]
    None,
    /// Close the connection.
    Kill,
}

/// `[modules.mod_version]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModVersion {
    /// Default `true`.
    pub enabled: bool,
    /// Include the operating system in the answer. Default `false` (as MongooseIM).
    pub os_info: bool,
}

impl Default for ModVersion {
    fn default() -> Self {
        ModVersion {
            enabled: true,
            os_info: false,
        }
    }
}

/// Registrations from one address per `registration_timeout` (ejabberd's default).
pub const REGISTRATION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// `[modules.mod_register]`.
///
/// ```toml
/// [modules.mod_register]
/// enabled = true
/// ip_access = [
///   { address = "127.0.0.0/8", policy = "allow" },
///   { address = "10.0.0.0/8", policy = "deny" },
/// ]
/// password_strength = 32
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModRegister {
    /// Default `false`: accounts are made by the operator (`ctl`, GraphQL).
    pub enabled: bool,
    /// Who may register: `all` (default) or `none` (only password changes and cancellation).
    pub access: RegisterAccess,
    /// Address rules, the first match deciding; with an `allow` rule, unmatched addresses are
    /// refused. Default: none (every address).
    pub ip_access: Vec<IpAccess>,
    /// Seconds before the same address may register another account; 0: no limit. Default
    /// 600.
    #[serde(deserialize_with = "seconds")]
    pub registration_timeout: Duration,
    /// Minimum estimated password entropy in bits (MongooseIM's); 0 accepts any non-empty
    /// password. Default 0.
    pub password_strength: u32,
}

impl Default for ModRegister {
    fn default() -> Self {
        ModRegister {
            enabled: false,
            access: RegisterAccess::All,
            ip_access: Vec::new(),
            registration_timeout: REGISTRATION_TIMEOUT_DEFAULT,
            password_strength: 0,
        }
    }
}

/// `modules.mod_register.access`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterAccess {
    /// Anyone the other rules admit.
    #[default]
    All,
    /// Nobody.
    None,
}

/// One rule of `modules.mod_register.ip_access`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpAccess {
    /// An address with a prefix length: `127.0.0.0/8`, `::1/128`.
    pub address: String,
    /// What a match means.
    pub policy: IpPolicy,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpPolicy {
    /// Admitted.
    Allow,
    /// Refused.
    Deny,
}

/// `[modules.mod_stream_management]`, MongooseIM's keys and defaults (see
/// [`crate::c2s::sm`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModStreamManagement {
    /// Default `true`.
    pub enabled: bool,
    /// Unacknowledged stanzas kept per session; one more closes the stream with
    /// `resource-constraint`. Default 100.
    pub buffer_max: usize,
    /// An `<r/>` after this many unacknowledged stanzas. Default 1.
    pub ack_freq: u32,
    /// Seconds a session whose connection dropped waits to be resumed. Default 600.
    #[serde(deserialize_with = "seconds")]
    pub resume_timeout: Duration,
    /// Remembering the `h` of sessions that timed out.
    pub stale_h: StaleH,
    /// In a cluster, how many other nodes mirror each resumable session's unacknowledged
    /// buffer and state, so that a client can resume after the session's node died
    /// (`kill -9`, a crash): 0 (default, no mirror) or 1. A Bream key, not MongooseIM's.
    /// Costs a copy of every stanza to one other node; see `crate::cluster::sm_mirror`.
    pub buffer_replicas: usize,
}

impl Default for ModStreamManagement {
    fn default() -> Self {
        use crate::c2s::sm;
        ModStreamManagement {
            enabled: true,
            buffer_max: sm::BUFFER_MAX_DEFAULT,
            ack_freq: sm::ACK_FREQ_DEFAULT,
            resume_timeout: sm::RESUME_TIMEOUT_DEFAULT,
            stale_h: StaleH::default(),
            buffer_replicas: sm::BUFFER_REPLICAS_DEFAULT,
        }
    }
}

/// `[modules.mod_csi]`, MongooseIM's keys and defaults (see [`crate::c2s::csi`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModCsi {
    /// Default `true`.
    pub enabled: bool,
    /// Stanzas held for an inactive client; one more sends them all. Default 20.
    pub buffer_max: usize,
}

impl Default for ModCsi {
    fn default() -> Self {
        ModCsi {
            enabled: true,
            buffer_max: crate::c2s::csi::BUFFER_MAX_DEFAULT,
        }
    }
}

/// `[modules.mod_stream_management.stale_h]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaleH {
    /// Default `false` (as MongooseIM).
    pub enabled: bool,
    /// Seconds between purges of expired values. Default 1800.
    #[serde(deserialize_with = "seconds")]
    pub repeat_after: Duration,
    /// Seconds a value is kept. Default 3600.
    #[serde(deserialize_with = "seconds")]
    pub geriatric: Duration,
}

impl Default for StaleH {
    fn default() -> Self {
        use crate::c2s::sm;
        StaleH {
            enabled: false,
            repeat_after: sm::STALE_H_REPEAT_AFTER_DEFAULT,
            geriatric: sm::STALE_H_GERIATRIC_DEFAULT,
        }
    }
}
