//! Dynamic supervisors (simple_one_for_one).

use std::time::Duration;

use bream_runtime::call::call;
use bream_runtime::ractor::ActorRef;
use bream_runtime::supervisor::*;
use bream_runtime::testkit::{expect_restarts, wait_for_event};

use crate::probe::{Log, Probe, ProbeMsg};
use crate::supervisor::DEADLINE;

fn template(log: &Log) -> ChildTemplate<String> {
    let log = log.clone();
    ChildTemplate::actor(move |name: String| (Probe::new(name, &log), ()))
}

#[tokio::test]
async fn dynamic_children_start_terminate_and_count() {
    let log = Log::default();
    let sessions = DynamicSupervisor::start(
        DynamicSupervisorSpec::new("sessions", template(&log)).max_children(3),
    )
    .await
    .expect("start");
    let mut started = Vec::new();
    for name in ["s1", "s2", "s3"] {
        started.push(
            sessions
                .start_child(name.to_string())
                .await
                .expect("start child"),
        );
    }
    assert_eq!(
        sessions.start_child("s4".into()).await.map(|_| ()),
        Err(SupervisorError::MaxChildren(3))
    );
    let counts = sessions.count_children().await.expect("count");
    assert_eq!((counts.specs, counts.active, counts.workers), (3, 3, 3));
    let reply = call(
        &ActorRef::<ProbeMsg>::from(started[1].clone()),
        ProbeMsg::Ping,
    )
    .await;
    assert_eq!(reply, Ok("s2".to_string()));

    sessions
        .terminate_child(&started[1])
        .await
        .expect("terminate");
    let names: Vec<_> = sessions
        .which_children()
        .await
        .expect("which")
        .into_iter()
        .filter_map(|info| info.actor.map(|actor| actor.get_id()))
        .collect();
    assert_eq!(names, [started[0].get_id(), started[2].get_id()]);
    // Room again under max_children.
    sessions
        .start_child("s4".into())
        .await
        .expect("start after terminate");
    assert_eq!(
        sessions.terminate_child(&started[1]).await,
        Err(SupervisorError::NotFound(format!(
            "with actor {}",
            started[1].get_id()
        )))
    );
    // Static operations are refused.
    assert_eq!(
        sessions.supervisor().delete_child("x").await,
        Err(SupervisorError::NotFound("x".into()))
    );
    sessions.supervisor().shutdown(DEADLINE).await;
    let mut stops = log.with_prefix("stop:");
    stops.sort();
    assert_eq!(stops, ["s1", "s2", "s3", "s4"]);
}

#[tokio::test]
async fn temporary_dynamic_children_are_forgotten_and_permanent_ones_restart_with_their_args() {
    let log = Log::default();
    let spec = DynamicSupervisorSpec::new("workers", template(&log).restart(Restart::Permanent))
        .intensity(5, Duration::from_secs(5));
    let mut events = spec.subscribe();
    let workers = DynamicSupervisor::start(spec).await.expect("start");
    let first = workers.start_child("w".into()).await.expect("start");
    ActorRef::<ProbeMsg>::from(first.clone())
        .cast(ProbeMsg::Fail)
        .expect("cast");
    let restarted = match wait_for_event(&mut events, DEADLINE, |event| {
        matches!(event, SupervisorEvent::ChildRestarted { .. })
    })
    .await
    .expect("restart")
    {
        SupervisorEvent::ChildRestarted { actor, .. } => actor,
        other => panic!("{other:?}"),
    };
    let children = workers.which_children().await.expect("which");
    assert_eq!(children.len(), 1);
    let again: ActorRef<ProbeMsg> = children[0].actor.clone().expect("running").into();
    assert_eq!(again.get_id(), restarted);
    assert_eq!(
        call(&again, ProbeMsg::Ping).await,
        Ok("w".into()),
        "same args"
    );
    workers.supervisor().shutdown(DEADLINE).await;

    let temp_log = Log::default();
    let spec = DynamicSupervisorSpec::new("temps", template(&temp_log));
    let mut events = spec.subscribe();
    let temps = DynamicSupervisor::start(spec).await.expect("start");
    let child = temps.start_child("t".into()).await.expect("start");
    ActorRef::<ProbeMsg>::from(child)
        .cast(ProbeMsg::Fail)
        .expect("cast");
    wait_for_event(&mut events, DEADLINE, |event| {
        matches!(event, SupervisorEvent::ChildExited { .. })
    })
    .await
    .expect("exit");
    assert!(temps.which_children().await.expect("which").is_empty());
    assert!(
        expect_restarts(&mut events, "temps-1", 1, Duration::from_millis(50))
            .await
            .is_err()
    );
    temps.supervisor().shutdown(DEADLINE).await;
}

#[tokio::test]
async fn wrong_argument_type_is_an_error_not_a_crash() {
    let log = Log::default();
    let sessions = DynamicSupervisor::start(DynamicSupervisorSpec::new("typed", template(&log)))
        .await
        .expect("start");
    let wrong: DynamicSupervisor<u32> = DynamicSupervisor::from_ref(sessions.supervisor().clone());
    assert_eq!(
        wrong.start_child(7).await.map(|_| ()),
        Err(SupervisorError::Start(StartError::WrongArgumentType))
    );
    assert!(sessions.start_child("ok".into()).await.is_ok());
    sessions.supervisor().shutdown(DEADLINE).await;
}
