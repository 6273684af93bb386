//! The replicated table's server on one real node (ractor_cluster is
//! process-global, so this binary starts one node and every test shares it):
//! what the protocol tests cannot see, because it lives in the shell, such
//! as pauses tied to a holder actor's life, and a sharded table seen as one
//! table. Multi-node behaviour is tested with real processes in
//! `bream-tests`.

use std::time::Duration;

use bream_runtime::node::{Node, NodeConfig};
use bream_tables::replicated::{
    ReplicatedOptions, ReplicatedTable, ReplicationError, ReplicationService, ServiceConfig,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::OnceCell;

/// Every wait in these tests gives up after this long.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a queued write is given to (wrongly) complete while paused.
const STILL_QUEUED: Duration = Duration::from_millis(100);

static NODE: OnceCell<Node> = OnceCell::const_new();

async fn node() -> &'static Node {
    NODE.get_or_init(|| async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("free port");
        let config = NodeConfig::new(
            "server-test@127.0.0.1",
            format!("127.0.0.1:{port}").parse().expect("address"),
            "bream-test",
        );
        Node::start(config, None).await.expect("node starts")
    })
    .await
}

async fn table(name: &str) -> ReplicatedTable<u64, u64> {
    ReplicatedTable::start(node().await, name, ReplicatedOptions::default())
        .await
        .expect("table starts")
}

/// An actor that does nothing: a pause holder.
struct Holder;

enum HolderMsg {}
impl ractor::Message for HolderMsg {}

impl Actor for Holder {
    type Msg = HolderMsg;
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<HolderMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

async fn holder() -> ActorRef<HolderMsg> {
    Actor::spawn(None, Holder, ())
        .await
        .expect("holder spawns")
        .0
}

/// One test function: a node lives in one tokio runtime, and every
/// `#[tokio::test]` makes its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server() {
    a_pause_whose_holder_actor_stops_is_released_even_if_its_guard_leaks().await;
    a_pause_for_a_holder_is_released_by_its_guard_and_nests_with_plain_pauses().await;
    a_pause_for_an_already_dead_holder_is_released_at_once().await;
    a_sharded_table_reads_and_writes_as_one_table().await;
    a_sharded_table_reports_each_shard_and_pauses_them_all().await;
    a_shard_count_out_of_bounds_is_refused().await;
    stopping_a_sharded_table_stops_every_shard_and_its_table().await;
}

async fn sharded(name: &str, shards: usize) -> ReplicatedTable<u64, u64> {
    let options = ReplicatedOptions {
        shards,
        ..ReplicatedOptions::default()
    };
    ReplicatedTable::start(node().await, name, options)
        .await
        .expect("sharded table starts")
}

async fn a_sharded_table_reads_and_writes_as_one_table() {
    let table = sharded("sharded_rw", 4).await;
    assert_eq!(table.shards(), 4);
    for key in 0..40 {
        table.insert(key, key * 10).await.expect("insert");
    }
    // One write over every shard, and deletes over several.
    table
        .insert_many((100..140).map(|key| (key, key)).collect())
        .await
        .expect("insert_many");
    table
        .delete_many((0..10).collect())
        .await
        .expect("delete_many");
    table.delete_object(10, 100).await.expect("delete_object");
    let local = table.table();
    assert_eq!(local.size().expect("size"), 69);
    assert_eq!(local.get(&11).expect("get"), Some(110));
    assert_eq!(local.get(&5).expect("get"), None);
    let selected = local
        .select(.., |key, _| *key >= 130)
        .expect("select")
        .len();
    assert_eq!(selected, 10);
    assert!(table.insert_new(200, 1).await.expect("insert_new"));
    assert!(!table.insert_new(200, 2).await.expect("insert_new"));
    let (inserted, values) = table
        .insert_new_or_lookup(11, 0)
        .await
        .expect("insert_new_or_lookup");
    assert!(!inserted);
    assert_eq!(values, vec![110]);
    let handles: Vec<_> = (300..364)
        .map(|key| table.insert_async(key, key).expect("sent"))
        .collect();
    bream_tables::replicated::wait_all(handles, DEADLINE)
        .await
        .expect("every async write acknowledged");
    assert_eq!(local.size().expect("size"), 134);
}

async fn a_sharded_table_reports_each_shard_and_pauses_them_all() {
    let table = sharded("sharded_status", 4).await;
    table
        .insert_many((0..400).map(|key| (key, key)).collect())
        .await
        .expect("insert_many");
    let shards = table.shard_statuses().await.expect("shard statuses");
    assert_eq!(shards.len(), 4);
    for (index, shard) in shards.iter().enumerate() {
        assert_eq!(shard.table, format!("sharded_status#{index}/4"));
        // 400 keys over 4 shards: each holds its own, none is empty.
        assert!(shard.size > 50, "shard {index} holds {}", shard.size);
    }
    assert_eq!(shards.iter().map(|shard| shard.size).sum::<usize>(), 400);
    let status = table.status().await.expect("status");
    assert_eq!(status.table, "sharded_status");
    assert_eq!(status.size, 400);
    assert!(status.members.is_empty());
    let views = table.cluster_views().await.expect("cluster views");
    assert_eq!(views.len(), 4);
    assert!(views.iter().all(|view| view.disagreeing_nodes().is_empty()));

    // A pause holds every shard: writes to any key queue until it drops.
    let pause = table.pause().await.expect("paused");
    let writes: Vec<_> = (1000..1016)
        .map(|key| table.insert_async(key, key).expect("sent"))
        .collect();
    let queued = table.shard_statuses().await.expect("statuses");
    assert!(queued.iter().all(|shard| shard.pauses == 1));
    assert_eq!(
        queued
            .iter()
            .map(|shard| shard.queued_writes)
            .sum::<usize>(),
        16
    );
    assert_eq!(table.table().get(&1000).expect("read"), None);
    drop(pause);
    bream_tables::replicated::wait_all(writes, DEADLINE)
        .await
        .expect("writes run on unpause");
    assert_eq!(table.table().size().expect("size"), 416);

    // The service reports the table per shard.
    let service = ReplicationService::start(node().await, ServiceConfig::default());
    service.register(&table);
    let report = service.status().await;
    let reported = report
        .tables
        .iter()
        .find(|status| status.name == "sharded_status")
        .expect("registered table reported");
    assert_eq!(reported.shards.len(), 4);
    assert_eq!(reported.size, 416);
    assert!(reported.disagreeing_nodes.is_empty());
    assert!(report.disagreeing_tables.is_empty());
    assert_eq!(report.joined, vec!["server-test@127.0.0.1".to_string()]);
}

async fn a_shard_count_out_of_bounds_is_refused() {
    for shards in [0, 257] {
        let options = ReplicatedOptions::<u64, u64> {
            shards,
            ..ReplicatedOptions::default()
        };
        let error = ReplicatedTable::start(node().await, "sharded_bad", options)
            .await
            .expect_err("refused");
        assert!(
            matches!(error, ReplicationError::InvalidOption { option: "shards", value, .. } if value == shards),
            "{error}"
        );
    }
}

async fn stopping_a_sharded_table_stops_every_shard_and_its_table() {
    let table = sharded("sharded_stop", 3).await;
    table.insert(1, 1).await.expect("insert");
    table.stop();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    // Every shard's server goes: a write to any shard fails once they have.
    loop {
        let all_gone = futures::future::join_all((0..30).map(|key| table.insert(key, key)))
            .await
            .iter()
            .all(|result| result.is_err());
        if all_gone && table.table().size().is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shards still running"
        );
        tokio::task::yield_now().await;
    }
}

async fn a_pause_whose_holder_actor_stops_is_released_even_if_its_guard_leaks() {
    let table = table("holder_stops").await;
    let holder = holder().await;
    let guard = table.pause_for(&holder.get_cell()).await.expect("paused");
    std::mem::forget(guard);
    let write = table.insert_async(1, 1).expect("write sent");
    tokio::time::sleep(STILL_QUEUED).await;
    assert_eq!(
        table.table().get(&1).expect("read"),
        None,
        "ran while paused"
    );
    holder.kill();
    write
        .wait(DEADLINE)
        .await
        .expect("the pause died with its holder");
    let status = table.status().await.expect("status");
    assert_eq!(status.pauses, 0);
    assert_eq!(status.queued_writes, 0);
}

async fn a_pause_for_a_holder_is_released_by_its_guard_and_nests_with_plain_pauses() {
    let table = table("holder_guard").await;
    let holder = holder().await;
    let held = table.pause_for(&holder.get_cell()).await.expect("paused");
    let plain = table.pause().await.expect("paused");
    let write = table.insert_async(2, 2).expect("write sent");
    drop(held);
    assert_eq!(table.status().await.expect("status").pauses, 1);
    assert_eq!(table.table().get(&2).expect("read"), None);
    drop(plain);
    write
        .wait(DEADLINE)
        .await
        .expect("write completes on the last unpause");
    assert_eq!(table.table().get(&2).expect("read"), Some(2));
    // The holder stopping later releases nothing more and breaks nothing.
    holder.stop(None);
    table.insert(3, 3).await.expect("insert");
    assert_eq!(table.status().await.expect("status").pauses, 0);
}

async fn a_pause_for_an_already_dead_holder_is_released_at_once() {
    let table = table("holder_dead").await;
    let holder = holder().await;
    let cell = holder.get_cell();
    holder.stop(None);
    let _ = tokio::time::timeout(DEADLINE, cell.wait(None)).await;
    let guard = table.pause_for(&cell).await.expect("paused");
    table
        .insert(4, 4)
        .await
        .expect("insert goes through: the pause died with its holder");
    drop(guard);
}
