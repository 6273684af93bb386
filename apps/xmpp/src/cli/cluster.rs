//! `ctl cets ...` and `ctl server ...`: mongooseimctl's cluster and server categories, asked
//! of a running node through its admin GraphQL API, as the session commands are.
//!
//! Output: `cets systemInfo` prints one object (available, unavailable, joined and discovered
//! nodes, conflict nodes and tables, whether discovery works, readiness); `cets tableInfo` an
//! array of tables (name, size, memory, nodes, leader); `server status` the status object;
//! `server leaveCluster` and `server stop` a message. A node that runs alone answers the
//! `cets` commands with `not_supported`.

use clap::Subcommand;
use serde_json::{json, Value};

use super::output::{CtlError, ErrorCode};
use crate::config::Config;

/// What every command here says when no node answers.
const NOT_RUNNING: &str =
    "the node is not running (cluster and server commands need a running node)";

/// `ctl cets` commands.
#[derive(Debug, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum CetsCommand {
    /// The cluster's nodes as this node sees them: available, unavailable, joined, discovered
    SystemInfo,
    /// The replicated tables: size, memory, member nodes
    TableInfo,
}

/// `ctl server` commands.
#[derive(Debug, Subcommand)]
#[command(rename_all = "camelCase")]
pub enum ServerCommand {
    /// Whether the node runs, and its version
    Status,
    /// Leave the cluster: clients are told system-shutdown, the node leaves and stops
    LeaveCluster,
    /// Stop the node gracefully
    Stop,
}

/// Runs one `cets` command against the running node.
pub(super) async fn run_cets(config: &Config, command: CetsCommand) -> Result<Value, CtlError> {
    let (query, path) = match command {
        CetsCommand::SystemInfo => (
            "{ cets { systemInfo { availableNodes unavailableNodes joinedNodes discoveredNodes \
             remoteNodesWithoutDisco conflictNodes conflictTables discoveryWorks ready } } }",
            "/data/cets/systemInfo",
        ),
        CetsCommand::TableInfo => (
            "{ cets { tableInfo { tableName size memory nodes leader } } }",
            "/data/cets/tableInfo",
        ),
    };
    ask(config, query, path).await
}

/// Runs one `server` command against the running node.
pub(super) async fn run_server(config: &Config, command: ServerCommand) -> Result<Value, CtlError> {
    let (query, path) = match command {
        ServerCommand::Status => (
            "{ server { status { statusCode message version } } }",
            "/data/server/status",
        ),
        ServerCommand::LeaveCluster => (
            "mutation { server { leaveCluster } }",
            "/data/server/leaveCluster",
        ),
        ServerCommand::Stop => ("mutation { server { stop } }", "/data/server/stop"),
    };
    ask(config, query, path).await
}

async fn ask(config: &Config, query: &str, path: &str) -> Result<Value, CtlError> {
    let response = super::graphql::call(config, query, json!({}), NOT_RUNNING).await?;
    response.pointer(path).cloned().ok_or_else(|| {
        CtlError::new(
            ErrorCode::InternalError,
            format!("the admin API's answer has no {path}: {response}"),
        )
    })
}
