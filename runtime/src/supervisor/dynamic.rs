//! Dynamic supervisors (OTP's `simple_one_for_one`): many children from one template, each
//! started with its own arguments, for per-connection or per-session actors.
//!
//! A dynamic supervisor is the same actor as a static one, told to make children from a
//! [`ChildTemplate`]. Its children are identified by their actor; those not restarted are
//! forgotten, and `max_children` bounds how many run at once.
//!
//! ```no_run
//! # use bream_runtime::supervisor::*;
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! # #[derive(Clone)] struct Conn; impl Conn { fn new(_: u32) -> Self { Conn } }
//! # let template: ChildTemplate<u32> = todo!();
//! let sessions = DynamicSupervisor::start(
//!     DynamicSupervisorSpec::new("sessions", template).max_children(10_000),
//! )
//! .await?;
//! let session = sessions.start_child(42).await?;
//! sessions.terminate_child(&session).await?;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::{Actor, ActorCell};
use tokio::sync::broadcast;

use super::events::SupervisorEvent;
use super::handle::{ChildCounts, ChildInfo, ChildSelector, SupervisorError, SupervisorRef};
use super::server::{Supervisor, SupervisorMsg};
use super::spec::{
    ChildKind, ChildSpec, Restart, Shutdown, StartError, SupervisorSpec, SHUTDOWN_WORKER_DEFAULT,
};

/// A dynamic child's start arguments, type-erased so one supervisor actor serves every type.
pub(crate) type DynArgs = Arc<dyn Any + Send + Sync>;

type DynStartFn = Arc<
    dyn Fn(ActorCell, DynArgs) -> BoxFuture<'static, Result<ActorCell, StartError>> + Send + Sync,
>;

/// How a dynamic supervisor makes its children.
#[derive(Clone)]
pub(crate) struct DynamicMode {
    start: DynStartFn,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildKind,
    pub(crate) max_children: Option<usize>,
}

impl std::fmt::Debug for DynamicMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicMode")
            .field("restart", &self.restart)
            .field("max_children", &self.max_children)
            .finish_non_exhaustive()
    }
}

impl DynamicMode {
    pub(crate) fn is_full(&self, running: usize) -> bool {
        self.max_children.is_some_and(|max| running >= max)
    }

    /// The spec of one child: the template bound to its arguments, so a restart reuses them.
    pub(crate) fn child_spec(&self, id: String, args: DynArgs) -> ChildSpec {
        let start = self.start.clone();
        ChildSpec {
            id,
            start: Arc::new(move |supervisor| start(supervisor, args.clone())),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
        }
    }
}

/// The template of a dynamic supervisor's children (OTP's single child spec of a
/// `simple_one_for_one` supervisor), started with arguments of type `A`.
pub struct ChildTemplate<A> {
    start: DynStartFn,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildKind,
    _args: PhantomData<fn(A)>,
}

impl<A> Clone for ChildTemplate<A> {
    fn clone(&self) -> Self {
        ChildTemplate {
            start: self.start.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            _args: PhantomData,
        }
    }
}

impl<A: Clone + Send + Sync + 'static> ChildTemplate<A> {
    /// Temporary workers (the usual choice for connections) started by `start(supervisor, args)`.
    pub fn worker<F, Fut>(start: F) -> Self
    where
        F: Fn(ActorCell, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, StartError>> + Send + 'static,
    {
        let start = Arc::new(start);
        ChildTemplate {
            start: Arc::new(move |supervisor, args: DynArgs| {
                let start = start.clone();
                Box::pin(async move {
                    let args = args
                        .downcast_ref::<A>()
                        .ok_or(StartError::WrongArgumentType)?
                        .clone();
                    start(supervisor, args).await
                })
            }),
            restart: Restart::Temporary,
            shutdown: SHUTDOWN_WORKER_DEFAULT,
            kind: ChildKind::Worker,
            _args: PhantomData,
        }
    }

    /// Temporary workers running the ractor actor and arguments `make(args)` returns, open to
    /// fault injection.
    pub fn actor<H, F>(make: F) -> Self
    where
        H: Actor,
        F: Fn(A) -> (H, H::Arguments) + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        Self::worker(move |supervisor, args| {
            let (actor, actor_args) = make(args);
            async move { crate::fault::spawn_linked(actor, actor_args, supervisor).await }
        })
    }

    /// Sets the restart type (default temporary).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown (default 5 s).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the children as supervisors.
    pub fn supervisors(mut self) -> Self {
        self.kind = ChildKind::Supervisor;
        self
    }
}

/// The spec of a dynamic supervisor whose children take arguments of type `A`.
pub struct DynamicSupervisorSpec<A> {
    spec: SupervisorSpec,
    _args: PhantomData<fn(A)>,
}

impl<A: Clone + Send + Sync + 'static> DynamicSupervisorSpec<A> {
    /// A dynamic supervisor with OTP's default intensity and no bound on children.
    pub fn new(name: impl Into<String>, template: ChildTemplate<A>) -> Self {
        let mut spec = SupervisorSpec::new(name);
        spec.dynamic = Some(DynamicMode {
            start: template.start,
            restart: template.restart,
            shutdown: template.shutdown,
            kind: template.kind,
            max_children: None,
        });
        DynamicSupervisorSpec {
            spec,
            _args: PhantomData,
        }
    }

    /// At most `max` children at once; `start_child` past it fails with
    /// [`SupervisorError::MaxChildren`].
    pub fn max_children(mut self, max: usize) -> Self {
        if let Some(mode) = &mut self.spec.dynamic {
            mode.max_children = Some(max);
        }
        self
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, restarts_max: u32, period: Duration) -> Self {
        self.spec = self.spec.intensity(restarts_max, period);
        self
    }

    /// Registers the supervisor under its name while it runs.
    pub fn registered(mut self) -> Self {
        self.spec = self.spec.registered();
        self
    }

    /// Subscribes to the supervisor's events.
    pub fn subscribe(&self) -> broadcast::Receiver<SupervisorEvent> {
        self.spec.subscribe()
    }

    /// The untyped spec, to nest the supervisor with [`ChildSpec::supervisor`].
    pub fn into_spec(self) -> SupervisorSpec {
        self.spec
    }
}

/// A handle on a running dynamic supervisor whose children take arguments of type `A`.
pub struct DynamicSupervisor<A> {
    inner: SupervisorRef,
    _args: PhantomData<fn(A)>,
}

impl<A> Clone for DynamicSupervisor<A> {
    fn clone(&self) -> Self {
        DynamicSupervisor {
            inner: self.inner.clone(),
            _args: PhantomData,
        }
    }
}

impl<A: Clone + Send + Sync + 'static> DynamicSupervisor<A> {
    /// Starts a dynamic supervisor with no parent.
    pub async fn start(spec: DynamicSupervisorSpec<A>) -> Result<Self, StartError> {
        Supervisor::start(spec.spec).await.map(Self::from_ref)
    }

    /// Treats `inner` as a dynamic supervisor of `A`s. A wrong `A` makes `start_child` fail
    /// with [`StartError::WrongArgumentType`]; a static supervisor answers
    /// [`SupervisorError::NotDynamic`].
    pub fn from_ref(inner: SupervisorRef) -> Self {
        DynamicSupervisor {
            inner,
            _args: PhantomData,
        }
    }

    /// Starts a child from the template with `args`.
    pub async fn start_child(&self, args: A) -> Result<ActorCell, SupervisorError> {
        let args: DynArgs = Arc::new(args);
        self.inner
            .request(|reply| SupervisorMsg::StartDynamicChild(args, reply))
            .await?
    }

    /// Stops `child` and forgets it.
    pub async fn terminate_child(&self, child: &ActorCell) -> Result<(), SupervisorError> {
        self.inner
            .terminate(ChildSelector::Actor(child.get_id()))
            .await
    }

    /// The children, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.inner.which_children().await
    }

    /// How many children there are, by kind.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.inner.count_children().await
    }

    /// The untyped handle.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.inner
    }
}
