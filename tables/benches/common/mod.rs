//! Helpers shared by the benches: key scrambling, multi-threaded timing,
//! and criterion settings kept short for a 2-core machine.

#![allow(dead_code)] // Each bench binary uses a different subset.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Rows in a pre-filled table for lookup, update_counter and scans.
pub const TABLE_ROWS: u64 = 100_000;

/// Rows per range scan.
pub const SCAN_ROWS: usize = 100;

/// Criterion settings: short, because the machine has 2 shared cores.
pub fn criterion_short() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

/// A bijection on u64 (multiplication by an odd constant) so that keys
/// 0, 1, 2, ... arrive in an order that looks random to a B-tree, while
/// staying distinct and cheap to compute in the timed loop.
#[inline]
pub fn scramble(index: u64) -> u64 {
    index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs `work(thread_index, iterations)` on `threads` threads started
/// together, and returns the wall time until the last one finished.
/// Each thread performs `iterations` operations, so a bench using this
/// declares `Throughput::Elements(threads)` per iteration and criterion
/// reports the aggregate rate.
pub fn time_threads<F>(threads: usize, iterations: u64, work: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    if threads == 1 {
        let start = Instant::now();
        work(0, iterations);
        return start.elapsed();
    }
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread_index| {
                let barrier = &barrier;
                let work = &work;
                scope.spawn(move || {
                    barrier.wait();
                    work(thread_index, iterations);
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for handle in handles {
            handle.join().expect("bench thread panicked");
        }
        start.elapsed()
    })
}
