//! One HTTP listener running an axum app until told to stop: what the admin and user GraphQL
//! endpoints and the Prometheus endpoint each run.
//!
//! [`HttpListener::bind`] binds (port 0 lets the system pick one) and starts serving at once;
//! [`HttpListener::shutdown`] stops accepting, lets requests in flight finish for at most
//! [`SHUTDOWN_TIMEOUT`], then aborts the rest. Dropping the listener leaves it running.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

/// How long [`HttpListener::shutdown`] waits for requests in flight.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A running HTTP listener.
#[derive(Debug)]
pub(crate) struct HttpListener {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// For logs: what this listener serves.
    name: &'static str,
}

impl HttpListener {
    /// Binds `address` and serves `app` on it.
    ///
    /// Errors: the address cannot be bound.
    pub(crate) async fn bind(
        address: SocketAddr,
        app: axum::Router,
        name: &'static str,
    ) -> std::io::Result<HttpListener> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        let (shutdown, shutdown_received) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_received.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, listener = name, "HTTP listener failed");
            }
        });
        tracing::info!(address = %local_addr, listener = name, "HTTP listener started");
        Ok(HttpListener {
            local_addr,
            shutdown: Some(shutdown),
            task,
            name,
        })
    }

    /// The address it listens on (with the real port where port 0 was asked for).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops it; see the module docs.
    pub(crate) async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?SHUTDOWN_TIMEOUT, listener = self.name, "requests still running: aborted");
            self.task.abort();
        }
        tracing::info!(address = %self.local_addr, listener = self.name, "HTTP listener stopped");
    }
}
