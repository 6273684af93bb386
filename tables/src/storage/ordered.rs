//! Ordered-set semantics: one `BTreeMap<K, V>` behind a single
//! [`StripeLocks`] lock (one stripe, with per-thread reader slots).
//!
//! One B-tree rather than several: an ordered walk (`next`, a range scan)
//! over hash-striped trees must merge every stripe's run, which measured
//! over 100x slower than one tree for a 100-row scan, while point lookups
//! gained nothing. Readers still run in parallel (the reader slots); writers are
//! serialized, as in an ETS `ordered_set` without `write_concurrency`.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow, RangeBounds};

use super::lock::StripeLocks;
use super::{settled, Store};
use crate::record::{Key, Value};

pub(crate) struct Ordered<K, V> {
    locks: StripeLocks<BTreeMap<K, V>>,
}

/// Whether `range` holds no key at all. `BTreeMap::range` panics on a
/// range whose start lies after its end (or equals it, both excluded);
/// a user's range is checked here and treated as empty instead.
pub(crate) fn range_is_empty<K: Ord, R: RangeBounds<K>>(range: &R) -> bool {
    match (range.start_bound(), range.end_bound()) {
        (Bound::Included(start), Bound::Included(end)) => start > end,
        (Bound::Included(start), Bound::Excluded(end))
        | (Bound::Excluded(start), Bound::Included(end))
        | (Bound::Excluded(start), Bound::Excluded(end)) => start >= end,
        _ => false,
    }
}

fn bounds<K, R: RangeBounds<K>>(range: &R) -> (Bound<&K>, Bound<&K>) {
    (range.start_bound(), range.end_bound())
}

impl<K: Key, V: Value> Ordered<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            locks: StripeLocks::new([BTreeMap::new()]),
        }
    }

    /// As `Hashed::update`: change the value at `key`, or insert `default`
    /// changed.
    pub(crate) fn update<R, E>(
        &self,
        key: &K,
        default: Option<V>,
        change: impl FnOnce(&mut V) -> Result<R, E>,
    ) -> Result<Option<R>, E> {
        let mut map = self.locks.write(0);
        if let Some(value) = map.get_mut(key) {
            return change(value).map(Some);
        }
        let Some(mut value) = default else {
            return Ok(None);
        };
        let result = change(&mut value)?;
        map.insert(key.clone(), value);
        Ok(Some(result))
    }

    pub(crate) fn first(&self) -> Option<K> {
        self.locks.read(0).keys().next().cloned()
    }

    pub(crate) fn last(&self) -> Option<K> {
        self.locks.read(0).keys().next_back().cloned()
    }

    /// The smallest key after `key`, whether or not `key` is present.
    pub(crate) fn next(&self, key: &K) -> Option<K> {
        self.locks
            .read(0)
            .range((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(key, _)| key.clone())
    }

    /// The largest key before `key`, whether or not `key` is present.
    pub(crate) fn prev(&self, key: &K) -> Option<K> {
        self.locks
            .read(0)
            .range((Bound::Unbounded, Bound::Excluded(key)))
            .next_back()
            .map(|(key, _)| key.clone())
    }
}

impl<K: Key, V: Value> Store<K, V> for Ordered<K, V> {
    fn insert(&self, key: K, value: V) {
        self.locks.write(0).insert(key, value);
    }

    fn insert_many(&self, records: Vec<(K, V)>) {
        let mut map = self.locks.write(0);
        map.extend(records);
    }

    fn insert_new(&self, key: K, value: V) -> bool {
        let mut map = self.locks.write(0);
        match map.entry(key) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
        }
    }

    fn insert_new_many(&self, records: Vec<(K, V)>) -> bool {
        let mut map = self.locks.write(0);
        if records.iter().any(|(key, _)| map.contains_key(key)) {
            return false;
        }
        map.extend(records);
        true
    }

    fn lookup(&self, key: &K) -> Vec<V> {
        self.get(key).into_iter().collect()
    }

    #[inline]
    fn get(&self, key: &K) -> Option<V> {
        self.locks.read(0).get(key).cloned()
    }

    fn member(&self, key: &K) -> bool {
        self.locks.read(0).contains_key(key)
    }

    fn delete(&self, key: &K) {
        self.locks.write(0).remove(key);
    }

    fn delete_object(&self, key: &K, value: &V) {
        let mut map = self.locks.write(0);
        if map.get(key) == Some(value) {
            map.remove(key);
        }
    }

    fn take(&self, key: &K) -> Vec<V> {
        self.locks.write(0).remove(key).into_iter().collect()
    }

    fn fold_while<R: RangeBounds<K>, A>(
        &self,
        range: &R,
        init: A,
        mut step: impl FnMut(A, &K, &V) -> ControlFlow<A, A>,
    ) -> A {
        if range_is_empty(range) {
            return init;
        }
        let map = self.locks.read(0);
        settled(
            map.range::<K, _>(bounds(range))
                .try_fold(init, |accumulator, (key, value)| {
                    step(accumulator, key, value)
                }),
        )
    }

    fn select_delete<R: RangeBounds<K>>(
        &self,
        range: &R,
        mut predicate: impl FnMut(&K, &V) -> bool,
    ) -> usize {
        if range_is_empty(range) {
            return 0;
        }
        let mut map = self.locks.write(0);
        let doomed: Vec<K> = map
            .range::<K, _>(bounds(range))
            .filter(|(key, value)| predicate(key, value))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &doomed {
            map.remove(key);
        }
        doomed.len()
    }

    fn clear(&self) {
        *self.locks.write(0) = BTreeMap::new();
    }

    fn size(&self) -> usize {
        self.locks.read(0).len()
    }

    fn memory_bytes(&self) -> usize {
        // BTreeMap does not report its allocation. Its nodes hold up to 11
        // records and, after random inserts, are about 2/3 full, plus a
        // node header; 1.6 x the record size was measured with a counting
        // allocator over 1 M u64 records (`benches/tables.rs`).
        let record = std::mem::size_of::<(K, V)>();
        self.size() * record * 8 / 5 + self.locks.overhead_bytes() + std::mem::size_of::<Self>()
    }
}
