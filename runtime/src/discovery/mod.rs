//! Node discovery: where a node learns which other nodes to connect to.
//!
//! (The SQL registry backend lands separately; this holds the trait and the static list.)

use futures::future::BoxFuture;

/// One node listed by discovery, other than this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredNode {
    /// `name@host`.
    pub name: String,
    /// `host:port` for node-to-node traffic.
    pub address: String,
    /// Its number in the cluster, where the backend assigns them.
    pub node_num: Option<u32>,
}

/// What one poll found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryPoll {
    /// The other nodes.
    pub others: Vec<DiscoveredNode>,
    /// This node's number, where the backend assigns them.
    pub own_node_num: Option<u32>,
}

/// Why a poll failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The backend could not be reached or answered with an error.
    #[error("discovery backend unavailable: {0}")]
    Unavailable(String),
}

/// A source of cluster membership.
pub trait Discovery: Send + Sync + 'static {
    /// Registers or refreshes this node, removes expired entries (where the backend can), and
    /// lists the others.
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>>;
    /// Removes this node's entry (graceful stop); a no-op for read-only backends.
    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>>;
    /// A short label for status output.
    fn describe(&self) -> String;
}

/// A fixed list of nodes.
#[derive(Clone, Debug)]
pub struct StaticList {
    own_name: String,
    nodes: Vec<DiscoveredNode>,
}

impl StaticList {
    /// Lists `nodes` (name, address); this node's own entry, if present, is left out of polls.
    pub fn new(own_name: impl Into<String>, nodes: Vec<(String, String)>) -> Self {
        StaticList {
            own_name: own_name.into(),
            nodes: nodes
                .into_iter()
                .map(|(name, address)| DiscoveredNode {
                    name,
                    address,
                    node_num: None,
                })
                .collect(),
        }
    }
}

impl Discovery for StaticList {
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>> {
        Box::pin(async move {
            Ok(DiscoveryPoll {
                others: self
                    .nodes
                    .iter()
                    .filter(|node| node.name != self.own_name)
                    .cloned()
                    .collect(),
                own_node_num: None,
            })
        })
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>> {
        Box::pin(async { Ok(()) })
    }

    fn describe(&self) -> String {
        "static".into()
    }
}
