//! The admin schema's `debug` category (Bream's own; MongooseIM has none): the node's
//! supervision tree as observer shows it, and live fault injection by the names the tree
//! shows — kill, crash, delay or drop a process's messages, cut or heal the link to a peer.
//!
//! Every field, the tree included, is refused with `fault_injection_disabled` unless the
//! node runs with `[debug] fault_injection = true`: the tree names every process, which is
//! what an attacker holding the admin credentials would need next. A name the tree does not
//! show is `no_such_process`; an actor that cannot take an injected fault (one not spawned
//! through the fault kit) is `not_supported`.

use std::time::Duration;

use async_graphql::{Context, Json, Object};
use bream_runtime::fault::{self, FaultError};
use bream_runtime::ractor::ActorCell;
use bream_runtime::supervisor::{ChildKind, ProcessNode, Strategy};
use serde_json::{json, Value};

use super::api;
use crate::api::graphql::{error, Result};
use crate::api::ErrorCode;

/// The longest delay `delayMessages` injects per message: a minute, so a typo cannot park a
/// process for hours.
pub(crate) const DELAY_MAX: Duration = Duration::from_secs(60);

/// The most messages one `delayMessages` or `dropMessages` call affects.
pub(crate) const MESSAGES_MAX: u32 = 1_000_000;

/// The checked context of a `debug` field: fault injection is on and the tree is there.
fn processes<'a>(ctx: &Context<'a>) -> Result<&'a crate::server::tree::Processes> {
    let context = &api(ctx)?.context;
    if !context.fault_injection {
        return Err(error(
            ErrorCode::FaultInjectionDisabled,
            "fault injection is disabled on this node ([debug] fault_injection = false)",
        ));
    }
    context
        .processes
        .as_ref()
        .ok_or_else(|| error(ErrorCode::NotSupported, "no supervision tree runs here"))
}

async fn tree(ctx: &Context<'_>) -> Result<ProcessNode> {
    processes(ctx)?.tree().await.ok_or_else(|| {
        error(
            ErrorCode::InternalError,
            "the supervision tree is not running",
        )
    })
}

/// The running actor named `name` in the tree.
async fn process(ctx: &Context<'_>, name: &str) -> Result<ActorCell> {
    let tree = tree(ctx).await?;
    let known = tree.find(name).ok_or_else(|| {
        error(
            ErrorCode::NoSuchProcess,
            format!("no process {name:?} in the supervision tree"),
        )
    })?;
    known.actor.clone().ok_or_else(|| {
        error(
            ErrorCode::NoSuchProcess,
            format!("process {name:?} is not running"),
        )
    })
}

fn fault_error(name: &str, failure: FaultError) -> async_graphql::Error {
    match failure {
        FaultError::NotInjectable(_) => error(
            ErrorCode::NotSupported,
            format!("process {name:?} cannot take injected faults (only kill works on it)"),
        ),
        // It ended between the lookup and the fault.
        other => error(ErrorCode::NoSuchProcess, format!("{name}: {other}")),
    }
}

fn count(name: &str, value: i32) -> Result<u32> {
    u32::try_from(value)
        .ok()
        .filter(|count| (1..=MESSAGES_MAX).contains(count))
        .ok_or_else(|| {
            error(
                ErrorCode::BadRequest,
                format!("{name} must be between 1 and {MESSAGES_MAX}, not {value}"),
            )
        })
}

fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::OneForOne => "one_for_one",
        Strategy::OneForAll => "one_for_all",
        Strategy::RestForOne => "rest_for_one",
    }
}

/// A tree entry as JSON: `{name, kind, strategy, restarts, running, children}`, and
/// `childrenOmitted` where a large supervisor's children were cut at
/// [`bream_runtime::supervisor::TREE_CHILDREN_MAX`].
pub(crate) fn tree_json(node: &ProcessNode) -> Value {
    let mut entry = json!({
        "name": node.name,
        "kind": match node.kind {
            ChildKind::Supervisor => "supervisor",
            ChildKind::Worker => "worker",
        },
        "strategy": node.strategy.map(strategy_name),
        "restarts": node.restarts,
        "running": node.actor.is_some(),
        "children": node.children.iter().map(tree_json).collect::<Vec<_>>(),
    });
    if node.children_omitted > 0 {
        entry["childrenOmitted"] = json!(node.children_omitted);
    }
    entry
}

/// The node's processes
pub(crate) struct DebugAdminQuery;

#[Object]
impl DebugAdminQuery {
    /// The node's supervision tree: each entry {name, kind, strategy, restarts, running,
    /// children}, names being paths from the root
    async fn supervision_tree(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        Ok(Json(tree_json(&tree(ctx).await?)))
    }
}

/// Fault injection into the node's processes and links
pub(crate) struct DebugAdminMutation;

#[Object]
impl DebugAdminMutation {
    /// Kill a process at once (its cleanup does not run); its supervisor restarts it
    async fn kill_process(&self, ctx: &Context<'_>, name: String) -> Result<String> {
        let actor = process(ctx, &name).await?;
        fault::kill(&actor).map_err(|failure| fault_error(&name, failure))?;
        tracing::warn!(process = %name, "debug: process killed");
        Ok(format!("Killed {name}"))
    }

    /// Make a process's next message panic its handler
    async fn panic_process(&self, ctx: &Context<'_>, name: String) -> Result<String> {
        let actor = process(ctx, &name).await?;
        fault::panic_next(&actor).map_err(|failure| fault_error(&name, failure))?;
        tracing::warn!(process = %name, "debug: process will panic on its next message");
        Ok(format!("{name} panics on its next message"))
    }

    /// Hold each of a process's next count messages for the given milliseconds
    async fn delay_messages(
        &self,
        ctx: &Context<'_>,
        name: String,
        count: i32,
        milliseconds: i32,
    ) -> Result<String> {
        let messages = self::count("count", count)?;
        let delay = u64::try_from(milliseconds)
            .ok()
            .map(Duration::from_millis)
            .filter(|delay| *delay <= DELAY_MAX)
            .ok_or_else(|| {
                error(
                    ErrorCode::BadRequest,
                    format!(
                        "milliseconds must be between 0 and {}, not {milliseconds}",
                        DELAY_MAX.as_millis()
                    ),
                )
            })?;
        let actor = process(ctx, &name).await?;
        fault::delay_next(&actor, messages, delay)
            .map_err(|failure| fault_error(&name, failure))?;
        tracing::warn!(process = %name, messages, ?delay, "debug: messages delayed");
        Ok(format!(
            "{name}: next {messages} messages delayed {milliseconds} ms each"
        ))
    }

    /// Lose a process's next count messages
    async fn drop_messages(&self, ctx: &Context<'_>, name: String, count: i32) -> Result<String> {
        let messages = self::count("count", count)?;
        let actor = process(ctx, &name).await?;
        fault::drop_next(&actor, messages).map_err(|failure| fault_error(&name, failure))?;
        tracing::warn!(process = %name, messages, "debug: messages dropped");
        Ok(format!("{name}: next {messages} messages dropped"))
    }

    /// Cut this node off from a peer, as a network partition would
    async fn cut_link(&self, ctx: &Context<'_>, node: String) -> Result<String> {
        processes(ctx)?;
        let cluster = cluster(ctx)?;
        if !cluster.node().nodes().contains(&node) {
            return Err(error(
                ErrorCode::NotFound,
                format!("{node} is not a node this one is connected to"),
            ));
        }
        fault::cut(cluster.node(), &node);
        tracing::warn!(peer = %node, "debug: link cut");
        Ok(format!("Link to {node} cut"))
    }

    /// End a cut: discovery reconnects the nodes and the tables merge
    async fn heal_link(&self, ctx: &Context<'_>, node: String) -> Result<String> {
        processes(ctx)?;
        let cluster = cluster(ctx)?;
        if !fault::heal(cluster.node(), &node) {
            return Err(error(
                ErrorCode::NotFound,
                format!("the link to {node} is not cut"),
            ));
        }
        tracing::warn!(peer = %node, "debug: link healed");
        Ok(format!("Link to {node} healed"))
    }
}

fn cluster<'a>(ctx: &Context<'a>) -> Result<&'a std::sync::Arc<crate::cluster::Cluster>> {
    api(ctx)?.context.cluster.as_ref().ok_or_else(|| {
        error(
            ErrorCode::NotSupported,
            "this node runs alone: there is no link to cut",
        )
    })
}
