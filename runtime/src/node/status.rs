//! The cluster as this node sees it: discovered, connected and unavailable nodes, and
//! discovery's last result.

use super::Node;

/// Discovery as this node last saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryStatus {
    /// The backend, e.g. "rdbms postgres".
    pub backend: Option<String>,
    /// Whether the last poll worked.
    pub works: bool,
    /// The last poll's error, if it failed.
    pub last_error: Option<String>,
    /// The other nodes it listed.
    pub discovered: Vec<String>,
    /// This node's number in the cluster.
    pub node_num: Option<u32>,
}

/// The cluster as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterStatus {
    /// This node.
    pub node: String,
    /// This node's number, from discovery.
    pub node_num: Option<u32>,
    /// Nodes discovery lists (other than this one).
    pub discovered: Vec<String>,
    /// Nodes connected and up.
    pub connected: Vec<String>,
    /// Listed but not connected.
    pub unavailable: Vec<String>,
    /// Whether discovery works.
    pub discovery_works: bool,
    /// The discovery backend and its last error.
    pub discovery: DiscoveryStatus,
}

impl Node {
    /// The cluster as this node sees it.
    pub fn status(&self) -> ClusterStatus {
        let state = self.inner.state.lock();
        let connected = state.membership.up_nodes();
        let discovered = state.discovery.discovered.clone();
        let unavailable = discovered
            .iter()
            .filter(|node| !connected.contains(node))
            .cloned()
            .collect();
        ClusterStatus {
            node: self.inner.config.name.clone(),
            node_num: state.discovery.node_num,
            discovered,
            connected,
            unavailable,
            discovery_works: state.discovery.works,
            discovery: state.discovery.clone(),
        }
    }
}
