//! The supervisor actor: carries out the plans of [`super::plan`] on real children.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, Message, RpcReplyPort, SpawnErr,
    SupervisionEvent,
};
use tokio::sync::broadcast;

use super::dynamic::DynamicMode;
use super::events::{emit, SupervisorEvent};
use super::handle::{ChildCounts, ChildInfo, ChildSelector, SupervisorError, SupervisorRef};
use super::intensity::RestartIntensity;
use super::plan::{plan_exit, ChildView, ExitPlan};
use super::shutdown::shutdown_child;
use super::spec::{ChildId, ChildKind, ChildSpec, StartError, Strategy, SupervisorSpec};
use crate::call::is_alive_status;
use crate::exit::ExitReason;

/// The reason string a supervisor exits with when it gives up.
pub const INTENSITY_REACHED_REASON: &str = "restart intensity reached";

/// Requests to a supervisor; use [`SupervisorRef`]'s methods rather than sending these.
pub enum SupervisorMsg {
    /// `supervisor:start_child/2` with a spec.
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// `supervisor:start_child/2` on a dynamic supervisor: arguments for the template.
    StartDynamicChild(
        super::dynamic::DynArgs,
        RpcReplyPort<Result<ActorCell, SupervisorError>>,
    ),
    /// `supervisor:terminate_child/2`.
    TerminateChild(ChildSelector, RpcReplyPort<Result<(), SupervisorError>>),
    /// `supervisor:restart_child/2`.
    RestartChild(ChildId, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// `supervisor:delete_child/2`.
    DeleteChild(ChildId, RpcReplyPort<Result<(), SupervisorError>>),
    /// `supervisor:which_children/1`.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// `supervisor:count_children/1`.
    CountChildren(RpcReplyPort<ChildCounts>),
    /// The supervisor's name and strategy (what observer shows beside the children).
    Describe(RpcReplyPort<(String, Strategy)>),
    /// The event channel, for a handle made from a bare actor reference.
    Events(RpcReplyPort<broadcast::Sender<SupervisorEvent>>),
    /// Internal: start again the children whose restart failed.
    RetryRestart(Vec<u64>),
    /// Internal: a child was already dead when it was linked.
    LateExit(ActorId),
}

impl Message for SupervisorMsg {}

/// The supervisor actor. Start it with [`Supervisor::start`] or as a child with
/// [`ChildSpec::supervisor`].
pub struct Supervisor;

struct Child {
    id: ChildId,
    spec: ChildSpec,
    actor: Option<ActorCell>,
    /// Times it was started again after its first start.
    restarts: u32,
}

/// A supervisor's state: its children in start order, and indexes into them.
pub struct SupervisorState {
    name: String,
    strategy: Strategy,
    intensity: RestartIntensity,
    dynamic: Option<DynamicMode>,
    children: BTreeMap<u64, Child>,
    by_id: HashMap<ChildId, u64>,
    by_actor: HashMap<ActorId, u64>,
    next_seq: u64,
    events: broadcast::Sender<SupervisorEvent>,
}

impl Supervisor {
    /// Starts a supervisor with no parent, its children in order.
    pub async fn start(spec: SupervisorSpec) -> Result<SupervisorRef, StartError> {
        let events = spec.events.clone();
        let (actor, _) = Actor::spawn(None, Supervisor, spec)
            .await
            .map_err(start_error)?;
        Ok(SupervisorRef::new(actor, events))
    }

    /// Starts a supervisor as a child of `parent`.
    pub async fn start_linked(
        spec: SupervisorSpec,
        parent: ActorCell,
    ) -> Result<SupervisorRef, StartError> {
        let events = spec.events.clone();
        let (actor, _) = Actor::spawn_linked(None, Supervisor, spec, parent)
            .await
            .map_err(start_error)?;
        Ok(SupervisorRef::new(actor, events))
    }
}

fn start_error(error: SpawnErr) -> StartError {
    match error {
        SpawnErr::StartupFailed(inner) => match inner.downcast::<StartError>() {
            Ok(start_error) => *start_error,
            Err(other) => StartError::Spawn(other.to_string()),
        },
        other => StartError::from(other),
    }
}

impl SupervisorState {
    fn views(&self) -> Vec<ChildView> {
        self.children
            .iter()
            .map(|(seq, child)| ChildView {
                seq: *seq,
                restart: child.spec.restart,
                running: child.actor.is_some(),
            })
            .collect()
    }

    fn insert(&mut self, id: ChildId, spec: ChildSpec) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(id.clone(), seq);
        self.children.insert(
            seq,
            Child {
                id,
                spec,
                actor: None,
                restarts: 0,
            },
        );
        seq
    }

    fn remove(&mut self, seq: u64) {
        if let Some(child) = self.children.remove(&seq) {
            self.by_id.remove(&child.id);
            if let Some(actor) = child.actor {
                self.by_actor.remove(&actor.get_id());
            }
        }
    }

    /// Starts child `seq`; `restarted` picks the event reported.
    async fn start_child(
        &mut self,
        myself: &ActorCell,
        seq: u64,
        restarted: bool,
    ) -> Result<ActorCell, StartError> {
        let Some(child) = self.children.get(&seq) else {
            return Err(StartError::Spawn(format!("no child at position {seq}")));
        };
        let id = child.id.clone();
        let started = (child.spec.start)(myself.clone()).await;
        let actor = match started {
            Ok(actor) => actor,
            Err(error) => {
                let error = match error {
                    StartError::Spawn(reason) => StartError::ChildFailed {
                        child: id.clone(),
                        reason,
                    },
                    other => other,
                };
                emit(
                    &self.events,
                    SupervisorEvent::ChildStartFailed {
                        supervisor: self.name.clone(),
                        child: id,
                        error: error.to_string(),
                    },
                );
                return Err(error);
            }
        };
        if actor.try_get_supervisor().map(|parent| parent.get_id()) != Some(myself.get_id()) {
            actor.link(myself.clone());
            if !is_alive_status(actor.get_status()) {
                let _ = myself.send_message(SupervisorMsg::LateExit(actor.get_id()));
            }
        }
        self.by_actor.insert(actor.get_id(), seq);
        if let Some(child) = self.children.get_mut(&seq) {
            child.actor = Some(actor.clone());
            if restarted {
                child.restarts = child.restarts.saturating_add(1);
            }
        }
        let event = if restarted {
            SupervisorEvent::ChildRestarted {
                supervisor: self.name.clone(),
                child: id,
                actor: actor.get_id(),
            }
        } else {
            SupervisorEvent::ChildStarted {
                supervisor: self.name.clone(),
                child: id,
                actor: actor.get_id(),
            }
        };
        emit(&self.events, event);
        Ok(actor)
    }

    /// Stops child `seq` as its spec says, if it runs.
    async fn terminate(&mut self, seq: u64) {
        let Some(child) = self.children.get_mut(&seq) else {
            return;
        };
        let Some(actor) = child.actor.take() else {
            return;
        };
        let shutdown = child.spec.shutdown;
        let id = child.id.clone();
        self.by_actor.remove(&actor.get_id());
        shutdown_child(&actor, shutdown).await;
        emit(
            &self.events,
            SupervisorEvent::ChildTerminated {
                supervisor: self.name.clone(),
                child: id,
                actor: actor.get_id(),
            },
        );
    }

    /// Stops every child, last started first.
    async fn terminate_all(&mut self) {
        let running: Vec<u64> = self
            .children
            .iter()
            .rev()
            .filter(|(_, child)| child.actor.is_some())
            .map(|(seq, _)| *seq)
            .collect();
        for seq in running {
            self.terminate(seq).await;
        }
    }

    /// Gives up: stops the children in reverse and reports why the supervisor exits.
    async fn escalate(&mut self) -> ActorProcessingErr {
        emit(
            &self.events,
            SupervisorEvent::IntensityReached {
                supervisor: self.name.clone(),
                restarts_max: self.intensity.restarts_max(),
                period: self.intensity.period(),
            },
        );
        self.terminate_all().await;
        let reason = ExitReason::Error(INTENSITY_REACHED_REASON.to_string());
        emit(
            &self.events,
            SupervisorEvent::SupervisorStopped {
                supervisor: self.name.clone(),
                reason,
            },
        );
        INTENSITY_REACHED_REASON.into()
    }

    async fn child_exited(
        &mut self,
        myself: &ActorCell,
        seq: u64,
        actor: ActorId,
        reason: ExitReason,
    ) -> Result<(), ActorProcessingErr> {
        let Some(child) = self.children.get_mut(&seq) else {
            return Ok(());
        };
        child.actor = None;
        emit(
            &self.events,
            SupervisorEvent::ChildExited {
                supervisor: self.name.clone(),
                child: child.id.clone(),
                actor,
                reason: reason.clone(),
            },
        );
        let plan = plan_exit(
            self.strategy,
            &self.views(),
            seq,
            &reason,
            self.dynamic.is_some(),
        );
        match plan {
            ExitPlan::Keep => Ok(()),
            ExitPlan::Remove => {
                self.remove(seq);
                Ok(())
            }
            ExitPlan::Restart {
                stop,
                remove,
                start,
            } => {
                if self.intensity.record(Instant::now()).is_err() {
                    return Err(self.escalate().await);
                }
                for sibling in stop {
                    self.terminate(sibling).await;
                }
                for sibling in remove {
                    self.remove(sibling);
                }
                self.start_in_order(myself, start).await;
                Ok(())
            }
        }
    }

    /// Starts `seqs` in order; on a failure, asks itself to retry from there (counted as
    /// another restart, as OTP does).
    async fn start_in_order(&mut self, myself: &ActorCell, seqs: Vec<u64>) {
        for (index, seq) in seqs.iter().enumerate() {
            let runs = self
                .children
                .get(seq)
                .is_none_or(|child| child.actor.is_some());
            if runs {
                continue;
            }
            if self.start_child(myself, *seq, true).await.is_err() {
                let rest = seqs[index..].to_vec();
                let _ = myself.send_message(SupervisorMsg::RetryRestart(rest));
                return;
            }
        }
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        spec: SupervisorSpec,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = SupervisorState {
            name: spec.name.clone(),
            strategy: spec.strategy,
            intensity: RestartIntensity::new(spec.restarts_max, spec.restart_period),
            dynamic: spec.dynamic.clone(),
            children: BTreeMap::new(),
            by_id: HashMap::new(),
            by_actor: HashMap::new(),
            next_seq: 1,
            events: spec.events.clone(),
        };
        let cell = myself.get_cell();
        for child in spec.children {
            if state.by_id.contains_key(&child.id) {
                state.terminate_all().await;
                return Err(Box::new(StartError::ChildFailed {
                    child: child.id.clone(),
                    reason: "duplicate child id".into(),
                }));
            }
            let seq = state.insert(child.id.clone(), child);
            if let Err(error) = state.start_child(&cell, seq, false).await {
                state.terminate_all().await;
                return Err(Box::new(error));
            }
        }
        if spec.register {
            if let Err(error) = crate::registry::register(spec.name.clone(), &cell) {
                state.terminate_all().await;
                return Err(Box::new(StartError::Spawn(error.to_string())));
            }
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop (our parent's shutdown, an application stop): children go in reverse
        // start order, each given its shutdown time. ractor would kill them all at once after
        // this returns.
        state.terminate_all().await;
        emit(
            &state.events,
            SupervisorEvent::SupervisorStopped {
                supervisor: state.name.clone(),
                reason: ExitReason::Shutdown,
            },
        );
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cell = myself.get_cell();
        match message {
            SupervisorMsg::StartChild(spec, reply) => {
                let result = if state.dynamic.is_some() {
                    Err(SupervisorError::Dynamic)
                } else if state.by_id.contains_key(&spec.id) {
                    Err(SupervisorError::AlreadyPresent(spec.id.clone()))
                } else {
                    let seq = state.insert(spec.id.clone(), spec);
                    let started = state.start_child(&cell, seq, false).await;
                    if started.is_err() {
                        state.remove(seq);
                    }
                    started.map_err(SupervisorError::Start)
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::StartDynamicChild(args, reply) => {
                let result = match &state.dynamic {
                    None => Err(SupervisorError::NotDynamic),
                    Some(mode) if mode.is_full(state.by_actor.len()) => {
                        Err(SupervisorError::MaxChildren(mode.max_children.unwrap_or(0)))
                    }
                    Some(mode) => {
                        let seq = state.next_seq;
                        let id = format!("{}-{seq}", state.name);
                        let spec = mode.child_spec(id.clone(), args);
                        let seq = state.insert(id, spec);
                        let started = state.start_child(&cell, seq, false).await;
                        if started.is_err() {
                            state.remove(seq);
                        }
                        started.map_err(SupervisorError::Start)
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::TerminateChild(selector, reply) => {
                let seq = match &selector {
                    ChildSelector::Id(id) => state.by_id.get(id).copied(),
                    ChildSelector::Actor(actor) => state.by_actor.get(actor).copied(),
                };
                let result = match seq {
                    None => Err(SupervisorError::NotFound(selector.to_string())),
                    Some(seq) => {
                        state.terminate(seq).await;
                        let temporary = state.children.get(&seq).is_some_and(|child| {
                            child.spec.restart == super::spec::Restart::Temporary
                        });
                        if state.dynamic.is_some() || temporary {
                            state.remove(seq);
                        }
                        Ok(())
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let result = match state.by_id.get(&id).copied() {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(_) if state.dynamic.is_some() => Err(SupervisorError::Dynamic),
                    Some(seq) => match state.children.get(&seq) {
                        Some(child) if child.actor.is_some() => Err(SupervisorError::Running(id)),
                        _ => state
                            .start_child(&cell, seq, true)
                            .await
                            .map_err(SupervisorError::Start),
                    },
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::DeleteChild(id, reply) => {
                let result = match state.by_id.get(&id).copied() {
                    None => Err(SupervisorError::NotFound(id)),
                    Some(_) if state.dynamic.is_some() => Err(SupervisorError::Dynamic),
                    Some(seq) => match state.children.get(&seq) {
                        Some(child) if child.actor.is_some() => Err(SupervisorError::Running(id)),
                        _ => {
                            state.remove(seq);
                            Ok(())
                        }
                    },
                };
                let _ = reply.send(result);
            }
            SupervisorMsg::WhichChildren(reply) => {
                let children = state
                    .children
                    .values()
                    .map(|child| ChildInfo {
                        id: child.id.clone(),
                        actor: child.actor.clone(),
                        kind: child.spec.kind,
                        restart: child.spec.restart,
                        restarts: child.restarts,
                    })
                    .collect();
                let _ = reply.send(children);
            }
            SupervisorMsg::Describe(reply) => {
                let _ = reply.send((state.name.clone(), state.strategy));
            }
            SupervisorMsg::CountChildren(reply) => {
                let mut counts = ChildCounts::default();
                for child in state.children.values() {
                    counts.specs += 1;
                    counts.active += usize::from(child.actor.is_some());
                    match child.spec.kind {
                        ChildKind::Worker => counts.workers += 1,
                        ChildKind::Supervisor => counts.supervisors += 1,
                    }
                }
                let _ = reply.send(counts);
            }
            SupervisorMsg::Events(reply) => {
                let _ = reply.send(state.events.clone());
            }
            SupervisorMsg::RetryRestart(seqs) => {
                if state.intensity.record(Instant::now()).is_err() {
                    return Err(state.escalate().await);
                }
                state.start_in_order(&cell, seqs).await;
            }
            SupervisorMsg::LateExit(actor) => {
                if let Some(seq) = state.by_actor.remove(&actor) {
                    let reason = ExitReason::Error("exited before it was supervised".into());
                    state.child_exited(&cell, seq, actor, reason).await?;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let Some((child, reason)) = ExitReason::from_event(&event) else {
            return Ok(());
        };
        // Children the supervisor stopped itself are no longer indexed: their exit is expected.
        if let Some(seq) = state.by_actor.remove(&child.get_id()) {
            state
                .child_exited(&myself.get_cell(), seq, child.get_id(), reason)
                .await?;
        }
        Ok(())
    }
}
