//! What a supervisor reports as it works: starts, exits, restarts, giving up, shutdown.
//!
//! Each event goes to a broadcast channel (subscribe with [`super::SupervisorSpec::subscribe`]
//! or [`super::SupervisorRef::subscribe`]) and to `tracing`. Tests and operators await these
//! events instead of sleeping. The channel keeps the last [`EVENTS_CAPACITY`] events per
//! subscriber; a subscriber that falls further behind gets `Lagged` and skips ahead.

use std::time::Duration;

use ractor::ActorId;
use tokio::sync::broadcast;

use super::spec::ChildId;
use crate::exit::ExitReason;

/// Events a subscriber may lag behind before it skips ahead.
pub const EVENTS_CAPACITY: usize = 1024;

/// One thing a supervisor did or saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorEvent {
    /// A child started for the first time (at supervisor start or `start_child`).
    ChildStarted {
        /// The supervisor's name.
        supervisor: String,
        /// The child.
        child: ChildId,
        /// Its actor.
        actor: ActorId,
    },
    /// A child exited on its own (crashed, finished, or was killed by someone else).
    ChildExited {
        /// The supervisor's name.
        supervisor: String,
        /// The child.
        child: ChildId,
        /// Its actor.
        actor: ActorId,
        /// Why.
        reason: ExitReason,
    },
    /// The supervisor stopped a child itself (shutdown, `terminate_child`, or a sibling's
    /// restart under one_for_all / rest_for_one).
    ChildTerminated {
        /// The supervisor's name.
        supervisor: String,
        /// The child.
        child: ChildId,
        /// Its actor.
        actor: ActorId,
    },
    /// A child was started again after an exit (or by `restart_child`).
    ChildRestarted {
        /// The supervisor's name.
        supervisor: String,
        /// The child.
        child: ChildId,
        /// Its new actor.
        actor: ActorId,
    },
    /// A child's start function failed.
    ChildStartFailed {
        /// The supervisor's name.
        supervisor: String,
        /// The child.
        child: ChildId,
        /// What failed.
        error: String,
    },
    /// More than the allowed restarts happened in the period: the supervisor stops its children
    /// and exits abnormally, so its parent decides.
    IntensityReached {
        /// The supervisor's name.
        supervisor: String,
        /// The allowed restarts.
        restarts_max: u32,
        /// The window.
        period: Duration,
    },
    /// The supervisor has stopped all its children and is exiting.
    SupervisorStopped {
        /// The supervisor's name.
        supervisor: String,
        /// Its exit reason.
        reason: ExitReason,
    },
}

impl SupervisorEvent {
    /// The child the event is about, if any.
    pub fn child(&self) -> Option<&str> {
        match self {
            SupervisorEvent::ChildStarted { child, .. }
            | SupervisorEvent::ChildExited { child, .. }
            | SupervisorEvent::ChildTerminated { child, .. }
            | SupervisorEvent::ChildRestarted { child, .. }
            | SupervisorEvent::ChildStartFailed { child, .. } => Some(child),
            _ => None,
        }
    }

    /// The supervisor that reported it.
    pub fn supervisor(&self) -> &str {
        match self {
            SupervisorEvent::ChildStarted { supervisor, .. }
            | SupervisorEvent::ChildExited { supervisor, .. }
            | SupervisorEvent::ChildTerminated { supervisor, .. }
            | SupervisorEvent::ChildRestarted { supervisor, .. }
            | SupervisorEvent::ChildStartFailed { supervisor, .. }
            | SupervisorEvent::IntensityReached { supervisor, .. }
            | SupervisorEvent::SupervisorStopped { supervisor, .. } => supervisor,
        }
    }
}

/// Logs `event` and sends it to the subscribers, if any.
pub(crate) fn emit(events: &broadcast::Sender<SupervisorEvent>, event: SupervisorEvent) {
    match &event {
        SupervisorEvent::ChildStarted {
            supervisor,
            child,
            actor,
        } => {
            tracing::debug!(supervisor, child, %actor, "child started")
        }
        SupervisorEvent::ChildExited {
            supervisor,
            child,
            actor,
            reason,
        } => {
            if reason.is_normal_or_shutdown() {
                tracing::debug!(supervisor, child, %actor, %reason, "child exited")
            } else {
                tracing::warn!(supervisor, child, %actor, %reason, "child crashed")
            }
        }
        SupervisorEvent::ChildTerminated {
            supervisor,
            child,
            actor,
        } => {
            tracing::debug!(supervisor, child, %actor, "child terminated")
        }
        SupervisorEvent::ChildRestarted {
            supervisor,
            child,
            actor,
        } => {
            tracing::info!(supervisor, child, %actor, "child restarted")
        }
        SupervisorEvent::ChildStartFailed {
            supervisor,
            child,
            error,
        } => {
            tracing::error!(supervisor, child, error, "child failed to start")
        }
        SupervisorEvent::IntensityReached {
            supervisor,
            restarts_max,
            period,
        } => {
            tracing::error!(
                supervisor,
                restarts_max,
                ?period,
                "restart intensity reached, shutting down"
            )
        }
        SupervisorEvent::SupervisorStopped { supervisor, reason } => {
            tracing::info!(supervisor, %reason, "supervisor stopped")
        }
    }
    // No subscriber is not an error.
    let _ = events.send(event);
}
