//! Calls with timeouts and typed errors.

use std::time::{Duration, Instant};

use bream_runtime::call::{call, call_timeout, cast, CallError, CastError};
use bream_runtime::ractor::Actor;

use crate::probe::{Log, Probe, ProbeMsg};

fn probe(name: &str) -> Probe {
    Probe::new(name, &Log::default())
}

#[tokio::test]
async fn a_call_answers_and_times_out() {
    let (actor, _) = Actor::spawn(None, probe("caller"), ())
        .await
        .expect("spawn");
    assert_eq!(call(&actor, ProbeMsg::Ping).await, Ok("caller".into()));
    let started = Instant::now();
    let timeout = Duration::from_millis(50);
    assert_eq!(
        call_timeout(&actor, ProbeMsg::Swallow, timeout).await,
        Err(CallError::Timeout { after: timeout })
    );
    assert!(started.elapsed() >= timeout);
    actor.stop(None);
}

#[tokio::test]
async fn a_call_to_a_dead_actor_fails_at_once() {
    let (actor, handle) = Actor::spawn(None, probe("dead"), ()).await.expect("spawn");
    actor.stop(None);
    handle.await.expect("join");
    let started = Instant::now();
    assert_eq!(
        call_timeout(&actor, ProbeMsg::Ping, Duration::from_secs(5)).await,
        Err(CallError::NoProc)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        cast(&actor, ProbeMsg::Finish),
        Err(CastError::NoProc(ProbeMsg::Finish))
    ));
}

#[tokio::test]
async fn a_call_queued_behind_a_crash_fails_with_stopped() {
    let (actor, _) = Actor::spawn(None, probe("crasher"), ())
        .await
        .expect("spawn");
    actor
        .cast(ProbeMsg::Block(Duration::from_millis(50)))
        .expect("cast");
    actor.cast(ProbeMsg::Fail).expect("cast");
    let started = Instant::now();
    let result = call_timeout(&actor, ProbeMsg::Ping, Duration::from_secs(5)).await;
    assert!(
        matches!(result, Err(CallError::Stopped) | Err(CallError::NoProc)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "not a timeout");
}
