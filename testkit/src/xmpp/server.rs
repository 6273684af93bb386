//! The real server ([`bream_xmpp::server::Server`]), started in-process for a test: a
//! temporary directory for its data (the self-signed certificate) and its SQLite database,
//! every listener on 127.0.0.1 port 0, a cheap SCRAM iteration count so registering is fast,
//! and the admin API behind [`ADMIN_CREDENTIALS`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bream_xmpp::api::client::AdminClient;
use bream_xmpp::config::{Config, Secret};
use bream_xmpp::router::Router;
use bream_xmpp::server::Server;
use bream_xmpp::storage::Storage;
use tempfile::TempDir;

use super::{DOMAIN, PASSWORD};

/// The admin API's Basic auth user name and password on test servers.
pub const ADMIN_CREDENTIALS: (&str, &str) = ("admin", "s3cret");
/// PBKDF2 iterations of the passwords test servers store: cheap, since tests hash often.
const TEST_SCRAM_ITERATIONS: u32 = 64;

/// How to start a [`TestServer`].
pub struct TestServerBuilder {
    config: Config,
    users: Vec<String>,
    dir: Option<TempDir>,
    data_dir: Option<PathBuf>,
}

impl TestServerBuilder {
    /// Changes the configuration before the start (a listener's limits, a module off …).
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Registers `usernames` at `localhost` with [`PASSWORD`] before the start.
    pub fn users<S: AsRef<str>>(mut self, usernames: impl IntoIterator<Item = S>) -> Self {
        self.users
            .extend(usernames.into_iter().map(|name| name.as_ref().to_string()));
        self
    }

    /// Uses `data_dir` (kept by the caller) instead of a fresh one: a second server over the
    /// first one's certificate.
    pub fn data_dir(mut self, data_dir: &Path) -> Self {
        self.data_dir = Some(data_dir.to_path_buf());
        self
    }

    /// Opens the storage, registers the users, starts the server.
    pub async fn start(mut self) -> TestServer {
        crate::init_tracing();
        let dir = self
            .dir
            .take()
            .unwrap_or_else(|| tempfile::tempdir().expect("a temporary directory"));
        self.config.general.data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().to_path_buf());
        let database = dir.path().join("bream.db");
        let storage = Storage::connect(&format!("sqlite://{}", database.display()))
            .await
            .expect("the test database opens");
        for username in &self.users {
            register(&storage, &self.config, username, PASSWORD).await;
        }
        let server = Server::start(self.config.clone(), storage.clone())
            .await
            .unwrap_or_else(|error| panic!("the test server starts: {error:#}"));
        TestServer {
            server: Some(server),
            storage,
            config: self.config,
            _dir: dir,
        }
    }
}

/// A running server of a test. Stop it with [`TestServer::stop`] (dropping it leaves its
/// actors running until the test's runtime ends).
pub struct TestServer {
    server: Option<Server>,
    /// Its storage (the same pool the server uses).
    pub storage: Storage,
    /// The configuration it runs with.
    pub config: Config,
    _dir: TempDir,
}

impl TestServer {
    /// The test configuration: every listener on a free port of 127.0.0.1, the admin API
    /// with [`ADMIN_CREDENTIALS`], cheap password hashing.
    pub fn builder() -> TestServerBuilder {
        let mut config = Config::default();
        config.general.hosts = vec![DOMAIN.to_string()];
        config.auth.password.scram_iterations = TEST_SCRAM_ITERATIONS;
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for listener in &mut config.listen.c2s {
            listener.ip_address = loopback;
            listener.port = 0;
        }
        let admin = &mut config.listen.graphql_admin;
        admin.ip_address = loopback;
        admin.port = 0;
        admin.username = Some(ADMIN_CREDENTIALS.0.to_string());
        admin.password = Some(Secret(ADMIN_CREDENTIALS.1.to_string()));
        config.listen.graphql_user.ip_address = loopback;
        config.listen.graphql_user.port = 0;
        config.listen.prometheus.ip_address = loopback;
        config.listen.prometheus.port = 0;
        TestServerBuilder {
            config,
            users: Vec::new(),
            dir: None,
            data_dir: None,
        }
    }

    /// A server with the test configuration and no accounts.
    pub async fn start() -> TestServer {
        TestServer::builder().start().await
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is running")
    }

    /// The first c2s listener's address.
    pub fn c2s_addr(&self) -> SocketAddr {
        self.c2s_addrs()[0]
    }

    /// Every c2s listener's address, in configuration order.
    pub fn c2s_addrs(&self) -> Vec<SocketAddr> {
        self.server().c2s_addrs()
    }

    /// The admin API's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.server().admin_addr().expect("the admin API is on")
    }

    /// The user API's address.
    pub fn user_addr(&self) -> SocketAddr {
        self.server().user_addr().expect("the user API is on")
    }

    /// The metrics and health listener's address.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.server()
            .metrics_addr()
            .expect("the metrics listener is on")
    }

    /// The router.
    pub fn router(&self) -> Arc<Router> {
        self.server().router().expect("the c2s part runs")
    }

    /// The running server.
    pub fn inner(&self) -> &Server {
        self.server()
    }

    /// Where the server keeps its data (`tls/cert.pem` …).
    pub fn data_dir(&self) -> &Path {
        &self.config.general.data_dir
    }

    /// A TLS connector trusting the server's self-signed certificate.
    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        super::tls_connector(&self.data_dir().join("tls").join("cert.pem"))
    }

    /// The admin API as an administrator.
    pub fn admin(&self) -> AdminClient {
        AdminClient {
            address: self.admin_addr(),
            credentials: Some((
                ADMIN_CREDENTIALS.0.to_string(),
                ADMIN_CREDENTIALS.1.to_string(),
            )),
        }
    }

    /// The user API as `username@localhost` with `password`.
    pub fn user_api(&self, username: &str, password: &str) -> AdminClient {
        AdminClient {
            address: self.user_addr(),
            credentials: Some((format!("{username}@{DOMAIN}"), password.to_string())),
        }
    }

    /// Registers `username` at `localhost` with `password`.
    pub async fn register(&self, username: &str, password: &str) {
        register(&self.storage, &self.config, username, password).await;
    }

    /// Runs the server as `bream-xmpp start` does ([`Server::run`]) until a signal, a stop
    /// request, or its tree giving up; what `run` returned, the error with its causes.
    pub async fn run(mut self) -> Result<(), String> {
        match self.server.take() {
            Some(server) => server.run().await.map_err(|error| format!("{error:#}")),
            None => Ok(()),
        }
    }

    /// Stops the server as `bream-xmpp start` does on SIGTERM (the storage is closed too).
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

async fn register(storage: &Storage, config: &Config, username: &str, password: &str) {
    let details = config
        .auth
        .password
        .derive(password)
        .expect("a valid password");
    storage
        .register_user(DOMAIN, username, &details)
        .await
        .unwrap_or_else(|error| panic!("register {username}: {error}"));
}
