//! The local copy a replica writes to: the [`Store`] trait, an in-memory
//! store for tests and simulations, and the adapter over a local [`Table`].
//!
//! The protocol needs only a few things of its copy: apply an [`Op`], look a
//! key up (leader operations and merges decide on it), dump it (joins), and
//! remove records by a predicate (node-owned records). Keeping that behind a
//! trait lets the state machine run in one process over a `BTreeMap`.

use std::collections::BTreeMap;

use crate::record::{Key, Value};
use crate::table::Table;
use crate::TableKind;

use super::protocol::Op;
use super::shard::Shard;

/// A replica's local copy.
pub trait Store<K, V> {
    /// Whether a key holds many values (bag) rather than one (set, ordered set).
    fn is_bag(&self) -> bool;
    /// Applies a write.
    fn apply(&mut self, op: &Op<K, V>);
    /// Applies a write the caller no longer needs (a peer's write, join
    /// records): a store may move the records in instead of cloning them.
    fn apply_owned(&mut self, op: Op<K, V>) {
        self.apply(&op);
    }
    /// Every value under `key` (empty when absent).
    fn lookup(&self, key: &K) -> Vec<V>;
    /// Every record.
    fn dump(&self) -> Vec<(K, V)>;
    /// How many records.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Removes the records `remove` picks; returns how many.
    fn remove_where(&mut self, remove: &dyn Fn(&K, &V) -> bool) -> usize;
}

/// A `BTreeMap` store: set semantics, or bag semantics (distinct values per
/// key, in insertion order). For tests, simulations and examples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryStore<K: Ord, V> {
    bag: bool,
    records: BTreeMap<K, Vec<V>>,
}

impl<K: Key, V: Value> MemoryStore<K, V> {
    /// An empty set.
    pub fn set() -> Self {
        MemoryStore {
            bag: false,
            records: BTreeMap::new(),
        }
    }

    /// An empty bag.
    pub fn bag() -> Self {
        MemoryStore {
            bag: true,
            records: BTreeMap::new(),
        }
    }
}

impl<K: Key, V: Value> Store<K, V> for MemoryStore<K, V> {
    fn is_bag(&self) -> bool {
        self.bag
    }

    fn apply(&mut self, op: &Op<K, V>) {
        match op {
            Op::Insert(records) => {
                for (key, value) in records {
                    let values = self.records.entry(key.clone()).or_default();
                    if !self.bag {
                        values.clear();
                        values.push(value.clone());
                    } else if !values.contains(value) {
                        values.push(value.clone());
                    }
                }
            }
            Op::Delete(keys) => {
                for key in keys {
                    self.records.remove(key);
                }
            }
            Op::DeleteObject(records) => {
                for (key, value) in records {
                    if let Some(values) = self.records.get_mut(key) {
                        values.retain(|held| held != value);
                        if values.is_empty() {
                            self.records.remove(key);
                        }
                    }
                }
            }
        }
    }

    fn lookup(&self, key: &K) -> Vec<V> {
        self.records.get(key).cloned().unwrap_or_default()
    }

    fn dump(&self) -> Vec<(K, V)> {
        self.records
            .iter()
            .flat_map(|(key, values)| values.iter().map(move |value| (key.clone(), value.clone())))
            .collect()
    }

    fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    fn remove_where(&mut self, remove: &dyn Fn(&K, &V) -> bool) -> usize {
        let mut removed = 0;
        self.records.retain(|key, values| {
            let before = values.len();
            values.retain(|value| !remove(key, value));
            removed += before - values.len();
            !values.is_empty()
        });
        removed
    }
}

/// The adapter over a local [`Table`] held with owner rights (the table's
/// supervisor owns it, its servers write to it). A failing table operation
/// means the table was deleted under the server, or a handle without owner
/// rights reached it: an invariant broken outside the protocol. The store
/// panics, which fails the server's handler, so its supervisor ends the
/// table and the level above starts a clean one that rejoins its peers
/// (going on would answer reads from a copy that no longer receives writes).
///
/// A shard of a sharded table shares the local table with the other
/// shards: its dump, size and node-owned removal see only its own keys
/// (writes and lookups only ever carry its own keys).
pub struct TableStore<K, V> {
    table: Table<K, V>,
    shard: Shard,
}

impl<K: Key, V: Value> TableStore<K, V> {
    /// Wraps `table`, which must be a set, ordered set or bag.
    pub fn new(table: Table<K, V>) -> Self {
        Self::shard(table, Shard::WHOLE)
    }

    /// Wraps the part of `table` that belongs to `shard`.
    pub fn shard(table: Table<K, V>, shard: Shard) -> Self {
        TableStore { table, shard }
    }

    /// The table.
    pub fn table(&self) -> &Table<K, V> {
        &self.table
    }
}

/// The value of a local-table operation that cannot fail while the invariant holds.
fn held<T>(result: Result<T, crate::TableError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            tracing::error!(%error, "replicated table: the local copy refused an operation");
            panic!("replicated table: the local copy refused an operation: {error}");
        }
    }
}

impl<K: Key, V: Value> Store<K, V> for TableStore<K, V> {
    fn is_bag(&self) -> bool {
        matches!(self.table.kind(), TableKind::Bag | TableKind::DuplicateBag)
    }

    fn apply(&mut self, op: &Op<K, V>) {
        match op {
            Op::Insert(records) => {
                held(self.table.insert_many(records.iter().cloned()));
            }
            Op::Delete(keys) => {
                for key in keys {
                    held(self.table.delete(key));
                }
            }
            Op::DeleteObject(records) => {
                for (key, value) in records {
                    held(self.table.delete_object(key, value));
                }
            }
        }
    }

    fn apply_owned(&mut self, op: Op<K, V>) {
        match op {
            Op::Insert(records) => {
                held(self.table.insert_many(records));
            }
            other => self.apply(&other),
        }
    }

    fn lookup(&self, key: &K) -> Vec<V> {
        held(self.table.lookup(key))
    }

    fn dump(&self) -> Vec<(K, V)> {
        if self.shard.count == 1 {
            return held(self.table.to_vec());
        }
        let shard = self.shard;
        held(self.table.select(.., |key, _| shard.holds(key)))
    }

    fn len(&self) -> usize {
        if self.shard.count == 1 {
            return held(self.table.size());
        }
        let shard = self.shard;
        held(self.table.select_count(.., |key, _| shard.holds(key)))
    }

    fn remove_where(&mut self, remove: &dyn Fn(&K, &V) -> bool) -> usize {
        let shard = self.shard;
        held(
            self.table
                .select_delete(.., |key, value| shard.holds(key) && remove(key, value)),
        )
    }
}
