//! `[listen]`: where clients connect.
//!
//! ```toml
//! [[listen.c2s]]                 # STARTTLS on 5222 (the default listener)
//! port = 5222
//!
//! [[listen.c2s]]                 # direct TLS (XEP-0368) on its own port
//! port = 5223
//! tls.mode = "tls"
//! tls.certfile = "/etc/bream/cert.pem"
//! tls.keyfile = "/etc/bream/key.pem"
//! ```
//!
//! A file that lists `[[listen.c2s]]` replaces the default listener; `listen.c2s = []` runs
//! none.
//!
//! ```toml
//! [listen.graphql_admin]         # the admin GraphQL API (default: on, 127.0.0.1:5551)
//! ip_address = "127.0.0.1"
//! port = 5551
//! username = "admin"
//! password = "secret"
//! ```
//!
//! ```toml
//! [listen.graphql_user]          # the user GraphQL API (default: on, 0.0.0.0:5561)
//! ip_address = "0.0.0.0"
//! port = 5561
//!
//! [listen.prometheus]            # metrics and health checks (default: on, 0.0.0.0:9091)
//! ip_address = "0.0.0.0"
//! port = 9091
//! ```
//!
//! MongooseIM spells the GraphQL APIs as `[[listen.http]]` listeners with a
//! `mongoose_graphql_handler` handler (`schema_endpoint = "admin"` or `"user"`, `username`,
//! `password`), and metrics as one with a `mongoose_prometheus_handler`. Bream has one HTTP
//! handler per port, so each listener and its handler are one table; the keys keep
//! MongooseIM's names. `enabled = false` runs none. The user API authenticates every request
//! against the accounts (`user@domain:password`), so it has no credentials of its own. The
//! Prometheus listener serves `GET /metrics` (Prometheus text format), `GET /health/live`
//! (200 while the node runs) and `GET /health/ready` (200 once the node is ready to serve,
//! 503 before); it has no authentication, like MongooseIM's.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{check_nonzero, milliseconds, Invalid, Unit};

/// The client port of RFC 6120.
pub const C2S_PORT_DEFAULT: u16 = 5222;

/// The largest stanza accepted, in bytes (MongooseIM's `max_stanza_size` default).
pub const MAX_STANZA_SIZE_DEFAULT: usize = 65_536;

/// How long a client has for each step before it is authenticated (MongooseIM's
/// `state_timeout` default).
pub const STATE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// How long an authenticated connection may stay silent (no stanza, no whitespace keepalive)
/// before it is closed. Clients send keepalives well within this (slixmpp: every 300 s).
pub const IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// Stanzas queued for one client before it counts as not reading and is disconnected.
pub const MAX_OUTGOING_QUEUE_DEFAULT: usize = 1000;

/// The admin GraphQL API's port (MongooseIM's default for its admin endpoint).
pub const GRAPHQL_ADMIN_PORT_DEFAULT: u16 = 5551;

/// The user GraphQL API's port (MongooseIM's default for its user endpoint).
pub const GRAPHQL_USER_PORT_DEFAULT: u16 = 5561;

/// The Prometheus listener's port (MongooseIM's example configuration uses 9091).
pub const PROMETHEUS_PORT_DEFAULT: u16 = 9091;

/// `[listen]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// `[[listen.c2s]]`: client-to-server listeners. Default: one, [`C2sListener::default`].
    pub c2s: Vec<C2sListener>,
    /// `[listen.graphql_admin]`: the admin GraphQL API. Default: on, [`GraphqlAdmin::default`].
    pub graphql_admin: GraphqlAdmin,
    /// `[listen.graphql_user]`: the user GraphQL API. Default: on, [`GraphqlUser::default`].
    pub graphql_user: GraphqlUser,
    /// `[listen.prometheus]`: metrics and health checks. Default: on, [`Prometheus::default`].
    pub prometheus: Prometheus,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            c2s: vec![C2sListener::default()],
            graphql_admin: GraphqlAdmin::default(),
            graphql_user: GraphqlUser::default(),
            prometheus: Prometheus::default(),
        }
    }
}

impl Listen {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        let mut addresses = BTreeSet::new();
        for (index, listener) in self.c2s.iter().enumerate() {
            let key = |field: &str| format!("listen.c2s[{index}].{field}");
            // Port 0 (the system picks one) is allowed: tests use it.
            if listener.port != 0 && !addresses.insert((listener.ip_address, listener.port)) {
                return Err(Invalid::new(
                    &key("port"),
                    &listener.port.to_string(),
                    "another listener has the same ip_address and port",
                ));
            }
            if listener.max_stanza_size == 0 {
                return Err(Invalid::new(
                    &key("max_stanza_size"),
                    "0",
                    "must be at least 1 byte",
                ));
            }
            if listener.max_outgoing_queue == 0 {
                return Err(Invalid::new(
                    &key("max_outgoing_queue"),
                    "0",
                    "must be at least 1 stanza",
                ));
            }
            check_nonzero(
                &key("state_timeout"),
                listener.state_timeout,
                Unit::Milliseconds,
            )?;
            check_nonzero(
                &key("idle_timeout"),
                listener.idle_timeout,
                Unit::Milliseconds,
            )?;
            match (&listener.tls.certfile, &listener.tls.keyfile) {
                (Some(_), None) => {
                    return Err(Invalid::new(
                        &key("tls.keyfile"),
                        "(missing)",
                        "tls.certfile is set, so tls.keyfile must be too",
                    ))
                }
                (None, Some(_)) => {
                    return Err(Invalid::new(
                        &key("tls.certfile"),
                        "(missing)",
                        "tls.keyfile is set, so tls.certfile must be too",
                    ))
                }
                _ => {}
            }
        }
        self.graphql_admin.validate()
    }
}

/// `[listen.graphql_admin]`: the admin GraphQL API (`/api/graphql`, HTTP Basic auth).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlAdmin {
    /// Whether to run it. Default `true`.
    pub enabled: bool,
    /// The address to listen on. Default `127.0.0.1`: administration stays on the machine
    /// unless asked otherwise.
    pub ip_address: IpAddr,
    /// Default [`GRAPHQL_ADMIN_PORT_DEFAULT`] (5551). 0 lets the system pick one.
    pub port: u16,
    /// The Basic auth user name. Default none. Set with `password`; without both, the API
    /// accepts every request, and so refuses to start on an address other than loopback.
    pub username: Option<String>,
    /// The Basic auth password. Default none.
    pub password: Option<super::Secret>,
}

impl Default for GraphqlAdmin {
    fn default() -> Self {
        GraphqlAdmin {
            enabled: true,
            ip_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: GRAPHQL_ADMIN_PORT_DEFAULT,
            username: None,
            password: None,
        }
    }
}

impl GraphqlAdmin {
    fn validate(&self) -> Result<(), Invalid> {
        let key = |field: &str| format!("listen.graphql_admin.{field}");
        match (&self.username, &self.password) {
            (Some(_), None) => Err(Invalid::new(
                &key("password"),
                "(missing)",
                "username is set, so password must be too",
            )),
            (None, Some(_)) => Err(Invalid::new(
                &key("username"),
                "(missing)",
                "password is set, so username must be too",
            )),
            (Some(username), Some(_)) if username.is_empty() || username.contains(':') => {
                Err(Invalid::new(
                    &key("username"),
                    &format!("{username:?}"),
                    "must be non-empty and without ':' (HTTP Basic auth)",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `[listen.graphql_user]`: the user GraphQL API (`/api/graphql`, HTTP Basic auth as
/// `user@domain:password`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlUser {
    /// Whether to run it. Default `true`.
    pub enabled: bool,
    /// The address to listen on. Default `0.0.0.0`: users reach it from their own machines.
    pub ip_address: IpAddr,
    /// Default [`GRAPHQL_USER_PORT_DEFAULT`] (5561). 0 lets the system pick one.
    pub port: u16,
}

impl Default for GraphqlUser {
    fn default() -> Self {
        GraphqlUser {
            enabled: true,
            ip_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: GRAPHQL_USER_PORT_DEFAULT,
        }
    }
}

/// `[listen.prometheus]`: `GET /metrics`, `/health/live`, `/health/ready`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prometheus {
    /// Whether to run it. Default `true`.
    pub enabled: bool,
    /// The address to listen on. Default `0.0.0.0`, where a scraper or a Kubernetes probe
    /// reaches it.
    pub ip_address: IpAddr,
    /// Default [`PROMETHEUS_PORT_DEFAULT`] (9091). 0 lets the system pick one.
    pub port: u16,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            enabled: true,
            ip_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: PROMETHEUS_PORT_DEFAULT,
        }
    }
}

/// `[[listen.c2s]]`: one client listener.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct C2sListener {
    /// Default [`C2S_PORT_DEFAULT`] (5222). 0 lets the system pick one.
    pub port: u16,
    /// The address to listen on. Default `0.0.0.0` (every IPv4 interface).
    pub ip_address: IpAddr,
    /// `tls.mode`, `tls.certfile`, `tls.keyfile`.
    pub tls: Tls,
    /// Bytes. Default [`MAX_STANZA_SIZE_DEFAULT`] (65536). A larger stanza ends the stream with
    /// `policy-violation`.
    pub max_stanza_size: usize,
    /// Milliseconds for each step before authentication. Default 5000
    /// ([`STATE_TIMEOUT_DEFAULT`]).
    #[serde(deserialize_with = "milliseconds")]
    pub state_timeout: Duration,
    /// Milliseconds of silence after which a connection is closed. Default 600000
    /// ([`IDLE_TIMEOUT_DEFAULT`]).
    #[serde(deserialize_with = "milliseconds")]
    pub idle_timeout: Duration,
    /// Stanzas waiting to be written to one client before it is disconnected. Default
    /// [`MAX_OUTGOING_QUEUE_DEFAULT`] (1000).
    pub max_outgoing_queue: usize,
    /// The `[shaper]` name applied to this listener's input. Default none. Accepted, not yet
    /// applied.
    pub shaper: Option<String>,
    /// The `[access]` rule deciding who may connect. Default none. Accepted, not yet applied.
    pub access: Option<String>,
}

impl Default for C2sListener {
    fn default() -> Self {
        C2sListener {
            port: C2S_PORT_DEFAULT,
            ip_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tls: Tls::default(),
            max_stanza_size: MAX_STANZA_SIZE_DEFAULT,
            state_timeout: STATE_TIMEOUT_DEFAULT,
            idle_timeout: IDLE_TIMEOUT_DEFAULT,
            max_outgoing_queue: MAX_OUTGOING_QUEUE_DEFAULT,
            shaper: None,
            access: None,
        }
    }
}

/// `tls` of a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Default `starttls`.
    pub mode: TlsMode,
    /// PEM certificate chain. Default none: a self-signed certificate is made on first start
    /// and kept in `general.data_dir`. Set with `keyfile`.
    pub certfile: Option<PathBuf>,
    /// PEM private key for `certfile`.
    pub keyfile: Option<PathBuf>,
}

/// How a listener uses TLS (MongooseIM's `tls.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// STARTTLS offered, not required (the default).
    #[default]
    Starttls,
    /// STARTTLS required before authentication.
    StarttlsRequired,
    /// TLS from the first byte (direct TLS, XEP-0368), usually on its own port such as 5223.
    Tls,
}
