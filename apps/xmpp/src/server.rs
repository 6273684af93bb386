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
    use std::net::SocketAddr;
    use std::sync::Arc;

    use futures::future::BoxFuture;

    use crate::c2s::{
        self, Accounts, AccountsError, C2sSettings, CertificateFiles, ListenerSettings, TlsMode,
    };
    use crate::config::listen::TlsMode as ConfigTlsMode;
    use crate::router::{Module, NoOfflineStorage};
    use crate::sasl::secret::PassDetails;

    /// The accounts in the database, as the sessions and the router ask
    /// for them. (Glue kept here until it finds its home beside the
    /// storage.)
    struct StorageAccounts(Storage);

    impl Accounts for StorageAccounts {
        fn pass_details<'a>(
            &'a self,
            domain: &'a str,
            username: &'a str,
        ) -> BoxFuture<'a, Result<Option<PassDetails>, AccountsError>> {
            Box::pin(async move {
                self.0
                    .pass_details(domain, username)
                    .await
                    .map_err(|error| AccountsError::Unavailable {
                        reason: error.to_string(),
                    })
            })
        }

        fn user_exists<'a>(
            &'a self,
            domain: &'a str,
            username: &'a str,
        ) -> BoxFuture<'a, Result<bool, AccountsError>> {
            Box::pin(async move {
                self.0.user_exists(domain, username).await.map_err(|error| {
                    AccountsError::Unavailable {
                        reason: error.to_string(),
                    }
                })
            })
        }
    }

    let mut settings = C2sSettings::new(crate::config::HOST_DEFAULT);
    settings.domains = config.general.hosts.clone();
    settings.data_dir = config.general.data_dir.clone();
    settings.mechanisms = config.auth.mechanisms();
    settings.auth_failures_max = config.auth.max_failed_attempts;
    settings.listeners = config
        .listen
        .c2s
        .iter()
        .map(|listener| ListenerSettings {
            bind: SocketAddr::new(listener.ip_address, listener.port),
            tls_mode: match listener.tls.mode {
                ConfigTlsMode::Starttls => TlsMode::Starttls,
                ConfigTlsMode::StarttlsRequired => TlsMode::StarttlsRequired,
                ConfigTlsMode::Tls => TlsMode::Tls,
            },
            certificate: match (&listener.tls.certfile, &listener.tls.keyfile) {
                (Some(certificate), Some(private_key)) => Some(CertificateFiles {
                    certificate: certificate.clone(),
                    private_key: private_key.clone(),
                }),
                _ => None,
            },
            stanza_bytes_max: listener.max_stanza_size,
            negotiation_timeout: listener.state_timeout,
            idle_timeout: listener.idle_timeout,
            outgoing_queue_max: listener.max_outgoing_queue,
        })
        .collect();
    let modules_config = &config.modules;
    let mut modules: Vec<Arc<dyn Module>> = Vec::new();
    if modules_config.mod_ping.enabled {
        modules.push(Arc::new(crate::modules::ping::Ping));
    }
    if modules_config.mod_disco.enabled {
        modules.push(Arc::new(crate::modules::disco::Disco::default()));
    }
    if modules_config.mod_version.enabled {
        modules.push(Arc::new(crate::modules::version::Version::default()));
    }
    // RFC 6121 presence is core, not a switchable module.
    modules.push(Arc::new(crate::modules::presence::Presence::new(Arc::new(
        crate::modules::presence::NoContacts,
    ))));
    // Offline storage (mod_offline) is not wired yet: messages for offline
    // users are bounced with service-unavailable.
    let server = c2s::serve_with_modules(
        settings,
        Arc::new(StorageAccounts(storage.clone())),
        Arc::new(NoOfflineStorage),
        modules,
    )
    .await?;
    let stopped = shutdown_signal().await;
    tracing::info!("stopping: closing client sessions");
    server.shutdown().await;
    storage.close().await;
    stopped?;
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
