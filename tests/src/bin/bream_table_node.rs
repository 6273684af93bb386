//! The replicated-table test node: one Bream node per process holding the
//! replicated table `kv` (String → String), driven over stdin/stdout. Tests
//! start it through `bream_tests::harness`.
//!
//! Output is one JSON object per line: `{"event":"started",..}`,
//! `{"event":"up"|"down","node":..}`, `{"event":"table_down",..}` (the
//! table's down handler), and one answer per command: `{"ok":..}` or
//! `{"error":..}`.
//!
//! Commands: `put K V`, `get K`, `delete K`, `insert_new K V`, `dump`,
//! `size`, `status`, `join NODE`, `members`, `shards`, `exit`, and for load
//! tests `load PREFIX WRITERS COUNT` (WRITERS concurrent tasks, writer `w`
//! inserting `PREFIX.w.0`, `PREFIX.w.1`, ... up to COUNT, each stopping at
//! its first error; answers how many each had acknowledged) and `verify
//! PREFIX C0,C1,...` (how many of the keys writer `w` had acknowledged,
//! `PREFIX.w.0` up to `PREFIX.w.Cw`, are missing here).
//!
//! The table's merge handler keeps the greater value; a record whose
//! value starts with `NODE/` is owned by that node and vanishes when it
//! goes down.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bream_tables::replicated::{
    ReplicaConfig, ReplicatedOptions, ReplicatedTable, ReplicationService, ServiceConfig,
};
use bream_tests::node_setup::{emit, run_program, start_node, NodeOptions};
use clap::Parser;
use serde_json::json;
use tokio::io::AsyncBufReadExt;

/// Options of the table node.
#[derive(Parser, Debug)]
pub struct Options {
    /// Name, address, peers, discovery and heartbeats of the node.
    #[command(flatten)]
    pub node: NodeOptions,
    /// Call deadline of table operations, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub call_timeout_ms: u64,
    /// Discovery sweep interval, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub sweep_ms: u64,
    /// Leave joins to the `join` command (the replication service only
    /// observes the table, for `status`).
    #[arg(long)]
    pub manual_join: bool,
    /// Shards of the table.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
}

fn main() -> ExitCode {
    run_program(run(Options::parse()))
}

async fn run(options: Options) -> anyhow::Result<()> {
    let node = start_node(&options.node, |_| {}).await?;
    let replica = ReplicaConfig {
        merge_handler: Some(Arc::new(
            |left: &(String, String), right: &(String, String)| {
                if left.1 >= right.1 {
                    left.clone()
                } else {
                    right.clone()
                }
            },
        )),
        node_owned: Some(Arc::new(|_key: &String, value: &String, node: &str| {
            value
                .strip_prefix(node)
                .is_some_and(|rest| rest.starts_with('/'))
        })),
        ..ReplicaConfig::default()
    };
    let options_table = ReplicatedOptions {
        replica,
        down_handler: Some(Arc::new(|event| {
            emit(json!({"event": "table_down", "node": event.node,
                        "leader": event.leader_after, "owned_removed": event.owned_records_removed}));
        })),
        call_timeout: Duration::from_millis(options.call_timeout_ms),
        shards: options.shards,
        ..ReplicatedOptions::default()
    };
    let table: ReplicatedTable<String, String> =
        ReplicatedTable::start(&node, "kv", options_table).await?;
    let service = ReplicationService::start(
        &node,
        ServiceConfig {
            sweep_interval: Duration::from_millis(options.sweep_ms),
            ..ServiceConfig::default()
        },
    );
    if options.manual_join {
        service.observe(&table);
    } else {
        service.register(&table);
    }
    emit(json!({"event": "started", "node": node.name()}));

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let started = std::time::Instant::now();
        let mut answer = match words.as_slice() {
            ["exit"] => break,
            ["put", key, value] => match table.insert(key.to_string(), value.to_string()).await {
                Ok(()) => json!({"ok": "put"}),
                Err(error) => json!({"error": error.to_string()}),
            },
            ["delete", key] => match table.delete(key.to_string()).await {
                Ok(()) => json!({"ok": "delete"}),
                Err(error) => json!({"error": error.to_string()}),
            },
            ["insert_new", key, value] => {
                match table.insert_new(key.to_string(), value.to_string()).await {
                    Ok(inserted) => json!({"ok": "insert_new", "inserted": inserted}),
                    Err(error) => json!({"error": error.to_string()}),
                }
            }
            ["get", key] => match table.table().get(&key.to_string()) {
                Ok(value) => json!({"ok": "get", "value": value}),
                Err(error) => json!({"error": error.to_string()}),
            },
            ["dump"] => match table.table().to_vec() {
                Ok(mut records) => {
                    records.sort();
                    json!({"ok": "dump", "records": records})
                }
                Err(error) => json!({"error": error.to_string()}),
            },
            ["size"] => match table.table().size() {
                Ok(size) => json!({"ok": "size", "size": size}),
                Err(error) => json!({"error": error.to_string()}),
            },
            ["members"] => match table.status().await {
                Ok(status) => {
                    let mut members = status.members.clone();
                    members.push(status.node.clone());
                    members.sort();
                    json!({"ok": "members", "members": members, "leader": status.leader})
                }
                Err(error) => json!({"error": error.to_string()}),
            },
            ["shards"] => match table.shard_statuses().await {
                Ok(shards) => {
                    let shards: Vec<serde_json::Value> = shards
                        .iter()
                        .map(|shard| {
                            let mut members = shard.members.clone();
                            members.push(shard.node.clone());
                            members.sort();
                            json!({"members": members, "size": shard.size, "leader": shard.leader})
                        })
                        .collect();
                    json!({"ok": "shards", "shards": shards})
                }
                Err(error) => json!({"error": error.to_string()}),
            },
            ["load", prefix, writers, count] => {
                match (writers.parse::<usize>(), count.parse::<usize>()) {
                    (Ok(writers), Ok(count)) => {
                        let acked = load(&table, prefix, writers, count).await;
                        json!({"ok": "load", "acked": acked})
                    }
                    _ => json!({"error": "load PREFIX WRITERS COUNT"}),
                }
            }
            ["verify", prefix, acked] => {
                let acked: Result<Vec<usize>, _> =
                    acked.split(',').map(str::parse::<usize>).collect();
                match acked {
                    Ok(acked) => {
                        let missing = missing(table.table(), prefix, &acked);
                        json!({"ok": "verify", "missing": missing})
                    }
                    Err(error) => json!({"error": error.to_string()}),
                }
            }
            ["join", peer] => match table.join(peer).await {
                Ok(outcome) => json!({"ok": "join", "outcome": format!("{outcome:?}")}),
                Err(error) => json!({"error": error.to_string()}),
            },
            ["status"] => {
                let status = service.status().await;
                let tables: Vec<serde_json::Value> = status
                    .tables
                    .iter()
                    .map(|table| {
                        json!({"name": table.name, "joined": table.joined, "size": table.size,
                               "leader": table.leader, "memory_bytes": table.memory_bytes,
                               "disagreeing_nodes": table.disagreeing_nodes,
                               "shards": table.shards.len()})
                    })
                    .collect();
                json!({"ok": "status", "discovered": status.cluster.discovered,
                       "connected": status.cluster.connected,
                       "unavailable": status.cluster.unavailable,
                       "discovery_works": status.cluster.discovery_works,
                       "disagreeing_tables": status.disagreeing_tables,
                       "disagreeing_nodes": status.disagreeing_nodes,
                       "unjoined": status.unjoined, "joined": status.joined,
                       "healthy": status.healthy, "tables": tables})
            }
            _ => json!({"error": format!("unknown command {line:?}")}),
        };
        answer["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
        emit(answer);
    }
    node.shutdown().await;
    Ok(())
}

/// `writers` concurrent writers, writer `w` inserting `PREFIX.w.i` for `i`
/// in `0..count` one at a time, each stopping at its first error; returns
/// how many each had acknowledged.
async fn load(
    table: &ReplicatedTable<String, String>,
    prefix: &str,
    writers: usize,
    count: usize,
) -> Vec<usize> {
    let tasks = (0..writers).map(|writer| {
        let table = table.clone();
        let prefix = prefix.to_string();
        async move {
            for index in 0..count {
                let key = format!("{prefix}.{writer}.{index}");
                if let Err(error) = table.insert(key, index.to_string()).await {
                    tracing::warn!(writer, index, %error, "load write failed");
                    return index;
                }
            }
            count
        }
    });
    futures::future::join_all(tasks.map(tokio::spawn))
        .await
        .into_iter()
        .map(|acked| acked.unwrap_or(0))
        .collect()
}

/// How many of the acknowledged keys of a `load` are missing from `table`.
fn missing(table: &bream_tables::Table<String, String>, prefix: &str, acked: &[usize]) -> usize {
    let mut missing = 0;
    for (writer, count) in acked.iter().enumerate() {
        for index in 0..*count {
            let key = format!("{prefix}.{writer}.{index}");
            if !matches!(table.member(&key), Ok(true)) {
                missing += 1;
            }
        }
    }
    missing
}
