//! `ctl session ...`: mongooseimctl's session category.
//!
//! Sessions live in a running node's memory, so these commands ask the node, through its admin
//! GraphQL API (`cli/graphql.rs`), with the same queries MongooseIM's CLI sends. With no node
//! answering they fail with `node_not_running`.
//!
//! Output: `listSessions` prints an array of sessions (`user`, `connection`, `ip`, `port`,
//! `priority`, `node`, `uptime`), `countSessions` a number, `kickUser` an array of
//! `{"jid", "kicked", "code", "message"}`, one per session closed (empty when the user has no
//! session).

use clap::Subcommand;
use serde_json::{json, Value};

use super::output::{CtlError, ErrorCode};
use crate::config::Config;

/// What every session command says when no node answers.
const NOT_RUNNING: &str = "the node is not running (session commands need a running node)";

/// `ctl session` commands, with mongooseimctl's names.
#[derive(Debug, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum SessionCommand {
    /// List the sessions of a domain, or of every domain
    ListSessions {
        /// Only this domain's sessions
        #[arg(long)]
        domain: Option<String>,
    },
    /// Count the sessions of a domain, or of every domain
    CountSessions {
        /// Only this domain's sessions
        #[arg(long)]
        domain: Option<String>,
    },
    /// Close a session (full JID), or every session of a user (bare JID)
    KickUser {
        /// user@domain/resource, or user@domain for every session
        #[arg(long)]
        user: String,
        /// Text sent to the client with the stream error
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs one session command against the running node; see the module docs.
pub(super) async fn run(config: &Config, command: SessionCommand) -> Result<Value, CtlError> {
    let (query, variables, path): (&str, Value, &str) = match &command {
        SessionCommand::ListSessions { domain } => (
            "query($domain: DomainName) { session { listSessions(domain: $domain) \
             { user connection ip port priority node uptime } } }",
            json!({ "domain": domain }),
            "/data/session/listSessions",
        ),
        SessionCommand::CountSessions { domain } => (
            "query($domain: DomainName) { session { countSessions(domain: $domain) } }",
            json!({ "domain": domain }),
            "/data/session/countSessions",
        ),
        SessionCommand::KickUser { user, reason } => (
            "mutation($user: JID!, $reason: String) { session { kickUser(user: $user, \
             reason: $reason) { jid kicked code message } } }",
            json!({ "user": user, "reason": reason }),
            "/data/session/kickUser",
        ),
    };
    let response = super::graphql::call(config, query, variables, NOT_RUNNING).await?;
    response.pointer(path).cloned().ok_or_else(|| {
        CtlError::new(
            ErrorCode::InternalError,
            format!("the admin API's answer has no {path}: {response}"),
        )
    })
}
