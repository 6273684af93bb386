//! Bytes per idle actor, counted by a global allocator: a raw ractor actor, the same actor
//! spawned with fault injection (as supervisors spawn it), linked to a plain parent, a child of
//! a static supervisor, and a child of a dynamic supervisor.
//! Erlang/OTP 25's anchor here is 2.7 KB per idle process.
//!
//! `cargo bench -p bream-runtime --bench memory` prints the figures; under `cargo test` it runs
//! a small count so it never rots.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bream_runtime::ractor::Actor;
use bream_runtime::supervisor::{ChildTemplate, DynamicSupervisor, DynamicSupervisorSpec};
use bream_testkit::actor::Idle;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let count: usize = if std::env::args().any(|arg| arg == "--bench") {
        20_000
    } else {
        200
    };

    let before = live();
    let mut raw = Vec::with_capacity(count);
    let vec_bytes = live() - before;
    for _ in 0..count {
        raw.push(Actor::spawn(None, Idle, ()).await.expect("spawn"));
    }
    let raw_bytes = (live() - before - vec_bytes) as f64 / count as f64;

    let before = live();
    let mut injectable = Vec::with_capacity(count);
    let vec_bytes = live() - before;
    for _ in 0..count {
        injectable.push(
            bream_runtime::fault::spawn(None, Idle, ())
                .await
                .expect("spawn"),
        );
    }
    let injectable_bytes = (live() - before - vec_bytes) as f64 / count as f64;

    let (parent, _) = Actor::spawn(None, Idle, ()).await.expect("parent");
    let before = live();
    let mut linked = Vec::with_capacity(count);
    let vec_bytes = live() - before;
    for _ in 0..count {
        linked.push(
            bream_runtime::fault::spawn_linked(Idle, (), parent.get_cell())
                .await
                .expect("spawn"),
        );
    }
    let linked_bytes = (live() - before - vec_bytes) as f64 / count as f64;
    println!("linked to a plain parent:         {linked_bytes:8.0} bytes each");
    let static_sup = bream_runtime::supervisor::Supervisor::start(
        bream_runtime::supervisor::SupervisorSpec::new("static"),
    )
    .await
    .expect("static");
    let specs: Vec<_> = (0..count)
        .map(|index| {
            bream_runtime::supervisor::ChildSpec::actor(format!("c{index}"), || Idle, || ())
        })
        .collect();
    let before = live();
    for spec in specs {
        static_sup.start_child(spec).await.expect("start_child");
    }
    let static_bytes = (live() - before) as f64 / count as f64;
    println!("static start_child:               {static_bytes:8.0} bytes each");

    let supervisor = DynamicSupervisor::start(DynamicSupervisorSpec::new(
        "memory",
        ChildTemplate::actor(|_: ()| (Idle, ())),
    ))
    .await
    .expect("start");
    let before = live();
    for _ in 0..count {
        supervisor.start_child(()).await.expect("start_child");
    }
    let supervised_bytes = (live() - before) as f64 / count as f64;

    println!("idle actors: {count}");
    println!("raw ractor actor:                 {raw_bytes:8.0} bytes each");
    println!("with fault injection:             {injectable_bytes:8.0} bytes each");
    println!("child of a dynamic supervisor:    {supervised_bytes:8.0} bytes each");
    println!("(Erlang/OTP 25 idle process:          2700 bytes)");

    for (actor, _) in raw {
        actor.stop(None);
    }
    for actor in injectable {
        actor.stop(None);
    }
    supervisor
        .supervisor()
        .shutdown(Duration::from_secs(30))
        .await;
}
