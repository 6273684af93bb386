//! Nodes finding each other through the SQL registry, on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use bream_tests::harness::{NodeSpec, TestNode};

const NODE: &str = env!("CARGO_BIN_EXE_bream_test_node");

fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A cluster name no other test (or earlier run) uses.
fn unique_cluster(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("{label}-{}-{nanos:x}", std::process::id())
}

/// Starts `count` nodes at once on one registry; returns them once each saw all the others.
async fn registry_cluster(
    url: &str,
    label: &str,
    count: usize,
    deadline: Duration,
) -> Vec<TestNode> {
    let cluster = unique_cluster(label);
    let specs: Vec<NodeSpec> = (0..count)
        .map(|index| {
            NodeSpec::new(&format!("{label}{index}-{}", std::process::id()))
                .arg("--registry")
                .arg(url)
                .arg("--cluster")
                .arg(cluster.clone())
        })
        .collect();
    let started = std::time::Instant::now();
    let mut nodes = futures::future::join_all(
        specs
            .iter()
            .cloned()
            .map(|spec| TestNode::start(NODE, spec)),
    )
    .await;
    for node in nodes.iter_mut() {
        let others: Vec<String> = specs
            .iter()
            .filter(|spec| spec.name != node.spec.name)
            .map(|spec| spec.name.clone())
            .collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let left = deadline.saturating_sub(started.elapsed());
        node.expect_up(&others, left).await;
    }
    nodes
}

/// Asks for `status` until `holds` is true of it, for at most `deadline` (discovery polls run in
/// the background, so a status may trail the membership events by one poll).
async fn status_until(
    node: &mut TestNode,
    deadline: Duration,
    holds: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let status = node.command("status").await;
        if holds(&status) || started.elapsed() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn node_nums(nodes: &mut [TestNode]) -> BTreeSet<u64> {
    let mut nums = BTreeSet::new();
    for node in nodes.iter_mut() {
        let status = node.command("status").await;
        assert_eq!(status["discovery_works"], true, "{status}");
        nums.insert(
            status["node_num"]
                .as_u64()
                .unwrap_or_else(|| panic!("no node_num: {status}")),
        );
    }
    nums
}

#[tokio::test]
async fn three_nodes_mesh_through_a_sqlite_registry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("registry.db").display()
    );
    let mut nodes = registry_cluster(&url, "sq", 3, Duration::from_secs(3)).await;
    assert_eq!(node_nums(&mut nodes).await, BTreeSet::from([1, 2, 3]));
}

#[tokio::test]
async fn three_nodes_mesh_through_a_postgres_registry() {
    let mut nodes = registry_cluster(&postgres_url(), "pg", 3, Duration::from_secs(3)).await;
    assert_eq!(node_nums(&mut nodes).await, BTreeSet::from([1, 2, 3]));
    let status = status_until(&mut nodes[0], Duration::from_secs(2), |status| {
        status["discovered"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    assert_eq!(
        status["discovered"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    assert_eq!(
        status["unavailable"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );
}

#[tokio::test]
async fn six_nodes_started_at_once_get_distinct_node_nums() {
    let mut nodes = registry_cluster(&postgres_url(), "six", 6, Duration::from_secs(10)).await;
    assert_eq!(
        node_nums(&mut nodes).await,
        (1..=6).collect::<BTreeSet<u64>>()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("registry.db").display()
    );
    let mut nodes = registry_cluster(&url, "sixl", 6, Duration::from_secs(10)).await;
    assert_eq!(
        node_nums(&mut nodes).await,
        (1..=6).collect::<BTreeSet<u64>>()
    );
}

#[tokio::test]
async fn a_killed_node_is_listed_unavailable_until_it_returns() {
    let mut nodes = registry_cluster(&postgres_url(), "back", 2, Duration::from_secs(3)).await;
    let spec = nodes[1].spec.clone();
    let name = spec.name.clone();
    nodes.pop().expect("second").kill9().await;
    // Deadlines are bounds, not expected times: on a loaded machine a debug node takes a
    // while to start, and the survivor's reconnection backoff reaches
    // RECONNECT_BACKOFF_MAX (5 s) while the node is away.
    nodes[0]
        .expect(Duration::from_secs(10), |line| {
            line["event"] == "down" && line["node"] == name.as_str()
        })
        .await;
    let status = status_until(&mut nodes[0], Duration::from_secs(10), |status| {
        status["unavailable"] == serde_json::json!([name])
    })
    .await;
    assert_eq!(status["unavailable"], serde_json::json!([name]), "{status}");
    let _back = TestNode::start(NODE, spec).await;
    nodes[0]
        .expect_up(&[name.as_str()], Duration::from_secs(30))
        .await;
}
