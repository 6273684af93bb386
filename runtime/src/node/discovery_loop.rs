//! Keeps the node connected to what discovery lists.
//!
//! Polls fast while some listed node is not up (or nothing is listed yet), slowly once all
//! listed nodes are up, and at once when a node goes down or comes up. Each listed node that is not up gets a connection attempt, unless one is in
//! flight or its backoff (doubling from [`RECONNECT_BACKOFF_MIN`] to [`RECONNECT_BACKOFF_MAX`])
//! has not passed. A failing backend is reported in the status and retried; it never takes the
//! running cluster down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio::task::AbortHandle;

use super::config::{RECONNECT_BACKOFF_MAX, RECONNECT_BACKOFF_MIN};
use super::NodeInner;
use crate::supervisor::StartError;

struct Backoff {
    failures: u32,
    next_attempt: Instant,
    in_flight: bool,
}

/// Starts the loop's owner, linked to `supervisor` (the node's, as its `discovery` child).
pub(crate) async fn start(
    inner: &Arc<NodeInner>,
    supervisor: ActorCell,
) -> Result<ActorCell, StartError> {
    crate::fault::spawn_linked(DiscoveryLoop, Arc::clone(inner), supervisor).await
}

/// The actor that owns the loop's task: stopping it stops the loop, and the loop ending while
/// the node runs (a panic in a discovery backend) fails it, so its supervisor sees the loss.
struct DiscoveryLoop;

/// The loop's task ended, and why.
pub(crate) struct LoopEnded(String);

crate::local_message!(LoopEnded);

impl Actor for DiscoveryLoop {
    type Msg = LoopEnded;
    type State = AbortHandle;
    type Arguments = Arc<NodeInner>;

    async fn pre_start(
        &self,
        myself: ActorRef<LoopEnded>,
        inner: Arc<NodeInner>,
    ) -> Result<AbortHandle, ActorProcessingErr> {
        let task = tokio::spawn(run(inner));
        let abort = task.abort_handle();
        tokio::spawn(async move {
            let reason = match task.await {
                Ok(()) => "the discovery loop ended".to_string(),
                Err(error) if error.is_cancelled() => return,
                Err(error) => format!("the discovery loop failed: {error}"),
            };
            let _ = myself.cast(LoopEnded(reason));
        });
        Ok(abort)
    }

    async fn handle(
        &self,
        _: ActorRef<LoopEnded>,
        LoopEnded(reason): LoopEnded,
        _: &mut AbortHandle,
    ) -> Result<(), ActorProcessingErr> {
        Err(reason.into())
    }

    async fn post_stop(
        &self,
        _: ActorRef<LoopEnded>,
        task: &mut AbortHandle,
    ) -> Result<(), ActorProcessingErr> {
        task.abort();
        Ok(())
    }
}

/// Whether the node still runs (its agent is alive).
fn running(inner: &NodeInner) -> bool {
    inner
        .agent
        .get()
        .is_some_and(|agent| crate::call::is_alive(&agent.get_cell()))
}

async fn run(inner: Arc<NodeInner>) {
    let attempts: Arc<parking_lot::Mutex<HashMap<String, Backoff>>> = Default::default();
    while running(&inner) {
        let Some(discovery) = inner.discovery.clone() else {
            return;
        };
        let poll_started = Instant::now();
        let polled = discovery.poll().await;
        tracing::debug!(
            node = %inner.config.name,
            elapsed = ?poll_started.elapsed(),
            listed = polled.as_ref().map(|poll| poll.others.len()).ok(),
            "discovery poll"
        );
        let settled = match polled {
            Ok(poll) => {
                let (up, cut) = {
                    let state = inner.state.lock();
                    (state.membership.up_nodes(), state.membership.cut_nodes())
                };
                let mut all_up = true;
                for node in &poll.others {
                    if cut.contains(&node.name) {
                        // Cut off by fault injection: not dialled until healed.
                        all_up = false;
                        continue;
                    }
                    if up.contains(&node.name) {
                        attempts.lock().remove(&node.name);
                        continue;
                    }
                    all_up = false;
                    try_connect(&inner, &attempts, node.name.clone(), node.address.clone());
                }
                let mut state = inner.state.lock();
                state.discovery.works = true;
                state.discovery.last_error = None;
                state.discovery.node_num = poll.own_node_num;
                state.discovery.discovered =
                    poll.others.iter().map(|node| node.name.clone()).collect();
                all_up && !poll.others.is_empty()
            }
            Err(error) => {
                tracing::warn!(node = %inner.config.name, %error, "discovery poll failed; retrying");
                let mut state = inner.state.lock();
                state.discovery.works = false;
                state.discovery.last_error = Some(error.to_string());
                false
            }
        };
        let interval = if settled {
            inner.config.poll_interval_settled
        } else {
            inner.config.poll_interval_starting
        };
        tracing::trace!(node = %inner.config.name, ?interval, settled, "discovery waits");
        let woken = tokio::time::timeout(interval, inner.poll_now.notified())
            .await
            .is_ok();
        if woken {
            // A burst of downs should not become a burst of polls.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn try_connect(
    inner: &Arc<NodeInner>,
    attempts: &Arc<parking_lot::Mutex<HashMap<String, Backoff>>>,
    name: String,
    address: String,
) {
    let now = Instant::now();
    {
        let mut table = attempts.lock();
        let backoff = table.entry(name.clone()).or_insert(Backoff {
            failures: 0,
            next_attempt: now,
            in_flight: false,
        });
        if backoff.in_flight || backoff.next_attempt > now {
            return;
        }
        backoff.in_flight = true;
    }
    let inner = inner.clone();
    let attempts = attempts.clone();
    tokio::spawn(async move {
        let outcome = super::connect::connect(&inner, &address).await;
        let mut table = attempts.lock();
        let Some(backoff) = table.get_mut(&name) else {
            return;
        };
        backoff.in_flight = false;
        match outcome {
            Ok(_) => {
                table.remove(&name);
            }
            Err(error) => {
                backoff.failures = backoff.failures.saturating_add(1);
                let delay = RECONNECT_BACKOFF_MIN
                    .saturating_mul(1 << backoff.failures.min(16))
                    .min(RECONNECT_BACKOFF_MAX);
                backoff.next_attempt = Instant::now() + delay;
                tracing::debug!(node = %inner.config.name, peer = %name, %address, %error, ?delay, "connect failed");
                drop(table);
                // Try again after the backoff even if discovery is settled.
                let weak = Arc::downgrade(&inner);
                drop(inner);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Some(inner) = weak.upgrade() {
                        inner.poll_now.notify_one();
                    }
                });
            }
        }
    });
}
