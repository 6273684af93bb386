//! `ctl debug ...`: the node's supervision tree and live fault injection, through the admin
//! API's `debug` category (see `api::admin`'s `debug` schema). Every command is refused with
//! `fault_injection_disabled` unless the node runs with `[debug] fault_injection = true`.
//!
//! Output: `supervisionTree` prints the tree (`{name, kind, strategy, restarts, running,
//! children}`, names being paths from the root); the others print a message.

use clap::Subcommand;
use serde_json::{json, Value};

use super::output::{CtlError, ErrorCode};
use crate::config::Config;

/// What every command here says when no node answers.
const NOT_RUNNING: &str = "the node is not running (debug commands need a running node)";

/// `ctl debug` commands.
#[derive(Debug, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum DebugCommand {
    /// The node's supervision tree, every process by its name
    SupervisionTree,
    /// Kill a process at once; its supervisor restarts it
    KillProcess {
        /// The process, as supervisionTree names it
        #[arg(long)]
        name: String,
    },
    /// Make a process's next message panic its handler
    PanicProcess {
        /// The process, as supervisionTree names it
        #[arg(long)]
        name: String,
    },
    /// Hold each of a process's next COUNT messages for MILLISECONDS
    DelayMessages {
        /// The process, as supervisionTree names it
        #[arg(long)]
        name: String,
        /// How many messages
        #[arg(long)]
        count: i32,
        /// How long each is held
        #[arg(long)]
        milliseconds: i32,
    },
    /// Lose a process's next COUNT messages
    DropMessages {
        /// The process, as supervisionTree names it
        #[arg(long)]
        name: String,
        /// How many messages
        #[arg(long)]
        count: i32,
    },
    /// Cut this node off from a peer, as a network partition would
    CutLink {
        /// The peer node's name
        #[arg(long)]
        node: String,
    },
    /// End a cut
    HealLink {
        /// The peer node's name
        #[arg(long)]
        node: String,
    },
}

/// Runs one `debug` command against the running node.
pub(super) async fn run(config: &Config, command: DebugCommand) -> Result<Value, CtlError> {
    let (query, variables, path) = match command {
        DebugCommand::SupervisionTree => (
            "{ debug { supervisionTree } }",
            json!({}),
            "/data/debug/supervisionTree",
        ),
        DebugCommand::KillProcess { name } => (
            "mutation($name: String!) { debug { killProcess(name: $name) } }",
            json!({ "name": name }),
            "/data/debug/killProcess",
        ),
        DebugCommand::PanicProcess { name } => (
            "mutation($name: String!) { debug { panicProcess(name: $name) } }",
            json!({ "name": name }),
            "/data/debug/panicProcess",
        ),
        DebugCommand::DelayMessages {
            name,
            count,
            milliseconds,
        } => (
            "mutation($name: String!, $count: Int!, $milliseconds: Int!) { debug { \
             delayMessages(name: $name, count: $count, milliseconds: $milliseconds) } }",
            json!({ "name": name, "count": count, "milliseconds": milliseconds }),
            "/data/debug/delayMessages",
        ),
        DebugCommand::DropMessages { name, count } => (
            "mutation($name: String!, $count: Int!) { debug { \
             dropMessages(name: $name, count: $count) } }",
            json!({ "name": name, "count": count }),
            "/data/debug/dropMessages",
        ),
        DebugCommand::CutLink { node } => (
            "mutation($node: String!) { debug { cutLink(node: $node) } }",
            json!({ "node": node }),
            "/data/debug/cutLink",
        ),
        DebugCommand::HealLink { node } => (
            "mutation($node: String!) { debug { healLink(node: $node) } }",
            json!({ "node": node }),
            "/data/debug/healLink",
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
