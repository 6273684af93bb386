//! The admin schema's `server` category (MongooseIM's
//! `priv/graphql/schemas/admin/server.gql`): status, log level, stop, leave the cluster.

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::api;
use crate::api::graphql::{error, Result};
use crate::api::ErrorCode;
use crate::config::LogLevel;

/// Specifies status of the server
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    /// Server is running
    Running,
    /// Server is not running
    NotRunning,
}

/// Status of the server
#[derive(SimpleObject)]
pub(crate) struct Status {
    /// Code of the status
    status_code: Option<StatusCode>,
    /// Message about the status
    message: Option<String>,
    /// Bream version
    version: Option<String>,
    /// The hash of the commit that Bream is running (not recorded: null)
    commit_hash: Option<String>,
}

/// Allow admin to acquire data about the node
pub(crate) struct ServerAdminQuery;

#[Object]
impl ServerAdminQuery {
    /// Get the status of the server
    async fn status(&self) -> Status {
        Status {
            status_code: Some(StatusCode::Running),
            message: Some("The server is running".to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            commit_hash: None,
        }
    }

    /// Get the node's current log level
    async fn get_loglevel(&self, ctx: &Context<'_>) -> Result<LogLevel> {
        Ok(api(ctx)?.context.loglevel.get())
    }
}

/// Allow admin to manage the node
pub(crate) struct ServerAdminMutation;

#[Object]
impl ServerAdminMutation {
    /// Set the node's log level (not_supported without a reloadable log filter)
    async fn set_loglevel(&self, ctx: &Context<'_>, level: LogLevel) -> Result<String> {
        let api = api(ctx)?;
        api.context
            .loglevel
            .set(level)
            .map_err(|reason| error(ErrorCode::NotSupported, reason))?;
        tracing::info!(?level, "log level set by the admin API");
        Ok("Log level successfully set.".to_string())
    }

    /// Stop the node
    async fn stop(&self, ctx: &Context<'_>) -> Result<String> {
        let api = api(ctx)?;
        tracing::info!("stop requested by the admin API");
        api.stop.send_replace(true);
        Ok("Stop scheduled".to_string())
    }

    /// Leave the cluster: a graceful stop of this node (clients are told
    /// `system-shutdown` and reconnect to the others; the node leaves the
    /// tables and the registry). Bream has no running-but-detached state.
    async fn leave_cluster(&self, ctx: &Context<'_>) -> Result<String> {
        let api = api(ctx)?;
        if api.context.cluster.is_none() {
            return Err(error(
                ErrorCode::NotSupported,
                "this node runs alone: [internal_databases.cets] is not configured",
            ));
        }
        tracing::info!("leaving the cluster, requested by the admin API");
        api.stop.send_replace(true);
        Ok(format!(
            "The node {} is leaving the cluster",
            api.context.node_name
        ))
    }
}
