//! The server runs under its own supervision tree: the parts in dependency order, a killed or
//! crashed part restarted with the parts after it, and a tree that gives up ending `run` with
//! an error.

use bream_runtime::exit::ExitReason;
use bream_runtime::fault;
use bream_runtime::supervisor::{SupervisorEvent, SupervisorRef};
use bream_testkit::wait::DEADLINE;
use bream_testkit::xmpp::{TestClient, TestServer, PASSWORD};
use serde_json::Value;
use tokio::sync::broadcast;

async fn child_ids(root: &SupervisorRef) -> Vec<String> {
    root.which_children()
        .await
        .expect("the root answers")
        .into_iter()
        .map(|child| child.id)
        .collect()
}

async fn cell_of(root: &SupervisorRef, id: &str) -> bream_runtime::ractor::ActorCell {
    root.which_children()
        .await
        .expect("the root answers")
        .into_iter()
        .find(|child| child.id == id)
        .and_then(|child| child.actor)
        .unwrap_or_else(|| panic!("{id} runs"))
}

/// Waits until the root has restarted `id`.
async fn restarted(events: &mut broadcast::Receiver<SupervisorEvent>, id: &str) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await {
                Ok(SupervisorEvent::ChildRestarted { child, .. }) if child == id => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the root stopped"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{id} restarted within {DEADLINE:?}"));
}

async fn uptime_answers(server: &TestServer) {
    let answer = server
        .admin()
        .query("{ server { status { statusCode } } }", Value::Null)
        .await
        .expect("the admin API answers");
    assert_eq!(
        answer.body["data"]["server"]["status"]["statusCode"], "RUNNING",
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_single_node_runs_its_parts_in_dependency_order() {
    let server = TestServer::start().await;
    let root = server.inner().supervisor();
    assert_eq!(
        child_ids(root).await,
        [
            "metrics",
            "c2s",
            "graphql_admin",
            "graphql_user",
            "readiness"
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_killed_c2s_part_restarts_with_the_apis_after_it_and_serves_again() {
    let server = TestServer::builder().users(["alice"]).start().await;
    let root = server.inner().supervisor().clone();
    let mut events = root.subscribe();
    let metrics_before = cell_of(&root, "metrics").await.get_id();
    let mut before = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "old").await;

    fault::kill(&cell_of(&root, "c2s").await).expect("the c2s part can be killed");
    restarted(&mut events, "readiness").await;

    // The old session's connection went with the old c2s subtree (linked to its owner).
    while before.event().await.is_some() {}
    // rest_for_one: the parts before c2s kept running; those after it were restarted.
    assert_eq!(cell_of(&root, "metrics").await.get_id(), metrics_before);
    let mut after = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "new").await;
    after.send("<presence/>").await;
    uptime_answers(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_crashed_api_part_restarts_alone_and_keeps_its_stop_request_channel() {
    let server = TestServer::start().await;
    let root = server.inner().supervisor().clone();
    let mut events = root.subscribe();
    let c2s_before = cell_of(&root, "c2s").await.get_id();

    let admin = cell_of(&root, "graphql_admin").await;
    fault::exit(&admin, ExitReason::Error("injected crash".into())).expect("exit");
    restarted(&mut events, "graphql_admin").await;

    assert_eq!(cell_of(&root, "c2s").await.get_id(), c2s_before);
    uptime_answers(&server).await;
    // A stop asked through the restarted API still reaches the node.
    let stop = server
        .admin()
        .query("mutation { server { stop } }", Value::Null)
        .await
        .expect("the admin API answers");
    assert_eq!(
        stop.body["data"]["server"]["stop"], "Stop scheduled",
        "{stop:?}"
    );
    tokio::time::timeout(DEADLINE, server.inner().stop_requested())
        .await
        .expect("the stop request reached the node");
    server.stop().await;
}

#[tokio::test]
async fn a_part_that_keeps_crashing_makes_the_tree_give_up_and_run_fail() {
    let server = TestServer::start().await;
    let root = server.inner().supervisor().clone();
    let mut events = root.subscribe();
    let running = tokio::spawn(server.run());
    // One more crash than the root allows in its period.
    for _ in 0..=bream_xmpp::server::tree::RESTARTS_MAX {
        let Some(c2s) = root
            .which_children()
            .await
            .ok()
            .and_then(|children| children.into_iter().find(|child| child.id == "c2s"))
            .and_then(|child| child.actor)
        else {
            break;
        };
        fault::kill(&c2s).expect("the c2s part can be killed");
        // The next kill waits for this restart, unless the root gave up on this one.
        let _ = tokio::time::timeout(DEADLINE, async {
            loop {
                match events.recv().await {
                    Ok(SupervisorEvent::ChildRestarted { child, .. }) if child == "readiness" => {
                        return
                    }
                    Ok(SupervisorEvent::IntensityReached { .. })
                    | Err(broadcast::error::RecvError::Closed) => return,
                    _ => {}
                }
            }
        })
        .await;
    }
    let outcome = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("run returns once the tree gave up")
        .expect("run does not panic");
    let error = outcome.expect_err("a tree that gave up is an error");
    assert!(error.contains("too many restarts"), "{error}");
}
