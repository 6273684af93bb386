//! The admin `cets` category: the cluster as this node sees it, with
//! MongooseIM 6's field names (`priv/graphql/schemas/admin/cets.gql`).
//!
//! On a node that runs alone (no `[internal_databases.cets]`) both queries
//! fail with the code `not_supported`.

use async_graphql::{Context, Object, SimpleObject};

use super::api_context;
use crate::api::graphql::error;
use crate::api::ErrorCode;
use crate::cluster::ClusterInfo;

/// Cluster state, as `cets { systemInfo }` reports it.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub(crate) struct SystemInfo {
    /// Nodes connected and up, this one included.
    pub available_nodes: Vec<String>,
    /// Nodes discovery lists that are not connected.
    pub unavailable_nodes: Vec<String>,
    /// Nodes every table here has joined, this one included.
    pub joined_nodes: Vec<String>,
    /// Nodes discovery lists, this one included.
    pub discovered_nodes: Vec<String>,
    /// Nodes connected but not listed by discovery.
    pub remote_nodes_without_disco: Vec<String>,
    /// Nodes connected and discovered whose tables have not joined this one's.
    pub conflict_nodes: Vec<String>,
    /// Tables whose member lists disagree between nodes, or that have not
    /// joined every node discovered.
    pub conflict_tables: Vec<String>,
    /// Whether the last discovery poll worked.
    pub discovery_works: bool,
    /// Whether the node is ready for clients (every table joined every node discovered).
    pub ready: bool,
}

/// One replicated table, as `cets { tableInfo }` reports it.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub(crate) struct TableInfo {
    /// The table.
    pub table_name: String,
    /// Bytes the local copy takes.
    pub memory: u64,
    /// Records in the local copy.
    pub size: u64,
    /// Its members, this node included.
    pub nodes: Vec<String>,
    /// The member leader operations go to.
    pub leader: String,
}

impl SystemInfo {
    /// From the cluster's status.
    pub(crate) fn from_info(info: &ClusterInfo) -> SystemInfo {
        let cluster = &info.replication.cluster;
        let mut available: Vec<String> = cluster.connected.clone();
        available.push(info.node.clone());
        available.sort();
        let mut discovered: Vec<String> = cluster.discovered.clone();
        if !discovered.contains(&info.node) {
            discovered.push(info.node.clone());
        }
        discovered.sort();
        let mut joined: Option<Vec<String>> = None;
        for table in &info.replication.tables {
            joined = Some(match joined {
                None => table.joined.clone(),
                Some(so_far) => so_far
                    .into_iter()
                    .filter(|node| table.joined.contains(node))
                    .collect(),
            });
        }
        let joined = joined.unwrap_or_else(|| vec![info.node.clone()]);
        let without_disco = cluster
            .connected
            .iter()
            .filter(|node| !cluster.discovered.contains(node))
            .cloned()
            .collect();
        // Connected but not joined here, or disagreeing with this node on a
        // table's members.
        let mut conflict_nodes: Vec<String> = cluster
            .connected
            .iter()
            .filter(|node| !joined.contains(node))
            .chain(info.replication.disagreeing_nodes.iter())
            .cloned()
            .collect();
        conflict_nodes.sort();
        conflict_nodes.dedup();
        SystemInfo {
            available_nodes: available,
            unavailable_nodes: cluster.unavailable.clone(),
            joined_nodes: joined,
            discovered_nodes: discovered,
            remote_nodes_without_disco: without_disco,
            conflict_nodes,
            conflict_tables: {
                let mut tables: Vec<String> = info
                    .replication
                    .disagreeing_tables
                    .iter()
                    .chain(info.replication.unjoined.iter())
                    .cloned()
                    .collect();
                tables.sort();
                tables.dedup();
                tables
            },
            discovery_works: cluster.discovery_works,
            ready: info.ready,
        }
    }
}

/// `cets` queries.
pub(crate) struct CetsAdminQuery;

fn not_clustered() -> async_graphql::Error {
    error(
        ErrorCode::NotSupported,
        "this node runs alone: [internal_databases.cets] is not configured",
    )
}

#[Object]
impl CetsAdminQuery {
    /// Get information about the nodes of the cluster
    async fn system_info(&self, ctx: &Context<'_>) -> async_graphql::Result<SystemInfo> {
        let context = api_context(ctx)?;
        let cluster = context.cluster.as_ref().ok_or_else(not_clustered)?;
        Ok(SystemInfo::from_info(&cluster.status().await))
    }

    /// Get information about the replicated tables
    async fn table_info(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TableInfo>> {
        let context = api_context(ctx)?;
        let cluster = context.cluster.as_ref().ok_or_else(not_clustered)?;
        let info = cluster.status().await;
        Ok(info
            .replication
            .tables
            .iter()
            .map(|table| TableInfo {
                table_name: table.name.clone(),
                memory: table.memory_bytes as u64,
                size: table.size as u64,
                nodes: table.joined.clone(),
                leader: table.leader.clone(),
            })
            .collect())
    }
}
