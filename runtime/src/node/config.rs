//! A node's settings, each with its default.

use std::net::SocketAddr;
use std::time::Duration;

/// How often a node pings each peer.
pub const HEARTBEAT_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// How long a silent peer is tolerated before it is declared down.
pub const HEARTBEAT_DEADLINE_DEFAULT: Duration = Duration::from_secs(5);
/// The smallest deadline allowed: below it, scheduling hiccups would look like failures.
pub const HEARTBEAT_DEADLINE_MIN: Duration = Duration::from_secs(1);
/// The largest frame a node accepts or sends (ractor_cluster's own default).
pub const FRAME_BYTES_MAX_DEFAULT: usize = 16 * 1024 * 1024;
/// Bytes of envelope around a payload, kept free under the frame limit.
pub(crate) const FRAME_OVERHEAD_BYTES: usize = 1024;
/// How long a connection attempt may take, TCP and handshake together.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Discovery polls this often while some listed node is not connected.
pub const POLL_INTERVAL_STARTING_DEFAULT: Duration = Duration::from_secs(1);
/// Discovery polls this often once every listed node is connected.
pub const POLL_INTERVAL_SETTLED_DEFAULT: Duration = Duration::from_secs(30);
/// Reconnect backoff to one node: first delay ...
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// ... doubling up to this.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// TLS for node-to-node traffic: every node presents `certificate_chain` and trusts peers whose
/// certificates chain to `ca_certificates` (a cluster CA, or the shared self-signed certificate).
/// Peers are verified against the host part of their node name, so certificates must name it
/// (a DNS name, or an IP address SAN such as 127.0.0.1). The cookie still authenticates nodes;
/// TLS keeps the traffic private.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTls {
    /// PEM certificate chain this node presents.
    pub certificate_chain: std::path::PathBuf,
    /// PEM private key for it.
    pub private_key: std::path::PathBuf,
    /// PEM certificates of the authorities peers' certificates must chain to.
    pub ca_certificates: std::path::PathBuf,
}

/// A node's settings.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// `name@host`, unique in the cluster.
    pub name: String,
    /// Where peers connect (a real port; 0 is refused, as discovery must publish it).
    pub listen: SocketAddr,
    /// The shared secret; a peer with another cookie is refused.
    pub cookie: String,
    /// How often each peer is pinged.
    pub heartbeat_interval: Duration,
    /// Silence longer than this takes a peer down.
    pub heartbeat_deadline: Duration,
    /// The largest frame accepted or sent, in bytes.
    pub frame_bytes_max: usize,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// Discovery poll interval while starting.
    pub poll_interval_starting: Duration,
    /// Discovery poll interval once settled.
    pub poll_interval_settled: Duration,
    /// TLS for node traffic; `None` (the default) sends it in the clear, for loopback and
    /// private networks.
    pub tls: Option<NodeTls>,
}

/// A setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The node name is not `name@host`.
    #[error("node name {0:?} must look like name@host")]
    BadName(String),
    /// The listen port is 0.
    #[error("listen address {0} needs a fixed port, which discovery publishes")]
    NoPort(SocketAddr),
    /// The heartbeat settings cannot detect anything.
    #[error("heartbeat deadline {deadline:?} must be at least {HEARTBEAT_DEADLINE_MIN:?} and longer than the interval {interval:?}")]
    Heartbeat {
        /// The deadline given.
        deadline: Duration,
        /// The interval given.
        interval: Duration,
    },
    /// The cookie is empty.
    #[error("the cookie must not be empty")]
    EmptyCookie,
}

impl NodeConfig {
    /// A node with every default but its name, address and cookie.
    pub fn new(name: impl Into<String>, listen: SocketAddr, cookie: impl Into<String>) -> Self {
        NodeConfig {
            name: name.into(),
            listen,
            cookie: cookie.into(),
            heartbeat_interval: HEARTBEAT_INTERVAL_DEFAULT,
            heartbeat_deadline: HEARTBEAT_DEADLINE_DEFAULT,
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            poll_interval_starting: POLL_INTERVAL_STARTING_DEFAULT,
            poll_interval_settled: POLL_INTERVAL_SETTLED_DEFAULT,
            tls: None,
        }
    }

    /// Checks the settings work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let valid_name = self.name.split_once('@').is_some_and(|(name, host)| {
            !name.is_empty() && !host.is_empty() && !host.contains('@')
        });
        if !valid_name {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        if self.listen.port() == 0 {
            return Err(ConfigError::NoPort(self.listen));
        }
        if self.heartbeat_deadline < HEARTBEAT_DEADLINE_MIN
            || self.heartbeat_interval >= self.heartbeat_deadline
        {
            return Err(ConfigError::Heartbeat {
                deadline: self.heartbeat_deadline,
                interval: self.heartbeat_interval,
            });
        }
        if self.cookie.is_empty() {
            return Err(ConfigError::EmptyCookie);
        }
        Ok(())
    }

    /// The host part of the name.
    pub fn host(&self) -> &str {
        self.name.split_once('@').map_or("", |(_, host)| host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let listen: SocketAddr = "127.0.0.1:4370".parse().expect("addr");
        assert!(NodeConfig::new("a@localhost", listen, "c")
            .validate()
            .is_ok());
        assert_eq!(
            NodeConfig::new("nohost", listen, "c").validate(),
            Err(ConfigError::BadName("nohost".into()))
        );
        let zero: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        assert_eq!(
            NodeConfig::new("a@h", zero, "c").validate(),
            Err(ConfigError::NoPort(zero))
        );
        let mut fast = NodeConfig::new("a@h", listen, "c");
        fast.heartbeat_deadline = Duration::from_millis(500);
        assert!(matches!(
            fast.validate(),
            Err(ConfigError::Heartbeat { .. })
        ));
        assert_eq!(
            NodeConfig::new("a@h", listen, "").validate(),
            Err(ConfigError::EmptyCookie)
        );
    }
}
