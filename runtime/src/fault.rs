//! Fault injection: break actors on purpose, to prove that supervision copes.
//!
//! - [`kill`] / [`kill_named`]: kill an actor now (its `post_stop` does not run);
//! - [`exit`]: stop an actor with a chosen [`ExitReason`] (Erlang's `exit(Pid, Reason)`), e.g.
//!   an `Error` to look like a crash or `Normal` to test transient children;
//! - [`panic_next`]: the actor's next message makes its handler panic;
//! - [`delay_next`]: its next `n` messages are each held for a while before being handled;
//! - [`drop_next`]: its next `n` messages are lost. Their reply ports are kept until the actor
//!   stops, so a caller sees what a lost message looks like: a timeout, not an error.
//!
//! - [`cut`] / [`heal`]: a network partition between this node and a peer, and its end
//!   (see [`Node::cut`](crate::node::Node::cut)).
//!
//! The last three actor faults act inside the actor, so they need actors spawned through [`spawn`] or
//! [`spawn_linked`] (which [`crate::supervisor::ChildSpec::actor`] and
//! [`crate::supervisor::ChildTemplate::actor`] use). Others give
//! [`FaultError::NotInjectable`]. When no fault is pending the wrapper costs one atomic load
//! per message.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::exit::ExitReason;
use crate::supervisor::StartError;

/// Messages a [`drop_next`] fault keeps (unhandled) per actor; past this they are released.
pub const DROPPED_KEPT_MAX: usize = 10_000;

/// Why a fault could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// No live actor has that name.
    #[error("no actor registered as {0:?}")]
    NoSuchName(String),
    /// The actor is not alive.
    #[error("no process: actor {0} is not alive")]
    NoProc(ActorId),
    /// The actor was not spawned through [`spawn`] / [`spawn_linked`].
    #[error(
        "actor {0} was not spawned with fault injection (use fault::spawn or ChildSpec::actor)"
    )]
    NotInjectable(ActorId),
}

#[derive(Default)]
struct Pending {
    panic_next: bool,
    delay: Option<(u32, Duration)>,
    drop: u32,
}

impl Pending {
    fn is_empty(&self) -> bool {
        !self.panic_next && self.delay.is_none() && self.drop == 0
    }
}

#[derive(Default)]
struct Faults {
    injectable: HashSet<ActorId>,
    pending: HashMap<ActorId, Pending>,
}

static FAULTS: OnceLock<Mutex<Faults>> = OnceLock::new();
/// How many actors have a pending fault: the fast path skips the table when it is zero.
static PENDING_COUNT: AtomicUsize = AtomicUsize::new(0);

fn faults() -> &'static Mutex<Faults> {
    FAULTS.get_or_init(Default::default)
}

/// Partitions `node` from `peer`: both sides see the other go down by the heartbeat deadline,
/// and stay apart until [`heal`]. See [`Node::cut`](crate::node::Node::cut).
pub fn cut(node: &crate::node::Node, peer: &str) {
    node.cut(peer);
}

/// Ends a [`cut`]: discovery reconnects the two nodes and the replicated tables merge. Whether
/// `peer` was cut.
pub fn heal(node: &crate::node::Node, peer: &str) -> bool {
    node.heal(peer)
}

/// Kills `actor` now.
pub fn kill(actor: &ActorCell) -> Result<(), FaultError> {
    if !crate::call::is_alive_status(actor.get_status()) {
        return Err(FaultError::NoProc(actor.get_id()));
    }
    tracing::info!(actor = %actor.get_id(), "fault injection: kill");
    actor.kill();
    Ok(())
}

/// Kills the actor registered as `name` ([`crate::registry`], or named at spawn).
pub fn kill_named(name: &str) -> Result<ActorCell, FaultError> {
    let actor =
        crate::registry::whereis(name).ok_or_else(|| FaultError::NoSuchName(name.into()))?;
    kill(&actor)?;
    Ok(actor)
}

/// Stops `actor` with `reason` after the message it is handling.
pub fn exit(actor: &ActorCell, reason: ExitReason) -> Result<(), FaultError> {
    if !crate::call::is_alive_status(actor.get_status()) {
        return Err(FaultError::NoProc(actor.get_id()));
    }
    tracing::info!(actor = %actor.get_id(), %reason, "fault injection: exit");
    actor.stop(reason.to_stop_reason());
    Ok(())
}

/// Makes `actor`'s next message panic its handler.
pub fn panic_next(actor: &ActorCell) -> Result<(), FaultError> {
    with_pending(actor, |pending| pending.panic_next = true)
}

/// Holds each of `actor`'s next `count` messages for `delay` before handling it.
pub fn delay_next(actor: &ActorCell, count: u32, delay: Duration) -> Result<(), FaultError> {
    with_pending(actor, |pending| pending.delay = Some((count, delay)))
}

/// Loses `actor`'s next `count` messages.
pub fn drop_next(actor: &ActorCell, count: u32) -> Result<(), FaultError> {
    with_pending(actor, |pending| pending.drop = count)
}

/// Cancels every pending fault on `actor`.
pub fn clear(actor: &ActorCell) {
    if faults().lock().pending.remove(&actor.get_id()).is_some() {
        PENDING_COUNT.fetch_sub(1, Ordering::AcqRel);
    }
}

fn with_pending(actor: &ActorCell, change: impl FnOnce(&mut Pending)) -> Result<(), FaultError> {
    let id = actor.get_id();
    if !crate::call::is_alive_status(actor.get_status()) {
        return Err(FaultError::NoProc(id));
    }
    let mut table = faults().lock();
    if !table.injectable.contains(&id) {
        return Err(FaultError::NotInjectable(id));
    }
    let pending = table.pending.entry(id).or_insert_with(|| {
        PENDING_COUNT.fetch_add(1, Ordering::AcqRel);
        Pending::default()
    });
    change(pending);
    tracing::info!(actor = %id, "fault injection: fault armed");
    Ok(())
}

enum Injected {
    Panic,
    Delay(Duration),
    Drop,
}

fn take_fault(id: ActorId) -> Option<Injected> {
    if PENDING_COUNT.load(Ordering::Acquire) == 0 {
        return None;
    }
    let mut table = faults().lock();
    let pending = table.pending.get_mut(&id)?;
    let fault = if pending.panic_next {
        pending.panic_next = false;
        Injected::Panic
    } else if pending.drop > 0 {
        pending.drop -= 1;
        Injected::Drop
    } else if let Some((count, delay)) = pending.delay {
        pending.delay = (count > 1).then_some((count - 1, delay));
        Injected::Delay(delay)
    } else {
        return None;
    };
    if pending.is_empty() {
        table.pending.remove(&id);
        PENDING_COUNT.fetch_sub(1, Ordering::AcqRel);
    }
    Some(fault)
}

/// Spawns `actor` open to fault injection.
pub async fn spawn<A: Actor>(
    name: Option<String>,
    actor: A,
    args: A::Arguments,
) -> Result<ActorRef<A::Msg>, StartError> {
    let (actor, _) = Actor::spawn(name, Injectable(actor), args).await?;
    Ok(actor)
}

/// Spawns `actor` linked to `supervisor`, open to fault injection.
pub async fn spawn_linked<A: Actor>(
    actor: A,
    args: A::Arguments,
    supervisor: ActorCell,
) -> Result<ActorCell, StartError> {
    let (actor, _) = Actor::spawn_linked(None, Injectable(actor), args, supervisor).await?;
    Ok(actor.get_cell())
}

/// Wraps an actor so faults can be injected into its message handling.
struct Injectable<A>(A);

/// The wrapped actor's state, plus the messages a drop fault swallowed.
struct InjectableState<A: Actor> {
    inner: A::State,
    id: ActorId,
    dropped: Vec<A::Msg>,
}

impl<A: Actor> Drop for InjectableState<A> {
    fn drop(&mut self) {
        let mut table = faults().lock();
        table.injectable.remove(&self.id);
        if table.pending.remove(&self.id).is_some() {
            PENDING_COUNT.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl<A: Actor> Actor for Injectable<A> {
    type Msg = A::Msg;
    type State = InjectableState<A>;
    type Arguments = A::Arguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let id = myself.get_id();
        let inner = self.0.pre_start(myself, args).await?;
        faults().lock().injectable.insert(id);
        Ok(InjectableState {
            inner,
            id,
            dropped: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.0.post_start(myself, &mut state.inner).await
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.0.post_stop(myself, &mut state.inner).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match take_fault(state.id) {
            None => {}
            Some(Injected::Panic) => panic!("fault injection: panic on message"),
            Some(Injected::Drop) => {
                if state.dropped.len() < DROPPED_KEPT_MAX {
                    state.dropped.push(message);
                }
                return Ok(());
            }
            Some(Injected::Delay(delay)) => tokio::time::sleep(delay).await,
        }
        self.0.handle(myself, message, &mut state.inner).await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.0
            .handle_supervisor_evt(myself, event, &mut state.inner)
            .await
    }
}
