//! `[outgoing_pools]` (the SQL database) and `[internal_databases]` (CETS, for clustering).
//!
//! ```toml
//! [outgoing_pools.rdbms.default]
//! workers = 10
//! connection.url = "postgres://bream:secret@db.example.com:5432/bream"
//! connection.query_timeout = 5000
//!
//! [internal_databases.cets]
//! backend = "rdbms"
//! cluster_name = "bream"
//! ```
//!
//! Without `connection.url` the database is SQLite, `general.data_dir/bream.db`, created on
//! first use. The URL's password never appears in logs, errors or `Debug` output.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{check_nonzero, milliseconds, Invalid, Unit};
use crate::storage::url_scheme_is_supported;
use crate::storage::{
    redact_url, CONNECT_TIMEOUT_DEFAULT, POOL_CONNECTIONS_DEFAULT, POOL_CONNECTIONS_MAX,
    QUERY_TIMEOUT_DEFAULT,
};

/// `[outgoing_pools]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutgoingPools {
    /// `[outgoing_pools.rdbms]`.
    pub rdbms: RdbmsPools,
}

impl OutgoingPools {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        self.rdbms.default.validate("outgoing_pools.rdbms.default")
    }
}

/// `[outgoing_pools.rdbms]`: SQL pools by tag. Bream has one, `default`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RdbmsPools {
    /// `[outgoing_pools.rdbms.default]`.
    pub default: RdbmsPool,
}

/// One SQL connection pool.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RdbmsPool {
    /// The most connections the pool opens. Default [`POOL_CONNECTIONS_DEFAULT`] (10, as
    /// MongooseIM); 1..=[`POOL_CONNECTIONS_MAX`].
    pub workers: u32,
    /// `connection.*`.
    pub connection: RdbmsConnection,
}

impl Default for RdbmsPool {
    fn default() -> Self {
        RdbmsPool {
            workers: POOL_CONNECTIONS_DEFAULT,
            connection: RdbmsConnection::default(),
        }
    }
}

impl RdbmsPool {
    fn validate(&self, prefix: &str) -> Result<(), Invalid> {
        if !(1..=POOL_CONNECTIONS_MAX).contains(&self.workers) {
            return Err(Invalid::new(
                &format!("{prefix}.workers"),
                &self.workers.to_string(),
                &format!("must be in 1..={POOL_CONNECTIONS_MAX}"),
            ));
        }
        let connection = &self.connection;
        if let Some(url) = &connection.url {
            if !url_scheme_is_supported(url) {
                return Err(Invalid::new(
                    &format!("{prefix}.connection.url"),
                    &format!("{:?}", redact_url(url)),
                    "use sqlite://PATH or postgres://USER[:PASSWORD]@HOST:PORT/DATABASE",
                ));
            }
        }
        check_nonzero(
            &format!("{prefix}.connection.query_timeout"),
            connection.query_timeout,
            Unit::Milliseconds,
        )?;
        check_nonzero(
            &format!("{prefix}.connection.connect_timeout"),
            connection.connect_timeout,
            Unit::Milliseconds,
        )
    }
}

/// `connection` of an rdbms pool.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RdbmsConnection {
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`. Default none:
    /// SQLite in `general.data_dir`.
    pub url: Option<String>,
    /// Milliseconds one operation may take. Default 5000 ([`QUERY_TIMEOUT_DEFAULT`], as
    /// MongooseIM).
    #[serde(deserialize_with = "milliseconds")]
    pub query_timeout: Duration,
    /// Milliseconds to wait for a connection. Default 5000 ([`CONNECT_TIMEOUT_DEFAULT`]).
    #[serde(deserialize_with = "milliseconds")]
    pub connect_timeout: Duration,
}

impl Default for RdbmsConnection {
    fn default() -> Self {
        RdbmsConnection {
            url: None,
            query_timeout: QUERY_TIMEOUT_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
        }
    }
}

/// Hides the URL's password.
impl fmt::Debug for RdbmsConnection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RdbmsConnection")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("query_timeout", &self.query_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// `[internal_databases]`: the cluster's in-memory tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InternalDatabases {
    /// `[internal_databases.cets]`: present, the node runs as part of a cluster (as in
    /// MongooseIM, where listing CETS switches it on); absent (the default), it runs alone.
    pub cets: Option<Cets>,
}

/// The heartbeat deadline of cluster nodes, unless configured.
pub const HEARTBEAT_DEADLINE_DEFAULT: Duration = Duration::from_secs(5);

/// `[internal_databases.cets]`: how the cluster's nodes find each other.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cets {
    /// Default `rdbms` (the `discovery_nodes` table in the configured database).
    pub backend: CetsBackend,
    /// Nodes only join nodes of the same cluster name. Default `bream`.
    pub cluster_name: String,
    /// For `backend = "file"`: a file listing the nodes. Default none.
    pub node_list_file: Option<PathBuf>,
    /// Milliseconds of silence after which a node is declared down and its sessions are
    /// cleaned up. Default 5000; at least 1000.
    #[serde(deserialize_with = "milliseconds")]
    pub heartbeat_deadline: Duration,
}

impl Default for Cets {
    fn default() -> Self {
        Cets {
            backend: CetsBackend::Rdbms,
            cluster_name: "bream".to_string(),
            node_list_file: None,
            heartbeat_deadline: HEARTBEAT_DEADLINE_DEFAULT,
        }
    }
}

impl InternalDatabases {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        let Some(cets) = &self.cets else {
            return Ok(());
        };
        if cets.backend == CetsBackend::File && cets.node_list_file.is_none() {
            return Err(Invalid::new(
                "internal_databases.cets.node_list_file",
                "none",
                "backend = \"file\" needs the file that lists the nodes",
            ));
        }
        if cets.heartbeat_deadline < Duration::from_secs(1) {
            return Err(Invalid::new(
                "internal_databases.cets.heartbeat_deadline",
                &cets.heartbeat_deadline.as_millis().to_string(),
                "must be at least 1000 milliseconds",
            ));
        }
        if cets.cluster_name.is_empty() {
            return Err(Invalid::new(
                "internal_databases.cets.cluster_name",
                "\"\"",
                "must not be empty",
            ));
        }
        Ok(())
    }
}

/// Where CETS discovers nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CetsBackend {
    /// The `discovery_nodes` table.
    Rdbms,
    /// `node_list_file`.
    File,
}
