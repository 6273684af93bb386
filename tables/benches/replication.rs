//! Replicated tables across real node processes: synchronous insert latency
//! on 1, 2 and 3 nodes, throughput with 1 and 64 writers on 3 nodes,
//! `insert_new` latency, and the time to join two nodes of 100 k records
//! each.
//!
//! `cargo bench -p bream-tables --bench replication` prints the figures;
//! without `--bench` (as `cargo test --benches` runs it) it runs small
//! counts, so the bench never rots.
//!
//! ractor_cluster is process-global (one OS process is one node), so this
//! binary is the first node, `a@127.0.0.1`, and starts itself again as the
//! peer nodes `b` and `c` (the environment variable [`PEER_ENV`] switches it
//! into peer mode). A peer starts the tables it is told to, answers `ready`
//! on stdout, and then runs commands from stdin until it closes: `connect
//! ADDRESS` (b connects to c), `write TABLE WRITERS COUNT` (writers on the
//! peer, for throughput spread over the three nodes). Keys are u64 and values u64.
//!
//! Anchors (CETS on OTP 25, all nodes on one box of this kind): insert
//! 1.6 µs on 1 node, 44–107 µs on 2 nodes, 93–146 µs on 3 nodes;
//! `insert_new` on 3 nodes 96–112 µs; join 2 × 100 k records 81–132 ms;
//! goal ≥ 100 k acknowledged inserts/s across 3 nodes with 64 writers.
//!
//! The leader is the greatest node name, `c`: `insert_new` from `a` is
//! forwarded to it (the slow path; `insert_new` on 1 node is the local one).
//! Each figure comes with a checksum (the table's size on the measuring
//! node after the run), so a speed-up cannot silently change the result.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bream_runtime::node::{Node, NodeConfig};
use bream_tables::replicated::{ReplicatedOptions, ReplicatedTable};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// Set in a peer's environment: `NAME PORT TABLES RECORDS`, where TABLES
/// is comma separated and RECORDS are preloaded into the table `join`.
const PEER_ENV: &str = "BREAM_REPLICATION_BENCH_PEER";
const COOKIE: &str = "bream-replication-bench";
/// Keys a peer preloads start here, so they never meet the first node's.
const PEER_KEY_OFFSET: u64 = 1 << 40;
/// Deadline of everything that waits (starting peers, joins, calls).
const WAIT_DEADLINE: Duration = Duration::from_secs(60);

type Bench = ReplicatedTable<u64, u64>;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // On a worker thread, as the servers are: a future driven by `block_on`
    // on the main thread would pay a cross-thread wake-up per call.
    let task = match std::env::var(PEER_ENV) {
        Ok(spec) => runtime.spawn(peer(spec)),
        Err(_) => runtime.spawn(bench()),
    };
    runtime.block_on(task).expect("bench task");
}

use bream_testkit::free_port;

async fn start_node(name: &str, port: u16) -> Node {
    let config = NodeConfig::new(
        name.to_string(),
        format!("127.0.0.1:{port}").parse().expect("address"),
        COOKIE,
    );
    Node::start(config, None).await.expect("node starts")
}

/// Starts table `name`; a name ending in `_unbatched` sends every peer
/// message in its own frame (to show what batching buys), one ending in
/// `_sN` has N shards.
async fn start_table(node: &Node, name: &str) -> Bench {
    let mut options = ReplicatedOptions {
        call_timeout: WAIT_DEADLINE,
        ..ReplicatedOptions::default()
    };
    if name.ends_with("_unbatched") {
        options.peer_batch_records_max = 1;
    }
    if let Some((_, shards)) = name.rsplit_once("_s") {
        options.shards = shards.parse().expect("shard count after _s");
    }
    ReplicatedTable::start(node, name, options)
        .await
        .expect("table starts")
}

/// Peer mode: start the node and tables, preload, answer commands.
async fn peer(spec: String) {
    let words: Vec<&str> = spec.split(' ').collect();
    let [name, port, tables, records] = words.as_slice() else {
        panic!("bad {PEER_ENV}: {spec:?}");
    };
    let node = start_node(name, port.parse().expect("port")).await;
    let mut held = std::collections::HashMap::new();
    for table_name in tables.split(',') {
        let table = start_table(&node, table_name).await;
        if table_name == "join" {
            let count: u64 = records.parse().expect("records");
            let records: Vec<(u64, u64)> = (0..count)
                .map(|index| (PEER_KEY_OFFSET + index, index))
                .collect();
            for chunk in records.chunks(10_000) {
                table.insert_many(chunk.to_vec()).await.expect("preload");
            }
        }
        held.insert(table_name.to_string(), table);
    }
    println!("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["connect", address] = words.as_slice() {
            node.connect(address).await.expect("connect");
            println!("connected");
        } else if let ["write", table, writers, count] = words.as_slice() {
            let table = held.get(*table).expect("table held").clone();
            let base = u64::from(node_index(name)) << 56;
            let elapsed = write_concurrently(
                &table,
                writers.parse().expect("writers"),
                count.parse().expect("count"),
                base,
            )
            .await;
            println!("wrote {}", elapsed.as_micros());
        }
    }
    node.shutdown().await;
}

fn node_index(name: &str) -> u8 {
    name.bytes().next().unwrap_or(b'a') - b'a' + 1
}

/// `writers` tasks, each inserting `count` records one at a time; returns the wall time.
async fn write_concurrently(table: &Bench, writers: usize, count: usize, base: u64) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let table = table.clone();
            tokio::spawn(async move {
                let writer_base = base + ((writer as u64) << 32);
                for index in 0..count as u64 {
                    table
                        .insert(writer_base + index, index)
                        .await
                        .expect("insert acknowledged");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    started.elapsed()
}

/// A peer process; killed when dropped.
struct Peer {
    name: String,
    port: u16,
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Peer {
    async fn start(short: &str, tables: &[&str], records: usize) -> Peer {
        let name = format!("{short}@127.0.0.1");
        let port = free_port();
        let spec = format!("{name} {port} {} {records}", tables.join(","));
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(PEER_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("peer starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut peer = Peer {
            name,
            port,
            child,
            stdin,
            stdout,
        };
        let line = peer.line().await;
        assert_eq!(line, "ready", "{short} did not start");
        peer
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(WAIT_DEADLINE, self.stdout.next_line())
            .await
            .expect("peer answers in time")
            .expect("peer stdout")
            .expect("peer alive")
    }

    async fn command(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("peer stdin");
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Joins `table` with `peer`, retrying while the peer's server is not seen yet.
async fn join(table: &Bench, peer: &str) -> Duration {
    let deadline = Instant::now() + WAIT_DEADLINE;
    loop {
        let started = Instant::now();
        match table.join(peer).await {
            Ok(_) => return started.elapsed(),
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(%error, "join not yet possible");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("join {peer}: {error}"),
        }
    }
}

struct Latency {
    samples: Vec<Duration>,
}

impl Latency {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Latency { samples }
    }

    fn at(&self, fraction: f64) -> Duration {
        let index = ((self.samples.len() as f64 - 1.0) * fraction).round() as usize;
        self.samples[index.min(self.samples.len() - 1)]
    }

    fn mean(&self) -> Duration {
        self.samples.iter().sum::<Duration>() / self.samples.len().max(1) as u32
    }

    fn print(&self, label: &str, anchor: &str, checksum: usize) {
        println!(
            "{label:<44} p50 {:>9.1?}  p99 {:>9.1?}  mean {:>9.1?}  (anchor {anchor}; checksum {checksum})",
            self.at(0.5),
            self.at(0.99),
            self.mean()
        );
    }
}

async fn insert_latency(table: &Bench, count: usize, base: u64) -> Latency {
    let mut samples = Vec::with_capacity(count);
    for index in 0..count as u64 {
        let started = Instant::now();
        table.insert(base + index, index).await.expect("insert");
        samples.push(started.elapsed());
    }
    Latency::new(samples)
}

async fn insert_new_latency(table: &Bench, count: usize, base: u64) -> Latency {
    let mut samples = Vec::with_capacity(count);
    for index in 0..count as u64 {
        let started = Instant::now();
        let inserted = table
            .insert_new(base + index, index)
            .await
            .expect("insert_new");
        assert!(inserted, "fresh key {}", base + index);
        samples.push(started.elapsed());
    }
    Latency::new(samples)
}

fn size(table: &Bench) -> usize {
    table.table().size().expect("size")
}

async fn bench() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (latency_count, throughput_count, join_records) = if full {
        (20_000, 2_000, 100_000)
    } else {
        (200, 20, 1_000)
    };
    println!(
        "replication bench ({} mode): {latency_count} sequential ops per latency figure, \
         {throughput_count} inserts per writer, join of 2 x {join_records} records",
        if full { "full" } else { "quick" }
    );
    let node = start_node("a@127.0.0.1", free_port()).await;

    // 1 node.
    let alone = start_table(&node, "n1").await;
    insert_latency(&alone, latency_count / 10, 1 << 50).await;
    let latency = insert_latency(&alone, latency_count, 0).await;
    latency.print("insert, 1 node", "1.6 µs", size(&alone));
    let latency = insert_new_latency(&alone, latency_count, 1 << 48).await;
    latency.print("insert_new, 1 node (local leader)", "-", size(&alone));

    // Peers: b holds every multi-node table and the preloaded join table; c the 3-node ones.
    let three_node_tables = [
        "n3",
        "tput1",
        "tput64",
        "tput64_unbatched",
        "spread",
        "n3_s4",
        "tput64_s2",
        "tput64_s4",
        "tput64_s8",
        "spread_s4",
    ];
    let mut b_tables = vec!["n2", "join"];
    b_tables.extend(three_node_tables);
    let (mut b, mut c) = tokio::join!(
        Peer::start("b", &b_tables, join_records),
        Peer::start("c", &three_node_tables, 0),
    );
    for peer in [&b, &c] {
        node.connect(&format!("127.0.0.1:{}", peer.port))
            .await
            .expect("connect");
    }
    b.command(&format!("connect 127.0.0.1:{}", c.port)).await;
    assert_eq!(b.line().await, "connected");

    // 2 nodes.
    let two = start_table(&node, "n2").await;
    join(&two, &b.name).await;
    insert_latency(&two, latency_count / 10, 1 << 50).await;
    let latency = insert_latency(&two, latency_count, 0).await;
    latency.print("insert, 2 nodes", "44–107 µs", size(&two));

    // 3 nodes.
    let mut three = Vec::new();
    for name in three_node_tables {
        let table = start_table(&node, name).await;
        join(&table, &b.name).await;
        join(&table, &c.name).await;
        three.push(table);
    }
    let [n3, tput1, tput64, tput64_unbatched, spread, n3_s4, tput64_s2, tput64_s4, tput64_s8, spread_s4] =
        &three[..]
    else {
        unreachable!("ten tables");
    };
    insert_latency(n3, latency_count / 10, 1 << 50).await;
    let latency = insert_latency(n3, latency_count, 0).await;
    latency.print("insert, 3 nodes", "93–146 µs", size(n3));
    let latency = insert_new_latency(n3, latency_count, 1 << 48).await;
    latency.print(
        "insert_new, 3 nodes (from a non-leader)",
        "96–112 µs",
        size(n3),
    );

    let writes = throughput_count * 64;
    let elapsed = write_concurrently(tput1, 1, writes, 0).await;
    throughput(
        "1 writer on a, 3 nodes",
        writes,
        elapsed,
        "~20 k/s CETS, 2 nodes",
        size(tput1),
    );
    let elapsed = write_concurrently(tput64, 64, throughput_count, 0).await;
    throughput(
        "64 writers on a, 3 nodes",
        writes,
        elapsed,
        "goal ≥ 100 k/s",
        size(tput64),
    );
    let elapsed = write_concurrently(tput64_unbatched, 64, throughput_count, 0).await;
    throughput(
        "64 writers on a, 3 nodes, unbatched",
        writes,
        elapsed,
        "goal ≥ 100 k/s",
        size(tput64_unbatched),
    );

    for (table, label) in [
        (tput64_s2, "64 writers on a, 3 nodes, 2 shards"),
        (tput64_s4, "64 writers on a, 3 nodes, 4 shards"),
        (tput64_s8, "64 writers on a, 3 nodes, 8 shards"),
    ] {
        let elapsed = write_concurrently(table, 64, throughput_count, 0).await;
        throughput(label, writes, elapsed, "goal ≥ 100 k/s", size(table));
    }

    // 64 writers spread over the three nodes: 22 on a, 21 on b, 21 on c.
    for (table, name, label) in [
        (spread, "spread", "64 writers spread over 3 nodes"),
        (
            spread_s4,
            "spread_s4",
            "64 writers spread over 3 nodes, 4 shards",
        ),
    ] {
        let started = Instant::now();
        b.command(&format!("write {name} 21 {throughput_count}"))
            .await;
        c.command(&format!("write {name} 21 {throughput_count}"))
            .await;
        write_concurrently(table, 22, throughput_count, 0).await;
        for peer in [&mut b, &mut c] {
            let line = peer.line().await;
            assert!(line.starts_with("wrote "), "{line}");
        }
        throughput(
            label,
            writes,
            started.elapsed(),
            "goal ≥ 100 k/s",
            size(table),
        );
    }
    insert_latency(n3_s4, latency_count / 10, 1 << 50).await;
    let latency = insert_latency(n3_s4, latency_count, 0).await;
    latency.print("insert, 3 nodes, 4 shards", "93–146 µs", size(n3_s4));

    // Join two nodes of `join_records` records each.
    let joining = start_table(&node, "join").await;
    let records: Vec<(u64, u64)> = (0..join_records as u64).map(|key| (key, key)).collect();
    for chunk in records.chunks(10_000) {
        joining.insert_many(chunk.to_vec()).await.expect("preload");
    }
    let elapsed = join(&joining, &b.name).await;
    println!(
        "{:<44} {:>9.1?}  (anchor 81–132 ms for 2 x 100 k; checksum {})",
        format!("join 2 x {join_records} records"),
        elapsed,
        size(&joining)
    );
    assert_eq!(size(&joining), 2 * join_records);

    b.stop().await;
    c.stop().await;
    node.shutdown().await;
}

fn throughput(label: &str, writes: usize, elapsed: Duration, anchor: &str, checksum: usize) {
    println!(
        "{label:<44} {:>9.0} acked inserts/s ({writes} in {elapsed:.1?}; anchor {anchor}; checksum {checksum})",
        writes as f64 / elapsed.as_secs_f64()
    );
}
