//! Helpers shared by the benches: key scrambling, multi-threaded timing,
//! and criterion settings kept short for a 2-core machine.

#![allow(dead_code)] // Each bench binary uses a different subset.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Rows in a pre-filled table for lookup, update_counter and scans.
pub(crate) const TABLE_ROWS: u64 = 100_000;

/// Rows per range scan.
pub(crate) const SCAN_ROWS: usize = 100;

/// Criterion settings: short, because the machine has 2 shared cores.
pub(crate) fn criterion_short() -> Criterion {
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
pub(crate) fn scramble(index: u64) -> u64 {
    index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs `work(thread_index, iterations)` on `threads` threads started
/// together, and returns the time from the first thread's start to the
/// last one's end. Each thread performs `iterations` operations, so a
/// bench using this declares `Throughput::Elements(threads)` per iteration
/// and criterion reports the aggregate rate.
///
/// The threads take their own start and end times: a coordinating thread
/// that read the clock after releasing them could be descheduled past
/// their whole run on a busy machine and report next to nothing.
pub(crate) fn time_threads<F>(threads: usize, iterations: u64, work: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    if threads == 1 {
        let start = Instant::now();
        work(0, iterations);
        return start.elapsed();
    }
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread_index| {
                let barrier = &barrier;
                let work = &work;
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    work(thread_index, iterations);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("bench thread panicked"))
            .collect()
    });
    let first_start = spans.iter().map(|(start, _)| *start).min();
    let last_end = spans.iter().map(|(_, end)| *end).max();
    match (first_start, last_end) {
        (Some(start), Some(end)) => end - start,
        _ => Duration::ZERO,
    }
}
