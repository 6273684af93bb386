//! `ctl session ...`: mongooseimctl's session category.
//!
//! Sessions live in a running node's memory, so these commands must ask the node. The admin API
//! that would let them do so is not built yet: for now every session command fails with
//! `node_not_running`, and the API issue connects them.

use clap::Subcommand;
use serde_json::Value;

use super::output::{CtlError, ErrorCode};

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
    /// Close a session
    KickUser {
        /// The session's full JID, user@domain/resource
        #[arg(long)]
        user: String,
        /// Text sent to the client with the stream error
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Every session command needs a running node to ask; see the module docs.
pub(super) fn run(command: SessionCommand) -> Result<Value, CtlError> {
    let _ = command;
    Err(CtlError::new(
        ErrorCode::NodeNotRunning,
        "the node is not running (session commands need a running node)",
    ))
}
