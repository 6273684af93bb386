//! Exit reasons as a type.
//!
//! ractor reports an actor's end as a `SupervisionEvent`: `ActorTerminated` with an optional
//! reason string after a stop or a kill, or `ActorFailed` after a panic or an `Err` returned
//! from a handler. Erlang code reasons about `normal`, `shutdown`, `killed` and everything else;
//! [`ExitReason`] is that vocabulary, and [`ExitReason::from_event`] is the one place that maps
//! ractor's events onto it.
//!
//! A stop reason travels through ractor as a string, so the mapping is a convention:
//! no reason or `"normal"` is [`ExitReason::Normal`], `"shutdown"` is
//! [`ExitReason::Shutdown`], `"killed"` (ractor's kill signal) is [`ExitReason::Killed`], any
//! other string is [`ExitReason::Error`]. [`ExitReason::to_stop_reason`] is its inverse, used
//! when Bream itself stops an actor (a supervisor's shutdown, a link's exit signal).
//!
//! `post_stop` does not run after a panic, an `Err` or a kill: release resources in `Drop`.

use std::fmt;

use ractor::{ActorCell, SupervisionEvent};

/// Why an actor stopped, in Erlang's words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// The actor finished its work (`stop(None)`, `stop(Some("normal"))`, or returned
    /// from its last message normally).
    Normal,
    /// The actor was asked to stop by its supervisor or application (`shutdown`).
    Shutdown,
    /// The actor was killed without a chance to clean up (ractor's kill signal).
    Killed,
    /// The actor was already dead when it was monitored or linked (`noproc`).
    NoProc,
    /// The actor crashed: a panic, an `Err` from a handler, or a custom stop reason.
    Error(String),
}

impl ExitReason {
    /// Reads the reason out of a ractor exit event; `None` for events that are not exits
    /// (an actor starting, a process group change).
    pub fn from_event(event: &SupervisionEvent) -> Option<(ActorCell, ExitReason)> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                Some((cell.clone(), Self::from_stop_reason(reason.as_deref())))
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                Some((cell.clone(), ExitReason::Error(error.to_string())))
            }
            _ => None,
        }
    }

    /// Maps a ractor stop reason string to an exit reason (see the module doc).
    pub fn from_stop_reason(reason: Option<&str>) -> ExitReason {
        match reason {
            None | Some("normal") | Some("Drained") => ExitReason::Normal,
            Some("shutdown") => ExitReason::Shutdown,
            // ractor's kill signal, and a task cancelled with its runtime.
            Some("killed") | Some("actor_task_cancelled") => ExitReason::Killed,
            Some("noproc") => ExitReason::NoProc,
            Some(other) => ExitReason::Error(other.to_string()),
        }
    }

    /// The ractor stop reason that [`ExitReason::from_stop_reason`] maps back to `self`.
    pub fn to_stop_reason(&self) -> Option<String> {
        match self {
            ExitReason::Normal => None,
            ExitReason::Shutdown => Some("shutdown".to_string()),
            ExitReason::Killed => Some("killed".to_string()),
            ExitReason::NoProc => Some("noproc".to_string()),
            ExitReason::Error(text) => Some(text.clone()),
        }
    }

    /// `normal` and `shutdown` are the reasons a transient child is not restarted for and a
    /// supervisor does not log as a crash.
    pub fn is_normal_or_shutdown(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::Error(text) => write!(f, "error: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_round_trip() {
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::Killed,
            ExitReason::NoProc,
            ExitReason::Error("boom".into()),
        ] {
            assert_eq!(
                ExitReason::from_stop_reason(reason.to_stop_reason().as_deref()),
                reason
            );
        }
    }

    #[test]
    fn only_normal_and_shutdown_are_clean() {
        assert!(ExitReason::Normal.is_normal_or_shutdown());
        assert!(ExitReason::Shutdown.is_normal_or_shutdown());
        assert!(!ExitReason::Killed.is_normal_or_shutdown());
        assert!(!ExitReason::Error("x".into()).is_normal_or_shutdown());
    }
}
