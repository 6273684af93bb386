//! The admin GraphQL endpoint: MongooseIM's admin schema (the `account`, `session`, `stanza`,
//! `roster`, `stat` and `server` categories) over HTTP, for operators and for `bream-xmpp
//! ctl`.
//!
//! ```no_run
//! # async fn example(context: bream_xmpp::api::admin::AdminContext)
//! # -> Result<(), bream_xmpp::api::admin::ApiError> {
//! use bream_xmpp::api::admin::{self, AdminApiSettings};
//!
//! let api = admin::serve(AdminApiSettings::default(), context).await?; // 127.0.0.1:5551
//! println!("GraphiQL at http://{}/api/graphql", api.local_addr());
//! api.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ```text
//! curl -u admin:secret -H 'Content-Type: application/json' \
//!      -d '{"query": "{ session { countSessions } }"}' http://127.0.0.1:5551/api/graphql
//! ```
//!
//! # HTTP
//!
//! One path, [`GRAPHQL_PATH`]: `POST` with a JSON body `{"query", "variables",
//! "operationName"}`, or `GET` with those as URL parameters (mutations included, as
//! MongooseIM allows). A `GET` without `query` serves the GraphiQL page.
//!
//! Status codes: 200 for every executed request, with operation errors in `errors[]` and
//! their code in `extensions.code` ([`crate::api::ErrorCode`]); 400 for a body that is not
//! JSON, or a query that does not parse or fails validation against the schema (the request
//! never ran); 401 with `WWW-Authenticate: Basic` for missing or wrong credentials (checked
//! before anything else, in constant time); 503 when [`REQUESTS_CONCURRENT_MAX`] requests run
//! already; 413 for a body over [`BODY_BYTES_MAX`]. A request that runs past
//! [`REQUEST_TIMEOUT`] answers 200 with an `internal_error`: the work it started (a database
//! write) may still finish.
//!
//! # Authentication
//!
//! HTTP Basic with the one `username`/`password` of [`AdminApiSettings::credentials`]. Without
//! credentials every request is accepted, so [`serve`] refuses to start unless the address is
//! loopback ([`ApiError::NoCredentials`]): an open admin API on a network would let anyone
//! register users, read sessions and stop the node.
//!
//! # Where Bream differs from MongooseIM
//!
//! - One admin with every right (MongooseIM's global admin); no domain admins.
//! - `Session` fields `ip`, `port` and `uptime` are `null`: the session table does not record
//!   them yet.
//! - `kickUser` takes a bare JID (every session of the account, as MongooseIM 6.3) or a full
//!   JID (that session, as MongooseIM 6.2); `kickUserSession` takes a full JID. A kicked
//!   client gets the stream error `policy-violation` with the reason as its text.
//! - `server.setLoglevel` works only when the node was started with a reloadable log filter
//!   ([`LogLevelControl`]); otherwise it answers `not_supported` and `getLoglevel` reports the
//!   configured level. `server.stop` asks the node to stop ([`AdminApiHandle::stop_requested`]);
//!   `joinCluster` and the other cluster mutations do not exist yet.
//! - `roster` has `listContacts`, `getContact`, `addContact`, `deleteContact` and
//!   `setMutualSubscription`; `addContacts`, `deleteContacts`, `subscription`,
//!   `subscribeToAll` and `subscribeAllToAll` do not exist yet. Changes go through the roster
//!   module as the user's own client's would ([`crate::api::roster`]), so the user's sessions
//!   get roster pushes; `setMutualSubscription` sends no presence, as MongooseIM's.
//! - Error codes are `ctl`'s ([`crate::api::ErrorCode`]).

mod http;
mod schema;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

pub use self::schema::{build_schema, AdminSchema};
use crate::api::listener::HttpListener;
use crate::config::auth::Password;
use crate::config::{Config, LogLevel};
use crate::router::Router;
use crate::storage::Storage;

pub use crate::api::http::{
    BODY_BYTES_MAX, GRAPHQL_PATH, REQUESTS_CONCURRENT_MAX, REQUEST_TIMEOUT,
};
pub use crate::api::listener::SHUTDOWN_TIMEOUT;

/// Where and how the admin API listens. [`Default`] is 127.0.0.1:5551 without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminApiSettings {
    /// Default `127.0.0.1:5551`. Port 0 lets the system pick one.
    pub bind: SocketAddr,
    /// HTTP Basic `(username, password)`. Default none: allowed on loopback only.
    pub credentials: Option<(String, String)>,
}

impl Default for AdminApiSettings {
    fn default() -> Self {
        AdminApiSettings {
            bind: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                crate::config::listen::GRAPHQL_ADMIN_PORT_DEFAULT,
            ),
            credentials: None,
        }
    }
}

impl fmt::Debug for AdminApiSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AdminApiSettings")
            .field("bind", &self.bind)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(username, _)| (username, "***")),
            )
            .finish()
    }
}

impl AdminApiSettings {
    /// `[listen.graphql_admin]`'s settings; `None` when it is disabled.
    pub fn from_config(config: &Config) -> Option<AdminApiSettings> {
        let section = &config.listen.graphql_admin;
        if !section.enabled {
            return None;
        }
        let credentials = match (&section.username, &section.password) {
            (Some(username), Some(password)) => Some((username.clone(), password.0.clone())),
            _ => None,
        };
        Some(AdminApiSettings {
            bind: SocketAddr::new(section.ip_address, section.port),
            credentials,
        })
    }
}

/// Why the admin API did not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials and an address other than loopback; see the module docs.
    #[error(
        "the admin GraphQL API on {address} has no credentials: set listen.graphql_admin.username \
         and password, or bind it to a loopback address such as 127.0.0.1"
    )]
    NoCredentials {
        /// The address asked for.
        address: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen for the admin GraphQL API on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The log level as the API reads and sets it.
pub trait LogLevelControl: Send + Sync + 'static {
    /// The level in force.
    fn get(&self) -> LogLevel;
    /// Changes it. Errors: a sentence saying why not; the API answers `not_supported`.
    fn set(&self, level: LogLevel) -> Result<(), String>;
}

/// A level that cannot change: what a node without a reloadable log filter has.
#[derive(Clone, Copy, Debug)]
pub struct FixedLogLevel(pub LogLevel);

impl LogLevelControl for FixedLogLevel {
    fn get(&self) -> LogLevel {
        self.0
    }

    fn set(&self, _level: LogLevel) -> Result<(), String> {
        Err(
            "the log level is fixed at start (general.loglevel or RUST_LOG); \
             this node has no reloadable log filter"
                .to_string(),
        )
    }
}

/// What the API works on: the database, the running server's router (session table,
/// routing), and facts about the node.
#[derive(Clone)]
pub struct AdminContext {
    /// The accounts' database.
    pub storage: Storage,
    /// The running c2s server's router (`C2sServer::router`): its domains are the domains
    /// served, its session table the sessions listed and kicked, and stanzas sent through the
    /// API are routed by it as a client's would be.
    pub router: Arc<Router>,
    /// How new passwords become stored secrets (`[auth.password]`).
    pub password: Password,
    /// When the node started, for `uptimeSeconds`.
    pub started_at: Instant,
    /// This node's name, shown in `Session.node`.
    pub node_name: String,
    /// The log level.
    pub loglevel: Arc<dyn LogLevelControl>,
    /// The cluster this node is part of; `None` when it runs alone.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Where `server { stop }` is told: the server's own channel, so a request survives a
    /// restart of the API.
    pub stop: watch::Sender<bool>,
    /// The node's processes, for the `debug` category; `None` outside a running server.
    pub processes: Option<crate::server::tree::Processes>,
    /// `[debug] fault_injection`: whether `debug` mutations may break processes.
    pub fault_injection: bool,
}

impl AdminContext {
    /// A context for the node configured by `config`, started now, with the configured log
    /// level fixed ([`FixedLogLevel`]).
    pub fn new(config: &Config, storage: Storage, router: Arc<Router>) -> AdminContext {
        AdminContext {
            storage,
            router,
            password: config.auth.password.clone(),
            started_at: Instant::now(),
            node_name: config.general.node_name.clone(),
            loglevel: Arc::new(FixedLogLevel(config.general.loglevel)),
            cluster: None,
            stop: watch::channel(false).0,
            processes: None,
            fault_injection: config.debug.fault_injection,
        }
    }

    /// The same context, reporting `cluster` in the `cets` category.
    pub fn with_cluster(mut self, cluster: Arc<crate::cluster::Cluster>) -> AdminContext {
        self.cluster = Some(cluster);
        self
    }
}

impl fmt::Debug for AdminContext {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AdminContext")
            .field("storage", &self.storage)
            .field("domains", &self.router.domains())
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

/// The running admin API. Dropping it leaves it running; stop it with
/// [`AdminApiHandle::shutdown`].
#[derive(Debug)]
pub struct AdminApiHandle {
    listener: HttpListener,
    stop: watch::Receiver<bool>,
}

impl AdminApiHandle {
    /// The address it listens on (with the real port where port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Resolves when an administrator has called `mutation { server { stop } }`: the node
    /// should then stop as on SIGTERM. Never resolves otherwise.
    pub async fn stop_requested(&self) {
        let mut stop = self.stop.clone();
        if stop.wait_for(|requested| *requested).await.is_err() {
            // The API is gone without a stop request: nothing will ask any more.
            std::future::pending::<()>().await;
        }
    }

    /// Stops accepting, lets requests in flight finish (at most [`SHUTDOWN_TIMEOUT`]), and
    /// stops.
    pub async fn shutdown(self) {
        self.listener.shutdown().await;
    }
}

/// Starts the admin API; see the [module documentation](self).
///
/// Errors: [`ApiError::NoCredentials`], [`ApiError::Bind`].
pub async fn serve(
    settings: AdminApiSettings,
    context: AdminContext,
) -> Result<AdminApiHandle, ApiError> {
    if settings.credentials.is_none() && !settings.bind.ip().is_loopback() {
        return Err(ApiError::NoCredentials {
            address: settings.bind,
        });
    }
    let stop = context.stop.subscribe();
    let stop_sender = context.stop.clone();
    let schema = build_schema(context, stop_sender);
    let app = http::app(schema, settings.credentials);
    let listener = HttpListener::bind(settings.bind, app, "graphql_admin")
        .await
        .map_err(|source| ApiError::Bind {
            address: settings.bind,
            source,
        })?;
    tracing::info!(address = %listener.local_addr(), path = GRAPHQL_PATH, "admin GraphQL API listening");
    Ok(AdminApiHandle { listener, stop })
}

/// Starts the admin API as `[listen.graphql_admin]` says; `Ok(None)` when it is disabled.
///
/// Errors: as [`serve`].
pub async fn start_from_config(
    config: &Config,
    context: AdminContext,
) -> Result<Option<AdminApiHandle>, ApiError> {
    match AdminApiSettings::from_config(config) {
        Some(settings) => serve(settings, context).await.map(Some),
        None => {
            tracing::info!("admin GraphQL API disabled (listen.graphql_admin.enabled = false)");
            Ok(None)
        }
    }
}
