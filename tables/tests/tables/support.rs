//! Shared test helpers: actors to own and inherit tables, a runtime for
//! synchronous tests, and waits with deadlines (never fixed sleeps).

use std::sync::LazyLock;
use std::time::Duration;

use bream_tables::{Table, TableOptions, Transfer};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;

/// Every wait in these tests gives up after this long.
pub(super) const DEADLINE: Duration = Duration::from_secs(5);

pub(super) use bream_testkit::actor::{spawn_idle, Idle, IdleMsg};

/// An heir: forwards every `Transfer` it receives to the test.
pub(super) struct Heir;

pub(super) enum HeirMsg {
    Transfer(Transfer<u64, u64>),
}
impl ractor::Message for HeirMsg {}

impl From<Transfer<u64, u64>> for HeirMsg {
    fn from(transfer: Transfer<u64, u64>) -> Self {
        Self::Transfer(transfer)
    }
}

impl Actor for Heir {
    type Msg = HeirMsg;
    type State = mpsc::UnboundedSender<Transfer<u64, u64>>;
    type Arguments = mpsc::UnboundedSender<Transfer<u64, u64>>;
    async fn pre_start(
        &self,
        _: ActorRef<HeirMsg>,
        forward: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(forward)
    }
    async fn handle(
        &self,
        _: ActorRef<HeirMsg>,
        message: HeirMsg,
        forward: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let HeirMsg::Transfer(transfer) = message;
        let _ = forward.send(transfer);
        Ok(())
    }
}

/// An heir actor and the channel its transfers arrive on.
pub(super) async fn spawn_heir() -> (
    ActorRef<HeirMsg>,
    mpsc::UnboundedReceiver<Transfer<u64, u64>>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (actor, _task) = Actor::spawn(None, Heir, sender).await.expect("spawn heir");
    (actor, receiver)
}

/// The next transfer, within the deadline.
pub(super) async fn next_transfer(
    receiver: &mut mpsc::UnboundedReceiver<Transfer<u64, u64>>,
) -> Transfer<u64, u64> {
    tokio::time::timeout(DEADLINE, receiver.recv())
        .await
        .expect("transfer within the deadline")
        .expect("heir channel open")
}

/// Polls `condition` until it holds; panics with `what` at the deadline.
pub(super) async fn eventually(what: &str, condition: impl FnMut() -> bool) {
    bream_testkit::eventually_sync(what, DEADLINE, condition).await
}

/// Stops `actor` and waits until it has stopped.
pub(super) async fn stop(actor: &ActorCell) {
    actor
        .stop_and_wait(None, Some(DEADLINE))
        .await
        .expect("actor stops within the deadline");
}

/// A runtime and an owner actor for synchronous tests (proptest, threads).
pub(super) struct Background {
    pub runtime: tokio::runtime::Runtime,
    pub owner: ActorRef<IdleMsg>,
}

pub(super) static BACKGROUND: LazyLock<Background> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime");
    let owner = runtime.block_on(spawn_idle());
    Background { runtime, owner }
});

/// A new table owned by the background owner, from synchronous code.
pub(super) fn table_sync<K: bream_tables::Key, V: bream_tables::Value>(
    name: &str,
    options: TableOptions<K, V>,
) -> Table<K, V> {
    let background = &*BACKGROUND;
    let _entered = background.runtime.enter();
    Table::new(name, &background.owner, options).expect("create table")
}

/// An actor that panics when told to: an owner that crashes.
pub(super) struct Crasher;

pub(super) struct Crash;
impl ractor::Message for Crash {}

impl Actor for Crasher {
    type Msg = Crash;
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<Crash>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
    async fn handle(
        &self,
        _: ActorRef<Crash>,
        _: Crash,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        panic!("told to crash");
    }
}
