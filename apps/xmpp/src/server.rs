//! The running server: what `bream-xmpp start` runs once the configuration is loaded and the
//! storage is open and migrated.
//!
//! [`Server::start`] maps the [`Config`] onto the c2s settings, builds the modules the
//! `[modules]` section switches on (see [`modules`]) and starts every part in dependency
//! order; [`run`] is that, then a wait for a stop signal, then [`Server::stop`].

use crate::cluster::{Cluster, ClusterSettings, DiscoveryBackend};
use crate::config::Config;
use crate::storage::Storage;

/// Runs the server until ctrl-c, SIGTERM or the admin API's `server { stop }`, then stops it
/// in order and closes the storage.
///
/// Errors: a part did not start ([`Server::start`]); the stop signal could not be installed.
pub async fn run(config: Config, storage: Storage) -> anyhow::Result<()> {
    let server = Server::start(config, storage).await?;
    let stopped = tokio::select! {
        stopped = shutdown_signal() => stopped,
        () = server.stop_requested() => Ok(()),
    };
    server.stop().await;
    stopped?;
    Ok(())
}

/// A started server: every listener bound and serving, the cluster joined when configured.
/// Tests start the real server through it (with port 0 everywhere, then ask for the bound
/// addresses) instead of wiring the parts themselves.
pub struct Server {
    running: Running,
    router: std::sync::Arc<crate::router::Router>,
    ready: tokio::sync::watch::Sender<bool>,
    readiness: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Server")
            .field("c2s", &self.c2s_addrs())
            .field("admin", &self.admin_addr())
            .field("user", &self.user_addr())
            .field("metrics", &self.metrics_addr())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Maps `config` onto the parts and starts them in dependency order: metrics and health
    /// (so `/health/live` answers while the rest starts), the cluster membership, the c2s
    /// listeners and router, the admin API, the user API. Readiness turns true once the
    /// listeners are up and, in a cluster, every table has joined every node.
    ///
    /// Errors: any part that cannot start (an address in use, a certificate that cannot be
    /// read, a cluster that cannot be joined); what had started is stopped again first.
    pub async fn start(config: Config, storage: Storage) -> anyhow::Result<Server> {
        use std::sync::Arc;

        let settings = c2s_settings(&config);
        let mut running = Running {
            storage: Some(storage.clone()),
            ..Running::default()
        };
        let (ready, ready_receiver) = tokio::sync::watch::channel(false);
        match crate::metrics::exporter::start_from_config(&config, ready_receiver).await {
            Ok(metrics) => running.metrics = metrics,
            Err(error) => return running.fail(error.into()).await,
        }
        let built = modules_and_contacts(&config.modules, &storage);
        if let Some(cluster_settings) = cluster_settings(&config) {
            match Cluster::start(cluster_settings, Arc::clone(&built.contacts)).await {
                Ok(cluster) => running.cluster = Some(Arc::new(cluster)),
                Err(error) => return running.fail(error.context("cannot join the cluster")).await,
            }
        }
        let mut services = crate::c2s::Services::new(Arc::new(storage.clone()), built.offline)
            .with_modules(built.modules);
        if let Some(cluster) = &running.cluster {
            services = services.with_session_table(cluster.session_table());
        }
        let c2s = match crate::c2s::serve(settings, services).await {
            Ok(c2s) => c2s,
            Err(error) => return running.fail(error.into()).await,
        };
        let router = Arc::clone(c2s.router());
        running.c2s = Some(c2s);
        if let Some(cluster) = &running.cluster {
            cluster.attach(&router);
        }
        let mut admin_context =
            crate::api::admin::AdminContext::new(&config, storage.clone(), Arc::clone(&router));
        if let Some(cluster) = &running.cluster {
            admin_context = admin_context.with_cluster(Arc::clone(cluster));
        }
        match crate::api::admin::start_from_config(&config, admin_context).await {
            Ok(admin) => running.admin = admin,
            Err(error) => return running.fail(error.into()).await,
        }
        let user_context =
            crate::api::user::UserContext::new(&config, storage.clone(), Arc::clone(&router));
        match crate::api::user::start_from_config(&config, user_context).await {
            Ok(user) => running.user = user,
            Err(error) => return running.fail(error.into()).await,
        }
        let readiness = tokio::spawn(track_readiness(running.cluster.clone(), ready.clone()));
        Ok(Server {
            running,
            router,
            ready,
            readiness,
        })
    }

    /// The c2s listeners' addresses, in `[[listen.c2s]]` order (real ports where 0 was asked).
    pub fn c2s_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.running
            .c2s
            .as_ref()
            .map(|c2s| c2s.local_addrs().to_vec())
            .unwrap_or_default()
    }

    /// The admin API's address; `None` when it is disabled.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.admin.as_ref().map(|admin| admin.local_addr())
    }

    /// The user API's address; `None` when it is disabled.
    pub fn user_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.user.as_ref().map(|user| user.local_addr())
    }

    /// The metrics and health listener's address; `None` when it is disabled.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running
            .metrics
            .as_ref()
            .map(|metrics| metrics.local_addr())
    }

    /// The router every session and API routes through.
    pub fn router(&self) -> &std::sync::Arc<crate::router::Router> {
        &self.router
    }

    /// The c2s listeners and their sessions.
    pub fn c2s(&self) -> Option<&crate::c2s::C2sServer> {
        self.running.c2s.as_ref()
    }

    /// Resolves when an administrator asked the node to stop (`mutation { server { stop } }`);
    /// never when there is no admin API.
    pub async fn stop_requested(&self) {
        crate::api::admin::stop_requested(self.running.admin.as_ref()).await
    }

    /// The graceful stop: not ready, no new clients, every session closed with
    /// `system-shutdown` (its record leaves the table on every node), then the node leaves the
    /// tables and the registry, and the storage is closed.
    pub async fn stop(self) {
        tracing::info!("stopping: closing client sessions");
        self.readiness.abort();
        self.ready.send_replace(false);
        self.running.stop().await;
    }
}

/// The c2s settings `config` describes.
fn c2s_settings(config: &Config) -> crate::c2s::C2sSettings {
    use std::net::SocketAddr;

    use crate::c2s::{C2sSettings, CertificateFiles, ListenerSettings, TlsMode};
    use crate::config::listen::TlsMode as ConfigTlsMode;

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
    settings.shutdown_timeout = config.general.shutdown_timeout;
    settings.max_user_sessions = config.max_user_sessions();
    // A cluster node keeps nothing on disk (its root file system may be
    // read-only): the self-signed certificate, if any, is made in memory.
    settings.certificate_on_disk = config.internal_databases.cets.is_none();
    settings
}

/// What [`Server::start`] has started so far, stopped in the right order on the way out
/// (also when a later part fails to start).
#[derive(Default)]
struct Running {
    storage: Option<Storage>,
    metrics: Option<crate::metrics::exporter::MetricsHandle>,
    cluster: Option<std::sync::Arc<Cluster>>,
    c2s: Option<crate::c2s::C2sServer>,
    admin: Option<crate::api::admin::AdminApiHandle>,
    user: Option<crate::api::user::UserApiHandle>,
}

impl Running {
    /// Stops the APIs, the client sessions (system-shutdown), the cluster
    /// membership, metrics, then closes the database.
    async fn stop(self) {
        if let Some(user) = self.user {
            user.shutdown().await;
        }
        if let Some(c2s) = self.c2s {
            c2s.shutdown().await;
        }
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        if let Some(admin) = self.admin {
            admin.shutdown().await;
        }
        if let Some(metrics) = self.metrics {
            metrics.shutdown().await;
        }
        if let Some(storage) = self.storage {
            storage.close().await;
        }
    }

    /// Stops what started, and returns `error`.
    async fn fail<T>(self, error: anyhow::Error) -> anyhow::Result<T> {
        self.stop().await;
        Err(error)
    }
}

/// How often readiness is recomputed in a cluster.
const READINESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Keeps `ready` true while the node can take clients: at once when it runs
/// alone; in a cluster, while every table has joined every node discovered.
async fn track_readiness(
    cluster: Option<std::sync::Arc<Cluster>>,
    ready: tokio::sync::watch::Sender<bool>,
) {
    let Some(cluster) = cluster else {
        ready.send_replace(true);
        return std::future::pending().await;
    };
    loop {
        let now_ready = cluster.status().await.ready;
        if ready.send_replace(now_ready) != now_ready {
            tracing::info!(ready = now_ready, "readiness changed");
        }
        tokio::time::sleep(READINESS_INTERVAL).await;
    }
}

/// The cluster settings of `config`: `None` when `[internal_databases.cets]`
/// is absent (the node runs alone).
pub fn cluster_settings(config: &Config) -> Option<ClusterSettings> {
    use crate::config::databases::CetsBackend;
    let cets = config.internal_databases.cets.as_ref()?;
    let discovery = match cets.backend {
        CetsBackend::Rdbms => DiscoveryBackend::Rdbms {
            url: config.database_url(),
        },
        CetsBackend::File => DiscoveryBackend::File {
            path: cets.node_list_file.clone().unwrap_or_default(),
        },
    };
    Some(ClusterSettings {
        node_name: config.general.node_name.clone(),
        listen: std::net::SocketAddr::new(config.general.node_ip, config.general.dist_port),
        cookie: config.general.cookie.0.clone(),
        cluster_name: cets.cluster_name.clone(),
        discovery,
        heartbeat_deadline: cets.heartbeat_deadline,
    })
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
    let built = modules_and_contacts(config, storage);
    (built.modules, built.offline)
}

/// What [`modules_and_contacts`] builds.
pub struct BuiltModules {
    /// The modules, in registration order.
    pub modules: Vec<std::sync::Arc<dyn crate::router::Module>>,
    /// Where offline messages go.
    pub offline: std::sync::Arc<dyn crate::router::OfflineSink>,
    /// The roster's answers about contacts (nobody without `mod_roster`), for the cluster's
    /// node-down cleanup.
    pub contacts: std::sync::Arc<dyn crate::modules::presence::Contacts>,
}

/// [`modules`], and the contacts view the presence module got.
pub fn modules_and_contacts(
    config: &crate::config::modules::Modules,
    storage: &Storage,
) -> BuiltModules {
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
    modules.push(Arc::new(presence::Presence::new(contacts.clone())));
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
    BuiltModules {
        modules,
        offline: offline_sink,
        contacts,
    }
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
