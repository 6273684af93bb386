//! A key-value store replicated over nodes that find each other through an SQL registry.
//!
//! Run three shells on one machine (the registry is one SQLite file they share):
//!
//! ```text
//! cargo run -p bream-examples --bin replicated_kv -- --name a --port 4381
//! cargo run -p bream-examples --bin replicated_kv -- --name b --port 4382
//! cargo run -p bream-examples --bin replicated_kv -- --name c --port 4383
//! ```
//!
//! Each node holds a full copy of the replicated table `kv` (string keys and values). Type
//! commands, one per line:
//!
//! ```text
//! put KEY VALUE     insert everywhere; answers once every live node has it
//! get KEY           read this node's copy (no message to anyone)
//! delete KEY        delete everywhere
//! dump              every record here, sorted
//! status            nodes discovered / connected / joined, leader, size, disagreeing tables
//! ```
//!
//! What to watch: when the nodes find each other, each prints `MEMBERS` with the joined nodes
//! (the replication service joins the table with every node that comes up). Kill one
//! (`kill -9`, or ctrl-d to stop it cleanly): the others print `TABLE DOWN` (the table's down
//! handler: acknowledgements it was owed are released, the leader is re-elected) and a shorter
//! `MEMBERS`. Writes go on. Start it again, seeded with records of its own
//! (`--seed k=v`, inserted before it joins): it rejoins, and the join merges the two sides.
//! A key both sides hold with different values is merged; this example's merge handler
//! keeps the greater value (by string order), on every node alike.
//!
//! `--registry postgres://postgres@127.0.0.1/test` uses PostgreSQL instead. Output lines start
//! with a word in capitals (events) or `>` (answers), so a script can follow them.

use std::sync::Arc;
use std::time::Duration;

use bream_examples::{start_node, NodeArgs, StartedNode};
use bream_tables::replicated::{
    ReplicaConfig, ReplicatedOptions, ReplicatedTable, ReplicationService, ServiceConfig,
};
use clap::Parser;
use tokio::io::AsyncBufReadExt;

#[derive(Parser)]
struct Options {
    #[command(flatten)]
    node: NodeArgs,
    /// Records `KEY=VALUE` put in this node's copy before it joins the others.
    #[arg(long)]
    seed: Vec<String>,
}

/// How often the members watcher looks at the table.
const MEMBERS_POLL_INTERVAL: Duration = Duration::from_millis(100);

type Kv = ReplicatedTable<String, String>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let StartedNode {
        node,
        name,
        address,
        registry,
    } = start_node(&options.node, "replicated_kv", |config| {
        // Notice a frozen peer within a second (a killed one is noticed at once: its
        // socket closes).
        config.heartbeat_interval = Duration::from_millis(200);
        config.heartbeat_deadline = Duration::from_secs(1);
        config.poll_interval_starting = Duration::from_millis(200);
    })
    .await?;

    let table: Kv = ReplicatedTable::start(&node, "kv", table_options()).await?;
    for seed in &options.seed {
        let (key, value) = seed
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--seed {seed:?} is not KEY=VALUE"))?;
        table.insert(key.to_string(), value.to_string()).await?;
        println!("SEEDED {key} = {value}");
    }
    let service = ReplicationService::start(
        &node,
        ServiceConfig {
            sweep_interval: Duration::from_millis(300),
            ..ServiceConfig::default()
        },
    );
    service.register(&table);
    tokio::spawn(watch_members(table.clone()));
    println!("STARTED {name} on {address}, registry {registry}");

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = lines.next_line() => line?,
        };
        let Some(line) = line else { break };
        match answer(&table, &service, &line).await {
            Ok(text) => println!("> {text}"),
            Err(error) => println!("> error: {error}"),
        }
    }
    table.stop();
    node.shutdown().await;
    println!("STOPPED {name}");
    Ok(())
}

fn table_options() -> ReplicatedOptions<String, String> {
    let replica = ReplicaConfig {
        // A merge in a join (one key, two values): keep the greater value. Any deterministic
        // function of the two records works; it runs once, on the join's coordinator.
        merge_handler: Some(Arc::new(|left: &(String, String), right| {
            if left.1 >= right.1 {
                left.clone()
            } else {
                right.clone()
            }
        })),
        ..ReplicaConfig::default()
    };
    ReplicatedOptions {
        replica,
        // Runs on its own task, so it could call the table without deadlocking its server.
        down_handler: Some(Arc::new(|event| {
            println!(
                "TABLE DOWN {} ({}); leader now {}",
                event.node, event.reason, event.leader_after
            );
        })),
        ..ReplicatedOptions::default()
    }
}

/// Prints the table's members (with this node) whenever they change: joins and node-downs.
async fn watch_members(table: Kv) {
    let mut last = Vec::new();
    loop {
        tokio::time::sleep(MEMBERS_POLL_INTERVAL).await;
        let Ok(status) = table.status().await else {
            return;
        };
        let mut members = status.members.clone();
        members.push(status.node.clone());
        members.sort();
        if members != last {
            println!(
                "MEMBERS {} (leader {}, {} records)",
                members.join(","),
                status.leader,
                status.size
            );
            last = members;
        }
    }
}

async fn answer(table: &Kv, service: &ReplicationService, line: &str) -> anyhow::Result<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    Ok(match words.as_slice() {
        ["put", key, value] => {
            table.insert(key.to_string(), value.to_string()).await?;
            format!("ok put {key}")
        }
        ["get", key] => match table.table().get(&key.to_string())? {
            Some(value) => format!("{key} = {value}"),
            None => format!("{key} not found"),
        },
        ["delete", key] => {
            table.delete(key.to_string()).await?;
            format!("ok delete {key}")
        }
        ["dump"] => {
            let mut records = table.table().to_vec()?;
            records.sort();
            let records: Vec<String> = records
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            format!("dump {}", records.join(" "))
        }
        ["status"] => {
            let status = service.status().await;
            let tables: Vec<String> = status
                .tables
                .iter()
                .map(|table| {
                    format!(
                        "{}: joined [{}], leader {}, {} records",
                        table.name,
                        table.joined.join(","),
                        table.leader,
                        table.size
                    )
                })
                .collect();
            format!(
                "status discovered [{}] connected [{}] unavailable [{}]; {}; disagreeing tables [{}]; {}",
                status.cluster.discovered.join(","),
                status.cluster.connected.join(","),
                status.cluster.unavailable.join(","),
                tables.join("; "),
                status.disagreeing_tables.join(","),
                if status.healthy {
                    "healthy"
                } else {
                    "not healthy"
                }
            )
        }
        [] => "commands: put KEY VALUE | get KEY | delete KEY | dump | status".to_string(),
        _ => format!("unknown command {line:?}; commands: put, get, delete, dump, status"),
    })
}
