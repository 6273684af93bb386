//! What the test node programs share: discovery built from their command-line options.

use std::net::SocketAddr;
use std::sync::Arc;

use bream_runtime::discovery::{Discovery, SqlRegistry, SqlRegistryConfig, StaticList};

/// Discovery for a test node: the SQL registry at `registry` (cluster `cluster`) when given,
/// else a static list from `peers` (`name@host=host:port` entries), else none.
pub async fn discovery(
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
