//! [`SupervisorRef`]: the API of a running supervisor (OTP's `supervisor` functions).

use std::fmt;
use std::time::Duration;

use ractor::{ActorCell, ActorId, ActorRef, RpcReplyPort};
use tokio::sync::broadcast;

use super::events::SupervisorEvent;
use super::server::SupervisorMsg;
use super::spec::{ChildId, ChildKind, ChildSpec, Restart, StartError, Strategy};
use crate::call::{call_timeout, CallError};

/// How long a request to a supervisor may take. OTP waits forever; a request here may have to
/// wait for children to start or shut down, so the bound is generous.
pub const SUPERVISOR_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a supervisor request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// No child with that id (or actor).
    #[error("no child {0}")]
    NotFound(String),
    /// A child with that id exists already.
    #[error("child {0:?} already present")]
    AlreadyPresent(ChildId),
    /// The child runs; terminate it first.
    #[error("child {0:?} is running")]
    Running(ChildId),
    /// The operation is for dynamic supervisors.
    #[error("not a dynamic supervisor")]
    NotDynamic,
    /// The operation is not available on a dynamic supervisor.
    #[error("not available on a dynamic supervisor")]
    Dynamic,
    /// The dynamic supervisor already runs its maximum of children.
    #[error("max_children ({0}) reached")]
    MaxChildren(usize),
    /// The child failed to start.
    #[error(transparent)]
    Start(StartError),
    /// The supervisor did not answer.
    #[error("supervisor: {0}")]
    Call(#[from] CallError),
}

/// Picks a child for `terminate_child`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildSelector {
    /// By id (static supervisors).
    Id(ChildId),
    /// By actor (either kind).
    Actor(ActorId),
}

impl fmt::Display for ChildSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildSelector::Id(id) => write!(f, "{id:?}"),
            ChildSelector::Actor(actor) => write!(f, "with actor {actor}"),
        }
    }
}

/// One entry of `which_children`.
#[derive(Clone, Debug)]
pub struct ChildInfo {
    /// The child's id.
    pub id: ChildId,
    /// Its actor, if it runs.
    pub actor: Option<ActorCell>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
    /// How many times it was started again after its first start.
    pub restarts: u32,
}

/// The answer of `count_children`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Child specs held.
    pub specs: usize,
    /// Children running.
    pub active: usize,
    /// Specs of supervisors.
    pub supervisors: usize,
    /// Specs of workers.
    pub workers: usize,
}

/// A running supervisor.
#[derive(Clone)]
pub struct SupervisorRef {
    actor: ActorRef<SupervisorMsg>,
    events: broadcast::Sender<SupervisorEvent>,
}

impl fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SupervisorRef")
            .field(&self.actor.get_id())
            .finish()
    }
}

impl SupervisorRef {
    pub(crate) fn new(
        actor: ActorRef<SupervisorMsg>,
        events: broadcast::Sender<SupervisorEvent>,
    ) -> Self {
        SupervisorRef { actor, events }
    }

    /// A handle on the supervisor running as `cell` (from `which_children` or the registry).
    pub async fn from_cell(cell: ActorCell) -> Result<SupervisorRef, SupervisorError> {
        if cell.is_message_type_of::<SupervisorMsg>() == Some(false) {
            return Err(SupervisorError::NotFound(format!(
                "supervisor: actor {} is not a supervisor",
                cell.get_id()
            )));
        }
        let actor: ActorRef<SupervisorMsg> = cell.into();
        let events = call_timeout(&actor, SupervisorMsg::Events, SUPERVISOR_CALL_TIMEOUT).await?;
        Ok(SupervisorRef { actor, events })
    }

    /// The supervisor's actor.
    pub fn cell(&self) -> ActorCell {
        self.actor.get_cell()
    }

    /// The supervisor's typed actor reference.
    pub fn actor(&self) -> &ActorRef<SupervisorMsg> {
        &self.actor
    }

    /// Subscribes to the supervisor's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.events.subscribe()
    }

    pub(crate) async fn request<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, SupervisorError> {
        Ok(call_timeout(&self.actor, build, SUPERVISOR_CALL_TIMEOUT).await?)
    }

    pub(crate) async fn terminate(&self, selector: ChildSelector) -> Result<(), SupervisorError> {
        self.request(|reply| SupervisorMsg::TerminateChild(selector, reply))
            .await?
    }

    /// Adds a child after the others and starts it; the spec is kept only if it starts.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ActorCell, SupervisorError> {
        self.request(|reply| SupervisorMsg::StartChild(spec, reply))
            .await?
    }

    /// Stops a child as its spec says; its spec is kept (unless temporary) for
    /// [`SupervisorRef::restart_child`].
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.terminate(ChildSelector::Id(id.to_string())).await
    }

    /// Starts a terminated child again.
    pub async fn restart_child(&self, id: &str) -> Result<ActorCell, SupervisorError> {
        let id = id.to_string();
        self.request(|reply| SupervisorMsg::RestartChild(id, reply))
            .await?
    }

    /// Forgets a terminated child's spec.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id = id.to_string();
        self.request(|reply| SupervisorMsg::DeleteChild(id, reply))
            .await?
    }

    /// The children, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.request(SupervisorMsg::WhichChildren).await
    }

    /// The supervisor's name and strategy.
    pub async fn describe(&self) -> Result<(String, Strategy), SupervisorError> {
        self.request(SupervisorMsg::Describe).await
    }

    /// How many children there are, by kind.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.request(SupervisorMsg::CountChildren).await
    }

    /// Stops the supervisor in order: children in reverse start order, each given its shutdown
    /// time. Waits at most `timeout`, then kills what is left.
    /// A supervisor that has already ended (killed with its parent) is left as it is.
    pub async fn shutdown(&self, timeout: Duration) {
        if self.actor.get_status() == ractor::ActorStatus::Stopped {
            return;
        }
        let stopped = self
            .actor
            .stop_and_wait(
                crate::exit::ExitReason::Shutdown.to_stop_reason(),
                Some(timeout),
            )
            .await;
        if stopped.is_err() && self.actor.get_status() != ractor::ActorStatus::Stopped {
            tracing::warn!(supervisor = %self.actor.get_id(), ?timeout, "shutdown timed out, killing the tree");
            let _ = self
                .actor
                .kill_and_wait(Some(super::shutdown::KILL_WAIT_MAX))
                .await;
        }
    }
}
