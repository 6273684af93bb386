//! What a supervisor is told: its flags and its children's specs (OTP's `sup_flags()` and
//! `child_spec()`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::{Actor, ActorCell, SpawnErr};
use tokio::sync::broadcast;

use super::events::{SupervisorEvent, EVENTS_CAPACITY};

/// A child's identifier within its supervisor (OTP's child `id`).
pub type ChildId = String;

/// Whether a child is restarted when it exits (OTP's `restart`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit (not `normal`, not `shutdown`).
    Transient,
    /// Never restarted; its spec is removed when it exits.
    Temporary,
}

/// How a child is stopped (OTP's `shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Killed at once; its `post_stop` does not run.
    BrutalKill,
    /// Asked to stop, then killed if still running after this long.
    Timeout(Duration),
    /// Asked to stop, and waited for as long as it takes (the default for supervisors, so a
    /// subtree can shut itself down in order).
    Infinity,
}

/// OTP's default worker shutdown time.
pub const SHUTDOWN_WORKER_DEFAULT: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

/// Whether a child is a worker or a supervisor (OTP's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// An ordinary actor.
    Worker,
    /// A supervisor, shut down with [`Shutdown::Infinity`] unless told otherwise.
    Supervisor,
}

/// Which siblings are restarted with a child that exits (OTP's `strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the exited child.
    OneForOne,
    /// Every child: the others are stopped in reverse order, then all are started in order.
    OneForAll,
    /// The exited child and every child started after it.
    RestForOne,
}

/// Why a child (or a supervisor) did not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The child's start function failed (its `pre_start` returned an error or panicked).
    #[error("child {child:?} failed to start: {reason}")]
    ChildFailed {
        /// The child that failed.
        child: ChildId,
        /// What its start function said.
        reason: String,
    },
    /// Spawning failed outright.
    #[error("spawn failed: {0}")]
    Spawn(String),
    /// A dynamic child was started with arguments of the wrong type.
    #[error("dynamic child started with arguments of the wrong type")]
    WrongArgumentType,
}

impl From<SpawnErr> for StartError {
    fn from(error: SpawnErr) -> Self {
        StartError::Spawn(error.to_string())
    }
}

/// Starts one child, linked to the supervisor whose cell it is given.
///
/// The function should spawn with `spawn_linked(.., supervisor)`; a child spawned unlinked is
/// linked by the supervisor after the fact.
pub type StartFn =
    Arc<dyn Fn(ActorCell) -> BoxFuture<'static, Result<ActorCell, StartError>> + Send + Sync>;

/// One child of a supervisor (OTP's `child_spec()`).
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among its siblings.
    pub id: ChildId,
    /// How to start it.
    pub start: StartFn,
    /// Whether it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildKind,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A permanent worker with OTP's default shutdown (5 s), started by `start`.
    pub fn worker<F, Fut>(id: impl Into<ChildId>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, StartError>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move |supervisor| Box::pin(start(supervisor))),
            restart: Restart::Permanent,
            shutdown: SHUTDOWN_WORKER_DEFAULT,
            kind: ChildKind::Worker,
        }
    }

    /// A permanent worker running the ractor actor `make_actor()` with `make_args()`, spawned
    /// linked to the supervisor and open to fault injection ([`crate::fault`]).
    pub fn actor<A, H, G>(id: impl Into<ChildId>, make_actor: H, make_args: G) -> Self
    where
        A: Actor,
        H: Fn() -> A + Send + Sync + 'static,
        G: Fn() -> A::Arguments + Send + Sync + 'static,
    {
        let make_actor = Arc::new(make_actor);
        let make_args = Arc::new(make_args);
        Self::worker(id, move |supervisor| {
            let make_actor = make_actor.clone();
            let make_args = make_args.clone();
            async move { crate::fault::spawn_linked(make_actor(), make_args(), supervisor).await }
        })
    }

    /// A nested supervisor (shutdown [`Shutdown::Infinity`]).
    pub fn supervisor(id: impl Into<ChildId>, spec: SupervisorSpec) -> Self {
        let child = Self::worker(id, move |parent| {
            let spec = spec.clone();
            async move {
                super::server::Supervisor::start_linked(spec, parent)
                    .await
                    .map(|supervisor| supervisor.cell())
            }
        });
        ChildSpec {
            kind: ChildKind::Supervisor,
            shutdown: Shutdown::Infinity,
            ..child
        }
    }

    /// A nested supervisor that `start` brings up linked to the parent cell it is given: a
    /// subsystem that builds its own tree (a node's layer, a replicated table) before it hands
    /// it over. Shutdown [`Shutdown::Infinity`], as [`ChildSpec::supervisor`].
    pub fn subtree<F, Fut>(id: impl Into<ChildId>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<super::SupervisorRef, StartError>> + Send + 'static,
    {
        let start = Arc::new(start);
        let child = Self::worker(id, move |parent| {
            let started = start(parent);
            async move { started.await.map(|supervisor| supervisor.cell()) }
        });
        ChildSpec {
            kind: ChildKind::Supervisor,
            shutdown: Shutdown::Infinity,
            ..child
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

/// OTP's default restart intensity: at most 1 restart ...
pub const RESTARTS_MAX_DEFAULT: u32 = 1;
/// ... in 5 seconds.
pub const RESTART_PERIOD_DEFAULT: Duration = Duration::from_secs(5);

/// A supervisor's flags and children.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    /// Names the supervisor in events and logs; also its registered name when `register` is set.
    pub name: String,
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restarts allowed within `restart_period` before the supervisor gives up.
    pub restarts_max: u32,
    /// The window `restarts_max` is counted in.
    pub restart_period: Duration,
    /// Children, started in this order and stopped in the reverse.
    pub children: Vec<ChildSpec>,
    /// Register the supervisor under `name` in [`crate::registry`].
    pub register: bool,
    pub(crate) dynamic: Option<super::dynamic::DynamicMode>,
    pub(crate) events: broadcast::Sender<SupervisorEvent>,
}

impl SupervisorSpec {
    /// A one_for_one supervisor with OTP's default intensity and no children.
    pub fn new(name: impl Into<String>) -> Self {
        SupervisorSpec {
            name: name.into(),
            strategy: Strategy::OneForOne,
            restarts_max: RESTARTS_MAX_DEFAULT,
            restart_period: RESTART_PERIOD_DEFAULT,
            children: Vec::new(),
            register: false,
            dynamic: None,
            events: broadcast::channel(EVENTS_CAPACITY).0,
        }
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets the restart intensity: at most `restarts_max` restarts in `period`.
    pub fn intensity(mut self, restarts_max: u32, period: Duration) -> Self {
        self.restarts_max = restarts_max;
        self.restart_period = period;
        self
    }

    /// A subtree that never restarts a child: `one_for_all` with no restart allowed, so any
    /// child's end stops the others and the supervisor, and the level above decides (for parts
    /// that only make sense together, such as a node's server and agent).
    pub fn no_restarts(self) -> Self {
        self.strategy(Strategy::OneForAll)
            .intensity(0, Duration::from_secs(1))
    }

    /// Adds a child after the ones already given.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Registers the supervisor under its name while it runs.
    pub fn registered(mut self) -> Self {
        self.register = true;
        self
    }

    /// Subscribes to this supervisor's events, including those of its start. Every instance
    /// started from this spec (restarts of a nested supervisor too) reports here.
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.events.subscribe()
    }
}

/// What the latest start of a child made, for whoever put the child in a tree: a child's start
/// function runs inside the supervisor, so the handle to what it started (a node, a table) is
/// left here. Each restart replaces it.
pub struct Started<T>(Arc<parking_lot::Mutex<Option<T>>>);

impl<T> Clone for Started<T> {
    fn clone(&self) -> Self {
        Started(Arc::clone(&self.0))
    }
}

impl<T> Default for Started<T> {
    fn default() -> Self {
        Started(Arc::new(parking_lot::Mutex::new(None)))
    }
}

impl<T: Clone> Started<T> {
    /// The handle the latest start left; `None` before the first start.
    pub fn latest(&self) -> Option<T> {
        self.0.lock().clone()
    }

    /// Leaves `value` as the latest start's handle.
    pub fn set(&self, value: T) {
        *self.0.lock() = Some(value);
    }
}
