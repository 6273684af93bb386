//! The running server: what `bream-xmpp start` runs once the configuration is loaded and the
//! storage is open and migrated.
//!
//! Placeholder: the client-to-server engineer replaces the body of [`run`] with the listeners,
//! the session supervisor and the router. Until then it keeps the storage open, says that no
//! listener exists, and waits for a stop signal, so that `start` already exercises the whole
//! start path (config, logging, database, migrations) and stops cleanly.

use crate::config::Config;
use crate::storage::Storage;

/// Runs the server until ctrl-c or SIGTERM, then closes the storage.
///
/// Errors: the stop signal could not be installed.
pub async fn run(config: Config, storage: Storage) -> anyhow::Result<()> {
    tracing::warn!(
        hosts = ?config.general.hosts,
        storage = storage.backend(),
        "listeners not yet built: the server only holds its storage open; stop it with ctrl-c or SIGTERM"
    );
    shutdown_signal().await?;
    tracing::info!("stop signal received; stopping");
    storage.close().await;
    Ok(())
}

/// Waits for ctrl-c (SIGINT) or, on Unix, SIGTERM (what `docker stop` and Kubernetes send).
///
/// Errors: a signal handler could not be installed.
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
