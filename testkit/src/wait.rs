//! Waiting for a condition that has no event of its own (a row appearing, a count reaching a
//! value), with a deadline; never a fixed sleep.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long one wait of a test may take unless it says otherwise: generous, because CI runs
/// on two loaded cores.
pub const DEADLINE: Duration = Duration::from_secs(40);

/// How often a condition is checked again.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Checks `check` until it holds; panics naming `what` when `deadline` passes first.
pub async fn eventually<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            started.elapsed() < deadline,
            "not within {deadline:?}: {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// [`eventually`] for a condition that needs no `.await`.
pub async fn eventually_sync(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    eventually(what, deadline, || std::future::ready(check())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let mut calls = 0;
        eventually_sync("three calls", DEADLINE, || {
            calls += 1;
            calls == 3
        })
        .await;
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "not within 50ms: never")]
    async fn panics_at_the_deadline_naming_the_wait() {
        eventually_sync("never", Duration::from_millis(50), || false).await;
    }
}
