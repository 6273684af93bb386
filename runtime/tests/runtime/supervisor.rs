//! OTP supervisor semantics, one behaviour per test.

use std::time::Duration;

use bream_runtime::exit::ExitReason;
use bream_runtime::fault;
use bream_runtime::monitor::monitor_channel;
use bream_runtime::ractor::ActorRef;
use bream_runtime::supervisor::*;
use bream_runtime::testkit::{expect_restarts, wait_for_event};
use tokio::sync::broadcast::Receiver;

use crate::probe::{failing_probe, probe, Log, ProbeMsg};

pub(crate) const DEADLINE: Duration = Duration::from_secs(5);

/// The running actor of child `id`.
pub(crate) async fn child(supervisor: &SupervisorRef, id: &str) -> ActorRef<ProbeMsg> {
    let children = supervisor.which_children().await.expect("which_children");
    let info = children
        .into_iter()
        .find(|info| info.id == id)
        .unwrap_or_else(|| panic!("no child {id}"));
    info.actor
        .unwrap_or_else(|| panic!("child {id} not running"))
        .into()
}

pub(crate) async fn ids(supervisor: &SupervisorRef) -> Vec<(String, bool)> {
    supervisor
        .which_children()
        .await
        .expect("which_children")
        .into_iter()
        .map(|info| (info.id, info.actor.is_some()))
        .collect()
}

async fn exited(events: &mut Receiver<SupervisorEvent>, id: &str) -> ExitReason {
    match wait_for_event(
        events,
        DEADLINE,
        |event| matches!(event, SupervisorEvent::ChildExited { child, .. } if child == id),
    )
    .await
    .expect("child exit event")
    {
        SupervisorEvent::ChildExited { reason, .. } => reason,
        other => panic!("unexpected {other:?}"),
    }
}

/// The events up to and including the first one matching `last`.
async fn events_until(
    events: &mut Receiver<SupervisorEvent>,
    last: impl Fn(&SupervisorEvent) -> bool,
) -> Vec<SupervisorEvent> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(DEADLINE, events.recv())
            .await
            .expect("event before deadline")
            .expect("event channel open");
        let done = last(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn terminated(events: &[SupervisorEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            SupervisorEvent::ChildTerminated { child, .. } => Some(child.clone()),
            _ => None,
        })
        .collect()
}

fn restarted(events: &[SupervisorEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            SupervisorEvent::ChildRestarted { child, .. } => Some(child.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a child of `restart` type comes back after exiting with `how`.
async fn restarted_after(restart: Restart, how: ProbeMsg) -> (ExitReason, bool) {
    let log = Log::default();
    let spec = SupervisorSpec::new("restart-types")
        .intensity(10, Duration::from_secs(5))
        .child(probe("worker", &log).restart(restart))
        .child(probe("witness", &log));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    child(&supervisor, "worker").await.cast(how).expect("cast");
    let reason = exited(&mut events, "worker").await;
    // A later event from the same supervisor proves the exit was fully handled: ask the
    // witness to crash, and wait for its restart.
    child(&supervisor, "witness")
        .await
        .cast(ProbeMsg::Fail)
        .expect("cast");
    let handled = events_until(&mut events, |event| {
        matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "witness")
    })
    .await;
    let came_back = restarted(&handled).contains(&"worker".to_string());
    let listed = ids(&supervisor).await;
    match restart {
        Restart::Temporary => assert!(!listed.iter().any(|(id, _)| id == "worker")),
        _ => assert!(listed.contains(&("worker".to_string(), came_back))),
    }
    supervisor.shutdown(DEADLINE).await;
    (reason, came_back)
}

#[tokio::test]
async fn restart_types_against_normal_and_abnormal_exits() {
    use Restart::*;
    for (restart, how, reason, comes_back) in [
        (Permanent, ProbeMsg::Finish, ExitReason::Normal, true),
        (
            Permanent,
            ProbeMsg::Fail,
            ExitReason::Error("worker failed".into()),
            true,
        ),
        (Transient, ProbeMsg::Finish, ExitReason::Normal, false),
        (
            Transient,
            ProbeMsg::FinishShutdown,
            ExitReason::Shutdown,
            false,
        ),
        (
            Transient,
            ProbeMsg::Fail,
            ExitReason::Error("worker failed".into()),
            true,
        ),
        (Temporary, ProbeMsg::Finish, ExitReason::Normal, false),
        (
            Temporary,
            ProbeMsg::Fail,
            ExitReason::Error("worker failed".into()),
            false,
        ),
    ] {
        let (seen_reason, seen_back) = restarted_after(restart, how).await;
        assert_eq!(seen_reason, reason, "{restart:?}");
        assert_eq!(seen_back, comes_back, "{restart:?} after {reason}");
    }
}

#[tokio::test]
async fn one_for_all_restarts_every_child() {
    let log = Log::default();
    let spec = SupervisorSpec::new("ofa")
        .strategy(Strategy::OneForAll)
        .child(probe("a", &log))
        .child(probe("b", &log))
        .child(probe("c", &log));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    let before = child(&supervisor, "a").await.get_id();
    log.clear();
    fault::kill(&child(&supervisor, "b").await.get_cell()).expect("kill");
    let seen = events_until(
        &mut events,
        |event| matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "c"),
    )
    .await;
    assert_eq!(terminated(&seen), ["c", "a"], "others stopped in reverse");
    assert_eq!(restarted(&seen), ["a", "b", "c"], "all started in order");
    assert_eq!(
        log.lines(),
        ["stop:c", "stop:a", "start:a", "start:b", "start:c"]
    );
    assert_ne!(child(&supervisor, "a").await.get_id(), before);
    supervisor.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn rest_for_one_restarts_the_later_siblings_in_order() {
    let log = Log::default();
    let spec = SupervisorSpec::new("rfo")
        .strategy(Strategy::RestForOne)
        .child(probe("a", &log))
        .child(probe("b", &log))
        .child(probe("c", &log))
        .child(probe("d", &log));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    let a_before = child(&supervisor, "a").await.get_id();
    log.clear();
    child(&supervisor, "b")
        .await
        .cast(ProbeMsg::Fail)
        .expect("cast");
    let seen = events_until(
        &mut events,
        |event| matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "d"),
    )
    .await;
    assert_eq!(terminated(&seen), ["d", "c"]);
    assert_eq!(restarted(&seen), ["b", "c", "d"]);
    assert_eq!(
        log.lines(),
        ["stop:d", "stop:c", "start:b", "start:c", "start:d"]
    );
    assert_eq!(
        child(&supervisor, "a").await.get_id(),
        a_before,
        "a untouched"
    );
    supervisor.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn intensity_reached_escalates_to_the_parent() {
    let log = Log::default();
    let inner = SupervisorSpec::new("inner")
        .intensity(1, Duration::from_secs(60))
        .child(probe("x", &log))
        .child(probe("y", &log))
        .child(probe("z", &log));
    let mut inner_events = inner.subscribe();
    let outer = SupervisorSpec::new("outer")
        .intensity(5, Duration::from_secs(60))
        .child(ChildSpec::supervisor("inner", inner));
    let mut outer_events = outer.subscribe();
    let root = Supervisor::start(outer).await.expect("start");
    let first_inner = child(&root, "inner").await.get_cell();
    let inner_ref = SupervisorRef::from_cell(first_inner.clone())
        .await
        .expect("inner ref");

    // First crash: within intensity, restarted.
    child(&inner_ref, "y")
        .await
        .cast(ProbeMsg::Fail)
        .expect("cast");
    expect_restarts(&mut inner_events, "y", 1, DEADLINE)
        .await
        .expect("restart");
    log.clear();
    // Second crash within the period: one too many.
    child(&inner_ref, "y")
        .await
        .cast(ProbeMsg::Fail)
        .expect("cast");
    let seen = events_until(&mut inner_events, |event| {
        matches!(event, SupervisorEvent::SupervisorStopped { .. })
    })
    .await;
    assert!(seen
        .iter()
        .any(|event| matches!(event, SupervisorEvent::IntensityReached { .. })));
    assert_eq!(terminated(&seen), ["z", "x"], "children stopped in reverse");
    assert_eq!(log.with_prefix("stop:"), ["z", "x"]);

    // The parent sees an abnormal exit and restarts the whole inner supervisor.
    let reason = exited(&mut outer_events, "inner").await;
    assert_eq!(reason, ExitReason::Error(INTENSITY_REACHED_REASON.into()));
    expect_restarts(&mut outer_events, "inner", 1, DEADLINE)
        .await
        .expect("inner restarted");
    let second_inner = child(&root, "inner").await.get_cell();
    assert_ne!(second_inner.get_id(), first_inner.get_id());
    let second_ref = SupervisorRef::from_cell(second_inner).await.expect("ref");
    assert_eq!(
        ids(&second_ref).await,
        [("x".into(), true), ("y".into(), true), ("z".into(), true)]
    );
    root.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn a_child_failing_to_start_stops_the_earlier_ones_in_reverse() {
    let log = Log::default();
    let spec = SupervisorSpec::new("bad-start")
        .child(probe("a", &log))
        .child(probe("b", &log))
        .child(probe("c", &log))
        .child(failing_probe("d", &log))
        .child(probe("e", &log));
    let error = Supervisor::start(spec).await.expect_err("start must fail");
    assert!(
        matches!(&error, StartError::ChildFailed { child, .. } if child == "d"),
        "{error:?}"
    );
    assert_eq!(
        log.lines(),
        [
            "start:a",
            "start:b",
            "start:c",
            "failstart:d",
            "stop:c",
            "stop:b",
            "stop:a"
        ]
    );
}

#[tokio::test]
async fn a_child_that_ignores_stop_is_killed_after_its_shutdown_time() {
    let log = Log::default();
    let spec = SupervisorSpec::new("stubborn")
        .child(probe("slow", &log).shutdown(Shutdown::Timeout(Duration::from_millis(100))));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    let slow = child(&supervisor, "slow").await;
    slow.cast(ProbeMsg::Block(Duration::from_secs(3600)))
        .expect("cast");
    let (_, down) = monitor_channel(&slow.get_cell());
    let started = std::time::Instant::now();
    supervisor.terminate_child("slow").await.expect("terminate");
    let down = down.await.expect("down");
    assert_eq!(down.reason, ExitReason::Killed);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "killed, not waited for"
    );
    assert!(
        log.with_prefix("stop:").is_empty(),
        "post_stop does not run after a kill"
    );
    wait_for_event(
        &mut events,
        DEADLINE,
        |event| matches!(event, SupervisorEvent::ChildTerminated { child, .. } if child == "slow"),
    )
    .await
    .expect("terminated event");
    assert_eq!(ids(&supervisor).await, [("slow".into(), false)]);
    supervisor.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn brutal_kill_skips_post_stop_and_graceful_shutdown_runs_it() {
    let log = Log::default();
    let spec = SupervisorSpec::new("brutal")
        .child(probe("gentle", &log))
        .child(probe("brute", &log).shutdown(Shutdown::BrutalKill));
    let supervisor = Supervisor::start(spec).await.expect("start");
    let brute = child(&supervisor, "brute").await;
    let (_, down) = monitor_channel(&brute.get_cell());
    supervisor.shutdown(DEADLINE).await;
    assert_eq!(down.await.expect("down").reason, ExitReason::Killed);
    assert_eq!(log.with_prefix("stop:"), ["gentle"]);
}

#[tokio::test]
async fn which_children_keeps_start_order_across_restarts() {
    let log = Log::default();
    let spec = SupervisorSpec::new("order")
        .intensity(10, Duration::from_secs(5))
        .child(probe("a", &log))
        .child(probe("b", &log))
        .child(probe("c", &log));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    for id in ["c", "a", "b"] {
        child(&supervisor, id)
            .await
            .cast(ProbeMsg::Fail)
            .expect("cast");
        expect_restarts(&mut events, id, 1, DEADLINE)
            .await
            .expect("restart");
    }
    let order: Vec<String> = ids(&supervisor)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order, ["a", "b", "c"]);
    supervisor
        .start_child(probe("d", &log))
        .await
        .expect("start d");
    let order: Vec<String> = ids(&supervisor)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order, ["a", "b", "c", "d"]);
    supervisor.shutdown(DEADLINE).await;
    assert_eq!(
        log.with_prefix("stop:"),
        ["d", "c", "b", "a"],
        "shutdown in reverse"
    );
}

#[tokio::test]
async fn terminate_restart_and_delete_child() {
    let log = Log::default();
    let spec = SupervisorSpec::new("manage").child(probe("a", &log));
    let supervisor = Supervisor::start(spec).await.expect("start");
    assert_eq!(
        supervisor.delete_child("a").await,
        Err(SupervisorError::Running("a".into()))
    );
    assert_eq!(
        supervisor.restart_child("a").await.map(|_| ()),
        Err(SupervisorError::Running("a".into()))
    );
    supervisor.terminate_child("a").await.expect("terminate");
    assert_eq!(ids(&supervisor).await, [("a".into(), false)]);
    let again = supervisor.restart_child("a").await.expect("restart");
    let probe_ref: ActorRef<ProbeMsg> = again.into();
    assert_eq!(
        bream_runtime::call::call(&probe_ref, ProbeMsg::Ping).await,
        Ok("a".to_string())
    );
    supervisor.terminate_child("a").await.expect("terminate");
    supervisor.delete_child("a").await.expect("delete");
    assert!(ids(&supervisor).await.is_empty());
    assert_eq!(
        supervisor.terminate_child("a").await,
        Err(SupervisorError::NotFound("\"a\"".into()))
    );
    assert!(supervisor.start_child(probe("b", &log)).await.is_ok());
    assert_eq!(
        supervisor.start_child(probe("b", &log)).await.map(|_| ()),
        Err(SupervisorError::AlreadyPresent("b".into()))
    );
    let counts = supervisor.count_children().await.expect("count");
    assert_eq!(
        counts,
        ChildCounts {
            specs: 1,
            active: 1,
            supervisors: 0,
            workers: 1
        }
    );
    supervisor.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn a_nested_supervisor_is_restarted_as_a_whole() {
    let log = Log::default();
    let inner = SupervisorSpec::new("nested-inner")
        .child(probe("p", &log))
        .child(probe("q", &log));
    let outer = SupervisorSpec::new("nested-outer")
        .child(probe("before", &log))
        .child(ChildSpec::supervisor("inner", inner));
    let mut events = outer.subscribe();
    let root = Supervisor::start(outer).await.expect("start");
    let inner_cell = child(&root, "inner").await.get_cell();
    log.clear();
    fault::kill(&inner_cell).expect("kill");
    expect_restarts(&mut events, "inner", 1, DEADLINE)
        .await
        .expect("restart");
    // Killing a supervisor kills its children at once; the restart starts them in order.
    let starts = log.with_prefix("start:");
    assert_eq!(starts, ["p", "q"]);
    let inner_again = SupervisorRef::from_cell(child(&root, "inner").await.get_cell())
        .await
        .expect("inner ref");
    assert_eq!(
        ids(&inner_again).await,
        [("p".into(), true), ("q".into(), true)]
    );
    root.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn fault_injection_panics_delays_and_drops() {
    let log = Log::default();
    let spec = SupervisorSpec::new("faults")
        .intensity(10, Duration::from_secs(5))
        .child(probe("target", &log));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await.expect("start");
    let target = child(&supervisor, "target").await;

    fault::panic_next(&target.get_cell()).expect("arm panic");
    target.cast(ProbeMsg::Finish).expect("cast");
    let reason = exited(&mut events, "target").await;
    assert!(
        matches!(&reason, ExitReason::Error(text) if text.contains("fault injection")),
        "{reason}"
    );
    expect_restarts(&mut events, "target", 1, DEADLINE)
        .await
        .expect("restart");

    let target = child(&supervisor, "target").await;
    fault::drop_next(&target.get_cell(), 1).expect("arm drop");
    let lost =
        bream_runtime::call::call_timeout(&target, ProbeMsg::Ping, Duration::from_millis(100))
            .await;
    assert_eq!(
        lost,
        Err(bream_runtime::call::CallError::Timeout {
            after: Duration::from_millis(100)
        })
    );
    assert_eq!(
        bream_runtime::call::call(&target, ProbeMsg::Ping).await,
        Ok("target".into())
    );

    fault::delay_next(&target.get_cell(), 1, Duration::from_millis(300)).expect("arm delay");
    let slow =
        bream_runtime::call::call_timeout(&target, ProbeMsg::Ping, Duration::from_millis(100))
            .await;
    assert!(matches!(
        slow,
        Err(bream_runtime::call::CallError::Timeout { .. })
    ));

    let plain =
        bream_runtime::ractor::Actor::spawn(None, crate::probe::Probe::new("plain", &log), ())
            .await
            .expect("spawn")
            .0;
    assert_eq!(
        fault::panic_next(&plain.get_cell()),
        Err(fault::FaultError::NotInjectable(plain.get_id()))
    );
    plain.stop(None);
    supervisor.shutdown(DEADLINE).await;
}

#[tokio::test]
async fn the_tree_view_names_every_process_by_path_with_restarts_and_grafts() {
    let log = Log::default();
    let inner = SupervisorSpec::new("inner")
        .strategy(Strategy::OneForAll)
        .child(probe("leaf", &log));
    let spec = SupervisorSpec::new("root")
        .strategy(Strategy::RestForOne)
        .intensity(10, Duration::from_secs(5))
        .child(probe("first", &log))
        .child(ChildSpec::supervisor("inner", inner))
        .child(probe("owner", &log));
    let mut events = spec.subscribe();
    let root = Supervisor::start(spec).await.expect("start");
    let owned = Supervisor::start(SupervisorSpec::new("owned").child(probe("below", &log)))
        .await
        .expect("start owned");
    let grafts = std::collections::HashMap::from([("app/owner".to_string(), owned.clone())]);

    fault::kill(&child(&root, "first").await.get_cell()).expect("kill");
    // rest_for_one: the later ones come back after it; `owner` is the last.
    events_until(
        &mut events,
        |event| matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "owner"),
    )
    .await;

    let tree = supervision_tree(&root, "app", &grafts).await.expect("tree");
    let names: Vec<&str> = tree
        .flatten()
        .iter()
        .map(|node| node.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "app",
            "app/first",
            "app/inner",
            "app/inner/leaf",
            "app/owner",
            "app/owner/owned",
            "app/owner/owned/below"
        ]
    );
    assert_eq!(tree.strategy, Some(Strategy::RestForOne));
    let inner = tree.find("app/inner").expect("inner");
    assert_eq!(inner.strategy, Some(Strategy::OneForAll));
    assert_eq!(inner.kind, ChildKind::Supervisor);
    assert_eq!(inner.restarts, 1);
    assert_eq!(tree.find("app/first").expect("first").restarts, 1);
    assert_eq!(tree.find("app/inner/leaf").expect("leaf").restarts, 0);
    assert!(tree.find("app/firs").is_none());
    assert!(tree
        .find("app/owner/owned/below")
        .expect("below")
        .actor
        .is_some());
    owned.shutdown(DEADLINE).await;
    root.shutdown(DEADLINE).await;
}
