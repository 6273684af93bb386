//! Helpers for supervision tests: await events with deadlines, count restarts, and run chaos.
//!
//! Everything here waits for something to happen, with a deadline, instead of sleeping.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ractor::ActorCell;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::supervisor::{ChildInfo, ChildKind, SupervisorEvent, SupervisorRef};

/// Why a wait ended without what it waited for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed; `seen` holds the events that did arrive.
    #[error("no matching event within {deadline:?}; saw {seen:?}")]
    Timeout {
        /// The deadline.
        deadline: Duration,
        /// What arrived instead (the last few).
        seen: Vec<SupervisorEvent>,
    },
    /// Every sender is gone: the supervisor stopped and its spec was dropped.
    #[error("the event channel closed")]
    Closed,
}

/// Events kept for the error message of a failed wait.
const SEEN_KEPT_MAX: usize = 32;

/// Waits up to `deadline` for an event matching `matches`, returning it.
pub async fn wait_for_event(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    deadline: Duration,
    matches: impl Fn(&SupervisorEvent) -> bool,
) -> Result<SupervisorEvent, WaitError> {
    let mut seen = VecDeque::new();
    let waited = tokio::time::timeout(deadline, async {
        loop {
            match events.recv().await {
                Ok(event) if matches(&event) => return Ok(event),
                Ok(event) => {
                    if seen.len() == SEEN_KEPT_MAX {
                        seen.pop_front();
                    }
                    seen.push_back(event);
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Err(WaitError::Closed),
            }
        }
    })
    .await;
    match waited {
        Ok(result) => result,
        Err(_) => Err(WaitError::Timeout {
            deadline,
            seen: seen.into(),
        }),
    }
}

/// Waits until child `child` has been restarted `count` times (counting from now), within
/// `deadline`.
pub async fn expect_restarts(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    child: &str,
    count: usize,
    deadline: Duration,
) -> Result<(), WaitError> {
    let started = Instant::now();
    for _ in 0..count {
        let left = deadline.saturating_sub(started.elapsed());
        wait_for_event(events, left, |event| {
            matches!(event, SupervisorEvent::ChildRestarted { child: restarted, .. } if restarted == child)
        })
        .await?;
    }
    Ok(())
}

/// Polls `condition` every few milliseconds until it holds or `deadline` passes; for state that
/// has no event of its own (a registry entry vanishing, a counter reaching a value).
pub async fn eventually<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    const POLL_INTERVAL: Duration = Duration::from_millis(5);
    let started = Instant::now();
    loop {
        if condition().await {
            return true;
        }
        if started.elapsed() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One line of a supervision tree, for printing or picking victims.
#[derive(Clone, Debug)]
pub struct TreeEntry {
    /// Depth below the root (the root's children are at 1).
    pub depth: usize,
    /// The supervisor's name path, e.g. `root/group`.
    pub path: String,
    /// The child.
    pub child: ChildInfo,
}

/// The tree under `root`, depth first, in start order.
pub async fn tree(root: &SupervisorRef) -> Vec<TreeEntry> {
    let mut entries = Vec::new();
    walk(root.clone(), "root".to_string(), 1, &mut entries).await;
    entries
}

fn walk<'a>(
    supervisor: SupervisorRef,
    path: String,
    depth: usize,
    entries: &'a mut Vec<TreeEntry>,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let Ok(children) = supervisor.which_children().await else {
            return;
        };
        for child in children {
            let nested = match (&child.kind, &child.actor) {
                (ChildKind::Supervisor, Some(actor)) => {
                    SupervisorRef::from_cell(actor.clone()).await.ok()
                }
                _ => None,
            };
            let child_path = format!("{path}/{}", child.id);
            entries.push(TreeEntry {
                depth,
                path: path.clone(),
                child,
            });
            if let Some(nested) = nested {
                walk(nested, child_path, depth + 1, entries).await;
            }
        }
    })
}

/// What a chaos run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChaosReport {
    /// Actors killed.
    pub kills: usize,
    /// Rounds that found nothing to kill.
    pub idle_rounds: usize,
}

/// Kills a random running worker of the tree under `root` every `interval`, for `duration`,
/// with randomness from `seed` (so a failing run can be replayed). Workers only: killing a
/// supervisor is a different experiment ([`crate::fault::kill`] it yourself).
pub async fn chaos(
    root: &SupervisorRef,
    duration: Duration,
    interval: Duration,
    seed: u64,
) -> ChaosReport {
    let mut random = StdRng::seed_from_u64(seed);
    let mut report = ChaosReport::default();
    let started = Instant::now();
    while started.elapsed() < duration {
        let workers: Vec<ActorCell> = tree(root)
            .await
            .into_iter()
            .filter(|entry| entry.child.kind == ChildKind::Worker)
            .filter_map(|entry| entry.child.actor)
            .collect();
        if workers.is_empty() {
            report.idle_rounds += 1;
        } else {
            let victim = &workers[random.random_range(0..workers.len())];
            if crate::fault::kill(victim).is_ok() {
                report.kills += 1;
            }
        }
        tokio::time::sleep(interval).await;
    }
    report
}
