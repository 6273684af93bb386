//! Replicated tables across real node processes, found through SQL registries.

use std::time::Duration;

use bream_tests::harness::{NodeSpec, TestNode};
use serde_json::Value;

const NODE: &str = env!("CARGO_BIN_EXE_bream_table_node");

fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn unique(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("{label}-{}-{nanos:x}", std::process::id())
}

/// Starts nodes `label0..` on one registry (one cluster name), with `extra` arguments.
async fn start(url: &str, label: &str, count: usize, extra: &[&str]) -> Vec<TestNode> {
    let cluster = unique(label);
    let specs: Vec<NodeSpec> = (0..count)
        .map(|index| {
            let mut spec = NodeSpec::new(&format!("{label}{index}"))
                .arg("--registry")
                .arg(url)
                .arg("--cluster")
                .arg(cluster.clone());
            for arg in extra {
                spec = spec.arg(*arg);
            }
            spec
        })
        .collect();
    futures::future::join_all(specs.into_iter().map(|spec| TestNode::start(NODE, spec))).await
}

/// How long a fresh cluster may take to join every table everywhere: generous, because the
/// whole workspace's tests share two cores with these node processes.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);

async fn all_joined(nodes: &mut [TestNode], deadline: Duration) {
    let count = nodes.len();
    for node in nodes.iter_mut() {
        node.command_until("members", deadline, |answer| {
            answer["members"].as_array().map(Vec::len) == Some(count)
        })
        .await;
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("registry.db").display()
    )
}

async fn writes_replicate_to_three_nodes(url: &str, label: &str) {
    let mut nodes = start(url, label, 3, &[]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    for round in 0..20 {
        let writer = round % 3;
        let answer = nodes[writer]
            .command(&format!("put k{round} v{round}"))
            .await;
        assert_eq!(answer["ok"], "put", "{answer}");
        // Acknowledged means on every live member: read at once everywhere.
        for node in nodes.iter_mut() {
            let read = node.command(&format!("get k{round}")).await;
            assert_eq!(
                read["value"],
                format!("v{round}"),
                "{}: {read}",
                node.spec.name
            );
        }
    }
    let deleted = nodes[1].command("delete k0").await;
    assert_eq!(deleted["ok"], "delete");
    let read = nodes[2].command("get k0").await;
    assert_eq!(read["value"], Value::Null);
    let status = nodes[0]
        .command_until("status", Duration::from_secs(5), |answer| {
            answer["healthy"] == true
        })
        .await;
    assert_eq!(status["tables"][0]["size"], 19, "{status}");
}

#[tokio::test]
async fn writes_replicate_to_three_nodes_through_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    writes_replicate_to_three_nodes(&sqlite_url(&dir), "rs").await;
}

#[tokio::test]
async fn writes_replicate_to_three_nodes_through_postgres() {
    writes_replicate_to_three_nodes(&postgres_url(), "rp").await;
}

#[tokio::test]
async fn insert_new_from_two_nodes_at_once_has_exactly_one_winner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "in", 3, &[]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    for round in 0..20 {
        let (first, rest) = nodes.split_at_mut(1);
        first[0]
            .stdin_command(&format!("insert_new key{round} from0"))
            .await;
        rest[0]
            .stdin_command(&format!("insert_new key{round} from1"))
            .await;
        let deadline = Duration::from_secs(5);
        let is_answer = |line: &Value| line.get("ok").is_some() || line.get("error").is_some();
        let a = first[0].expect(deadline, is_answer).await;
        let b = rest[0].expect(deadline, is_answer).await;
        let wins = [&a, &b]
            .iter()
            .filter(|answer| answer["inserted"] == true)
            .count();
        assert_eq!(wins, 1, "round {round}: {a} {b}");
        let value = nodes[2].command(&format!("get key{round}")).await;
        let winner = if a["inserted"] == true {
            "from0"
        } else {
            "from1"
        };
        assert_eq!(value["value"], winner);
    }
}

#[tokio::test]
async fn killing_the_leader_during_insert_new_never_hangs_and_the_next_leader_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "kl", 3, &["--call-timeout-ms", "2000"]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    // The leader is the greatest name: kl2.
    let members = nodes[0].command("members").await;
    assert_eq!(members["leader"], nodes[2].spec.name.as_str());
    let leader = nodes.pop().expect("kl2");
    for index in 0..50 {
        nodes[0]
            .stdin_command(&format!("insert_new burst{index} x"))
            .await;
    }
    leader.kill9().await;
    let is_answer = |line: &Value| line.get("ok").is_some() || line.get("error").is_some();
    for _ in 0..50 {
        // Every caller gets an answer within its deadline (2 s) plus slack.
        let answer = nodes[0].expect(Duration::from_secs(4), is_answer).await;
        assert!(
            answer["elapsed_ms"].as_u64().unwrap_or(u64::MAX) <= 2500,
            "{answer}"
        );
    }
    let served = nodes[1]
        .command_until(
            "insert_new after_kill y",
            Duration::from_secs(5),
            |answer| answer["ok"] == "insert_new",
        )
        .await;
    assert_eq!(served["inserted"], true);
    let members = nodes[0].command("members").await;
    assert_eq!(members["leader"], nodes[1].spec.name.as_str());
}

#[tokio::test]
async fn node_owned_records_vanish_cluster_wide_when_their_node_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "ow", 3, &[]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    let owner = nodes[2].spec.name.clone();
    let put = nodes[2]
        .command(&format!("put session1 {owner}/conn"))
        .await;
    assert_eq!(put["ok"], "put");
    let put = nodes[0].command("put session2 kept").await;
    assert_eq!(put["ok"], "put");
    nodes.pop().expect("ow2").kill9().await;
    for node in nodes.iter_mut() {
        node.command_until("get session1", Duration::from_secs(5), |answer| {
            answer["value"] == Value::Null
        })
        .await;
        let kept = node.command("get session2").await;
        assert_eq!(kept["value"], "kept");
    }
}

#[tokio::test]
async fn a_node_joining_with_different_data_is_merged_by_the_handler() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "cj", 2, &["--manual-join"]).await;
    for node in nodes.iter_mut() {
        node.command_until("status", Duration::from_secs(10), |answer| {
            answer["connected"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    }
    assert_eq!(nodes[0].command("put shared a-side").await["ok"], "put");
    assert_eq!(nodes[0].command("put only-a 1").await["ok"], "put");
    assert_eq!(nodes[1].command("put shared z-side").await["ok"], "put");
    assert_eq!(nodes[1].command("put only-b 2").await["ok"], "put");
    let peer = nodes[1].spec.name.clone();
    let joined = nodes[0]
        .command_until(&format!("join {peer}"), Duration::from_secs(10), |answer| {
            answer["ok"] == "join"
        })
        .await;
    assert!(
        joined["outcome"].as_str().unwrap_or("").contains("Joined"),
        "{joined}"
    );
    // The handler keeps the greater value on both sides.
    for node in nodes.iter_mut() {
        let dump = node.command("dump").await;
        assert_eq!(
            dump["records"],
            serde_json::json!([["only-a", "1"], ["only-b", "2"], ["shared", "z-side"]]),
            "{}",
            node.spec.name
        );
    }
    let first = nodes[0].spec.name.clone();
    let again = nodes[1].command(&format!("join {first}")).await;
    assert_eq!(again["outcome"], "AlreadyJoined");
}

#[tokio::test]
async fn a_sigstop_partition_heals_and_the_sides_converge() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "sp", 3, &[]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    nodes[2].signal("STOP");
    // The others declare it down (heartbeat deadline 1 s) and keep writing.
    nodes[0]
        .command_until("members", Duration::from_secs(5), |answer| {
            answer["members"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    assert_eq!(
        nodes[0].command("put during-partition 1").await["ok"],
        "put"
    );
    nodes[2].signal("CONT");
    all_joined(&mut nodes, Duration::from_secs(15)).await;
    let read = nodes[2]
        .command_until("get during-partition", Duration::from_secs(5), |answer| {
            answer["value"] == "1"
        })
        .await;
    assert_eq!(read["value"], "1");
}

#[tokio::test]
async fn adding_nodes_to_a_loaded_cluster_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    let cluster = unique("ad");
    let spec = |index: usize| {
        NodeSpec::new(&format!("ad{index}"))
            .arg("--registry")
            .arg(url.clone())
            .arg("--cluster")
            .arg(cluster.clone())
    };
    let mut nodes =
        futures::future::join_all((0..3).map(|index| TestNode::start(NODE, spec(index)))).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    let mut acknowledged = Vec::new();
    for index in 0..300 {
        if index % 100 == 50 {
            let added = TestNode::start(NODE, spec(3 + index / 100)).await;
            nodes.push(added);
        }
        let writer = index % 3;
        let answer = nodes[writer]
            .command(&format!("put w{index} {index}"))
            .await;
        if answer["ok"] == "put" {
            acknowledged.push(index);
        }
    }
    assert!(
        acknowledged.len() > 250,
        "too few writes acknowledged: {}",
        acknowledged.len()
    );
    all_joined(&mut nodes, Duration::from_secs(20)).await;
    for node in nodes.iter_mut() {
        let dump = node.command("dump").await;
        let held: std::collections::BTreeSet<String> = dump["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|record| record[0].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for index in &acknowledged {
            assert!(
                held.contains(&format!("w{index}")),
                "{} lost w{index}",
                node.spec.name
            );
        }
    }
}

/// Starts a load of `writers` writers per node on every node at once
/// (prefix `prefix`), waits for every answer, and returns each node's
/// acknowledged counts per writer.
async fn load_everywhere(
    nodes: &mut [TestNode],
    prefix: &str,
    writers: &[usize],
    count: usize,
) -> Vec<Vec<usize>> {
    for (index, node) in nodes.iter_mut().enumerate() {
        node.stdin_command(&format!("load {prefix}{index} {} {count}", writers[index]))
            .await;
    }
    let mut acked = Vec::new();
    for node in nodes.iter_mut() {
        let answer = node
            .expect(Duration::from_secs(120), |line| {
                line["ok"] == "load" || line.get("error").is_some()
            })
            .await;
        let counts: Vec<usize> = answer["acked"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {answer}", node.spec.name))
            .iter()
            .map(|count| count.as_u64().unwrap_or(0) as usize)
            .collect();
        acked.push(counts);
    }
    acked
}

/// Every write a load acknowledged is on every node.
async fn assert_no_acknowledged_write_lost(
    nodes: &mut [TestNode],
    prefix: &str,
    acked: &[Vec<usize>],
) {
    for node_acked in acked.iter().enumerate() {
        let (origin, counts) = node_acked;
        let list = counts
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        for node in nodes.iter_mut() {
            let answer = node
                .command(&format!("verify {prefix}{origin} {list}"))
                .await;
            assert_eq!(
                answer["missing"], 0,
                "{}: writes of node {origin} missing: {answer}",
                node.spec.name
            );
        }
    }
}

#[tokio::test]
async fn sixty_four_writers_on_three_nodes_lose_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "lw", 3, &[]).await;
    all_joined(&mut nodes, JOIN_DEADLINE).await;
    let count = 200;
    let acked = load_everywhere(&mut nodes, "load", &[22, 21, 21], count).await;
    // Nothing failed on a healthy cluster: every write was acknowledged.
    for counts in &acked {
        assert!(counts.iter().all(|acked| *acked == count), "{acked:?}");
    }
    assert_no_acknowledged_write_lost(&mut nodes, "load", &acked).await;
    for node in nodes.iter_mut() {
        let size = node.command("size").await;
        assert_eq!(size["size"], 64 * count, "{}", node.spec.name);
    }
}

#[tokio::test]
async fn a_sharded_table_replicates_joins_and_reports_each_shard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "sh", 3, &["--shards", "4"]).await;
    // `members` lists the nodes joined on every shard.
    all_joined(&mut nodes, Duration::from_secs(15)).await;
    for node in nodes.iter_mut() {
        let shards = node.command("shards").await;
        let shards = shards["shards"].as_array().cloned().unwrap_or_default();
        assert_eq!(shards.len(), 4, "{}", node.spec.name);
        for shard in &shards {
            assert_eq!(
                shard["members"].as_array().map(Vec::len),
                Some(3),
                "{shard}"
            );
            // The leader is the same rule on every shard: the greatest name.
            assert_eq!(shard["leader"], "sh2@127.0.0.1", "{shard}");
        }
    }
    let acked = load_everywhere(&mut nodes, "sharded", &[8, 8, 8], 50).await;
    assert_no_acknowledged_write_lost(&mut nodes, "sharded", &acked).await;
    for round in 0..10 {
        let (first, rest) = nodes.split_at_mut(1);
        first[0]
            .stdin_command(&format!("insert_new unique{round} from0"))
            .await;
        rest[0]
            .stdin_command(&format!("insert_new unique{round} from1"))
            .await;
        let is_answer = |line: &Value| line.get("ok").is_some() || line.get("error").is_some();
        let a = first[0].expect(Duration::from_secs(5), is_answer).await;
        let b = rest[0].expect(Duration::from_secs(5), is_answer).await;
        let wins = [&a, &b]
            .iter()
            .filter(|answer| answer["inserted"] == true)
            .count();
        assert_eq!(wins, 1, "round {round}: {a} {b}");
    }
    let status = nodes[0]
        .command_until("status", Duration::from_secs(5), |answer| {
            answer["healthy"] == true
        })
        .await;
    assert_eq!(status["tables"][0]["shards"], 4, "{status}");
    assert_eq!(status["tables"][0]["size"], 24 * 50 + 10, "{status}");
    // Node-owned records of a killed node vanish from every shard.
    let owner = nodes[2].spec.name.clone();
    for index in 0..20 {
        let put = nodes[2]
            .command(&format!("put owned{index} {owner}/conn"))
            .await;
        assert_eq!(put["ok"], "put");
    }
    nodes.pop().expect("sh2").kill9().await;
    for node in nodes.iter_mut() {
        node.command_until("size", Duration::from_secs(5), |answer| {
            answer["size"] == 24 * 50 + 10
        })
        .await;
    }
}

#[tokio::test]
async fn status_reports_tables_whose_member_lists_disagree_between_nodes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = start(&sqlite_url(&dir), "cf", 3, &["--manual-join"]).await;
    for node in nodes.iter_mut() {
        node.command_until("status", Duration::from_secs(10), |answer| {
            answer["connected"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    }
    let (a, b, c) = (
        nodes[0].spec.name.clone(),
        nodes[1].spec.name.clone(),
        nodes[2].spec.name.clone(),
    );
    let joined = nodes[0]
        .command_until(&format!("join {b}"), Duration::from_secs(10), |answer| {
            answer["ok"] == "join"
        })
        .await;
    assert!(joined["outcome"].as_str().unwrap_or("").contains("Joined"));
    // a and b list {a, b}; c lists {c}: their lists disagree.
    let status = nodes[0].command("status").await;
    assert_eq!(
        status["disagreeing_tables"],
        serde_json::json!(["kv"]),
        "{status}"
    );
    assert_eq!(
        status["disagreeing_nodes"],
        serde_json::json!([c]),
        "{status}"
    );
    assert_eq!(status["joined"], serde_json::json!([a, b]), "{status}");
    assert_eq!(status["healthy"], false, "{status}");
    let status = nodes[2].command("status").await;
    assert_eq!(
        status["disagreeing_nodes"],
        serde_json::json!([a, b]),
        "{status}"
    );
    assert_eq!(status["joined"], serde_json::json!([c]), "{status}");
    // Joining c resolves it.
    let joined = nodes[2]
        .command_until(&format!("join {a}"), Duration::from_secs(10), |answer| {
            answer["ok"] == "join"
        })
        .await;
    assert!(joined["outcome"].as_str().unwrap_or("").contains("Joined"));
    for node in nodes.iter_mut() {
        let status = node
            .command_until("status", Duration::from_secs(5), |answer| {
                answer["healthy"] == true
            })
            .await;
        assert_eq!(
            status["disagreeing_tables"],
            serde_json::json!([]),
            "{status}"
        );
        assert_eq!(status["joined"], serde_json::json!([a, b, c]), "{status}");
    }
}
