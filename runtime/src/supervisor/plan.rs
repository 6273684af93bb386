//! The restart decision, as a pure function of the children and the exit.
//!
//! Given a supervisor's strategy, its children in start order and which one exited with what
//! reason, [`plan_exit`] says which children to stop (in reverse start order), which to forget,
//! and which to start again (in start order). The supervisor actor only carries the plan out,
//! so every strategy is tested here without actors or time.

use super::spec::{Restart, Strategy};
use crate::exit::ExitReason;

/// What the plan needs to know of one child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildView {
    /// The child's position key (start order).
    pub seq: u64,
    /// Its restart type.
    pub restart: Restart,
    /// Whether it has a live actor.
    pub running: bool,
}

/// What to do after a child exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitPlan {
    /// Keep the child's spec, do not restart it.
    Keep,
    /// Forget the child (temporary children, and dynamic children not restarted).
    Remove,
    /// Restart: stop `stop` (reverse start order), forget `remove`, start `start` (start order).
    /// Counts as one restart towards the intensity.
    Restart {
        /// Running siblings to stop first, last-started first.
        stop: Vec<u64>,
        /// Temporary siblings that are stopped and not started again.
        remove: Vec<u64>,
        /// Children to start, first-started first; includes the exited child.
        start: Vec<u64>,
    },
}

/// Whether a child with `restart` that exited with `reason` is started again.
pub fn should_restart(restart: Restart, reason: &ExitReason) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => !reason.is_normal_or_shutdown(),
        Restart::Temporary => false,
    }
}

/// Decides what follows the exit of child `exited` (whose view says `running: false` or not;
/// it is treated as stopped). `children` is in start order. `dynamic` is true for a dynamic
/// supervisor, whose children are forgotten rather than kept when not restarted.
pub fn plan_exit(
    strategy: Strategy,
    children: &[ChildView],
    exited: u64,
    reason: &ExitReason,
    dynamic: bool,
) -> ExitPlan {
    let Some(position) = children.iter().position(|child| child.seq == exited) else {
        return ExitPlan::Keep;
    };
    let exited_child = children[position];
    if !should_restart(exited_child.restart, reason) {
        return if exited_child.restart == Restart::Temporary || dynamic {
            ExitPlan::Remove
        } else {
            ExitPlan::Keep
        };
    }
    let affected: &[ChildView] = match strategy {
        Strategy::OneForOne => &[],
        Strategy::OneForAll => children,
        Strategy::RestForOne => &children[position + 1..],
    };
    let siblings = affected.iter().filter(|child| child.seq != exited);
    let stop = siblings
        .clone()
        .filter(|child| child.running)
        .map(|child| child.seq)
        .rev()
        .collect();
    let remove = siblings
        .clone()
        .filter(|child| child.restart == Restart::Temporary)
        .map(|child| child.seq)
        .collect();
    let mut start: Vec<u64> = vec![exited];
    start.extend(
        siblings
            .filter(|child| child.restart != Restart::Temporary)
            .map(|child| child.seq),
    );
    start.sort_unstable_by_key(|seq| {
        children
            .iter()
            .position(|child| child.seq == *seq)
            .unwrap_or(usize::MAX)
    });
    ExitPlan::Restart {
        stop,
        remove,
        start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children(restarts: &[Restart]) -> Vec<ChildView> {
        restarts
            .iter()
            .enumerate()
            .map(|(index, restart)| ChildView {
                seq: index as u64 + 1,
                restart: *restart,
                running: true,
            })
            .collect()
    }

    use Restart::*;

    #[test]
    fn restart_types_against_reasons() {
        let crash = ExitReason::Error("boom".into());
        for (restart, reason, restarted) in [
            (Permanent, ExitReason::Normal, true),
            (Permanent, crash.clone(), true),
            (Transient, ExitReason::Normal, false),
            (Transient, ExitReason::Shutdown, false),
            (Transient, ExitReason::Killed, true),
            (Transient, crash.clone(), true),
            (Temporary, ExitReason::Normal, false),
            (Temporary, crash.clone(), false),
        ] {
            assert_eq!(
                should_restart(restart, &reason),
                restarted,
                "{restart:?} {reason}"
            );
        }
    }

    #[test]
    fn one_for_one_restarts_only_the_exited_child() {
        let plan = plan_exit(
            Strategy::OneForOne,
            &children(&[Permanent, Permanent, Permanent]),
            2,
            &ExitReason::Killed,
            false,
        );
        assert_eq!(
            plan,
            ExitPlan::Restart {
                stop: vec![],
                remove: vec![],
                start: vec![2]
            }
        );
    }

    #[test]
    fn one_for_all_stops_the_others_in_reverse_and_starts_all_in_order() {
        let plan = plan_exit(
            Strategy::OneForAll,
            &children(&[Permanent, Temporary, Permanent, Transient]),
            3,
            &ExitReason::Error("x".into()),
            false,
        );
        assert_eq!(
            plan,
            ExitPlan::Restart {
                stop: vec![4, 2, 1],
                remove: vec![2],
                start: vec![1, 3, 4]
            }
        );
    }

    #[test]
    fn rest_for_one_restarts_the_later_siblings() {
        let plan = plan_exit(
            Strategy::RestForOne,
            &children(&[Permanent, Permanent, Permanent, Permanent]),
            2,
            &ExitReason::Killed,
            false,
        );
        assert_eq!(
            plan,
            ExitPlan::Restart {
                stop: vec![4, 3],
                remove: vec![],
                start: vec![2, 3, 4]
            }
        );
    }

    #[test]
    fn children_not_restarted_are_kept_or_removed() {
        let kids = children(&[Transient, Temporary]);
        assert_eq!(
            plan_exit(Strategy::OneForAll, &kids, 1, &ExitReason::Normal, false),
            ExitPlan::Keep
        );
        assert_eq!(
            plan_exit(Strategy::OneForAll, &kids, 2, &ExitReason::Killed, false),
            ExitPlan::Remove
        );
        assert_eq!(
            plan_exit(Strategy::OneForOne, &kids, 1, &ExitReason::Normal, true),
            ExitPlan::Remove
        );
    }

    #[test]
    fn stopped_siblings_are_started_but_not_stopped() {
        let mut kids = children(&[Permanent, Transient, Permanent]);
        kids[1].running = false;
        assert_eq!(
            plan_exit(Strategy::OneForAll, &kids, 3, &ExitReason::Killed, false),
            ExitPlan::Restart {
                stop: vec![1],
                remove: vec![],
                start: vec![1, 2, 3]
            }
        );
    }
}
