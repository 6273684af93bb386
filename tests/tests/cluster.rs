//! Nodes as real OS processes: membership, failure detection, reconnection, remote calls.

use std::time::Duration;

use bream_tests::harness::{NodeSpec, TestNode};

const NODE: &str = env!("CARGO_BIN_EXE_bream_test_node");

/// Starts nodes that list each other statically.
async fn cluster(shorts: &[&str], extra: &[&str]) -> Vec<TestNode> {
    let specs: Vec<NodeSpec> = shorts.iter().map(|short| NodeSpec::new(short)).collect();
    let peers = specs
        .iter()
        .map(NodeSpec::peer_entry)
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes = Vec::new();
    for spec in specs {
        let mut spec = spec.arg("--peers").arg(peers.clone());
        for arg in extra {
            spec = spec.arg(*arg);
        }
        nodes.push(TestNode::start(NODE, spec).await);
    }
    nodes
}

fn names(nodes: &[TestNode]) -> Vec<String> {
    nodes.iter().map(|node| node.spec.name.clone()).collect()
}

async fn expect_mesh(nodes: &mut [TestNode], deadline: Duration) {
    let all = names(nodes);
    for node in nodes.iter_mut() {
        let others: Vec<&str> = all
            .iter()
            .filter(|name| **name != node.spec.name)
            .map(String::as_str)
            .collect();
        node.expect_up(&others, deadline).await;
    }
}

#[tokio::test]
async fn three_nodes_form_a_full_mesh_and_see_a_kill_within_a_second() {
    let started = std::time::Instant::now();
    let mut nodes = cluster(&["a", "b", "c"], &[]).await;
    expect_mesh(&mut nodes, Duration::from_secs(2)).await;
    // A loose bound that still catches a mesh waiting for a slow poll (30 s).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "mesh took {:?}",
        started.elapsed()
    );
    let answer = nodes[0].command("nodes").await;
    assert_eq!(
        answer["nodes"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );

    let victim = nodes.pop().expect("c");
    let victim_name = victim.spec.name.clone();
    victim.kill9().await;
    for node in nodes.iter_mut() {
        let down = node
            .expect(Duration::from_secs(1), |line| {
                line["event"] == "down" && line["node"] == victim_name.as_str()
            })
            .await;
        assert_eq!(down["reason"], "connection closed");
    }
}

#[tokio::test]
async fn a_frozen_node_is_declared_down_and_comes_back_when_thawed() {
    let mut nodes = cluster(
        &["a", "b"],
        &["--deadline-ms", "1000", "--heartbeat-ms", "200"],
    )
    .await;
    expect_mesh(&mut nodes, Duration::from_secs(3)).await;
    let frozen = nodes[1].spec.name.clone();
    nodes[1].signal("STOP");
    let started = std::time::Instant::now();
    let down = nodes[0]
        .expect(Duration::from_secs(3), |line| {
            line["event"] == "down" && line["node"] == frozen.as_str()
        })
        .await;
    assert_eq!(down["reason"], "heartbeat missed");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    nodes[1].signal("CONT");
    nodes[0]
        .expect_up(&[frozen.as_str()], Duration::from_secs(10))
        .await;
    // The thawed node finds its sessions cut, sees the peer down, and reconnects.
    let peer = nodes[0].spec.name.clone();
    nodes[1]
        .expect_up(&[peer.as_str()], Duration::from_secs(10))
        .await;
    // Both nodes may dial each other at once after the thaw and ractor drops one of the two
    // connections, so the view may flap once more before it settles.
    nodes[1]
        .command_until("nodes", Duration::from_secs(10), |answer| {
            answer["nodes"] == serde_json::json!([peer])
        })
        .await;
}

/// Calls `echo` on `node` until `owner`'s echo answers: a global name reaches a peer a little
/// after the peer is up.
async fn call_until_answered(node: &mut TestNode, text: &str, owner: &str) {
    let expected = format!("{text} from {owner}");
    node.command_until(
        &format!("call echo {text} 1000"),
        bream_testkit::wait::DEADLINE,
        |answer| answer["reply"] == expected.as_str(),
    )
    .await;
}

#[tokio::test]
async fn a_cut_link_is_a_partition_until_healed() {
    let mut nodes = cluster(
        &["a", "b"],
        &["--deadline-ms", "1000", "--heartbeat-ms", "200"],
    )
    .await;
    expect_mesh(&mut nodes, Duration::from_secs(3)).await;
    let (a, b) = (nodes[0].spec.name.clone(), nodes[1].spec.name.clone());
    assert_eq!(nodes[1].command("register echo").await["ok"], "register");
    call_until_answered(&mut nodes[0], "before", &b).await;

    let cut = nodes[0].command(&format!("cut {b}")).await;
    assert_eq!(cut["cut"], serde_json::json!([b]), "{cut}");
    // Nothing goes through any more: a call fails at once rather than reaching the peer.
    let call = nodes[0].command("call echo during 1000").await;
    assert_eq!(call["kind"], format!("NodeDown({b:?})"), "{call}");
    // Both sides see the other go down by the heartbeat deadline, as in a real partition.
    for (node, peer) in [(0, &b), (1, &a)] {
        let down = nodes[node]
            .expect(Duration::from_secs(5), |line| {
                line["event"] == "down" && line["node"] == peer.as_str()
            })
            .await;
        assert_eq!(down["reason"], "heartbeat missed", "{down}");
    }
    // While cut, b keeps dialling a (a static peer) and every session is cut as it
    // authenticates: neither side lists the other.
    for node in nodes.iter_mut() {
        assert_eq!(node.command("nodes").await["nodes"], serde_json::json!([]));
    }

    let healed = nodes[0].command(&format!("heal {b}")).await;
    assert_eq!(healed["healed"], true, "{healed}");
    nodes[0]
        .expect_up(&[b.as_str()], Duration::from_secs(10))
        .await;
    nodes[1]
        .expect_up(&[a.as_str()], Duration::from_secs(10))
        .await;
    call_until_answered(&mut nodes[0], "after", &b).await;
}

#[tokio::test]
async fn a_killed_node_restarted_under_the_same_name_rejoins() {
    let mut nodes = cluster(&["a", "b"], &[]).await;
    expect_mesh(&mut nodes, Duration::from_secs(3)).await;
    let spec = nodes[1].spec.clone();
    let restarted_name = spec.name.clone();
    nodes.pop().expect("b").kill9().await;
    nodes[0]
        .expect(Duration::from_secs(2), |line| {
            line["event"] == "down" && line["node"] == restarted_name.as_str()
        })
        .await;
    let mut again = TestNode::start(NODE, spec).await;
    // Bounds, not expected times: the survivor's reconnection backoff may have reached
    // RECONNECT_BACKOFF_MAX (5 s) while the node was away, and a loaded machine adds more.
    nodes[0]
        .expect_up(&[restarted_name.as_str()], Duration::from_secs(30))
        .await;
    again
        .expect_up(&[nodes[0].spec.name.as_str()], Duration::from_secs(30))
        .await;
}

#[tokio::test]
async fn a_wrong_cookie_is_refused_on_both_sides() {
    let good = NodeSpec::new("good");
    let mut good_node = TestNode::start(NODE, good.clone()).await;
    let mut intruder =
        TestNode::start(NODE, NodeSpec::new("intruder").arg("--cookie").arg("wrong")).await;
    let answer = intruder
        .command(&format!("connect {}", good.address()))
        .await;
    assert!(
        answer["kind"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("WrongCookie")),
        "{answer}"
    );
    assert!(good_node
        .try_expect(Duration::from_millis(500), |line| line["event"] == "up")
        .await
        .is_err());
    assert!(intruder
        .try_expect(Duration::from_millis(100), |line| line["event"] == "up")
        .await
        .is_err());
    let unreachable = intruder
        .command(&format!(
            "connect 127.0.0.1:{}",
            bream_tests::harness::free_port()
        ))
        .await;
    assert!(
        unreachable["kind"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("Unreachable")),
        "{unreachable}"
    );
}

#[tokio::test]
async fn global_names_remote_calls_and_monitors() {
    let mut nodes = cluster(&["a", "b", "c"], &[]).await;
    expect_mesh(&mut nodes, Duration::from_secs(3)).await;
    assert_eq!(nodes[2].command("register echo").await["ok"], "register");
    let owner = nodes[2].spec.name.clone();
    // Every node learns the name.
    for node in nodes.iter_mut() {
        let mut found = false;
        for _ in 0..50 {
            if node.command("whereis echo").await["node"] == owner.as_str() {
                found = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(found, "{} never learned the name", node.spec.name);
    }
    let answer = nodes[0].command("call echo hello 1000").await;
    assert_eq!(answer["reply"], format!("hello from {owner}"));
    assert!(nodes[1].command("register echo").await["error"]
        .as_str()
        .is_some_and(|e| e.contains("already registered")));
    assert_eq!(
        nodes[0].command("call nobody hi 100").await["kind"],
        "NoSuchName(\"nobody\")"
    );

    // A request larger than a frame is refused before it is sent; the cluster carries on.
    let big = nodes[0].command("big_call echo 2000000").await;
    assert!(
        big["kind"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("TooLarge")),
        "{big}"
    );
    assert_eq!(
        nodes[0].command("big_call echo 1000").await["reply"],
        "1000"
    );

    // A monitored actor that crashes is reported as crashed.
    assert_eq!(nodes[0].command("monitor echo").await["ok"], "monitor");
    // Messages between two nodes keep their order: once this call is answered, the monitor
    // request before it has been handled.
    assert!(nodes[0]
        .command("call echo sync 1000")
        .await
        .get("reply")
        .is_some());
    assert_eq!(nodes[2].command("crash echo").await["ok"], "crash");
    let down = nodes[0]
        .expect(Duration::from_secs(2), |line| {
            line["event"] == "remote_down"
        })
        .await;
    assert!(
        down["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("Crashed")),
        "{down}"
    );
}

#[tokio::test]
async fn a_remote_call_into_a_node_that_dies_fails_promptly() {
    let mut nodes = cluster(&["a", "b"], &[]).await;
    expect_mesh(&mut nodes, Duration::from_secs(3)).await;
    assert_eq!(nodes[1].command("register sleeper").await["ok"], "register");
    let mut caller = nodes.remove(0);
    for _ in 0..50 {
        if caller.command("whereis sleeper").await["node"] == nodes[0].spec.name.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(caller.command("monitor sleeper").await["ok"], "monitor");
    // The call waits on a 10 s sleep with a 30 s timeout; the serving node dies meanwhile.
    caller.stdin_command("sleep_call sleeper 10000 30000").await;
    let mut victim = nodes.pop().expect("b");
    victim
        .expect(Duration::from_secs(2), |line| line["event"] == "handling")
        .await;
    victim.kill9().await;
    let answer = caller
        .expect(Duration::from_secs(3), |line| {
            line.get("elapsed_ms").is_some()
        })
        .await;
    assert!(
        answer["kind"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("NodeDown")),
        "{answer}"
    );
    assert!(
        answer["elapsed_ms"].as_u64().is_some_and(|ms| ms < 3000),
        "{answer}"
    );
    let down = caller
        .expect(Duration::from_secs(1), |line| {
            line["event"] == "remote_down"
        })
        .await;
    assert!(
        down["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("NodeDown")),
        "{down}"
    );
}

#[tokio::test]
async fn nodes_with_tls_form_a_cluster_and_a_plain_node_cannot_join() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let cert = dir.path().join("node.pem");
    let key = dir.path().join("node.key");
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let tls_args = |spec: NodeSpec| {
        spec.arg("--tls-cert")
            .arg(cert.display().to_string())
            .arg("--tls-key")
            .arg(key.display().to_string())
            .arg("--tls-ca")
            .arg(cert.display().to_string())
    };
    let a = NodeSpec::new("tls-a");
    let b = NodeSpec::new("tls-b");
    let mut a_node = TestNode::start(NODE, tls_args(a.clone())).await;
    let mut b_node = TestNode::start(NODE, tls_args(b.clone())).await;
    let answer = b_node.command(&format!("connect {}", a.address())).await;
    assert_eq!(answer["node"], a.name, "{answer}");
    a_node
        .expect_up(&[b.name.as_str()], Duration::from_secs(2))
        .await;
    let answer = a_node.command("nodes").await;
    assert_eq!(answer["nodes"], serde_json::json!([b.name]));

    let mut plain = TestNode::start(NODE, NodeSpec::new("plain")).await;
    let refused = plain.command(&format!("connect {}", a.address())).await;
    assert!(refused.get("error").is_some(), "{refused}");
    assert!(a_node
        .try_expect(Duration::from_millis(300), |line| line["event"] == "up")
        .await
        .is_err());
}
