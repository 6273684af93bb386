//! The admin schema's `stat` category (MongooseIM's `priv/graphql/schemas/admin/stats.gql`):
//! global and per-domain statistics.

use async_graphql::{Context, Object, SimpleObject};

use super::api;
use crate::api::graphql::{error, storage_error, DomainName, Result};
use crate::api::ErrorCode;

/// Statistics of the whole server (one node, so far)
#[derive(SimpleObject)]
pub(crate) struct GlobalStats {
    /// Uptime of the node
    uptime_seconds: Option<i64>,
    /// Number of registered users
    registered_users: Option<i64>,
    /// Number of online users on the node
    online_users_node: Option<i64>,
    /// Number of online users
    online_users: Option<i64>,
    /// Number of all incoming s2s connections (no s2s yet: 0)
    #[graphql(name = "incomingS2S")]
    incoming_s2s: Option<i64>,
    /// Number of all outgoing s2s connections (no s2s yet: 0)
    #[graphql(name = "outgoingS2S")]
    outgoing_s2s: Option<i64>,
}

/// Statistics of one domain
#[derive(SimpleObject)]
pub(crate) struct DomainStats {
    /// Number of registered users on a given domain
    registered_users: Option<i64>,
    /// Number of online users on a given domain
    online_users: Option<i64>,
}

/// Allow admin to get statistics
pub(crate) struct StatsAdminQuery;

fn count(value: usize) -> Option<i64> {
    Some(i64::try_from(value).unwrap_or(i64::MAX))
}

#[Object]
impl StatsAdminQuery {
    /// Get statistics of the server
    async fn global_stats(&self, ctx: &Context<'_>) -> Result<GlobalStats> {
        let api = api(ctx)?;
        let mut registered: u64 = 0;
        for domain in api.context.router.domains() {
            registered += api
                .context
                .storage
                .count_users(domain)
                .await
                .map_err(storage_error)?;
        }
        let online = api
            .context
            .router
            .sessions()
            .count()
            .map_err(|reason| error(ErrorCode::InternalError, reason.to_string()))?;
        let uptime = api.context.started_at.elapsed().as_secs();
        Ok(GlobalStats {
            uptime_seconds: Some(i64::try_from(uptime).unwrap_or(i64::MAX)),
            registered_users: Some(i64::try_from(registered).unwrap_or(i64::MAX)),
            online_users_node: count(online),
            online_users: count(online),
            incoming_s2s: Some(0),
            outgoing_s2s: Some(0),
        })
    }

    /// Get statistics from a specific domain
    async fn domain_stats(&self, ctx: &Context<'_>, domain: DomainName) -> Result<DomainStats> {
        let api = api(ctx)?;
        let domain = api.served_domain(&domain.0)?;
        let registered = api
            .context
            .storage
            .count_users(&domain)
            .await
            .map_err(storage_error)?;
        Ok(DomainStats {
            registered_users: Some(i64::try_from(registered).unwrap_or(i64::MAX)),
            online_users: count(api.sessions(Some(&domain))?.len()),
        })
    }
}
