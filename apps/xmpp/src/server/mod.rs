//! The running server: what `bream-xmpp start` runs once the configuration is loaded and the
//! storage is open and migrated.
//!
//! [`Server::start`] maps the [`Config`] onto the parts, builds the modules the `[modules]`
//! section switches on (see [`modules`]) and starts the node's supervision tree (see
//! [`tree`]): an [`Application`] whose root starts every part in dependency order and stops
//! them in reverse. [`run`] is that, then a wait for a stop signal or `server { stop }`, then
//! the tree's ordered shutdown.

mod part;
pub mod tree;

use std::sync::Arc;

use bream_runtime::application::{AppExit, Application};
use bream_runtime::supervisor::SupervisorRef;

use crate::cluster::{Cluster, ClusterSettings, DiscoveryBackend};
use crate::config::Config;
use crate::storage::Storage;
use tree::{Inputs, Live};

/// Runs the server until ctrl-c, SIGTERM or the admin API's `server { stop }`, then stops it
/// in order and closes the storage.
///
/// Errors: a part did not start ([`Server::start`]); the tree gave up after too many restarts
/// ([`tree::RESTARTS_MAX`]), which the caller turns into a non-zero exit.
pub async fn run(config: Config, storage: Storage) -> anyhow::Result<()> {
    Server::start(config, storage).await?.run().await
}

/// A started server: every listener bound and serving, the cluster joined when configured.
/// Tests start the real server through it (with port 0 everywhere, then ask for the bound
/// addresses) instead of wiring the parts themselves.
pub struct Server {
    application: Application,
    live: Arc<Live>,
    storage: Storage,
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

/// How much longer than the c2s close the whole tree's stop may take before the rest is
/// killed (the cluster's leave, the listeners' drains).
const TREE_SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

impl Server {
    /// Starts the node's tree (see [`tree`]): metrics and health (so `/health/live` answers
    /// while the rest starts), the cluster membership, the c2s listeners and router, the admin
    /// API, the user API, readiness. Readiness turns true once the listeners are up and, in a
    /// cluster, every table has joined every node.
    ///
    /// Errors: any part that cannot start (an address in use, a certificate that cannot be
    /// read, a cluster that cannot be joined); what had started is stopped again and the
    /// storage closed first.
    pub async fn start(config: Config, storage: Storage) -> anyhow::Result<Server> {
        let live = Live::new();
        let built = modules_and_contacts(&config.modules, &storage, &config.auth.password);
        let shutdown_timeout = config.general.shutdown_timeout + TREE_SHUTDOWN_MARGIN;
        let inputs = Arc::new(Inputs {
            config,
            storage: storage.clone(),
            built,
            live: Arc::clone(&live),
        });
        match Application::start(tree::spec(inputs)).await {
            Ok(application) => Ok(Server {
                application: {
                    *live.root.write() = Some(application.root().clone());
                    application.shutdown_timeout(shutdown_timeout)
                },
                live,
                storage,
            }),
            Err(error) => {
                storage.close().await;
                Err(anyhow::anyhow!("{error}"))
            }
        }
    }

    /// Runs until ctrl-c, SIGTERM or `server { stop }`, then stops the tree in order and closes
    /// the storage.
    ///
    /// Errors: the root supervisor gave up (restart intensity reached): every part has been
    /// stopped, the cluster left (its registry row is gone), and the storage closed.
    pub async fn run(self) -> anyhow::Result<()> {
        let live = Arc::clone(&self.live);
        let stop = async move {
            tokio::select! {
                () = bream_runtime::application::shutdown_signal() => {}
                () = stop_requested(&live) => {}
            }
            tracing::info!("stopping: closing client sessions");
        };
        let exit = self.application.run_until(stop).await;
        self.storage.close().await;
        match exit {
            AppExit::Stopped => Ok(()),
            AppExit::RootExited(reason) => Err(anyhow::anyhow!(
                "the supervision tree gave up ({reason}): too many restarts"
            )),
        }
    }

    /// The c2s listeners' addresses, in `[[listen.c2s]]` order (real ports where 0 was asked);
    /// empty while the c2s part is not running.
    pub fn c2s_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.live.c2s_addrs()
    }

    /// The admin API's address; `None` when it is disabled (or not running).
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.live.admin_addr()
    }

    /// The user API's address; `None` when it is disabled (or not running).
    pub fn user_addr(&self) -> Option<std::net::SocketAddr> {
        self.live.user_addr()
    }

    /// The metrics and health listener's address; `None` when it is disabled (or not running).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.live.metrics_addr()
    }

    /// The router every session and API routes through; `None` while the c2s part restarts.
    pub fn router(&self) -> Option<Arc<crate::router::Router>> {
        self.live.router()
    }

    /// The cluster, when the node is in one and its part runs.
    pub fn cluster(&self) -> Option<Arc<Cluster>> {
        self.live.cluster()
    }

    /// The node's processes by their names in the tree (what `debug` shows).
    pub fn processes(&self) -> tree::Processes {
        tree::Processes::new(&self.live)
    }

    /// The root of the node's supervision tree.
    pub fn supervisor(&self) -> &SupervisorRef {
        self.application.root()
    }

    /// Resolves when an administrator asked the node to stop (`mutation { server { stop } }`);
    /// never when there is no admin API.
    pub async fn stop_requested(&self) {
        stop_requested(&self.live).await
    }

    /// The graceful stop: not ready, no new API requests, every session closed with
    /// `system-shutdown` (its record leaves the table on every node), then the node leaves the
    /// tables and the registry, and the storage is closed.
    pub async fn stop(self) {
        tracing::info!("stopping: closing client sessions");
        self.application.stop().await;
        self.storage.close().await;
    }
}

async fn stop_requested(live: &Live) {
    let mut stop = live.stop.subscribe();
    if stop.wait_for(|requested| *requested).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The c2s settings `config` describes.
pub(crate) fn c2s_settings(config: &Config) -> crate::c2s::C2sSettings {
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
    settings.stream_management = config.modules.stream_management();
    settings.client_state = config.modules.client_state();
    settings.server_pings = config.modules.server_pings();
    settings.sasl2 = config.modules.mod_sasl2.enabled;
    settings.bind2 = config.modules.mod_sasl2.enabled && config.modules.mod_bind2.enabled;
    // A cluster node keeps nothing on disk (its root file system may be
    // read-only): the self-signed certificate, if any, is made in memory.
    settings.certificate_on_disk = config.internal_databases.cets.is_none();
    settings
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
        stream_management: config.modules.stream_management(),
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
    let built = modules_and_contacts(config, storage, &crate::config::auth::Password::default());
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
    /// In-band registration before sign-in, when `mod_register` is on.
    pub registration: Option<std::sync::Arc<dyn crate::c2s::registration::InBandRegistration>>,
}

/// [`modules`], and the contacts view the presence module got.
pub fn modules_and_contacts(
    config: &crate::config::modules::Modules,
    storage: &Storage,
    password: &crate::config::auth::Password,
) -> BuiltModules {
    use std::sync::Arc;

    use crate::modules::{
        blocking, caps, carbons, disco, last, offline, ping, presence, private, register, roster,
        vcard, version,
    };
    use crate::router::{Module, NoOfflineStorage, OfflineSink};

    let mut modules: Vec<Arc<dyn Module>> = Vec::new();
    if config.mod_blocking.enabled {
        modules.push(Arc::new(blocking::Blocking::new(storage.clone())));
    }
    if config.mod_carboncopy.enabled {
        modules.push(Arc::new(carbons::Carbons));
    }
    if config.mod_caps.enabled {
        modules.push(Arc::new(caps::Caps::default()));
    }
    let registration = config.mod_register.enabled.then(|| {
        Arc::new(register::Register::new(
            storage.clone(),
            password.clone(),
            &config.mod_register,
        ))
    });
    if let Some(registration) = &registration {
        modules.push(registration.clone());
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
        registration: registration.map(|registration| registration as _),
    }
}
