//! Bream's runtime: the BEAM's process model on [`ractor`].
//!
//! ractor gives mailboxes, tasks and a parent/child hook. This crate adds what an Erlang/OTP
//! programmer relies on:
//!
//! - [`supervisor`]: OTP supervisors (strategies, restart types, intensity and escalation,
//!   ordered start and shutdown, dynamic children, an event stream);
//! - [`call`]: calls that always have a timeout and fail at once on a dead target;
//! - [`monitor`] and [`link`]: `DOWN` notices (with `noproc`), bidirectional links, trap_exit;
//! - [`registry`] and [`groups`]: names given at any time, process groups;
//! - [`node`] and [`discovery`]: OS processes as nodes of a cluster, with failure detection,
//!   reconnection, global names and remote calls;
//! - [`application`]: a root supervisor stopped in order on SIGTERM;
//! - [`fault`] and [`testkit`]: fault injection and the helpers to test supervision trees.
//!
//! ractor's `cluster` feature is on for the whole build (the node layer needs it), which removes
//! ractor's blanket `Message` impl: every message type needs `impl ractor::Message for T {}`,
//! or the [`local_message!`] macro.

pub mod application;
pub mod call;
pub mod discovery;
pub mod exit;
pub mod fault;
pub mod groups;
pub mod link;
pub mod monitor;
pub mod node;
pub mod registry;
pub mod supervisor;
mod system;
pub mod testkit;

pub use exit::ExitReason;
pub use ractor;

/// Marks types as local (not remotable) actor messages: `local_message!(CounterMsg, Other);`.
#[macro_export]
macro_rules! local_message {
    ($($message:ty),+ $(,)?) => {
        $(impl $crate::ractor::Message for $message {})+
    };
}
