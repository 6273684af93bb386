//! The client-to-server part of the XMPP server: listeners, TLS, the stream
//! state machine, and one session actor per connection.
//!
//! ```text
//! c2s_<n> supervisor (rest_for_one)
//! ├── sessions      dynamic supervisor of Session actors (temporary)
//! ├── listener_0    accepts on listeners[0].bind, TLS per its tls_mode
//! └── listener_1 …  one per configured listener
//!
//! one connection:  socket ⇄ connection task ⇄ Session actor ⇄ Router ⇄ other sessions, modules
//!                  (parser, bounded queue)    (Stream state machine)
//! ```
//!
//! - [`stream`]: the RFC 6120 stream as a pure state machine (headers,
//!   features, STARTTLS, SASL, binding, stream errors);
//! - `session`: the actor around it, `connection`: the task that owns the
//!   socket (reads into the parser, writes from a bounded queue, upgrades to
//!   TLS);
//! - [`tls`]: the certificate (from files, or self-signed in the data
//!   directory);
//! - [`sm`]: XEP-0198 stream management as data (counters, the unacknowledged buffer,
//!   the resumable state), [`sm_registry`]: stream management ids → sessions, and
//!   [`sm_mirror`]: the session's side of mirroring that state to another node;
//! - [`settings`]: every bound and timeout, with defaults;
//! - [`accounts`]: the account questions the sessions and the router ask.
//!
//! Start it with [`serve`] over [`Services`] (the default storage-free modules unless
//! [`Services::with_modules`], a local session table unless [`Services::with_session_table`]):
//!
//! ```no_run
//! use std::sync::Arc;
//! use bream_xmpp::c2s::{self, C2sSettings, MemoryAccounts, Services};
//! use bream_xmpp::router::NoOfflineStorage;
//!
//! # async fn example() -> Result<(), c2s::C2sError> {
//! let accounts = Arc::new(MemoryAccounts::new());
//! accounts.add_user("localhost", "alice", "secret", 10_000).expect("valid password");
//! let services = Services::new(accounts, Arc::new(NoOfflineStorage));
//! let server = c2s::serve(C2sSettings::new("localhost"), services).await?;
//! println!("listening on {:?}", server.local_addrs());
//! // ... until it is time to stop:
//! server.shutdown().await; // every client gets <system-shutdown/>
//! # Ok(()) }
//! ```
//!
//! Failure containment: each session is its own actor and task; a panic in
//! one (or a client that floods, stops reading, or sends bad XML) ends that
//! session only. A listener that crashes is restarted on the same socket.
//! [`C2sServer::shutdown`] stops accepting, asks every session to close with
//! `system-shutdown` (all at once, waiting at most `shutdown_timeout`), then
//! stops the tree.

pub mod accounts;
mod connection;
pub mod csi;
pub mod keepalive;
mod listener;
pub mod registration;
pub mod sasl2;
mod session;
pub mod settings;
pub mod sm;
pub mod sm_mirror;
pub mod sm_registry;
pub mod stream;
pub mod tls;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bream_runtime::ractor::ActorRef;
use bream_runtime::supervisor::{
    ChildSpec, ChildTemplate, DynamicSupervisorSpec, StartError, Strategy, Supervisor,
    SupervisorError, SupervisorRef, SupervisorSpec,
};
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

pub use accounts::{Accounts, AccountsError, MemoryAccounts};
pub use settings::{C2sSettings, CertificateFiles, ListenerSettings, SettingsError, TlsMode};
pub use sm::SmConfig;
pub use sm_registry::{LocalSmRegistry, SmRegistry};
pub use tls::TlsError;

use self::connection::ConnectionConfig;
use self::listener::{Listener, ListenerArgs, SESSIONS_CHILD};
use self::session::{ListenerContext, Session, SessionArgs, SessionMsg};
use self::settings::LISTEN_BACKLOG;
use self::stream::{StreamConfig, StreamConfigError, TlsPolicy};
use crate::router::{
    LocalSessionTable, Module, OfflineSink, Router, RouterError, SessionTable, SessionTableError,
};
use crate::stanza::error::{StreamError, StreamErrorCondition};

/// Why the c2s listeners did not start.
#[derive(Debug, thiserror::Error)]
pub enum C2sError {
    /// A setting cannot work.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The domains or SASL settings are invalid.
    #[error(transparent)]
    Stream(#[from] StreamConfigError),
    /// The certificate could not be loaded or made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
    /// The supervision tree did not start.
    #[error("cannot start the c2s supervisor: {0}")]
    Start(#[from] StartError),
    /// The session table could not be made.
    #[error(transparent)]
    Table(#[from] SessionTableError),
    /// The router could not be built (e.g. two modules for one namespace).
    #[error(transparent)]
    Router(#[from] RouterError),
    /// A listener did not start.
    #[error("cannot start a listener: {0}")]
    Listener(#[from] SupervisorError),
}

/// The running c2s listeners. Dropping it leaves them running; stop them
/// with [`C2sServer::shutdown`].
#[derive(Debug)]
pub struct C2sServer {
    root: SupervisorRef,
    router: Arc<Router>,
    local_addrs: Vec<SocketAddr>,
    listener_ids: Vec<String>,
    shutdown_timeout: Duration,
}

/// What the c2s listeners and sessions are given besides their settings: where accounts,
/// offline messages and the session table live, and the modules the router dispatches to.
pub struct Services {
    /// The account store SASL checks against.
    pub accounts: Arc<dyn Accounts>,
    /// Where messages for offline users go.
    pub offline: Arc<dyn OfflineSink>,
    /// The modules, registered with the router in order.
    pub modules: Vec<Arc<dyn Module>>,
    /// The session table: the cluster's replicated one, or `None` for a local table owned by
    /// the c2s supervisor.
    pub sessions: Option<Arc<dyn SessionTable>>,
    /// Stream management ids → sessions: `None` for a [`LocalSmRegistry`] (one node).
    pub sm_registry: Option<Arc<dyn SmRegistry>>,
    /// In-band registration before sign-in (XEP-0077): `None` does not offer it.
    pub registration: Option<Arc<dyn registration::InBandRegistration>>,
}

impl Services {
    /// `accounts` and `offline` with the default storage-free modules
    /// ([`crate::modules::defaults`]) and a local session table.
    pub fn new(accounts: Arc<dyn Accounts>, offline: Arc<dyn OfflineSink>) -> Self {
        Services {
            accounts,
            offline,
            modules: crate::modules::defaults(),
            sessions: None,
            sm_registry: None,
            registration: None,
        }
    }

    /// Offering in-band registration before sign-in through `registration`.
    pub fn with_registration(
        mut self,
        registration: Arc<dyn registration::InBandRegistration>,
    ) -> Self {
        self.registration = Some(registration);
        self
    }

    /// With the stream management registry `registry` instead of a local one.
    pub fn with_sm_registry(mut self, registry: Arc<dyn SmRegistry>) -> Self {
        self.sm_registry = Some(registry);
        self
    }

    /// With `modules` instead of the defaults.
    pub fn with_modules(mut self, modules: Vec<Arc<dyn Module>>) -> Self {
        self.modules = modules;
        self
    }

    /// With the session table `sessions` (the cluster's) instead of a local one.
    pub fn with_session_table(mut self, sessions: Arc<dyn SessionTable>) -> Self {
        self.sessions = Some(sessions);
        self
    }
}

/// What the sessions share besides the router: the session table (`None`: a local one),
/// the stream management registry, and in-band registration if offered.
struct SessionServices {
    sessions: Option<Arc<dyn SessionTable>>,
    sm_registry: Arc<dyn SmRegistry>,
    registration: Option<Arc<dyn registration::InBandRegistration>>,
}

/// Starts the c2s listeners over `services`. See the [module documentation](self).
///
/// Errors: invalid settings or domains; a certificate that cannot be read
/// or made; an address that cannot be bound (in use); a supervision tree
/// or router that cannot be built. Nothing is left running after an error.
pub async fn serve(settings: C2sSettings, services: Services) -> Result<C2sServer, C2sError> {
    let Services {
        accounts,
        offline,
        modules,
        sessions,
        sm_registry,
        registration,
    } = services;
    settings.validate()?;
    let stream_config = StreamConfig::new(
        &settings.domains,
        TlsPolicy::Off,
        &settings.mechanisms,
        settings.auth_failures_max,
    )?
    .with_stream_management(settings.stream_management.clone())
    .with_client_state(settings.client_state.clone())
    .with_server_pings(settings.server_pings.clone())
    .with_registration(registration.is_some());
    let sm_registry = sm_registry.unwrap_or_else(|| {
        let stale_h = settings
            .stream_management
            .as_ref()
            .and_then(|sm| sm.stale_h);
        Arc::new(LocalSmRegistry::new(stale_h))
    });
    let acceptors = tls_acceptors(&settings, stream_config.domains()).await?;
    let mut sockets = Vec::with_capacity(settings.listeners.len());
    let mut local_addrs = Vec::with_capacity(settings.listeners.len());
    for listener in &settings.listeners {
        let socket = bind(listener.bind)?;
        local_addrs.push(local_addr_of(&socket, listener.bind)?);
        sockets.push(socket);
    }

    static INSTANCE: AtomicU64 = AtomicU64::new(1);
    let name = format!("c2s_{}", INSTANCE.fetch_add(1, Ordering::Relaxed));
    let template = ChildTemplate::actor(|args: SessionArgs| (Session, args));
    let session_supervisor = DynamicSupervisorSpec::new(format!("{name}_sessions"), template)
        .max_children(settings.sessions_max);
    let root = Supervisor::start(
        SupervisorSpec::new(name)
            .strategy(Strategy::RestForOne)
            .child(ChildSpec::supervisor(
                SESSIONS_CHILD,
                session_supervisor.into_spec(),
            )),
    )
    .await?;

    let listeners = settings.listeners.iter().zip(acceptors).zip(sockets);
    let started = start_listeners(
        &root,
        &settings,
        &stream_config,
        listeners.map(|((listener, tls), socket)| (listener, tls, socket)),
        (accounts, offline),
        &modules,
        SessionServices {
            sessions,
            sm_registry,
            registration,
        },
    )
    .await;
    match started {
        Ok((router, listener_ids)) => {
            tracing::info!(
                addresses = ?local_addrs,
                domains = ?router.domains(),
                modules = ?router.hooks().modules(),
                "c2s listening"
            );
            Ok(C2sServer {
                root,
                router,
                local_addrs,
                listener_ids,
                shutdown_timeout: settings.shutdown_timeout,
            })
        }
        Err(error) => {
            root.shutdown(settings.shutdown_timeout).await;
            Err(error)
        }
    }
}

/// The TLS acceptor of each listener (`None` for one without TLS). Listeners
/// with the same certificate share one configuration; all those without one
/// share the self-signed certificate.
async fn tls_acceptors(
    settings: &C2sSettings,
    domains: &[String],
) -> Result<Vec<Option<TlsAcceptor>>, C2sError> {
    let wanted: Vec<Option<Option<CertificateFiles>>> = settings
        .listeners
        .iter()
        .map(|listener| (listener.tls_mode != TlsMode::Off).then(|| listener.certificate.clone()))
        .collect();
    let data_dir = settings
        .certificate_on_disk
        .then(|| settings.data_dir.clone());
    let domains = domains.to_vec();
    let configs = tokio::task::spawn_blocking(move || {
        let mut made: HashMap<Option<CertificateFiles>, Arc<ServerConfig>> = HashMap::new();
        let mut configs = Vec::with_capacity(wanted.len());
        for certificate in wanted {
            let Some(certificate) = certificate else {
                configs.push(None);
                continue;
            };
            let config = match made.get(&certificate) {
                Some(config) => Arc::clone(config),
                None => {
                    let config =
                        tls::server_config(certificate.as_ref(), data_dir.as_deref(), &domains)?;
                    made.insert(certificate, Arc::clone(&config));
                    config
                }
            };
            configs.push(Some(TlsAcceptor::from(config)));
        }
        Ok::<_, TlsError>(configs)
    })
    .await
    .map_err(|error| TlsError::Generate {
        reason: error.to_string(),
    })??;
    Ok(configs)
}

/// Builds the router (its session table owned by `root`) and starts one
/// listener per configured one; returns the router and the listeners'
/// child ids.
async fn start_listeners<'a>(
    root: &SupervisorRef,
    settings: &C2sSettings,
    stream_config: &StreamConfig,
    listeners: impl Iterator<Item = (&'a ListenerSettings, Option<TlsAcceptor>, TcpListener)>,
    (accounts, offline): (Arc<dyn Accounts>, Arc<dyn OfflineSink>),
    modules: &[Arc<dyn Module>],
    SessionServices {
        sessions,
        sm_registry,
        registration,
    }: SessionServices,
) -> Result<(Arc<Router>, Vec<String>), C2sError> {
    // A local table lives as long as the c2s supervisor, across restarts of
    // the sessions supervisor below it.
    let table: Arc<dyn SessionTable> = match sessions {
        Some(table) => table,
        None => Arc::new(LocalSessionTable::new(&root.cell())?),
    };
    let router = Arc::new(
        Router::new(stream_config.domains(), table, accounts, offline, modules)?
            .with_max_user_sessions(settings.max_user_sessions),
    );
    let mut bound_features = router.hooks().stream_features().to_vec();
    bound_features.extend(crate::modules::caps::server_caps(router.hooks()));
    let carbons = router
        .hooks()
        .features(crate::router::IqScope::Server)
        .any(|feature| feature == sasl2::NS_CARBONS);
    let stream_config = stream_config
        .with_bound_features(bound_features)
        .with_sasl2(settings.sasl2, settings.bind2, carbons);
    let mut ids = Vec::new();
    for (index, (listener, tls, socket)) in listeners.enumerate() {
        let policy = match listener.tls_mode {
            TlsMode::Off => TlsPolicy::Off,
            TlsMode::Starttls => TlsPolicy::Optional,
            TlsMode::StarttlsRequired => TlsPolicy::Required,
            TlsMode::Tls => TlsPolicy::Direct,
        };
        let context = Arc::new(ListenerContext {
            router: Arc::clone(&router),
            stream_config: Arc::new(stream_config.with_tls(policy)),
            connection: Arc::new(ConnectionConfig {
                limits: listener.limits(),
                idle_timeout: listener.idle_timeout,
                write_timeout: settings.write_timeout,
                tls_handshake_timeout: settings.tls_handshake_timeout,
                tls,
                direct_tls: policy == TlsPolicy::Direct,
            }),
            outgoing_queue_max: listener.outgoing_queue_max,
            negotiation_timeout: listener.negotiation_timeout,
            sm_registry: Arc::clone(&sm_registry),
            registration: registration.clone(),
        });
        let id = format!("listener_{index}");
        let args = ListenerArgs {
            socket: Arc::new(socket),
            root: root.clone(),
            context,
            name: id.clone(),
        };
        root.start_child(ChildSpec::actor(
            id.clone(),
            || Listener,
            move || args.clone(),
        ))
        .await?;
        ids.push(id);
    }
    Ok((router, ids))
}

fn bind(address: SocketAddr) -> Result<TcpListener, C2sError> {
    let bind_error = |source| C2sError::Bind { address, source };
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_error)?;
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(address).map_err(bind_error)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)
}

fn local_addr_of(socket: &TcpListener, address: SocketAddr) -> Result<SocketAddr, C2sError> {
    socket
        .local_addr()
        .map_err(|source| C2sError::Bind { address, source })
}

impl C2sServer {
    /// The addresses the listeners accept on, in the order of
    /// [`C2sSettings::listeners`] (with the real port where port 0 was asked
    /// for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The router: the session table, the hooks, routing for other entry
    /// points (the admin API sends stanzas through it).
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// The c2s supervisor, to watch or to link into a larger tree.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.root
    }

    /// Connections being served (bound or not).
    pub async fn connection_count(&self) -> usize {
        match listener::find_sessions(&self.root).await {
            Some(sessions) => sessions
                .count_children()
                .await
                .map(|counts| counts.active)
                .unwrap_or(0),
            None => 0,
        }
    }

    /// Stops accepting, closes every session with `system-shutdown` (all at
    /// once, waiting at most the shutdown timeout), then stops the tree.
    pub async fn shutdown(self) {
        for id in &self.listener_ids {
            if let Err(error) = self.root.terminate_child(id).await {
                tracing::warn!(listener = %id, %error, "cannot stop listener");
            }
        }
        if let Some(sessions) = listener::find_sessions(&self.root).await {
            let children = sessions.which_children().await.unwrap_or_default();
            let cells: Vec<_> = children
                .into_iter()
                .filter_map(|child| child.actor)
                .collect();
            tracing::info!(sessions = cells.len(), "closing sessions: system-shutdown");
            for cell in &cells {
                let session: ActorRef<SessionMsg> = cell.clone().into();
                let _ = session.cast(SessionMsg::Close(StreamError::new(
                    StreamErrorCondition::SystemShutdown,
                )));
            }
            let timeout = self.shutdown_timeout;
            futures::future::join_all(cells.iter().map(|cell| cell.wait(Some(timeout)))).await;
        }
        self.root.shutdown(self.shutdown_timeout).await;
    }
}
