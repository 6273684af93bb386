//! The replicated table's server on one real node (ractor_cluster is
//! process-global, so this binary starts one node and every test shares it):
//! what the protocol tests cannot see, because it lives in the shell, such
//! as pauses tied to a holder actor's life. Multi-node behaviour is tested
//! with real processes in `bream-tests`.

use std::time::Duration;

use bream_runtime::node::{Node, NodeConfig};
use bream_tables::replicated::{ReplicatedOptions, ReplicatedTable};
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
