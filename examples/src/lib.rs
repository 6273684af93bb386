//! Small apps on the Bream runtime, each a binary: `cargo run -p bream-examples --bin NAME`.
//!
//! - `counter`: a minimal supervised server, driven with call and cast;
//! - `supervision_tree`: a three-level tree under fault injection, printing every exit,
//!   restart and escalation as it happens.
//! - `cluster_ping`, `replicated_kv`: nodes on one machine that find each other through an SQL
//!   registry; both start through [`start_node`].

use std::sync::Arc;

use bream_runtime::discovery::{SqlRegistry, SqlRegistryConfig};
use bream_runtime::node::{Node, NodeConfig, NodeEvent};

/// Where a clustered example's node lives and how it finds the others.
pub struct NodeSetup<'a> {
    /// Short node name; the node is `NAME@127.0.0.1`.
    pub name: &'a str,
    /// Port for node-to-node traffic.
    pub port: u16,
    /// The registry all nodes share.
    pub registry: &'a str,
    /// The cluster's name in the registry.
    pub cluster: &'a str,
    /// Cookie (all nodes must agree).
    pub cookie: &'a str,
}

/// A started node with its full name and address.
pub struct StartedNode {
    /// The node.
    pub node: Node,
    /// `NAME@127.0.0.1`.
    pub name: String,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

/// Registers the node in the SQL registry and starts it with the config `tune` adjusts (an
/// example that wants a faster failure detector sets its heartbeat there); then prints every
/// `UP` and `DOWN` the node sees, as both examples' readers and tests follow them.
pub async fn start_node(
    setup: NodeSetup<'_>,
    tune: impl FnOnce(&mut NodeConfig),
) -> anyhow::Result<StartedNode> {
    let name = format!("{}@127.0.0.1", setup.name);
    let address = format!("127.0.0.1:{}", setup.port);
    let registry = SqlRegistry::connect(SqlRegistryConfig::new(
        setup.registry.to_string(),
        setup.cluster.to_string(),
        name.clone(),
        address.clone(),
    ))
    .await?;
    let mut config = NodeConfig::new(name.clone(), address.parse()?, setup.cookie.to_string());
    tune(&mut config);
    let node = Node::start(config, Some(Arc::new(registry))).await?;
    let mut events = node.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                NodeEvent::Up { node } => println!("UP   {node}"),
                NodeEvent::Down { node, reason } => println!("DOWN {node} ({reason})"),
            }
        }
    });
    Ok(StartedNode {
        node,
        name,
        address,
    })
}
