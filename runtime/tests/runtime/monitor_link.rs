//! Monitors, links and trap_exit.

use std::time::Duration;

use bream_runtime::exit::ExitReason;
use bream_runtime::link::{link, trap_exit, unlink, ExitSignal, LinkError};
use bream_runtime::monitor::{demonitor, monitor, monitor_channel};
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;

use crate::probe::{spawn_probe, Log, Probe, ProbeMsg};

const DEADLINE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn monitor_reports_the_exit_reason() {
    for (how, reason) in [
        (ProbeMsg::Finish, ExitReason::Normal),
        (ProbeMsg::FinishShutdown, ExitReason::Shutdown),
        (ProbeMsg::Fail, ExitReason::Error("watched failed".into())),
    ] {
        let target = spawn_probe("watched").await;
        let (monitor_ref, down) = monitor_channel(&target.get_cell());
        target.cast(how).expect("cast");
        let down = tokio::time::timeout(DEADLINE, down)
            .await
            .expect("in time")
            .expect("down");
        assert_eq!(down.monitor, monitor_ref);
        assert_eq!(down.actor, target.get_id());
        assert_eq!(down.reason, reason);
    }
    let killed = spawn_probe("killed").await;
    let (_, down) = monitor_channel(&killed.get_cell());
    killed.kill();
    assert_eq!(down.await.expect("down").reason, ExitReason::Killed);
}

#[tokio::test]
async fn monitoring_a_dead_actor_gives_noproc() {
    let (target, handle) = Actor::spawn(None, Probe::new("gone", &Log::default()), ())
        .await
        .expect("spawn");
    target.stop(None);
    handle.await.expect("join");
    let (_, down) = monitor_channel(&target.get_cell());
    let down = tokio::time::timeout(DEADLINE, down)
        .await
        .expect("in time")
        .expect("down");
    assert_eq!(down.reason, ExitReason::NoProc);
}

#[tokio::test]
async fn demonitor_cancels_and_reports_whether_it_had_fired() {
    let target = spawn_probe("demonitored").await;
    let (monitor_ref, down) = monitor_channel(&target.get_cell());
    let (second_ref, second) = monitor_channel(&target.get_cell());
    assert!(demonitor(monitor_ref));
    assert!(!demonitor(monitor_ref));
    target.cast(ProbeMsg::Fail).expect("cast");
    assert!(second.await.is_ok(), "the other monitor still fires");
    assert!(down.await.is_err(), "the cancelled one never fires");
    assert!(!demonitor(second_ref));
}

/// An actor that records what it receives: exit signals and DOWN notices.
struct Watcher {
    seen: mpsc::UnboundedSender<String>,
}

enum WatcherMsg {
    Exit(ExitSignal),
    Down(ExitReason),
}

bream_runtime::local_message!(WatcherMsg);

impl Actor for Watcher {
    type Msg = WatcherMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WatcherMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<WatcherMsg>,
        message: WatcherMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let line = match message {
            WatcherMsg::Exit(signal) => format!("exit:{}", signal.reason),
            WatcherMsg::Down(reason) => format!("down:{reason}"),
        };
        let _ = self.seen.send(line);
        Ok(())
    }
}

#[tokio::test]
async fn monitor_delivers_down_as_a_message() {
    let (seen, mut lines) = mpsc::unbounded_channel();
    let (watcher, _) = Actor::spawn(None, Watcher { seen }, ())
        .await
        .expect("spawn");
    let target = spawn_probe("target").await;
    monitor(&target.get_cell(), &watcher, |down| {
        WatcherMsg::Down(down.reason)
    });
    target.cast(ProbeMsg::Fail).expect("cast");
    assert_eq!(
        lines.recv().await.as_deref(),
        Some("down:error: target failed")
    );
    watcher.stop(None);
}

#[tokio::test]
async fn a_link_propagates_an_abnormal_exit() {
    let a = spawn_probe("a").await;
    let b = spawn_probe("b").await;
    link(&a.get_cell(), &b.get_cell()).expect("link");
    let (_, b_down) = monitor_channel(&b.get_cell());
    a.cast(ProbeMsg::Fail).expect("cast");
    let down = tokio::time::timeout(DEADLINE, b_down)
        .await
        .expect("in time")
        .expect("down");
    assert_eq!(
        down.reason,
        ExitReason::Error("a failed".into()),
        "same reason as a"
    );
}

#[tokio::test]
async fn a_normal_exit_does_not_take_the_linked_actor_down() {
    let a = spawn_probe("a").await;
    let b = spawn_probe("b").await;
    link(&a.get_cell(), &b.get_cell()).expect("link");
    let (_, a_down) = monitor_channel(&a.get_cell());
    a.cast(ProbeMsg::Finish).expect("cast");
    a_down.await.expect("down");
    assert_eq!(
        bream_runtime::call::call(&b, ProbeMsg::Ping).await,
        Ok("b".into())
    );
    b.stop(None);
}

#[tokio::test]
async fn trap_exit_turns_the_signal_into_a_message() {
    let (seen, mut lines) = mpsc::unbounded_channel();
    let (watcher, _) = Actor::spawn(None, Watcher { seen }, ())
        .await
        .expect("spawn");
    trap_exit(&watcher, WatcherMsg::Exit);
    let a = spawn_probe("a").await;
    link(&a.get_cell(), &watcher.get_cell()).expect("link");
    a.cast(ProbeMsg::Fail).expect("cast");
    assert_eq!(lines.recv().await.as_deref(), Some("exit:error: a failed"));
    assert!(bream_runtime::call::is_alive(&watcher.get_cell()));
    watcher.stop(None);
}

#[tokio::test]
async fn unlink_and_link_errors() {
    let a = spawn_probe("a").await;
    let b = spawn_probe("b").await;
    assert_eq!(
        link(&a.get_cell(), &a.get_cell()),
        Err(LinkError::SelfLink(a.get_id()))
    );
    link(&a.get_cell(), &b.get_cell()).expect("link");
    assert!(unlink(&a.get_cell(), &b.get_cell()));
    assert!(!unlink(&a.get_cell(), &b.get_cell()));
    let (_, a_down) = monitor_channel(&a.get_cell());
    a.cast(ProbeMsg::Fail).expect("cast");
    a_down.await.expect("down");
    assert_eq!(
        bream_runtime::call::call(&b, ProbeMsg::Ping).await,
        Ok("b".into())
    );
    assert_eq!(
        link(&a.get_cell(), &b.get_cell()),
        Err(LinkError::NoProc(a.get_id()))
    );
    b.stop(None);
}
