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

/// Where a clustered example's node lives and how it finds the others: the command-line
/// options both clustered examples take (`#[command(flatten)]`). What is not given defaults
/// to the example's own name: registry `sqlite://EXAMPLE.db?mode=rwc`, cluster `EXAMPLE`,
/// cookie `EXAMPLE-cookie`.
#[derive(clap::Args)]
pub struct NodeArgs {
    /// Short node name; the node is `NAME@127.0.0.1`.
    #[arg(long)]
    pub name: String,
    /// Port for node-to-node traffic.
    #[arg(long)]
    pub port: u16,
    /// The registry all nodes share (default: an SQLite file named after the example).
    #[arg(long)]
    pub registry: Option<String>,
    /// The cluster's name in the registry (default: the example's name).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Cookie, which all nodes must agree on (default: the example's name and `-cookie`).
    #[arg(long)]
    pub cookie: Option<String>,
}

/// A started node with its full name and address.
pub struct StartedNode {
    /// The node.
    pub node: Node,
    /// `NAME@127.0.0.1`.
    pub name: String,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The registry's URL.
    pub registry: String,
}

/// Registers the node in the SQL registry and starts it with the config `tune` adjusts (an
/// example that wants a faster failure detector sets its heartbeat there); then prints every
/// `UP` and `DOWN` the node sees, as both examples' readers and tests follow them.
pub async fn start_node(
    args: &NodeArgs,
    example: &str,
    tune: impl FnOnce(&mut NodeConfig),
) -> anyhow::Result<StartedNode> {
    let name = format!("{}@127.0.0.1", args.name);
    let address = format!("127.0.0.1:{}", args.port);
    let registry_url = args
        .registry
        .clone()
        .unwrap_or_else(|| format!("sqlite://{example}.db?mode=rwc"));
    let registry = SqlRegistry::connect(SqlRegistryConfig::new(
        registry_url.clone(),
        args.cluster.clone().unwrap_or_else(|| example.to_string()),
        name.clone(),
        address.clone(),
    ))
    .await?;
    let cookie = args
        .cookie
        .clone()
        .unwrap_or_else(|| format!("{example}-cookie"));
    let mut config = NodeConfig::new(name.clone(), address.parse()?, cookie);
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
        registry: registry_url,
    })
}
