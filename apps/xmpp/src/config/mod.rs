//! The server's configuration: one TOML file with MongooseIM's section names, where every key
//! has a default, so no file is needed to start.
//!
//! ```
//! use bream_xmpp::config::Config;
//!
//! let config = Config::from_toml(
//!     r#"
//!     [general]
//!     hosts = ["example.com"]
//!
//!     [[listen.c2s]]
//!     port = 5222
//!     tls.mode = "starttls_required"
//!
//!     [modules.mod_offline]
//!     max_messages = 500
//!     "#,
//! )
//! .expect("a valid config");
//! assert_eq!(config.general.hosts, ["example.com"]);
//! assert_eq!(config.modules.mod_offline.max_messages, 500);
//! assert!(Config::default().serves("localhost"));
//! ```
//!
//! # Sections
//!
//! | section | what | Rust |
//! | --- | --- | --- |
//! | `[general]` | served domains, log level, data directory, node name and cookie | [`General`] |
//! | `[[listen.c2s]]` | client listeners: port, address, TLS mode and files, limits | [`listen`] |
//! | `[auth]` | methods, SASL mechanisms, password hashing, failed-attempt cap | [`auth`] |
//! | `[outgoing_pools.rdbms.default]` | the database: URL, pool size, timeouts | [`databases`] |
//! | `[internal_databases.cets]` | present: run as a cluster node (discovery, cluster name) | [`databases`] |
//! | `[modules.mod_*]` | per-module `enabled` and options | [`modules`] |
//! | `[shaper.NAME]` | traffic shapers (`max_rate`): accepted, not yet applied | [`Shaper`] |
//! | `[acl]`, `[access]` | accepted as written; only `access.max_user_sessions` (ACL `all`) is applied | `toml::Table` |
//!
//! Each key's default is on its field, and in the constants beside it.
//!
//! # Errors
//!
//! Loading is parse, then validate. An unknown key, a value of the wrong type or an unknown
//! enumeration value fails the parse ([`ConfigError::Parse`], naming the key or the expected
//! type, with the line and its text); a value of the right type that is still wrong (no hosts,
//! two listeners on one port, a zero timeout) fails validation ([`ConfigError::Invalid`], with
//! the key's dotted path). Either stops the start: the server never runs on a half-understood
//! configuration.
//!
//! # Where Bream differs from MongooseIM
//!
//! - A module's section does not switch it on: every module Bream has is on by default, and
//!   `enabled = false` switches one off. MongooseIM runs exactly the modules listed, so a
//!   config that tunes one option would otherwise lose the roster. A module Bream does not have
//!   (`mod_muc`, ...) is an unknown key, and stops the start.
//! - The database is one URL (`connection.url`) instead of `driver`, `host`, `database`,
//!   `username` and `password` keys; without one, it is SQLite in `data_dir`.
//! - `[shaper]`, `[acl]` and `[access]` are read and kept but not applied yet.
//! - Durations are integers in milliseconds where MongooseIM's own keys are (`state_timeout`,
//!   `query_timeout`) and in seconds for mod_ping's, as MongooseIM has them.

pub mod auth;
pub mod databases;
mod error;
pub mod listen;
pub mod modules;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use self::auth::Auth;
pub use self::databases::{InternalDatabases, OutgoingPools};
pub use self::error::ConfigError;
pub use self::listen::Listen;
pub use self::modules::Modules;
use crate::storage::{sqlite_url_for_path, StorageOptions};

/// The largest config file read, in bytes: far above any real one, and it keeps a wrong path
/// (a log file, a device) from being read into memory whole.
pub const CONFIG_BYTES_MAX: u64 = 1024 * 1024;

/// The domain served when no hosts are configured.
pub const HOST_DEFAULT: &str = "localhost";

/// Where the server keeps its files (SQLite database, generated certificate) by default.
pub const DATA_DIR_DEFAULT: &str = "./data";

/// The SQLite file in `data_dir` used when no database URL is configured.
pub const DATABASE_FILE_NAME: &str = "bream.db";

/// The whole configuration. [`Config::default`] is what a start without a file runs with.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[general]`.
    pub general: General,
    /// `[listen]`.
    pub listen: Listen,
    /// `[auth]`.
    pub auth: Auth,
    /// `[outgoing_pools]`.
    pub outgoing_pools: OutgoingPools,
    /// `[internal_databases]`.
    pub internal_databases: InternalDatabases,
    /// `[modules]`.
    pub modules: Modules,
    /// `[shaper.NAME]`: named traffic shapers. Default: MongooseIM's `normal` (1000 bytes/s) and
    /// `fast` (50000 bytes/s). Accepted, not yet applied.
    pub shaper: BTreeMap<String, Shaper>,
    /// `[acl]`: accepted as written; not yet interpreted.
    pub acl: toml::Table,
    /// `[access]`: accepted as written; not yet interpreted.
    pub access: toml::Table,
    /// `[debug]`: switches for test authors and operators debugging a node (no MongooseIM
    /// counterpart).
    pub debug: Debug,
}

/// `[debug]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Debug {
    /// `fault_injection`: whether the admin API's `debug` category (and `ctl debug`) may kill,
    /// crash, delay or cut the node's processes. Default false. Anyone holding the admin
    /// API's credentials can then break the node at will: turn it on only on test and
    /// staging nodes.
    pub fault_injection: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            general: General::default(),
            listen: Listen::default(),
            auth: Auth::default(),
            outgoing_pools: OutgoingPools::default(),
            internal_databases: InternalDatabases::default(),
            modules: Modules::default(),
            shaper: BTreeMap::from([
                ("normal".to_string(), Shaper { max_rate: 1000 }),
                ("fast".to_string(), Shaper { max_rate: 50_000 }),
            ]),
            acl: toml::Table::new(),
            access: toml::Table::new(),
            debug: Debug::default(),
        }
    }
}

/// `[general]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct General {
    /// The XMPP domains served. Default `["localhost"]`. At least one; each a valid JID
    /// domain, stored normalised (lower case), no duplicates.
    pub hosts: Vec<String>,
    /// Log level, MongooseIM's names. Default `info`. `RUST_LOG`, when set, wins.
    pub loglevel: LogLevel,
    /// Where the server keeps its files: the SQLite database (when no URL is configured), the
    /// generated certificate. Default `./data`, relative to the working directory.
    pub data_dir: PathBuf,
    /// This node's name, `name@host`, unique in the cluster. Default `bream@localhost`.
    /// Environment: `BREAM_NODE_NAME`.
    pub node_name: String,
    /// The cookie nodes of one cluster share; a node with another one never joins. Default
    /// `bream`. Environment: `BREAM_COOKIE`.
    pub cookie: Secret,
    /// The address this node listens on for other nodes, and publishes for them to dial (a
    /// pod's IP in Kubernetes). Default `127.0.0.1`. Environment: `BREAM_NODE_IP`.
    pub node_ip: IpAddr,
    /// The port for node-to-node traffic (Erlang's distribution port). Default
    /// [`DIST_PORT_DEFAULT`]. Environment: `BREAM_DIST_PORT`.
    pub dist_port: u16,
    /// Seconds a graceful stop (SIGTERM) may take to close the client sessions before the
    /// node leaves anyway. Default [`SHUTDOWN_TIMEOUT_DEFAULT`] seconds.
    #[serde(deserialize_with = "seconds")]
    pub shutdown_timeout: Duration,
}

/// Default `general.dist_port`: one above Erlang's port mapper (4369).
pub const DIST_PORT_DEFAULT: u16 = 4370;

/// Default `general.shutdown_timeout`.
pub const SHUTDOWN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

impl Default for General {
    fn default() -> Self {
        General {
            hosts: vec![HOST_DEFAULT.to_string()],
            loglevel: LogLevel::Info,
            data_dir: PathBuf::from(DATA_DIR_DEFAULT),
            node_name: "bream@localhost".to_string(),
            cookie: Secret("bream".to_string()),
            node_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dist_port: DIST_PORT_DEFAULT,
            shutdown_timeout: SHUTDOWN_TIMEOUT_DEFAULT,
        }
    }
}

/// Log levels, with MongooseIM's names: in the TOML (`loglevel = "info"`) and as the admin
/// API's `LogLevel` enum (`INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Nothing.
    None,
    /// Errors only (MongooseIM's `emergency`, `alert`, `critical` and `error` all map here).
    Emergency,
    /// As `emergency`.
    Alert,
    /// As `emergency`.
    Critical,
    /// As `emergency`.
    Error,
    /// Warnings and errors.
    Warning,
    /// As `info`.
    Notice,
    /// Informational messages (the default).
    Info,
    /// Debugging output.
    Debug,
    /// Everything (`trace`).
    All,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn filter_directive(self) -> &'static str {
        match self {
            LogLevel::None => "off",
            LogLevel::Emergency | LogLevel::Alert | LogLevel::Critical | LogLevel::Error => "error",
            LogLevel::Warning => "warn",
            LogLevel::Notice | LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::All => "trace",
        }
    }
}

/// A secret string (the cookie): readable by the program, shown as `***` in `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("***")
    }
}

/// `[shaper.NAME]`: a traffic shaper.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shaper {
    /// Bytes per second; at least 1.
    pub max_rate: u64,
}

impl Config {
    /// Reads and validates the file at `path`; `None` gives [`Config::default`].
    ///
    /// Errors: [`ConfigError::Read`], [`ConfigError::TooLarge`], [`ConfigError::Parse`],
    /// [`ConfigError::Invalid`].
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let bytes = std::fs::metadata(path).map_err(read_error)?.len();
        if bytes > CONFIG_BYTES_MAX {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
                bytes,
                max: CONFIG_BYTES_MAX,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Config::parse(&text, &format!("config file {path:?}"))
    }

    /// [`Config::load`], then the environment's overrides ([`Config::apply_env`]) from this
    /// process's environment.
    pub fn load_with_env(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config::load(path)?;
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Overrides keys from environment variables, for containers, where the node's name and
    /// address are known only when it starts, and secrets come from the orchestrator:
    ///
    /// | variable | key |
    /// | --- | --- |
    /// | `BREAM_NODE_NAME` | `general.node_name` |
    /// | `BREAM_NODE_IP` | `general.node_ip` |
    /// | `BREAM_DIST_PORT` | `general.dist_port` |
    /// | `BREAM_COOKIE` | `general.cookie` |
    /// | `BREAM_DATABASE_URL` | `outgoing_pools.rdbms.default.connection.url` |
    /// | `BREAM_CLUSTER_NAME` | `internal_databases.cets.cluster_name` (when CETS is on) |
    ///
    /// An empty variable counts as unset. Errors: a value that does not parse, or that the
    /// key does not accept ([`ConfigError::Invalid`], naming the variable).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let var = |name: &str| var(name).filter(|value| !value.is_empty());
        let invalid = |name: &str, value: &str, reason: &str| ConfigError::Invalid {
            origin: "environment".to_string(),
            key: name.to_string(),
            value: format!("{value:?}"),
            reason: reason.to_string(),
        };
        if let Some(name) = var("BREAM_NODE_NAME") {
            self.general.node_name = name;
        }
        if let Some(ip) = var("BREAM_NODE_IP") {
            self.general.node_ip = ip
                .parse()
                .map_err(|_| invalid("BREAM_NODE_IP", &ip, "not an IP address"))?;
        }
        if let Some(port) = var("BREAM_DIST_PORT") {
            self.general.dist_port = port
                .parse()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| invalid("BREAM_DIST_PORT", &port, "not a port in 1..=65535"))?;
        }
        if let Some(cookie) = var("BREAM_COOKIE") {
            self.general.cookie = Secret(cookie);
        }
        if let Some(url) = var("BREAM_DATABASE_URL") {
            if !crate::storage::url_scheme_is_supported(&url) {
                return Err(invalid(
                    "BREAM_DATABASE_URL",
                    &crate::storage::redact_url(&url),
                    "use sqlite://PATH or postgres://USER[:PASSWORD]@HOST:PORT/DATABASE",
                ));
            }
            self.outgoing_pools.rdbms.default.connection.url = Some(url);
        }
        if let Some(name) = var("BREAM_CLUSTER_NAME") {
            if let Some(cets) = &mut self.internal_databases.cets {
                cets.cluster_name = name;
            }
        }
        self.check_node_name()
            .map_err(|reason| invalid("general.node_name", &self.general.node_name, &reason))
    }

    fn validate_max_user_sessions(&self) -> Result<(), Invalid> {
        let Some(rules) = self.access.get("max_user_sessions") else {
            return Ok(());
        };
        let invalid = |value: &str| {
            Invalid::new(
                "access.max_user_sessions",
                value,
                "expected rules like [{acl = \"all\", value = 10}] (value at least 1, or \"infinity\")",
            )
        };
        let rules = rules
            .as_array()
            .ok_or_else(|| invalid(&rules.to_string()))?;
        for rule in rules {
            let value = rule.as_table().and_then(|rule| rule.get("value"));
            let valid = match value {
                Some(toml::Value::Integer(count)) => *count >= 1,
                Some(toml::Value::String(text)) => text == "infinity",
                _ => false,
            };
            if !valid {
                return Err(invalid(&rule.to_string()));
            }
        }
        Ok(())
    }

    fn check_node_name(&self) -> Result<(), String> {
        match self.general.node_name.split_once('@') {
            Some((name, host)) if !name.is_empty() && !host.is_empty() && !host.contains('@') => {
                Ok(())
            }
            _ => Err("a node name is name@host".to_string()),
        }
    }

    /// Parses and validates TOML text, as [`Config::load`] does a file's.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "config text")
    }

    fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut config: Config =
            toml::from_str(text).map_err(|error| parse_error(text, origin, &error))?;
        config.validate().map_err(|invalid| ConfigError::Invalid {
            origin: origin.to_string(),
            key: invalid.key,
            value: invalid.value,
            reason: invalid.reason,
        })?;
        Ok(config)
    }

    /// Checks what types cannot, and normalises the hosts.
    fn validate(&mut self) -> Result<(), Invalid> {
        let general = &mut self.general;
        if general.hosts.is_empty() {
            return Err(Invalid::new(
                "general.hosts",
                "[]",
                "at least one domain must be served",
            ));
        }
        let mut hosts = Vec::with_capacity(general.hosts.len());
        for (index, host) in general.hosts.iter().enumerate() {
            let key = format!("general.hosts[{index}]");
            let normalised = crate::jid::normalize_domain(host)
                .map_err(|error| Invalid::new(&key, &format!("{host:?}"), &error.to_string()))?;
            if hosts.contains(&normalised) {
                return Err(Invalid::new(&key, &format!("{host:?}"), "listed twice"));
            }
            hosts.push(normalised);
        }
        general.hosts = hosts;
        if general.data_dir.as_os_str().is_empty() {
            return Err(Invalid::new(
                "general.data_dir",
                "\"\"",
                "must not be empty",
            ));
        }
        self.check_node_name().map_err(|reason| {
            Invalid::new("general.node_name", &self.general.node_name, &reason)
        })?;
        let general = &self.general;
        check_nonzero(
            "general.shutdown_timeout",
            general.shutdown_timeout,
            Unit::Seconds,
        )?;
        if general.dist_port == 0 {
            return Err(Invalid::new(
                "general.dist_port",
                "0",
                "must be in 1..=65535",
            ));
        }
        self.internal_databases.validate()?;
        self.validate_max_user_sessions()?;
        self.listen.validate()?;
        self.auth.validate()?;
        self.outgoing_pools.validate()?;
        self.modules.validate()?;
        for (name, shaper) in &self.shaper {
            if shaper.max_rate == 0 {
                return Err(Invalid::new(
                    &format!("shaper.{name}.max_rate"),
                    "0",
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// `[access] max_user_sessions`, the one access rule Bream reads, in MongooseIM's form
    /// `max_user_sessions = [{acl = "all", value = 10}]`: the value of the rule for the ACL
    /// `all` (`"infinity"`: no limit). Rules for other ACLs are not applied (no ACLs yet).
    pub fn max_user_sessions(&self) -> Option<usize> {
        let rules = self.access.get("max_user_sessions")?.as_array()?;
        let rule = rules
            .iter()
            .filter_map(toml::Value::as_table)
            .find(|rule| rule.get("acl").and_then(toml::Value::as_str) == Some("all"))?;
        rule.get("value")
            .and_then(toml::Value::as_integer)
            .and_then(|value| usize::try_from(value).ok())
    }

    /// Whether `domain` (normalised) is one of `general.hosts`.
    pub fn serves(&self, domain: &str) -> bool {
        self.general.hosts.iter().any(|host| host == domain)
    }

    /// The database URL: `outgoing_pools.rdbms.default.connection.url`, or else
    /// `sqlite://DATA_DIR/bream.db`.
    pub fn database_url(&self) -> String {
        match &self.outgoing_pools.rdbms.default.connection.url {
            Some(url) => url.clone(),
            None => sqlite_url_for_path(&self.general.data_dir.join(DATABASE_FILE_NAME)),
        }
    }

    /// What [`Storage::connect_with`](crate::storage::Storage::connect_with) needs.
    pub fn storage_options(&self) -> StorageOptions {
        let pool = &self.outgoing_pools.rdbms.default;
        StorageOptions {
            url: self.database_url(),
            pool_connections_max: pool.workers,
            connect_timeout: pool.connection.connect_timeout,
            query_timeout: pool.connection.query_timeout,
        }
    }
}

/// A validation failure before it is given the config's origin.
pub(crate) struct Invalid {
    key: String,
    value: String,
    reason: String,
}

impl Invalid {
    pub(crate) fn new(key: &str, value: &str, reason: &str) -> Self {
        Invalid {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Checks a duration that must not be zero.
pub(crate) fn check_nonzero(key: &str, value: Duration, unit: Unit) -> Result<(), Invalid> {
    if value.is_zero() {
        return Err(Invalid::new(
            key,
            "0",
            &format!("must be at least 1 {}", unit.name()),
        ));
    }
    Ok(())
}

/// How a duration key is written in the file.
#[derive(Clone, Copy)]
pub(crate) enum Unit {
    Milliseconds,
    Seconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Milliseconds => "millisecond",
            Unit::Seconds => "second",
        }
    }
}

/// `deserialize_with` for a duration written as an integer number of milliseconds.
pub(crate) fn milliseconds<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

/// `deserialize_with` for a duration written as an integer number of seconds.
pub(crate) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// A [`ConfigError::Parse`] with the line, its text and its table, from the parser's span.
fn parse_error(text: &str, origin: &str, error: &toml::de::Error) -> ConfigError {
    let message = error.message().trim_end().to_string();
    let Some(span) = error.span() else {
        return ConfigError::Parse {
            origin: origin.to_string(),
            line: None,
            line_text: String::new(),
            table: None,
            message,
        };
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let line_end = text[start..]
        .find('\n')
        .map_or(text.len(), |newline| start + newline);
    let line = text[..start].matches('\n').count() + 1;
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|candidate| candidate.starts_with('['))
        .map(str::to_string);
    ConfigError::Parse {
        origin: origin.to_string(),
        line: Some(line),
        line_text: text[line_start..line_end].trim().to_string(),
        table,
        message,
    }
}

#[cfg(test)]
mod tests;
