//! Where records live, and the data structures chosen for them.
//!
//! | kind            | structure                                                    |
//! |-----------------|--------------------------------------------------------------|
//! | `Set`           | hash stripes: `hashbrown::HashTable<(K, V)>` per stripe          |
//! | `Bag`           | hash stripes: `hashbrown::HashTable<(K, Vec<V>)>` per stripe     |
//! | `DuplicateBag`  | as `Bag`, keeping identical objects                            |
//! | `OrderedSet`    | one `BTreeMap<K, V>`                                           |
//!
//! Every stripe (and the one B-tree) sits behind a [`lock::StripeLocks`]
//! lock, whose readers write only per-thread counters. Reads lock, read and
//! copy out synchronously: no message, no await.
//!
//! # Why these structures (measurements)
//!
//! `cargo bench -p bream-tables --bench storage`: u64 keys and values,
//! 100 000 rows for lookups and scans, inserts of fresh keys into one
//! growing table, on this 2-core AMD EPYC VM with the machine otherwise
//! idle, criterion medians of 2 s runs. Millions of operations per second
//! (for scans, millions of 100-row scans), one thread / two threads:
//!
//! | hash storage                                    | insert      | lookup    |
//! |-------------------------------------------------|-------------|-----------|
//! | 64 × `StripeLocks<HashTable>`, foldhash (chosen) | 12.6 / 15.2 | 92 / 178  |
//! | 64 × `parking_lot::RwLock<HashTable>`, foldhash | 11.1 / 14.5 | 96 / 101  |
//! | 64 × `parking_lot::RwLock<HashTable>`, SipHash  | 7.1 / 9.0   | 40 / 57   |
//! | `dashmap` (foldhash)                            | 12.0 / 10.7 | 85 / 56   |
//! | one `parking_lot::RwLock<HashMap>`              | 11.7 / 10.7 | 110 / 34  |
//!
//! Lookups are what ETS tables exist for, and only the per-thread reader
//! counts of `StripeLocks` let two threads' lookups scale (1.9x); every
//! lock whose readers write a shared lock word stays near 1x on two cores,
//! or drops. `dashmap` is an `RwLock` per stripe too, and does not expose
//! its stripe locks, which an atomic multi-record insert needs (lock the
//! records' stripes in ascending order, then write). foldhash hashes a u64
//! key at 2.3x SipHash's lookup rate.
//!
//! | ordered storage                      | insert      | lookup      | 100-row scan  |
//! |--------------------------------------|-------------|-------------|---------------|
//! | `StripeLocks<BTreeMap>` (chosen)      | 4.9 / 4.9   | 12.4 / 24.2 | 3.2 / 5.4     |
//! | `parking_lot::RwLock<BTreeMap>`      | 4.9 / 4.2   | 11.2 / 9.6  | 2.9 / 4.4     |
//! | `crossbeam_skiplist::SkipMap`        | 1.1 / 3.2   | 4.3 / 7.1   | 0.32 / 0.70   |
//! | 16 hash stripes of `RwLock<BTreeMap>` | 4.8 / 6.4   | 12.0 / 20.4 | 0.025 / 0.050 |
//!
//! One B-tree behind `StripeLocks` reads in parallel (2.0x) and walks in
//! order. The skip list is lock-free and lets writers run in parallel, but
//! reads 3x slower, fills 4x slower, and cannot make a multi-record insert
//! atomic for readers. Stripeing a B-tree by hash parallelizes writers too,
//! but a scan must merge every stripe: over 100x slower.
//!
//! Writes from two threads to one small table do not scale on this
//! machine, with any of these structures: both cores write the same stripe
//! headers and buckets, so nearly every write pulls a cache line from the
//! other core. (The tables bench shows it end to end.)
//!
//! # Consistency
//!
//! A single-key operation is atomic. `insert_many`, `insert_new_many` and
//! `clear` lock every stripe they touch before changing any, so readers see
//! all or none of their records. Walks (`fold`, `select`, `to_vec`, ...)
//! lock one stripe at a time: each stripe is seen at one instant, but a
//! concurrent write to another stripe may or may not be seen, as with
//! `ets:select` on a table other processes write. An ordered set has one
//! stripe, so its walks are snapshots.

mod bag;
mod hashed;
pub(crate) mod lock;
mod ordered;
mod set;

use std::ops::{ControlFlow, RangeBounds};

pub(crate) use bag::Bags;
pub(crate) use hashed::Hashed;
pub(crate) use ordered::Ordered;

use crate::kind::TableKind;
use crate::record::{Key, Value};

/// The operations every kind supports. Kind-specific ones (`update`,
/// `first`/`next`) are inherent methods of [`Hashed`] and [`Ordered`].
pub(crate) trait Store<K, V> {
    fn insert(&self, key: K, value: V);
    /// All records under one set of locks (see "Consistency").
    fn insert_many(&self, records: Vec<(K, V)>);
    /// False, inserting nothing, when the key is present.
    fn insert_new(&self, key: K, value: V) -> bool;
    /// False, inserting nothing, when any key is present.
    fn insert_new_many(&self, records: Vec<(K, V)>) -> bool;
    /// Every value under `key`, in insertion order.
    fn lookup(&self, key: &K) -> Vec<V>;
    /// The first value under `key`.
    fn get(&self, key: &K) -> Option<V>;
    fn member(&self, key: &K) -> bool;
    fn delete(&self, key: &K);
    /// Removes every object equal to `(key, value)`.
    fn delete_object(&self, key: &K, value: &V);
    fn take(&self, key: &K) -> Vec<V>;
    /// Folds `step` over each object whose key is in `range`, with the
    /// object's stripe read-locked, until `step` breaks; in key order for an
    /// ordered set.
    fn fold_while<R: RangeBounds<K>, A>(
        &self,
        range: &R,
        init: A,
        step: impl FnMut(A, &K, &V) -> ControlFlow<A, A>,
    ) -> A;
    /// Deletes each object in `range` for which `predicate` holds;
    /// returns how many.
    fn select_delete<R: RangeBounds<K>>(
        &self,
        range: &R,
        predicate: impl FnMut(&K, &V) -> bool,
    ) -> usize;
    fn clear(&self);
    /// Objects in the table.
    fn size(&self) -> usize;
    /// Estimated bytes (see `TableInfo::memory_bytes`).
    fn memory_bytes(&self) -> usize;
}

pub(crate) enum Storage<K, V> {
    Set(Hashed<K, V>),
    Bag(Bags<K, V>),
    OrderedSet(Ordered<K, V>),
}

impl<K: Key, V: Value> Storage<K, V> {
    pub(crate) fn new(kind: TableKind, stripes: usize) -> Self {
        match kind {
            TableKind::Set => Self::Set(Hashed::new(stripes)),
            TableKind::Bag => Self::Bag(Bags::new(stripes, false)),
            TableKind::DuplicateBag => Self::Bag(Bags::new(stripes, true)),
            TableKind::OrderedSet => Self::OrderedSet(Ordered::new()),
        }
    }

    pub(crate) fn stripe_count(&self) -> usize {
        match self {
            Self::Set(hashed) => hashed.stripe_count(),
            Self::Bag(bags) => bags.stripe_count(),
            Self::OrderedSet(_) => 1,
        }
    }
}

/// Calls the same [`Store`] method on whichever storage a table has.
macro_rules! dispatch {
    ($storage:expr, $store:ident => $call:expr) => {
        match $storage {
            $crate::storage::Storage::Set($store) => $call,
            $crate::storage::Storage::Bag($store) => $call,
            $crate::storage::Storage::OrderedSet($store) => $call,
        }
    };
}
pub(crate) use dispatch;

/// The accumulator a fold ended with, whether it ran to the end or broke early: what
/// [`Store::fold_while`] answers after `try_fold`.
fn settled<A>(flow: ControlFlow<A, A>) -> A {
    match flow {
        ControlFlow::Continue(accumulator) | ControlFlow::Break(accumulator) => accumulator,
    }
}
