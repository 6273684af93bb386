//! The server runs under its own supervision tree: the parts in dependency order, a killed or
//! crashed part restarted with the parts after it, and a tree that gives up ending `run` with
//! an error.

use bream_runtime::exit::ExitReason;
use bream_runtime::fault;
use bream_runtime::supervisor::{SupervisorEvent, SupervisorRef};
use bream_testkit::wait::DEADLINE;
use bream_testkit::xmpp::{graphql, TestClient, TestServer, PASSWORD};
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

async fn debug_server(fault_injection: bool) -> TestServer {
    TestServer::builder()
        .users(["alice", "bob"])
        .configure(|config| config.debug.fault_injection = fault_injection)
        .start()
        .await
}

fn names(tree: &Value) -> Vec<String> {
    let mut all = vec![tree["name"].as_str().unwrap_or_default().to_string()];
    for child in tree["children"].as_array().into_iter().flatten() {
        all.extend(names(child));
    }
    all
}

fn entry<'a>(tree: &'a Value, name: &str) -> Option<&'a Value> {
    if tree["name"] == name {
        return Some(tree);
    }
    tree["children"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|child| entry(child, name))
}

async fn supervision_tree(server: &TestServer) -> Value {
    graphql::expect_data(
        "supervisionTree",
        &server
            .admin()
            .query("{ debug { supervisionTree } }", Value::Null)
            .await
            .expect("an answer"),
    )["debug"]["supervisionTree"]
        .clone()
}

#[tokio::test]
async fn debug_is_refused_unless_fault_injection_is_on() {
    let server = debug_server(false).await;
    for query in [
        "{ debug { supervisionTree } }",
        "mutation { debug { killProcess(name: \"bream_xmpp/c2s\") } }",
        "mutation { debug { cutLink(node: \"other@127.0.0.1\") } }",
    ] {
        let answer = server
            .admin()
            .query(query, Value::Null)
            .await
            .expect("an answer");
        assert_eq!(
            graphql::expect_error_code(query, &answer),
            "fault_injection_disabled"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn the_debug_tree_names_every_part_and_a_killed_one_counts_its_restart() {
    let server = debug_server(true).await;
    let root = server.inner().supervisor().clone();
    let mut events = root.subscribe();
    let tree = supervision_tree(&server).await;
    assert_eq!(tree["name"], "bream_xmpp");
    assert_eq!(tree["kind"], "supervisor");
    assert_eq!(tree["strategy"], "rest_for_one");
    let all = names(&tree);
    for part in [
        "metrics",
        "c2s",
        "graphql_admin",
        "graphql_user",
        "readiness",
    ] {
        let name = format!("bream_xmpp/{part}");
        let part = entry(&tree, &name).unwrap_or_else(|| panic!("{name} in {tree}"));
        assert_eq!(part["kind"], "worker", "{part}");
        assert_eq!(part["restarts"], 0, "{part}");
    }
    // The c2s part's own subtree hangs under it: its supervisor, the listener, the sessions.
    let c2s_subtree = &entry(&tree, "bream_xmpp/c2s").expect("c2s")["children"][0];
    assert_eq!(c2s_subtree["kind"], "supervisor", "{tree}");
    assert!(
        all.iter()
            .any(|name| name.starts_with("bream_xmpp/c2s/c2s_") && name.ends_with("/sessions")),
        "{all:?}"
    );

    let kill = "mutation { debug { killProcess(name: \"bream_xmpp/graphql_user\") } }";
    graphql::expect_data(
        kill,
        &server
            .admin()
            .query(kill, Value::Null)
            .await
            .expect("answer"),
    );
    restarted(&mut events, "readiness").await;
    let tree = supervision_tree(&server).await;
    assert_eq!(
        entry(&tree, "bream_xmpp/graphql_user").expect("user API")["restarts"],
        1,
        "{tree}"
    );
    assert_eq!(
        entry(&tree, "bream_xmpp/c2s").expect("c2s")["restarts"],
        0,
        "{tree}"
    );

    let unknown = "mutation { debug { killProcess(name: \"bream_xmpp/nothing\") } }";
    assert_eq!(
        graphql::expect_error_code(
            unknown,
            &server
                .admin()
                .query(unknown, Value::Null)
                .await
                .expect("answer"),
        ),
        "no_such_process"
    );
    let alone = "mutation { debug { cutLink(node: \"other@127.0.0.1\") } }";
    assert_eq!(
        graphql::expect_error_code(
            alone,
            &server
                .admin()
                .query(alone, Value::Null)
                .await
                .expect("answer"),
        ),
        "not_supported"
    );
    server.stop().await;
}

fn session_names(tree: &Value) -> Vec<String> {
    names(tree)
        .into_iter()
        .filter(|name| name.contains("/sessions/"))
        .collect()
}

#[tokio::test]
async fn a_panicked_session_ends_that_client_only() {
    let server = debug_server(true).await;
    let mut alice = TestClient::login_available(server.c2s_addr(), "alice", PASSWORD, "a").await;
    let alice_session = match session_names(&supervision_tree(&server).await).as_slice() {
        [only] => only.clone(),
        other => panic!("one session expected: {other:?}"),
    };
    let mut bob = TestClient::login_available(server.c2s_addr(), "bob", PASSWORD, "b").await;
    assert_eq!(session_names(&supervision_tree(&server).await).len(), 2);

    let panic = "mutation($name: String!) { debug { panicProcess(name: $name) } }";
    graphql::expect_data(
        panic,
        &server
            .admin()
            .query(panic, serde_json::json!({ "name": alice_session }))
            .await
            .expect("answer"),
    );
    // The next message alice's session handles makes it panic: her connection ends.
    bob.message("alice@localhost/a", "boom").await;
    while alice.event().await.is_some() {}
    // Bob's session carries on.
    let mut again = TestClient::login(server.c2s_addr(), "alice", PASSWORD, "again").await;
    again.message("bob@localhost/b", "still there?").await;
    bob.expect_body("alice@localhost", "still there?").await;
    server.stop().await;
}
