//! The running server: what `bream-xmpp start` runs once the configuration is loaded and the
//! storage is open and migrated.
//!
//! [`run`] maps the [`Config`] onto the c2s settings, builds the modules the `[modules]`
//! section switches on (see [`modules`]), starts the listeners, and waits for a stop signal.

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
    // Metrics first, so /health/live answers while the rest starts; ready once all are up.
    let (ready_sender, ready) = tokio::sync::watch::channel(false);
    let metrics = match crate::metrics::exporter::start_from_config(&config, ready).await {
        Ok(metrics) => metrics,
        Err(error) => {
            storage.close().await;
            return Err(error.into());
        }
    };
    let (registered, offline) = modules(&config.modules, &storage);
    let server = c2s::serve_with_modules(
        settings,
        Arc::new(StorageAccounts(storage.clone())),
        offline,
        registered,
    )
    .await?;
    let admin_context =
        crate::api::admin::AdminContext::new(&config, storage.clone(), Arc::clone(server.router()));
    let admin = match crate::api::admin::start_from_config(&config, admin_context).await {
        Ok(admin) => admin,
        Err(error) => {
            server.shutdown().await;
            if let Some(metrics) = metrics {
                metrics.shutdown().await;
            }
            storage.close().await;
            return Err(error.into());
        }
    };
    let user_context =
        crate::api::user::UserContext::new(&config, storage.clone(), Arc::clone(server.router()));
    let user = match crate::api::user::start_from_config(&config, user_context).await {
        Ok(user) => user,
        Err(error) => {
            if let Some(admin) = admin {
                admin.shutdown().await;
            }
            server.shutdown().await;
            if let Some(metrics) = metrics {
                metrics.shutdown().await;
            }
            storage.close().await;
            return Err(error.into());
        }
    };
    ready_sender.send_replace(true);
    let stopped = tokio::select! {
        stopped = shutdown_signal() => stopped,
        () = crate::api::admin::stop_requested(admin.as_ref()) => Ok(()),
    };
    tracing::info!("stopping: closing client sessions");
    ready_sender.send_replace(false);
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    if let Some(user) = user {
        user.shutdown().await;
    }
    server.shutdown().await;
    if let Some(metrics) = metrics {
        metrics.shutdown().await;
    }
    storage.close().await;
    stopped?;
    Ok(())
}

/// The modules `config` switches on, in registration order, and where offline messages go.
///
/// The order matters where hooks consume stanzas (see [`crate::modules`]): blocking first,
/// then roster, offline and last (they watch a client's broadcast presence, which the presence
/// module consumes), then presence; the iq-only modules after. Presence is core RFC 6121, not a
/// switchable module; without `mod_roster` it has no contacts. Without `mod_offline`, messages
/// for offline users are bounced with `service-unavailable`.
pub fn modules(
    config: &crate::config::modules::Modules,
    storage: &Storage,
) -> (
    Vec<std::sync::Arc<dyn crate::router::Module>>,
    std::sync::Arc<dyn crate::router::OfflineSink>,
) {
    use std::sync::Arc;

    use crate::modules::{
        blocking, disco, last, offline, ping, presence, private, roster, vcard, version,
    };
    use crate::router::{Module, NoOfflineStorage, OfflineSink};

    let mut modules: Vec<Arc<dyn Module>> = Vec::new();
    if config.mod_blocking.enabled {
        modules.push(Arc::new(blocking::Blocking::new(storage.clone())));
    }
    let contacts: Arc<dyn presence::Contacts> = if config.mod_roster.enabled {
        let roster = Arc::new(roster::Roster::new(
            storage.clone(),
            config.mod_roster.versioning,
        ));
        modules.push(roster.clone());
        roster
    } else {
        Arc::new(presence::NoContacts)
    };
    let offline_sink: Arc<dyn OfflineSink> = if config.mod_offline.enabled {
        let offline = Arc::new(offline::Offline::new(
            storage.clone(),
            config.mod_offline.max_messages,
        ));
        modules.push(offline.clone());
        offline
    } else {
        Arc::new(NoOfflineStorage)
    };
    if config.mod_last.enabled {
        modules.push(Arc::new(last::Last::new(storage.clone(), contacts.clone())));
    }
    modules.push(Arc::new(presence::Presence::new(contacts)));
    if config.mod_vcard.enabled {
        modules.push(Arc::new(vcard::Vcard::new(storage.clone())));
    }
    if config.mod_private.enabled {
        modules.push(Arc::new(private::Private::new(storage.clone())));
    }
    if config.mod_ping.enabled {
        modules.push(Arc::new(ping::Ping));
    }
    if config.mod_disco.enabled {
        modules.push(Arc::new(disco::Disco::default()));
    }
    if config.mod_version.enabled {
        modules.push(Arc::new(version::Version::default()));
    }
    (modules, offline_sink)
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
