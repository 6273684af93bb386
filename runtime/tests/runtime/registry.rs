//! Names given at any time, freed when their actor stops; process groups.

use std::time::Duration;

use bream_runtime::monitor::monitor_channel;
use bream_runtime::ractor::ActorRef;
use bream_runtime::registry::{
    register, registered, unregister, whereis, whereis_ref, RegisterError,
};
use bream_runtime::testkit::eventually;
use bream_runtime::{fault, groups};

use crate::probe::{spawn_probe, ProbeMsg};

#[tokio::test]
async fn register_whereis_unregister() {
    let a = spawn_probe("a").await;
    let b = spawn_probe("b").await;
    register("registry-test-a", &a.get_cell()).expect("register");
    assert_eq!(
        whereis("registry-test-a").map(|cell| cell.get_id()),
        Some(a.get_id())
    );
    assert!(registered().contains(&"registry-test-a".to_string()));
    assert_eq!(
        register("registry-test-a", &b.get_cell()),
        Err(RegisterError::NameTaken {
            name: "registry-test-a".into(),
            holder: a.get_id()
        })
    );
    assert_eq!(
        register("registry-test-other", &a.get_cell()),
        Err(RegisterError::AlreadyNamed {
            actor: a.get_id(),
            name: "registry-test-a".into()
        })
    );
    let typed: ActorRef<ProbeMsg> = whereis_ref("registry-test-a").expect("typed");
    assert_eq!(
        bream_runtime::call::call(&typed, ProbeMsg::Ping).await,
        Ok("a".into())
    );
    assert!(
        whereis_ref::<u64>("registry-test-a").is_none(),
        "wrong message type"
    );
    assert!(unregister("registry-test-a"));
    assert!(!unregister("registry-test-a"));
    assert!(whereis("registry-test-a").is_none());
    register("registry-test-a", &b.get_cell()).expect("name free again");
    a.stop(None);
    b.stop(None);
}

#[tokio::test]
async fn a_name_is_freed_when_its_actor_dies() {
    let a = spawn_probe("a").await;
    register("registry-test-dies", &a.get_cell()).expect("register");
    let (_, down) = monitor_channel(&a.get_cell());
    fault::kill_named("registry-test-dies").expect("kill");
    down.await.expect("down");
    assert!(whereis("registry-test-dies").is_none());
    let b = spawn_probe("b").await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            register("registry-test-dies", &b.get_cell()).is_ok()
        })
        .await
    );
    assert_eq!(
        fault::kill_named("registry-test-nobody"),
        Err(fault::FaultError::NoSuchName("registry-test-nobody".into()))
    );
    b.stop(None);
}

#[tokio::test]
async fn groups_track_members() {
    let a = spawn_probe("a").await;
    let b = spawn_probe("b").await;
    groups::join("registry-test-group", &[a.get_cell(), b.get_cell()]);
    assert_eq!(groups::members("registry-test-group").len(), 2);
    groups::leave("registry-test-group", &[b.get_cell()]);
    assert_eq!(groups::local_members("registry-test-group").len(), 1);
    let (_, down) = monitor_channel(&a.get_cell());
    a.stop(None);
    down.await.expect("down");
    assert!(
        eventually(Duration::from_secs(2), || async {
            groups::members("registry-test-group").is_empty()
        })
        .await
    );
    b.stop(None);
}
