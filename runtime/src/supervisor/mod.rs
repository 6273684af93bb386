//! Supervisors with OTP's semantics.
//!
//! ractor gives a parent a `handle_supervisor_evt` hook and, by default, stops the parent when
//! any child exits. A Bream [`Supervisor`] does what OTP's `supervisor` does instead:
//!
//! - **Children in order.** A [`SupervisorSpec`] lists [`ChildSpec`]s; they start in that order,
//!   and a child that fails to start makes the supervisor's start fail after the ones already
//!   started are stopped in reverse. Shutdown goes in reverse order, each child given its
//!   [`Shutdown`] time and then killed.
//! - **Restart types.** [`Restart::Permanent`] children are always restarted,
//!   [`Restart::Transient`] ones only after an abnormal exit (not `normal`, not `shutdown`),
//!   [`Restart::Temporary`] ones never.
//! - **Strategies.** [`Strategy::OneForOne`], [`Strategy::OneForAll`], [`Strategy::RestForOne`],
//!   and dynamic supervisors ([`DynamicSupervisor`], OTP's `simple_one_for_one`).
//! - **Intensity.** More than `restarts_max` restarts within `restart_period` (OTP's default:
//!   1 in 5 s) and the supervisor stops its children in reverse and exits abnormally, so its
//!   own parent decides (escalation).
//! - **Events.** Every start, exit, restart, failure and shutdown is a [`SupervisorEvent`] on a
//!   broadcast channel and a `tracing` record; tests await them instead of sleeping.
//!
//! ```no_run
//! use bream_runtime::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
//! # use ractor::{Actor, ActorRef, ActorProcessingErr};
//! # struct Worker;
//! # impl Actor for Worker { type Msg = (); type State = (); type Arguments = ();
//! #   async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> { Ok(()) } }
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = SupervisorSpec::new("root")
//!     .strategy(Strategy::RestForOne)
//!     .child(ChildSpec::actor("db", || Worker, || ()))
//!     .child(ChildSpec::actor("cache", || Worker, || ()));
//! let mut events = spec.subscribe();
//! let root = Supervisor::start(spec).await?;
//! println!("{:?}", events.recv().await?);
//! # Ok(()) }
//! ```
//!
//! Edges and deviations:
//! - A supervisor handles one request at a time, as OTP's does: starting or stopping a slow
//!   child holds up its other requests. Requests time out after [`SUPERVISOR_CALL_TIMEOUT`].
//! - `post_stop` of a child does not run after a panic, an `Err` or a kill, so children must
//!   release resources in `Drop`. A supervisor that is killed (rather than stopped) has its
//!   children killed at once, in no order, as an untrapped `kill` would in Erlang.
//! - A restart that fails to start the child is retried at once and counts as another restart;
//!   past the intensity the supervisor gives up, as in OTP.

mod dynamic;
mod events;
mod handle;
mod intensity;
pub mod plan;
mod server;
mod shutdown;
mod spec;
mod tree;

pub use dynamic::{ChildTemplate, DynamicSupervisor, DynamicSupervisorSpec};
pub use events::{SupervisorEvent, EVENTS_CAPACITY};
pub use handle::{
    ChildCounts, ChildInfo, ChildSelector, SupervisorError, SupervisorRef, SUPERVISOR_CALL_TIMEOUT,
};
pub use intensity::{IntensityReached, RestartIntensity};
pub use server::{Supervisor, SupervisorMsg, INTENSITY_REACHED_REASON};
pub use shutdown::KILL_WAIT_MAX;
pub use spec::{
    ChildId, ChildKind, ChildSpec, Restart, Shutdown, StartError, StartFn, Started, Strategy,
    SupervisorSpec, RESTARTS_MAX_DEFAULT, RESTART_PERIOD_DEFAULT, SHUTDOWN_WORKER_DEFAULT,
};
pub use tree::{supervision_tree, ProcessNode, TREE_CHILDREN_MAX};
