//! The server's HTTP APIs: GraphQL with MongooseIM 6's schema shapes, so that scripts and
//! dashboards written for `mongooseimctl` and MongooseIM's GraphQL endpoints keep working.
//!
//! - [`admin`]: the admin endpoint (`/api/graphql` on 127.0.0.1:5551 by default, HTTP Basic
//!   auth with credentials from `[listen.graphql_admin]`): accounts, sessions, stanzas,
//!   statistics, the server itself. `bream-xmpp ctl` talks to it when the node runs.
//! - [`user`]: the user endpoint (`/api/graphql` on 0.0.0.0:5561 by default, HTTP Basic auth
//!   as `user@domain:password`): send stanzas, manage one's account, roster, vCard, private
//!   XML and last activity.
//! - [`client`]: the small HTTP/1.1 client `ctl` uses to reach it.
//!
//! Both endpoints share their HTTP shell (`http`: routing, authentication hook, bounds, status
//! codes), listener (`listener`), scalars and error helpers (`graphql`), and the roster
//! operations ([`roster`]).
//!
//! Why GraphQL rather than a REST API of our own: MongooseIM 6 made GraphQL its one admin
//! interface (its CLI is a GraphQL client too), so keeping its names and shapes means its
//! documentation, examples and tooling describe Bream as well.
//!
//! # Errors
//!
//! As MongooseIM's: an operation that fails (a duplicate user, an unknown domain) answers
//! HTTP 200 with `{"data": ..., "errors": [{"message": ..., "path": [...], "extensions":
//! {"code": "user_exists"}}]}`; the codes are [`ErrorCode`]. A request that is not GraphQL (bad
//! JSON, a query that does not parse or does not fit the schema) answers 400; missing or wrong
//! credentials 401; a server at its request bound 503.

pub mod admin;
pub mod client;
pub(crate) mod graphql;
pub(crate) mod http;
pub(crate) mod listener;
pub mod roster;
pub(crate) mod stanza;
pub mod user;

/// The `extensions.code` of an error the API answers with.
///
/// Where MongooseIM's code differs, it is named: Bream uses the same codes as `ctl`, so a
/// script sees one vocabulary whether the node runs or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// An argument that cannot be used: an invalid JID, an unparsable stanza, a full JID where
    /// a bare one is needed. MongooseIM: `bad_request` / `invalid_jid`.
    BadRequest,
    /// A domain this server does not serve.
    UnknownDomain,
    /// A username that is not a valid JID localpart.
    InvalidUsername,
    /// A password the `OpaqueString` profile refuses (empty, control characters).
    /// MongooseIM: `empty_password`.
    InvalidPassword,
    /// `registerUser` for an account that exists.
    UserExists,
    /// An account that does not exist. MongooseIM: `user_does_not_exist`.
    UserNotFound,
    /// A full JID with no session.
    NoSession,
    /// An operation this node cannot do (`setLoglevel` without a reloadable log filter).
    NotSupported,
    /// The database failed or timed out.
    DatabaseError,
    /// Something the server could not do (the session table is gone).
    InternalError,
    /// A `from` that is not the calling user (user API: a user sends only as themselves).
    InvalidSender,
    /// The module behind the operation is switched off in `[modules]`. MongooseIM's code.
    ModuleNotLoaded,
    /// The caller may not do this (another user's private data, a roster entry that does not
    /// share presence). MongooseIM: `no_permissions`.
    Forbidden,
    /// An item that does not exist (a roster contact, a last activity never recorded).
    NotFound,
    /// HTTP level: the request does not parse or fit the schema (status 400).
    ParseError,
    /// HTTP level: missing or wrong credentials (status 401).
    Unauthorized,
    /// HTTP level: too many requests at once (status 503).
    Overloaded,
    /// A `debug` operation on a node without `[debug] fault_injection = true`.
    FaultInjectionDisabled,
    /// A process name the node's supervision tree does not show.
    NoSuchProcess,
}

impl ErrorCode {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownDomain => "unknown_domain",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::UserExists => "user_exists",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::NoSession => "no_session",
            ErrorCode::NotSupported => "not_supported",
            ErrorCode::DatabaseError => "database_error",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::InvalidSender => "invalid_sender",
            ErrorCode::ModuleNotLoaded => "deps_not_loaded",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ParseError => "parse_error",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::FaultInjectionDisabled => "fault_injection_disabled",
            ErrorCode::NoSuchProcess => "no_such_process",
        }
    }
}
