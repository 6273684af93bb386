//! Cluster figures beside raw ractor_cluster's on this machine (anchors: remote call p50
//! 100–180 µs, about 250 k casts/s per peer connection, connect to ready 1–2 ms):
//! remote call round trip, remote cast throughput, connect to ready, and process start to full
//! membership of three nodes.
//!
//! `cargo bench -p bream-tests --bench cluster` prints the figures; with `--quick` (as
//! `cargo test --benches` would pass no flag) it runs small counts.

use std::time::{Duration, Instant};

use bream_runtime::node::{Node, NodeConfig};
use bream_tests::harness::{free_port, NodeSpec, TestNode};
use serde::{Deserialize, Serialize};

const NODE: &str = env!("CARGO_BIN_EXE_bream_test_node");

/// Mirrors the test node's request type (postcard encodes by variant index).
#[derive(Serialize, Deserialize)]
enum EchoRequest {
    Echo(String),
    Sleep(u64),
    Blob(Vec<u8>),
    Tally,
    Count,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (calls, casts) = if full {
        (20_000, 500_000)
    } else {
        (200, 2_000)
    };

    // A peer process holding the echo service, and this process as a second node.
    let peer_spec = NodeSpec::new("bench-peer");
    let mut peer = TestNode::start(NODE, peer_spec.clone()).await;
    let own_name = "bench@127.0.0.1".to_string();
    let config = NodeConfig::new(
        own_name.clone(),
        format!("127.0.0.1:{}", free_port()).parse().expect("addr"),
        "bream-test",
    );
    let node = Node::start(config, None).await.expect("node");
    let started = Instant::now();
    node.connect(&peer_spec.address()).await.expect("connect");
    let connect_to_ready = started.elapsed();
    assert_eq!(peer.command("register echo").await["ok"], "register");
    while node.whereis_global("echo").is_none() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let mut round_trips = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let _: String = node
            .call(
                "echo",
                &EchoRequest::Echo(String::new()),
                Duration::from_secs(5),
            )
            .await
            .expect("call");
        round_trips.push(started.elapsed());
    }
    round_trips.sort();

    let started = Instant::now();
    for _ in 0..casts {
        node.cast("echo", &EchoRequest::Tally).expect("cast");
    }
    loop {
        let count: String = node
            .call("echo", &EchoRequest::Count, Duration::from_secs(30))
            .await
            .expect("count");
        if count.parse::<usize>().unwrap_or(0) >= casts {
            break;
        }
    }
    let cast_rate = casts as f64 / started.elapsed().as_secs_f64();
    node.shutdown().await;
    drop(peer);

    // Three processes started at once, listing each other: time to a full mesh.
    let specs: Vec<NodeSpec> = ["m1", "m2", "m3"]
        .iter()
        .map(|short| NodeSpec::new(short))
        .collect();
    let peers = specs
        .iter()
        .map(NodeSpec::peer_entry)
        .collect::<Vec<_>>()
        .join(",");
    let started = Instant::now();
    let mut nodes = Vec::new();
    for spec in &specs {
        nodes.push(TestNode::start(NODE, spec.clone().arg("--peers").arg(peers.clone())).await);
    }
    for node in nodes.iter_mut() {
        let others: Vec<&str> = specs
            .iter()
            .filter(|spec| spec.name != node.spec.name)
            .map(|spec| spec.name.as_str())
            .collect();
        node.expect_up(&others, Duration::from_secs(10)).await;
    }
    let mesh = started.elapsed();

    println!(
        "remote call round trip over {calls} calls: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        percentile(&round_trips, 0.5),
        percentile(&round_trips, 0.9),
        percentile(&round_trips, 0.99),
        percentile(&round_trips, 1.0)
    );
    println!("remote casts: {cast_rate:.0} per second ({casts} casts, counted at the receiver)");
    println!("connect to ready: {connect_to_ready:?}");
    println!("3 processes started to full mesh: {mesh:?}");
}
