//! Runtime figures beside Erlang/OTP 25's on the same machine (see the anchors):
//! spawn+exit 2.4 µs, 2.2 M casts/s with 4 senders, gen_server call 1.5 µs,
//! supervisor:start_child 5.3 µs, crash to restarted child 128 µs.
//!
//! `cargo bench -p bream-runtime --bench runtime`.
// criterion_main! writes a `pub fn main` without a doc comment.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_runtime::call::call;
use bream_runtime::fault;
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_runtime::supervisor::{
    ChildSpec, ChildTemplate, DynamicSupervisor, DynamicSupervisorSpec, Supervisor,
    SupervisorEvent, SupervisorSpec,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

enum BenchMsg {
    Add(u64),
    Get(RpcReplyPort<u64>),
}

bream_runtime::local_message!(BenchMsg);

/// Counts what it is sent and wakes a waiter when `target` is reached.
struct Sink {
    seen: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    reached: Arc<Notify>,
}

impl Actor for Sink {
    type Msg = BenchMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<BenchMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<BenchMsg>,
        message: BenchMsg,
        total: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BenchMsg::Add(value) => {
                *total += value;
                let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
                if seen == self.target.load(Ordering::Relaxed) {
                    self.reached.notify_one();
                }
            }
            BenchMsg::Get(reply) => {
                let _ = reply.send(*total);
            }
        }
        Ok(())
    }
}

fn sink() -> (Sink, Arc<AtomicU64>, Arc<AtomicU64>, Arc<Notify>) {
    let seen = Arc::new(AtomicU64::new(0));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let reached = Arc::new(Notify::new());
    (
        Sink {
            seen: seen.clone(),
            target: target.clone(),
            reached: reached.clone(),
        },
        seen,
        target,
        reached,
    )
}

/// Latency benches run on one thread, as a call between two Erlang processes on one scheduler
/// does; throughput benches with several senders use a multi-threaded runtime.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn multi_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn spawn_and_stop(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("spawn+stop", |b| {
        b.to_async(&rt).iter(|| async {
            let (actor, handle) = Actor::spawn(None, sink().0, ()).await.expect("spawn");
            actor.stop(None);
            handle.await.expect("join");
        })
    });
}

fn casts(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let mut group = c.benchmark_group("cast");
    const BATCH: u64 = 100_000;
    group.throughput(Throughput::Elements(BATCH));
    for senders in [1u64, 4] {
        group.bench_function(format!("{senders} senders"), |b| {
            b.to_async(&rt).iter_custom(|iterations| async move {
                let (sink, seen, target, reached) = sink();
                let (actor, _) = Actor::spawn(None, sink, ()).await.expect("spawn");
                let total = iterations * BATCH;
                target.store(total, Ordering::Relaxed);
                let started = Instant::now();
                let per_sender = total / senders;
                let mut tasks = Vec::new();
                for sender in 0..senders {
                    let actor = actor.clone();
                    let count = if sender == 0 {
                        total - per_sender * (senders - 1)
                    } else {
                        per_sender
                    };
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..count {
                            let _ = bream_runtime::call::cast(&actor, BenchMsg::Add(1));
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("sender");
                }
                if seen.load(Ordering::Relaxed) < total {
                    reached.notified().await;
                }
                let elapsed = started.elapsed();
                actor.stop(None);
                elapsed
            })
        });
    }
    group.finish();
}

fn calls(c: &mut Criterion) {
    let rt = runtime();
    let actor = rt.block_on(async { Actor::spawn(None, sink().0, ()).await.expect("spawn").0 });
    let mut group = c.benchmark_group("call round trip");
    group.bench_function("bream call (5 s timeout)", |b| {
        b.to_async(&rt)
            .iter(|| async { call(&actor, BenchMsg::Get).await.expect("call") })
    });
    group.bench_function("raw ractor call (no timeout)", |b| {
        b.to_async(&rt)
            .iter(|| async { actor.call(BenchMsg::Get, None).await.expect("call") })
    });
    group.finish();
    actor.stop(None);
}

fn dynamic_start_child(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("dynamic start_child", |b| {
        b.to_async(&rt).iter_custom(|iterations| async move {
            let template = ChildTemplate::actor(|_: ()| (sink().0, ()));
            let supervisor =
                DynamicSupervisor::start(DynamicSupervisorSpec::new("bench", template))
                    .await
                    .expect("start");
            let started = Instant::now();
            for _ in 0..iterations {
                supervisor.start_child(()).await.expect("start_child");
            }
            let elapsed = started.elapsed();
            supervisor
                .supervisor()
                .shutdown(Duration::from_secs(60))
                .await;
            elapsed
        })
    });
}

fn crash_to_restart(c: &mut Criterion) {
    let rt = runtime();
    let (supervisor, mut events) = rt.block_on(async {
        let spec = SupervisorSpec::new("crash-bench")
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(ChildSpec::actor("victim", || sink().0, || ()));
        let events = spec.subscribe();
        (Supervisor::start(spec).await.expect("start"), events)
    });
    c.bench_function("crash to restarted child", |b| {
        b.to_async(&rt).iter_custom(|iterations| {
            let supervisor = supervisor.clone();
            let mut receiver = events.resubscribe();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let victim = supervisor.which_children().await.expect("children")[0]
                        .actor
                        .clone()
                        .expect("running");
                    let started = Instant::now();
                    fault::kill(&victim).expect("kill");
                    loop {
                        if let Ok(SupervisorEvent::ChildRestarted { .. }) = receiver.recv().await {
                            break;
                        }
                    }
                    total += started.elapsed();
                }
                total
            }
        })
    });
    while events.try_recv().is_ok() {}
    rt.block_on(supervisor.shutdown(Duration::from_secs(5)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = spawn_and_stop, casts, calls, dynamic_start_child, crash_to_restart
}
criterion_main!(benches);
