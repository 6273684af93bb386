//! Connecting to a peer by address: resolve, dial (with TLS when the node has it), and wait
//! until the agent reports the peer up, all within `connect_timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{tls, Node, NodeInner};

/// Why a connection attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Nothing accepted the TCP connection.
    #[error("{address} is unreachable: {reason}")]
    Unreachable {
        /// The address.
        address: String,
        /// The socket error.
        reason: String,
    },
    /// The peer refused our cookie (or we refused its).
    #[error("{address} refused the cookie")]
    WrongCookie {
        /// The address.
        address: String,
    },
    /// The connection closed during the handshake.
    #[error("{address} closed the connection during the handshake")]
    HandshakeFailed {
        /// The address.
        address: String,
    },
    /// The handshake did not finish in time.
    #[error("connecting to {address} took longer than {after:?}")]
    Timeout {
        /// The address.
        address: String,
        /// The deadline.
        after: Duration,
    },
}

impl Node {
    /// Connects to the node at `address` (`host:port`); returns its name once it is up.
    pub async fn connect(&self, address: &str) -> Result<String, ConnectError> {
        connect(&self.inner, address).await
    }
}

pub(super) async fn connect(inner: &Arc<NodeInner>, address: &str) -> Result<String, ConnectError> {
    let timeout = inner.config.connect_timeout;
    let unreachable = |reason: String| ConnectError::Unreachable {
        address: address.to_string(),
        reason,
    };
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address))
        .await
        .map_err(|_| unreachable("name lookup timed out".into()))?
        .map_err(|error| unreachable(error.to_string()))?
        .next()
        .ok_or_else(|| unreachable("no address".into()))?;
    let server = inner
        .server
        .get()
        .cloned()
        .ok_or_else(|| unreachable("the node is not running".into()))?;
    let key = resolved.to_string();
    let (done, result) = oneshot::channel();
    inner
        .state
        .lock()
        .pending_connects
        .entry(key.clone())
        .or_default()
        .push(done);
    let started = Instant::now();
    let connected = match &inner.tls {
        None => {
            tokio::time::timeout(timeout, ractor_cluster::client_connect(&server, resolved)).await
        }
        Some(tls) => {
            let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
            let name = tls::server_name(host).map_err(|error| unreachable(error.to_string()))?;
            let connector = tls.connector.clone();
            tokio::time::timeout(
                timeout,
                ractor_cluster::client_connect_enc(&server, resolved, connector, name),
            )
            .await
        }
    };
    let failure = match connected {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(unreachable(error.to_string())),
        Err(_) => Some(ConnectError::Timeout {
            address: key.clone(),
            after: timeout,
        }),
    };
    if let Some(failure) = failure {
        inner.state.lock().pending_connects.remove(&key);
        return Err(failure);
    }
    let left = timeout.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, result).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) | Err(_) => {
            inner.state.lock().pending_connects.remove(&key);
            Err(ConnectError::Timeout {
                address: key,
                after: timeout,
            })
        }
    }
}
