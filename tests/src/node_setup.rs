//! What the test node programs share: their node options, the JSON lines they print, the
//! tokio runtime around their `run`, and the start of their node (tracing, configuration,
//! discovery from the command line, node events printed as they come).

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bream_runtime::discovery::{Discovery, SqlRegistry, SqlRegistryConfig, StaticList};
use bream_runtime::node::{Node, NodeConfig, NodeEvent};
use serde_json::json;

/// The options every test node program takes, flattened into its own `Options` so that the
/// harness starts each program with the same flags.
#[derive(clap::Args, Debug)]
pub struct NodeOptions {
    /// Node name, `name@host`.
    #[arg(long)]
    pub name: String,
    /// Listen address for node traffic.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Cookie.
    #[arg(long, default_value = "bream-test")]
    pub cookie: String,
    /// Static peers, `name@host=host:port`, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// SQL registry URL (`sqlite://path?mode=rwc` or `postgres://...`) for discovery.
    #[arg(long)]
    pub registry: Option<String>,
    /// Cluster name in the registry.
    #[arg(long, default_value = "bream-test")]
    pub cluster: String,
    /// Heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub heartbeat_ms: u64,
    /// Heartbeat deadline in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub deadline_ms: u64,
}

/// Prints one JSON line on stdout: the harness reads events and answers from there.
pub fn emit(value: serde_json::Value) {
    println!("{value}");
}

/// Runs a node program's `run` on a new tokio runtime. A failure is printed as a `failed`
/// event (for the harness) and makes the exit code non-zero.
pub fn run_program(run: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            emit(json!({"event": "failed", "error": error.to_string()}));
            ExitCode::FAILURE
        }
    }
}

/// Starts the node `options` describe: tracing to stderr, heartbeats as given, `configure`
/// for what one program adds (TLS, frame size), discovery from `--registry` or `--peers`,
/// and a task printing each node event as an `up` or `down` line.
pub async fn start_node(
    options: &NodeOptions,
    configure: impl FnOnce(&mut NodeConfig),
) -> anyhow::Result<Node> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut config = NodeConfig::new(options.name.clone(), options.listen, options.cookie.clone());
    config.heartbeat_interval = Duration::from_millis(options.heartbeat_ms);
    config.heartbeat_deadline = Duration::from_millis(options.deadline_ms);
    config.poll_interval_starting = Duration::from_millis(200);
    configure(&mut config);
    let discovery = discovery(
        &options.name,
        options.listen,
        &options.peers,
        options.registry.as_deref(),
        &options.cluster,
    )
    .await?;
    let node = Node::start(config, discovery).await?;
    let mut events = node.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                NodeEvent::Up { node } => emit(json!({"event": "up", "node": node})),
                NodeEvent::Down { node, reason } => {
                    emit(json!({"event": "down", "node": node, "reason": reason.to_string()}))
                }
            }
        }
    });
    Ok(node)
}

/// Discovery for a test node: the SQL registry at `registry` (cluster `cluster`) when given,
/// else a static list from `peers` (`name@host=host:port` entries), else none.
async fn discovery(
    name: &str,
    listen: SocketAddr,
    peers: &[String],
    registry: Option<&str>,
    cluster: &str,
) -> anyhow::Result<Option<Arc<dyn Discovery>>> {
    let peers = peers
        .iter()
        .filter(|peer| !peer.is_empty())
        .map(|peer| {
            peer.split_once('=')
                .map(|(name, address)| (name.to_string(), address.to_string()))
                .ok_or_else(|| anyhow::anyhow!("peer {peer:?} is not name@host=host:port"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(match (registry, peers.is_empty()) {
        (Some(url), _) => {
            let config = SqlRegistryConfig::new(url, cluster, name, listen.to_string());
            Some(Arc::new(SqlRegistry::connect(config).await?))
        }
        (None, false) => Some(Arc::new(StaticList::new(name, peers)?)),
        (None, true) => None,
    })
}
