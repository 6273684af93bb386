//! The user GraphQL endpoint: MongooseIM's user schema (`priv/graphql/schemas/user/`) over
//! HTTP, for scripts and bots acting as one user: send messages, manage the roster, read and
//! write one's vCard, private XML and last activity.
//!
//! ```no_run
//! # async fn example(context: bream_xmpp::api::user::UserContext)
//! # -> Result<(), bream_xmpp::api::user::UserApiError> {
//! use bream_xmpp::api::user::{self, UserApiSettings};
//!
//! let api = user::serve(UserApiSettings::default(), context).await?; // 0.0.0.0:5561
//! println!("GraphiQL at http://{}/api/graphql", api.local_addr());
//! api.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ```text
//! curl --get -H "Authorization:Basic $(echo -n 'alice@localhost:secret' | base64)" \
//!      --data-urlencode 'query=mutation {stanza {sendMessage(to: "bob@localhost", body: "Hi") {id}}}' \
//!      http://127.0.0.1:5561/api/graphql
//! ```
//!
//! # HTTP
//!
//! As the admin endpoint ([`crate::api::http`]): one path, [`GRAPHQL_PATH`], `POST` with a JSON
//! body or `GET` with URL parameters (mutations included, as MongooseIM allows), GraphiQL on a
//! `GET` without `query`; the same status codes, bounds and deadline.
//!
//! # Authentication
//!
//! HTTP Basic as `user@domain:password`, checked on every request against the account store
//! the way a client's SASL `PLAIN` is (the same SASL state machine, so the same username
//! preparation and the same cost for unknown users): missing or wrong credentials answer 401
//! with `WWW-Authenticate: Basic realm="bream user"`; a database that cannot be asked, 503.
//! Each request costs one password check (PBKDF2 with the stored iteration count), as in
//! MongooseIM; there is no session or token.
//!
//! # Operations
//!
//! Everything acts on the authenticated user ("the caller"):
//! - `checkAuth { username authStatus }`;
//! - `account { unregister, changePassword(newPassword) }`; `unregister` also closes the
//!   caller's sessions (stream error `not-authorized`);
//! - `session { listResources, countResources }`;
//! - `stanza { sendMessage(from, to, body), sendMessageHeadLine(from, to, subject, body),
//!   sendStanza(stanza) }`: the stanza gets a fresh id (unless `sendStanza`'s has one) and is
//!   routed as a client's would be ([`crate::router::Router::route`]), so a message for an
//!   offline user is stored offline. `from` defaults to the caller's bare JID; one whose bare
//!   JID is not the caller's is refused with `invalid_sender`;
//! - `roster { listContacts, getContact(contact), addContact(contact, name, groups),
//!   deleteContact(contact) }`: changes go through the roster module as a client's roster
//!   sets do, so the caller's sessions that asked for the roster get pushes, and deleting a
//!   contact cancels the subscriptions both ways;
//! - `vcard { getVcard(user), setVcard(vcard) }`, `private { getPrivate(element, nameSpace),
//!   setPrivate(elementString) }`, `last { getLast(user), setLast(timestamp, status) }`.
//!
//! # Where Bream differs from MongooseIM
//!
//! - Not there yet: `session.listSessions`, `roster.subscription`, `addContacts`,
//!   `deleteContacts`, `stanza.getLastMessages` and subscriptions (no MAM), and the `muc`,
//!   `muc_light`, `inbox`, `httpUpload` and `token` categories.
//! - vCards carry the common fields only: `formattedName`, `nameComponents`, `nickname`,
//!   `birthday`, `email`, `telephone`, `url`, `title`, `role`, `org`, `note`, `desc`,
//!   `jabberId`, `timeZone`. Other elements a client stored are kept by `getVcard`'s
//!   storage but not shown, and replaced by `setVcard`.
//! - `getVcard(user)` and `getLast(user)` for another user follow the XMPP rules of the
//!   modules: anyone may read a vCard; another user's last activity only if they share their
//!   presence with the caller (`forbidden` otherwise).
//! - `getLast` answers from the module, as an XMPP client would see it: while the user is
//!   online the timestamp is now and the status empty.
//! - Error codes are `ctl`'s ([`crate::api::ErrorCode`]); a module switched off answers
//!   `deps_not_loaded`, as MongooseIM's `@use` directive does.

mod auth;
mod personal;
mod schema;
mod vcard;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub use self::schema::{build_schema, UserSchema};
pub use crate::api::http::GRAPHQL_PATH;
use crate::api::listener::HttpListener;
use crate::config::auth::Password;
use crate::config::Config;
use crate::router::Router;
use crate::storage::Storage;

/// Where the user API listens. [`Default`] is 0.0.0.0:5561.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserApiSettings {
    /// Default `0.0.0.0:5561`. Port 0 lets the system pick one.
    pub bind: SocketAddr,
}

impl Default for UserApiSettings {
    fn default() -> Self {
        UserApiSettings {
            bind: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                crate::config::listen::GRAPHQL_USER_PORT_DEFAULT,
            ),
        }
    }
}

impl UserApiSettings {
    /// `[listen.graphql_user]`'s settings; `None` when it is disabled.
    pub fn from_config(config: &Config) -> Option<UserApiSettings> {
        let section = &config.listen.graphql_user;
        section.enabled.then(|| UserApiSettings {
            bind: SocketAddr::new(section.ip_address, section.port),
        })
    }
}

/// Why the user API did not start.
#[derive(Debug, thiserror::Error)]
pub enum UserApiError {
    /// The address could not be bound.
    #[error("cannot listen for the user GraphQL API on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the API works on: the accounts' database and the running server's router.
#[derive(Clone)]
pub struct UserContext {
    /// The accounts' database (credentials, and the records the API reads directly).
    pub storage: Storage,
    /// The running c2s server's router: stanzas are routed by it, modules are asked through
    /// its hooks, sessions are read from its session table.
    pub router: Arc<Router>,
    /// How new passwords become stored secrets (`[auth.password]`).
    pub password: Password,
}

impl UserContext {
    /// A context for the node configured by `config`.
    pub fn new(config: &Config, storage: Storage, router: Arc<Router>) -> UserContext {
        UserContext {
            storage,
            router,
            password: config.auth.password.clone(),
        }
    }
}

impl fmt::Debug for UserContext {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("UserContext")
            .field("storage", &self.storage)
            .field("domains", &self.router.domains())
            .finish_non_exhaustive()
    }
}

/// The running user API. Dropping it leaves it running; stop it with
/// [`UserApiHandle::shutdown`].
#[derive(Debug)]
pub struct UserApiHandle {
    listener: HttpListener,
}

impl UserApiHandle {
    /// The address it listens on (with the real port where port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Stops accepting, lets requests in flight finish (at most
    /// [`SHUTDOWN_TIMEOUT`](crate::api::admin::SHUTDOWN_TIMEOUT)), and stops.
    pub async fn shutdown(self) {
        self.listener.shutdown().await;
    }
}

/// Starts the user API; see the [module documentation](self).
///
/// Errors: [`UserApiError::Bind`].
pub async fn serve(
    settings: UserApiSettings,
    context: UserContext,
) -> Result<UserApiHandle, UserApiError> {
    let authenticator = auth::UserCredentials::new(context.storage.clone(), &context.router);
    let schema = build_schema(context);
    let app = crate::api::http::graphql_app(schema, authenticator, "user");
    let listener = HttpListener::bind(settings.bind, app, "graphql_user")
        .await
        .map_err(|source| UserApiError::Bind {
            address: settings.bind,
            source,
        })?;
    tracing::info!(address = %listener.local_addr(), path = GRAPHQL_PATH, "user GraphQL API listening");
    Ok(UserApiHandle { listener })
}

/// Starts the user API as `[listen.graphql_user]` says; `Ok(None)` when it is disabled.
///
/// Errors: as [`serve`].
pub async fn start_from_config(
    config: &Config,
    context: UserContext,
) -> Result<Option<UserApiHandle>, UserApiError> {
    match UserApiSettings::from_config(config) {
        Some(settings) => serve(settings, context).await.map(Some),
        None => {
            tracing::info!("user GraphQL API disabled (listen.graphql_user.enabled = false)");
            Ok(None)
        }
    }
}
