//! Where records live, and the data structures chosen for them.
//!
//! | kind            | structure                                                    |
//! |-----------------|--------------------------------------------------------------|
//! | `Set`           | hash shards: `hashbrown::HashTable<(K, V)>` per shard          |
//! | `Bag`           | hash shards: `hashbrown::HashTable<(K, Vec<V>)>` per shard     |
//! | `DuplicateBag`  | as `Bag`, keeping identical objects                            |
//! | `OrderedSet`    | one `BTreeMap<K, V>`                                           |
//!
//! Every shard (and the one B-tree) sits behind a [`lock::ShardLocks`]
//! lock, whose readers write only per-thread counters. Reads lock, read and
//! copy out synchronously: no message, no await.
//!
//! # Why these structures (measurements)
//!
//! `cargo bench -p bream-tables --bench storage`: u64 keys and values,
//! 100 000 rows for lookups and scans, inserts of fresh keys into an empty
//! table (so growth is included), this 2-core AMD EPYC VM. Millions of
//! operations per second, one thread / two threads:
//!
//! | hash storage                                  | insert      | lookup       |
//! |-----------------------------------------------|-------------|--------------|
//! | 64 × `ShardLocks<HashTable>`, foldhash (chosen) | 8.5 / 12.1 | 98 / 193     |
//! | 64 × `parking_lot::RwLock<HashTable>`, foldhash | 11.8 / 16.1 | 98 / 103    |
//! | 64 × `parking_lot::RwLock<HashTable>`, SipHash  | 6.5 / 7.2  | 43 / 41      |
//! | `dashmap` (foldhash)                           | 13.4 / 12.5 | 93 / 57     |
//! | one `parking_lot::RwLock<HashMap>`             | 11.9 / 10.8 | 112 / 27    |
//!
//! Lookups are the operation ETS tables exist for, and only the per-thread
//! reader counts of `ShardLocks` let two threads' lookups scale (2.0x);
//! every lock whose readers write a shared word stays near 1x on two cores,
//! or drops. `dashmap` is an `RwLock` per shard too, and does not expose its
//! shard locks, which an atomic multi-record insert needs (lock the records'
//! shards in ascending order, then write). Writers pay for the reader
//! counts (they check one counter per reader slot); see the table benches
//! for what remains.
//!
//! | ordered storage                         | insert     | lookup       | 100-row scan |
//! |-----------------------------------------|------------|--------------|--------------|
//! | `ShardLocks<BTreeMap>` (chosen)          | 4.9 / 3.0  | 12.0 / 11.7* | 2.9 / 2.9*   |
//! | `parking_lot::RwLock<BTreeMap>`          | 4.7 / 3.3  | 11.3 / 20.0  | 3.0 / 5.5    |
//! | `crossbeam_skiplist::SkipMap`            | 0.76 / 2.6 | 4.0 / 8.4    | 0.46 / 0.46  |
//! | 16 hash shards of `RwLock<BTreeMap>`     | 3.7 / 3.1  | 9.2 / 7.8    | 0.018 / 0.021 |
//!
//! (* measured while another build shared the two cores; see the crate's
//! README figures for the quiet re-run.) The skip list is lock-free but 3x
//! slower to read and 6x slower to fill, and could not make a multi-record
//! insert atomic for readers. Sharding by hash breaks ordered walks.
//!
//! # Consistency
//!
//! A single-key operation is atomic. `insert_many`, `insert_new_many` and
//! `clear` lock every shard they touch before changing any, so readers see
//! all or none of their records. Walks (`fold`, `select`, `to_vec`, ...)
//! lock one shard at a time: each shard is seen at one instant, but a
//! concurrent write to another shard may or may not be seen, as with
//! `ets:select` on a table other processes write. An ordered set has one
//! shard, so its walks are snapshots.

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
    /// object's shard read-locked, until `step` breaks; in key order for an
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
    pub(crate) fn new(kind: TableKind, shards: usize) -> Self {
        match kind {
            TableKind::Set => Self::Set(Hashed::new(shards)),
            TableKind::Bag => Self::Bag(Bags::new(shards, false)),
            TableKind::DuplicateBag => Self::Bag(Bags::new(shards, true)),
            TableKind::OrderedSet => Self::OrderedSet(Ordered::new()),
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        match self {
            Self::Set(hashed) => hashed.shard_count(),
            Self::Bag(bags) => bags.shard_count(),
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
