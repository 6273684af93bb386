//! `StripeLocks<T>`: one read-mostly lock per stripe, with reader counts
//! spread over per-thread slots so that readers on different threads never
//! write the same cache line.
//!
//! # Why not `parking_lot::RwLock`
//!
//! A read lock on an ordinary reader-writer lock is an atomic
//! read-modify-write on the lock word. Two threads looking up keys write
//! the lock words of the stripes they touch, so those cache lines move
//! between cores on nearly every lookup. Measured with `benches/storage.rs`
//! (100 000 rows, u64 keys and values, 64 stripes, this 2-core machine
//! idle): 64 stripes of `RwLock<HashTable>` did 96 M lookups/s on one
//! thread and only 101 M/s on two; one `RwLock<HashMap>` fell from 110 M/s
//! to 34 M/s. These locks: 92 M/s and 178 M/s.
//! ETS meets the same problem with `read_concurrency`, and solves it the
//! same way as this module: reader groups, one per scheduler.
//!
//! # The rules
//!
//! State, per stripe `s`: `writer_active[s]` (a flag), the
//! data, and one reader count per slot, `readers[slot][s]`. A thread is
//! given a slot the first time it reads (round-robin over
//! [`reader_slot_count`]); threads sharing a slot share a counter, which is
//! correct and only slower.
//!
//! - A reader increments its slot's count for `s` (SeqCst), then loads
//!   `writer_active[s]` (SeqCst). If it is clear, the reader may read the
//!   data until it decrements its count (Release). If it is set, the reader
//!   decrements, waits for the flag to clear, and tries again.
//! - A writer sets `writer_active[s]` from clear to set with a SeqCst
//!   compare-exchange (the flag is also the writers' mutex: a writer that
//!   finds it set waits for it to clear and tries again), then waits until
//!   every slot's count for `s` is zero. It may then write, and it clears
//!   the flag (Release) when done.
//!
//! The two SeqCst steps on each side form Dekker's pattern: in the single
//! order of SeqCst operations either the reader's increment comes before
//! the writer's exchange, and the writer waits for the reader, or after
//! it, and the reader sees the flag and backs off. The reader's Release
//! decrement and the writer's Release clear give the happens-before edges
//! that make the data accesses race-free.
//!
//! Writers pay for this: a write lock reads every slot's count for its
//! stripe. Writers prefer themselves over new readers (a set flag turns
//! readers away), so a steady stream of writers to one stripe can delay its
//! readers; writers to different stripes do not interact.
//!
//! Waiting (reader for writer, writer for readers or another writer) spins
//! briefly and then yields the thread: critical sections here are a few
//! hash-table operations, never I/O or an await. (The flag doubles as the
//! writers' mutex so that a write costs one atomic read-modify-write to
//! lock and a plain store to unlock; a separate parking mutex would add
//! two more read-modify-writes to every write.)
//!
//! Several write locks are taken only in ascending stripe order (see
//! `Striped::write_many`), so writers never deadlock each other. A thread
//! must not lock a stripe it already holds: the table checks this with a
//! thread-local guard and returns an error instead of deadlocking.

use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Cache-line padding (128 bytes: adjacent-line prefetchers pull pairs of
/// 64-byte lines, so 64 is not enough to stop false sharing on x86).
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

/// Reader counts per 128-byte block (4-byte counters).
const COUNTS_PER_BLOCK: usize = 32;

/// Upper bound on reader slots per table. Each slot costs 128 bytes per 32
/// stripes; more slots than threads that read at once buys nothing.
pub(crate) const READER_SLOTS_MAX: usize = 64;

/// Spins before a waiting thread starts yielding its time slice.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Slots per table: twice the available parallelism, as a power of two, in
/// `2..=READER_SLOTS_MAX`. Twice, so that a few more threads than cores
/// (tokio workers plus blocking threads) still mostly get their own slot.
pub(crate) fn reader_slot_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    (cores * 2).next_power_of_two().clamp(2, READER_SLOTS_MAX)
}

static READER_SLOT_NEXT: AtomicUsize = AtomicUsize::new(0);

/// `READER_SLOT` before this thread's first read.
const READER_SLOT_UNSET: usize = usize::MAX;

thread_local! {
    /// This thread's reader slot number, before reduction modulo a table's
    /// slot count. Assigned round-robin on first use so that threads
    /// started together differ. (A const-initialized `Cell` rather than a
    /// lazy thread-local: every read of every table looks it up.)
    static READER_SLOT: Cell<usize> = const { Cell::new(READER_SLOT_UNSET) };
}

#[inline]
fn reader_slot() -> usize {
    READER_SLOT.with(|slot| {
        let current = slot.get();
        if current != READER_SLOT_UNSET {
            return current;
        }
        let assigned = READER_SLOT_NEXT.fetch_add(1, Ordering::Relaxed) % READER_SLOTS_MAX;
        slot.set(assigned);
        assigned
    })
}

struct Stripe<T> {
    writer_active: AtomicBool,
    data: UnsafeCell<T>,
}

/// Per-stripe read-mostly locks over `T`. See the module doc for the rules.
pub(crate) struct StripeLocks<T> {
    stripes: Box<[CachePadded<Stripe<T>>]>,
    /// `slots * blocks_per_slot` blocks; slot `k`'s count for stripe `s` is
    /// lane `s % 32` of block `k * blocks_per_slot + s / 32`.
    reader_counts: Box<[CachePadded<[AtomicU32; COUNTS_PER_BLOCK]>]>,
    blocks_per_slot: usize,
    slot_mask: usize,
}

// SAFETY: the data is only reached through guards, which enforce the
// reader-writer rules above: `&T` is shared between readers on different
// threads (needs `T: Sync`), and `&mut T` moves to a writer's thread
// (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for StripeLocks<T> {}
// SAFETY: owning the locks owns the `T`s.
unsafe impl<T: Send> Send for StripeLocks<T> {}

impl<T> StripeLocks<T> {
    /// One lock per item of `values`, with [`reader_slot_count`] slots.
    pub(crate) fn new(values: impl IntoIterator<Item = T>) -> Self {
        Self::with_reader_slots(values, reader_slot_count())
    }

    /// As [`StripeLocks::new`] with `slots` reader slots (a power of two,
    /// at least 1).
    pub(crate) fn with_reader_slots(values: impl IntoIterator<Item = T>, slots: usize) -> Self {
        debug_assert!(slots.is_power_of_two());
        let stripes: Box<[CachePadded<Stripe<T>>]> = values
            .into_iter()
            .map(|value| {
                CachePadded(Stripe {
                    writer_active: AtomicBool::new(false),
                    data: UnsafeCell::new(value),
                })
            })
            .collect();
        let blocks_per_slot = stripes.len().div_ceil(COUNTS_PER_BLOCK).max(1);
        let reader_counts = (0..slots * blocks_per_slot)
            .map(|_| CachePadded(std::array::from_fn(|_| AtomicU32::new(0))))
            .collect();
        Self {
            stripes,
            reader_counts,
            blocks_per_slot,
            slot_mask: slots - 1,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.stripes.len()
    }

    /// Bytes of lock structure, excluding what `T` owns on the heap.
    pub(crate) fn overhead_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.stripes) + std::mem::size_of_val(&*self.reader_counts)
    }

    fn reader_count(&self, slot: usize, stripe: usize) -> &AtomicU32 {
        let block = slot * self.blocks_per_slot + stripe / COUNTS_PER_BLOCK;
        &self.reader_counts[block].0[stripe % COUNTS_PER_BLOCK]
    }

    /// Shared access to stripe `stripe` (an index below [`StripeLocks::len`]).
    #[inline]
    pub(crate) fn read(&self, stripe: usize) -> ReadGuard<'_, T> {
        let cell = &self.stripes[stripe].0;
        let slot = reader_slot() & self.slot_mask;
        let count = self.reader_count(slot, stripe);
        loop {
            count.fetch_add(1, Ordering::SeqCst);
            if !cell.writer_active.load(Ordering::SeqCst) {
                return ReadGuard { cell, count };
            }
            count.fetch_sub(1, Ordering::Release);
            wait_until(|| !cell.writer_active.load(Ordering::Acquire));
        }
    }

    /// Exclusive access to stripe `stripe`.
    pub(crate) fn write(&self, stripe: usize) -> WriteGuard<'_, T> {
        let cell = &self.stripes[stripe].0;
        while cell
            .writer_active
            .compare_exchange_weak(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            wait_until(|| !cell.writer_active.load(Ordering::Relaxed));
        }
        let (block, lane) = (stripe / COUNTS_PER_BLOCK, stripe % COUNTS_PER_BLOCK);
        for slot_blocks in self.reader_counts.chunks_exact(self.blocks_per_slot) {
            let count = &slot_blocks[block].0[lane];
            if count.load(Ordering::SeqCst) != 0 {
                wait_until(|| count.load(Ordering::SeqCst) == 0);
            }
        }
        WriteGuard { cell }
    }
}

#[cold]
fn wait_until(mut ready: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        if spins < SPINS_BEFORE_YIELD {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

pub(crate) struct ReadGuard<'a, T> {
    cell: &'a Stripe<T>,
    count: &'a AtomicU32,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: our count is non-zero and the writer flag was clear after
        // we raised it, so no writer holds or can take `&mut T` until we
        // drop (module doc, "The rules").
        unsafe { &*self.cell.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Release);
    }
}

pub(crate) struct WriteGuard<'a, T> {
    cell: &'a Stripe<T>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we set the writer flag and every reader count was zero
        // after that, so access is exclusive.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.cell.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.writer_active.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn readers_never_see_a_half_written_pair() {
        // Writers keep both halves equal; a reader seeing them differ would
        // mean it overlapped a writer.
        let locks = Arc::new(StripeLocks::with_reader_slots(
            (0..4).map(|_| (0u64, 0u64)),
            2,
        ));
        let threads: Vec<_> = (0..4)
            .map(|thread_index| {
                let locks = Arc::clone(&locks);
                std::thread::spawn(move || {
                    for round in 0..20_000u64 {
                        let stripe = (round as usize + thread_index) % 4;
                        if thread_index % 2 == 0 {
                            let mut guard = locks.write(stripe);
                            guard.0 += 1;
                            std::hint::spin_loop();
                            guard.1 += 1;
                        } else {
                            let guard = locks.read(stripe);
                            assert_eq!(guard.0, guard.1);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let total: u64 = (0..4).map(|stripe| locks.read(stripe).0).sum();
        assert_eq!(total, 2 * 20_000);
    }
}
