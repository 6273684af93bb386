//! The program's output: results as JSON on stdout, errors as JSON on stderr. The only place in
//! the library that prints.

use serde_json::{json, Value};

/// Why a `ctl` command failed: a stable machine-readable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlError {
    /// What kind of failure; printed as `"code"`.
    pub code: ErrorCode,
    /// Printed as `"error"`.
    pub message: String,
}

impl CtlError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CtlError {
            code,
            message: message.into(),
        }
    }
}

/// The `"code"` of an error. Every one exits with status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The config file could not be read or is invalid.
    ConfigError,
    /// The database could not be opened or a query failed.
    DatabaseError,
    /// The domain is not a valid domain, or not in `general.hosts`.
    UnknownDomain,
    /// The username is not a valid JID localpart.
    InvalidUsername,
    /// The password is refused (empty, or control characters).
    InvalidPassword,
    /// `registerUser` for an account that exists.
    UserExists,
    /// An account that does not exist.
    UserNotFound,
    /// A command that needs a running node, with none running.
    NodeNotRunning,
    /// Something this program could not set up (its async runtime), or the node failed.
    InternalError,
    /// The admin API refused an argument (an invalid JID, a stanza that does not parse).
    BadRequest,
    /// A full JID with no session.
    NoSession,
    /// An operation the running node cannot do.
    NotSupported,
    /// The admin API refused the credentials in `[listen.graphql_admin]`.
    Unauthorized,
    /// A `debug` command on a node without `[debug] fault_injection = true`.
    FaultInjectionDisabled,
    /// A process name the node's supervision tree does not show.
    NoSuchProcess,
    /// Something named that does not exist (a link that is not cut, a peer not connected).
    NotFound,
    /// Any other error the admin API answered with (its code is in the message).
    ApiError,
}

impl ErrorCode {
    /// The code as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ConfigError => "config_error",
            ErrorCode::DatabaseError => "database_error",
            ErrorCode::UnknownDomain => "unknown_domain",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::UserExists => "user_exists",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::NodeNotRunning => "node_not_running",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NoSession => "no_session",
            ErrorCode::NotSupported => "not_supported",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::FaultInjectionDisabled => "fault_injection_disabled",
            ErrorCode::NoSuchProcess => "no_such_process",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ApiError => "api_error",
        }
    }

    /// The code for an admin API error's `extensions.code`, [`ErrorCode::ApiError`] when it has
    /// no counterpart here.
    pub fn from_api(code: &str) -> ErrorCode {
        [
            ErrorCode::DatabaseError,
            ErrorCode::UnknownDomain,
            ErrorCode::InvalidUsername,
            ErrorCode::InvalidPassword,
            ErrorCode::UserExists,
            ErrorCode::UserNotFound,
            ErrorCode::InternalError,
            ErrorCode::BadRequest,
            ErrorCode::NoSession,
            ErrorCode::NotSupported,
            ErrorCode::Unauthorized,
            ErrorCode::FaultInjectionDisabled,
            ErrorCode::NoSuchProcess,
            ErrorCode::NotFound,
        ]
        .into_iter()
        .find(|known| known.as_str() == code)
        .unwrap_or(ErrorCode::ApiError)
    }
}

/// Prints a command's result, one line of JSON on stdout.
pub fn print_result(result: &Value) {
    println!("{result}");
}

/// Prints `{"error": ..., "code": ...}`, one line on stderr.
pub fn print_error(error: &CtlError) {
    eprintln!(
        "{}",
        json!({ "error": error.message, "code": error.code.as_str() })
    );
}

/// Prints a fatal error of `start` for people, on stderr.
pub fn print_start_failure(error: &dyn std::fmt::Display) {
    eprintln!("bream-xmpp: {error}");
}
