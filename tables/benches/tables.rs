//! Table operations through the public API, one thread and two, and bytes
//! per entry.
//!
//! `cargo bench -p bream-tables --bench tables`
//!
//! Rates are aggregate operations per second. u64 keys and values in a
//! scrambled order; lookups, counters and scans run on a table of
//! `TABLE_ROWS` (100 000) rows; inserts fill fresh tables from empty to
//! `TABLE_ROWS` rows (growth included; creating and deleting the tables is
//! not timed); deletes empty tables of `TABLE_ROWS` rows filled untimed;
//! a range scan returns 100 rows from a random key (`select_map_limit`).
//!
//! Printed first: bytes per entry (allocator bytes counted over 1 000 000
//! inserts for each kind, beside the table's own estimate), then the best
//! of 7 short rounds per operation (see `summary`); criterion's statistics
//! follow. `benches/ets_anchor.erl` runs the same workload on ETS.
//!
//! # Figures
//!
//! This 2-core AMD EPYC VM, idle, 2026-11-27; M ops/s, best of 7 rounds,
//! one thread / two threads (criterion's medians agree within 10%, except
//! two-thread inserts: 14 M/s). ETS: Erlang/OTP 25, one process, same
//! workload and run (`ets_anchor.erl`). The anchor for ETS on this
//! kind of machine: insert ~1.1 M/s, lookup ~2.1 M/s.
//!
//! | operation                  | bream-tables    | ETS   |
//! |----------------------------|-----------------|-------|
//! | set insert                 | 43.6 / 29.2     | 3.9   |
//! | set lookup (`get`)         | 94.8 / 190.0    | 6.2   |
//! | set update_counter         | 48.2 / 54.6     | 5.9   |
//! | set delete                 | 45.3 / 51.7     | 4.8   |
//! | ordered_set insert         | 10.9 / 10.5     | 2.7   |
//! | ordered_set lookup (`get`) | 12.2 / 24.4     | 3.2   |
//! | ordered_set 100-row scan   | 1.78 / 3.70     | 0.072 |
//!
//! Bytes per entry (1 000 000 u64 -> u64 entries; ETS: `ets:info(T,
//! memory)`, keys above 2^59 are bignums there): set 35.7, ordered_set
//! 26.3, bag and duplicate_bag 77.2 (one `Vec` per key); ETS 79.5 for each
//! kind (64.0 with keys below 2^58).
//!
//! Where we lose: writes from two threads do not scale (inserts drop to
//! 14-29 M/s, counters and deletes stay near one thread's rate). Both
//! threads write the same stripe headers and buckets of a 100 000-row table,
//! so most writes pull a cache line from the other core; reads share lines
//! and scale 2.0x.
// criterion_main! writes a `pub fn main` without a doc comment.
#![allow(missing_docs)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bream_tables::{Table, TableKind, TableOptions};
use common::{criterion_short, scramble, time_threads, SCAN_ROWS, TABLE_ROWS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ractor::{Actor, ActorRef};

/// Counts live heap bytes, to measure bytes per entry.
struct CountingAllocator;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to `System`, only counting sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(pointer, layout) }
    }
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A runtime and an owner for the benched tables.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    owner: ActorRef<bream_testkit::actor::IdleMsg>,
}

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("bench runtime");
        let owner = runtime
            .block_on(Actor::spawn(None, bream_testkit::actor::Idle, ()))
            .expect("spawn owner")
            .0;
        Self { runtime, owner }
    }

    /// A public table, so bench threads write through plain handles.
    fn table(&self, kind: TableKind) -> Table<u64, u64> {
        let _entered = self.runtime.enter();
        Table::new(
            "bench",
            &self.owner,
            TableOptions::new(kind).access(bream_tables::Access::Public),
        )
        .expect("create table")
    }

    /// Time for `threads` threads to insert `iterations` keys each, into
    /// fresh tables of at most `TABLE_ROWS` rows.
    fn time_inserts(&self, kind: TableKind, threads: usize, iterations: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut done = 0;
        while done < iterations {
            let per_thread = (iterations - done).min(TABLE_ROWS / threads as u64);
            let table = self.table(kind);
            elapsed += time_threads(threads, per_thread, |thread_index, per_thread| {
                let base = thread_index as u64 * per_thread;
                for index in base..base + per_thread {
                    table.insert(scramble(index), index).expect("insert");
                }
            });
            table.delete_table().expect("delete");
            done += per_thread;
        }
        elapsed
    }

    /// Time for `threads` threads to delete `iterations` keys each, from
    /// tables of at most `TABLE_ROWS` rows filled untimed.
    fn time_deletes(&self, kind: TableKind, threads: usize, iterations: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut done = 0;
        while done < iterations {
            let per_thread = (iterations - done).min(TABLE_ROWS / threads as u64);
            let table = self.filled(kind, per_thread * threads as u64);
            elapsed += time_threads(threads, per_thread, |thread_index, per_thread| {
                let base = thread_index as u64 * per_thread;
                for index in base..base + per_thread {
                    table.delete(&scramble(index)).expect("delete");
                }
            });
            table.delete_table().expect("delete");
            done += per_thread;
        }
        elapsed
    }

    fn filled(&self, kind: TableKind, rows: u64) -> Table<u64, u64> {
        let table = self.table(kind);
        table
            .insert_many((0..rows).map(|index| (scramble(index), index)))
            .expect("fill");
        table
    }
}

/// `threads` threads each doing `per_thread` lookups of present keys.
fn time_lookups(table: &Table<u64, u64>, threads: usize, per_thread: u64) -> Duration {
    time_threads(threads, per_thread, |thread_index, per_thread| {
        let start = thread_index as u64 * 7919;
        for index in start..start + per_thread {
            black_box(table.get(&scramble(index % TABLE_ROWS)).expect("get"));
        }
    })
}

/// `threads` threads each doing `per_thread` increments of present keys.
fn time_update_counters(table: &Table<u64, u64>, threads: usize, per_thread: u64) -> Duration {
    time_threads(threads, per_thread, |thread_index, per_thread| {
        let start = thread_index as u64 * 7919;
        for index in start..start + per_thread {
            let key = scramble(index % TABLE_ROWS);
            black_box(table.update_counter(&key, 1, None).expect("update_counter"));
        }
    })
}

/// `threads` threads each doing `per_thread` scans of `SCAN_ROWS` rows from
/// a random key (ordered set).
fn time_scans(table: &Table<u64, u64>, threads: usize, per_thread: u64) -> Duration {
    time_threads(threads, per_thread, |thread_index, per_thread| {
        let start = thread_index as u64 * 7919;
        for index in start..start + per_thread {
            let from = scramble(index % TABLE_ROWS);
            let rows = table
                .select_map_limit(from.., SCAN_ROWS, |_, value| Some(*value))
                .expect("select");
            black_box(rows);
        }
    })
}

/// Whether criterion runs for real (`cargo bench` passes `--bench`) rather
/// than once as a quick test (`cargo test --benches`).
fn full_run() -> bool {
    std::env::args().any(|argument| argument == "--bench")
}

/// Best rate of several short rounds per operation and thread count,
/// printed before criterion's runs. On a machine shared with other work
/// the best round is the least disturbed one, which criterion's averages
/// are not; both are reported.
fn summary(fixture: &Fixture) {
    let (rounds, scale) = if full_run() { (7, 1) } else { (1, 100) };
    let best = |operations: u64, mut round: Box<dyn FnMut() -> Duration + '_>| {
        let fastest = (0..rounds).map(|_| round()).min().unwrap_or(Duration::MAX);
        operations as f64 / fastest.as_secs_f64() / 1e6
    };
    println!("best of {rounds} rounds, M ops/s (1 thread / 2 threads, aggregate):");
    let set = fixture.filled(TableKind::Set, TABLE_ROWS);
    let ordered = fixture.filled(TableKind::OrderedSet, TABLE_ROWS);
    let lookups = 2_000_000 / scale;
    let scans = 50_000 / scale;
    let rows = TABLE_ROWS / scale;
    let line = |name: &str, rates: [f64; 2]| {
        println!("  {name:<28} {:>8.3} / {:>8.3}", rates[0], rates[1]);
    };
    line(
        "set insert",
        [1, 2].map(|threads| {
            best(
                rows,
                Box::new(|| fixture.time_inserts(TableKind::Set, threads, rows / threads as u64)),
            )
        }),
    );
    line(
        "set lookup (get)",
        [1, 2].map(|threads| {
            best(
                lookups * threads as u64,
                Box::new(|| time_lookups(&set, threads, lookups)),
            )
        }),
    );
    line(
        "set update_counter",
        [1, 2].map(|threads| {
            best(
                lookups * threads as u64,
                Box::new(|| time_update_counters(&set, threads, lookups)),
            )
        }),
    );
    line(
        "set delete",
        [1, 2].map(|threads| {
            best(
                rows,
                Box::new(|| fixture.time_deletes(TableKind::Set, threads, rows / threads as u64)),
            )
        }),
    );
    line(
        "ordered_set insert",
        [1, 2].map(|threads| {
            best(
                rows,
                Box::new(|| {
                    fixture.time_inserts(TableKind::OrderedSet, threads, rows / threads as u64)
                }),
            )
        }),
    );
    line(
        "ordered_set lookup (get)",
        [1, 2].map(|threads| {
            best(
                lookups * threads as u64,
                Box::new(|| time_lookups(&ordered, threads, lookups)),
            )
        }),
    );
    line(
        "ordered_set range_scan_100",
        [1, 2].map(|threads| {
            best(
                scans * threads as u64,
                Box::new(|| time_scans(&ordered, threads, scans)),
            )
        }),
    );
    set.delete_table().expect("delete");
    ordered.delete_table().expect("delete");
}

fn bytes_per_entry(fixture: &Fixture) {
    // `cargo bench` passes --bench; `cargo test --benches` runs each bench
    // once as a quick test, where a small table is enough.
    let entries: u64 = if full_run() { 1_000_000 } else { 10_000 };
    println!("bytes per entry, {entries} u64 -> u64 entries (allocator-counted / info estimate):");
    for kind in [
        TableKind::Set,
        TableKind::OrderedSet,
        TableKind::Bag,
        TableKind::DuplicateBag,
    ] {
        let before = ALLOCATED.load(Ordering::Relaxed);
        let table = fixture.table(kind);
        for index in 0..entries {
            table.insert(scramble(index), index).expect("insert");
        }
        let counted = ALLOCATED.load(Ordering::Relaxed) - before;
        let estimated = table.info().expect("info").memory_bytes;
        println!(
            "  {:<14} {:>6.1} counted  {:>6.1} estimated",
            kind.name(),
            counted as f64 / entries as f64,
            estimated as f64 / entries as f64
        );
        table.delete_table().expect("delete");
    }
}

fn tables(criterion: &mut Criterion) {
    let fixture = Fixture::new();
    bytes_per_entry(&fixture);
    summary(&fixture);
    let mut group = criterion.benchmark_group("set");
    for threads in [1usize, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(BenchmarkId::new("insert", threads), |bencher| {
            bencher
                .iter_custom(|iterations| fixture.time_inserts(TableKind::Set, threads, iterations))
        });
        let table = fixture.filled(TableKind::Set, TABLE_ROWS);
        group.bench_function(BenchmarkId::new("lookup", threads), |bencher| {
            bencher.iter_custom(|iterations| time_lookups(&table, threads, iterations))
        });
        group.bench_function(BenchmarkId::new("update_counter", threads), |bencher| {
            bencher.iter_custom(|iterations| time_update_counters(&table, threads, iterations))
        });
        table.delete_table().expect("delete");
        group.bench_function(BenchmarkId::new("delete", threads), |bencher| {
            bencher
                .iter_custom(|iterations| fixture.time_deletes(TableKind::Set, threads, iterations))
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("ordered_set");
    for threads in [1usize, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(BenchmarkId::new("insert", threads), |bencher| {
            bencher.iter_custom(|iterations| {
                fixture.time_inserts(TableKind::OrderedSet, threads, iterations)
            })
        });
        let table = fixture.filled(TableKind::OrderedSet, TABLE_ROWS);
        group.bench_function(BenchmarkId::new("lookup", threads), |bencher| {
            bencher.iter_custom(|iterations| time_lookups(&table, threads, iterations))
        });
        // One element = one scan of SCAN_ROWS rows from a random key.
        group.bench_function(BenchmarkId::new("range_scan_100", threads), |bencher| {
            bencher.iter_custom(|iterations| time_scans(&table, threads, iterations))
        });
        table.delete_table().expect("delete");
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion_short(); targets = tables }
criterion_main!(benches);
