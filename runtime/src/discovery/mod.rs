//! Node discovery: which other nodes should this node be connected to?
//!
//! A node does not learn its peers from the transport; it asks a [`Discovery`] backend, over and
//! over, and connects to every listed node it is not yet connected to. This is CETS's
//! `cets_discovery` model, which MongooseIM 6.2 uses in place of Mnesia's clustering: membership
//! is *seeded* by discovery, and a node that discovery lists but that does not answer is simply
//! tried again on the next poll. Discovery never disconnects anyone; failure detection is the
//! node layer's job.
//!
//! # Backends
//!
//! | backend | [`describe`](Discovery::describe) | writes? | `node_num` | for |
//! | --- | --- | --- | --- | --- |
//! | [`SqlRegistry`] | `rdbms sqlite`, `rdbms postgres` | registers, refreshes, expires, leaves | yes | real clusters (PostgreSQL), one-machine clusters (SQLite) |
//! | [`StaticList`] | `static` | no | no | tests, fixed deployments |
//! | [`FileDiscovery`] | `file /path` | no (re-read every poll) | no | deployments whose tooling writes a hosts file |
//!
//! # Example
//!
//! ```
//! use bream_runtime::discovery::{Discovery, StaticList};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let discovery = StaticList::new(
//!     "a@host1",
//!     [("a@host1", "host1:4370"), ("b@host2", "host2:4370")],
//! )?;
//! let poll = discovery.poll().await?;
//! // This node is never listed: only the others are.
//! assert_eq!(poll.others.len(), 1);
//! assert_eq!(poll.others[0].name, "b@host2");
//! assert_eq!(poll.own_node_num, None);
//! # Ok(())
//! # }
//! ```
//!
//! # Edges
//!
//! - **Errors.** Every failure is a [`DiscoveryError`] naming what failed (URL, file and line,
//!   node and cluster). A failed poll changes nothing the caller holds: keep the last good list,
//!   report "discovery not working" in the cluster status, and poll again later. Nothing here
//!   panics on bad input from the database, a file or the user.
//! - **Deadlines.** Every database wait has one: connecting (the pool's acquire timeout and an
//!   outer timeout, both the configured `connect_timeout`), each poll and each leave (the
//!   configured `query_timeout`, which also bounds getting a connection from the pool). Reading
//!   the discovery file has [`file::FILE_READ_TIMEOUT`].
//! - **Polling cadence** is the caller's: poll fast while starting, slowly once settled, and at
//!   once after a node-down. A backend keeps no timer of its own.
//! - **Shutdown.** Call [`leave`](Discovery::leave) on a graceful stop, so peers stop trying this
//!   node at once rather than after the expiry. A node that dies without leaving is removed by
//!   another node's poll once its row is older than the expiry (default 1 hour, as MongooseIM's
//!   `expire_time`); until then peers keep trying to reconnect to it, which is harmless.
//! - **Names.** A node name is `name@host` (one `@`, both sides non-empty, no whitespace); an
//!   address is `host:port` with a port in 1..=65535 and an IPv6 host in brackets
//!   (`[::1]:4370`). Both are at most [`NAME_BYTES_MAX`] bytes, the width of MongooseIM's
//!   `varchar(250)` columns.
//!
//! # Where Bream differs from MongooseIM
//!
//! - The registration step runs under a lock (see [`sql`]), so nodes starting together get
//!   distinct `node_num`s on their first poll. MongooseIM inserts without one and, on a
//!   duplicate `node_num`, runs with `node_num` 0 until its next poll.
//! - The expired-row sweep and registration happen in one transaction, before listing, so a poll
//!   never lists a row it has just found expired.
//! - `cluster_name` is used as given: MongooseIM appends the CETS version (`mongooseim-0.2`) so
//!   that nodes of incompatible versions do not join. A caller wanting that appends its own
//!   protocol version.
//! - `address` must be set: MongooseIM allows `''` ("ask DNS").

pub mod error;
pub mod file;
pub mod sql;
pub mod static_list;

use futures::future::BoxFuture;

pub use error::{ConnectError, DiscoveryError, MigrateError};
pub use file::FileDiscovery;
pub use sql::{SqlRegistry, SqlRegistryConfig};
pub use static_list::StaticList;

/// The longest node name, address or cluster name, in bytes: the width of MongooseIM's
/// `varchar(250)` columns in `discovery_nodes`, kept for every backend so a name valid in one is
/// valid in all.
pub const NAME_BYTES_MAX: usize = 250;

/// One node listed by discovery, other than this one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoveredNode {
    /// The node's name, `name@host`.
    pub name: String,
    /// Where to reach it for node-to-node traffic, `host:port`.
    pub address: String,
    /// Its number in the cluster, from backends that assign one ([`SqlRegistry`]).
    pub node_num: Option<u32>,
}

/// What one poll found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryPoll {
    /// Every listed node except this one, in a stable order (by `node_num` for the SQL
    /// registry, in listed order otherwise).
    pub others: Vec<DiscoveredNode>,
    /// This node's number in the cluster, from backends that assign one: the smallest free
    /// number >= 1, kept for as long as this node's row lives.
    pub own_node_num: Option<u32>,
}

/// A source of the other nodes of this node's cluster.
///
/// Object safe: a node holds an `Arc<dyn Discovery>` chosen by configuration.
pub trait Discovery: Send + Sync + 'static {
    /// Registers or refreshes this node, removes expired entries (where the backend can), and
    /// lists the others.
    ///
    /// Errors: the backend could not be read or written within its deadline, or it holds
    /// something malformed; see each backend for the cases.
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>>;

    /// Removes this node's entry (graceful stop); a no-op for read-only backends.
    ///
    /// A later [`poll`](Discovery::poll) registers the node again, possibly with another
    /// `node_num`.
    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>>;

    /// A short label for status output (`"rdbms sqlite"`, `"static"`, `"file /path"`).
    fn describe(&self) -> String;
}

/// Runs `check` on the setting `value`; its refusal as [`DiscoveryError::InvalidConfig`].
pub(crate) fn check_setting(
    setting: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), DiscoveryError> {
    check(value).map_err(|reason| DiscoveryError::InvalidConfig {
        setting,
        value: value.to_owned(),
        reason,
    })
}

/// Checks a node name: `name@host`, one `@`, both sides non-empty, no whitespace or control
/// characters, at most [`NAME_BYTES_MAX`] bytes. Returns why not.
pub(crate) fn check_node_name(name: &str) -> Result<(), String> {
    check_text(name)?;
    match name.split_once('@') {
        Some((local, host)) if !local.is_empty() && !host.is_empty() && !host.contains('@') => {
            Ok(())
        }
        _ => Err("a node name is `name@host`, with exactly one `@` and text on both sides".into()),
    }
}

/// Checks a node-to-node address: `host:port`, port in 1..=65535, an IPv6 host in brackets, no
/// whitespace or control characters, at most [`NAME_BYTES_MAX`] bytes. Returns why not.
pub(crate) fn check_address(address: &str) -> Result<(), String> {
    check_text(address)?;
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err("an address is `host:port`".into());
    };
    if host.is_empty() {
        return Err("an address is `host:port`, and the host is empty".into());
    }
    if host.starts_with('[') || host.ends_with(']') {
        let inner = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'));
        if !inner.is_some_and(|inner| inner.contains(':')) {
            return Err("a bracketed host is an IPv6 address, as in `[::1]:4370`".into());
        }
    } else if host.contains(':') {
        return Err("an IPv6 host goes in brackets, as in `[::1]:4370`".into());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("the port {port:?} is not a number in 1..=65535")),
        Ok(_) => Ok(()),
    }
}

/// Checks a cluster name: non-empty, no whitespace or control characters, at most
/// [`NAME_BYTES_MAX`] bytes. Returns why not.
pub(crate) fn check_cluster_name(cluster_name: &str) -> Result<(), String> {
    if cluster_name.is_empty() {
        return Err("the cluster name is empty".into());
    }
    check_text(cluster_name)
}

fn check_text(text: &str) -> Result<(), String> {
    if text.len() > NAME_BYTES_MAX {
        return Err(format!(
            "{} bytes is over the limit NAME_BYTES_MAX = {NAME_BYTES_MAX}",
            text.len()
        ));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert!(check_node_name("a@host").is_ok());
        assert!(check_node_name("bream-1@10.0.0.1").is_ok());
        for bad in ["", "a", "@host", "a@", "a@b@c", "a b@host", "a@ho\tst"] {
            assert!(check_node_name(bad).is_err(), "{bad:?} accepted");
        }
        let at_limit = format!("a@{}", "h".repeat(NAME_BYTES_MAX - 2));
        assert!(check_node_name(&at_limit).is_ok());
        let over_limit = format!("a@{}", "h".repeat(NAME_BYTES_MAX - 1));
        let error = check_node_name(&over_limit).unwrap_err();
        assert!(error.contains("NAME_BYTES_MAX = 250"), "{error}");
    }

    #[test]
    fn addresses() {
        for good in ["host:4370", "127.0.0.1:1", "[::1]:65535"] {
            assert!(check_address(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "",
            "host",
            ":4370",
            "host:",
            "host:0",
            "host:65536",
            "::1:4370",
            "[]:1",
            "[h]:1",
            "[::1:1",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cluster_names() {
        assert!(check_cluster_name("mongooseim").is_ok());
        assert!(check_cluster_name("").is_err());
        assert!(check_cluster_name("a b").is_err());
    }
}
