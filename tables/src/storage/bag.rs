//! Bag and duplicate-bag semantics on hash stripes: a key holds a list of
//! values in insertion order. A bag ignores an insert of an object
//! (key and value) it already holds; a duplicate bag keeps every copy.
//!
//! Each stripe counts its objects (`HashStripe::objects`), so the table size
//! costs one read per stripe rather than a walk over every list.

use std::ops::{ControlFlow, RangeBounds};

use hashbrown::hash_table::Entry;

use super::hashed::{guard_position, HashStripe, Hashed};
use super::{settled, Store};
use crate::record::{Key, Value};

pub(crate) struct Bags<K, V> {
    hashed: Hashed<K, Vec<V>>,
    duplicates: bool,
}

impl<K: Key, V: Value> Bags<K, V> {
    pub(crate) fn new(stripes: usize, duplicates: bool) -> Self {
        Self {
            hashed: Hashed::new(stripes),
            duplicates,
        }
    }

    fn put(&self, stripe: &mut HashStripe<K, Vec<V>>, hash: u64, key: K, value: V) {
        match stripe.entries.entry(
            hash,
            |(candidate, _)| *candidate == key,
            self.hashed.rehasher(),
        ) {
            Entry::Occupied(mut entry) => {
                let values = &mut entry.get_mut().1;
                if self.duplicates || !values.contains(&value) {
                    values.push(value);
                    stripe.objects += 1;
                }
            }
            Entry::Vacant(entry) => {
                entry.insert((key, vec![value]));
                stripe.objects += 1;
            }
        }
    }

    fn hash_all(&self, records: Vec<(K, V)>) -> Vec<(u64, K, V)> {
        records
            .into_iter()
            .map(|(key, value)| (self.hashed.hash(&key), key, value))
            .collect()
    }
}

impl<K: Key, V: Value> Store<K, V> for Bags<K, V> {
    fn insert(&self, key: K, value: V) {
        let hash = self.hashed.hash(&key);
        let mut stripe = self.hashed.write(hash);
        self.put(&mut stripe, hash, key, value);
    }

    fn insert_many(&self, records: Vec<(K, V)>) {
        let hashed = self.hash_all(records);
        let (stripes, mut guards) = self
            .hashed
            .write_many(hashed.iter().map(|(hash, _, _)| *hash));
        for (hash, key, value) in hashed {
            let position = guard_position(&stripes, self.hashed.stripe_index(hash));
            self.put(&mut guards[position], hash, key, value);
        }
    }

    fn insert_new(&self, key: K, value: V) -> bool {
        let hash = self.hashed.hash(&key);
        let mut stripe = self.hashed.write(hash);
        if stripe.find(hash, &key).is_some() {
            return false;
        }
        self.put(&mut stripe, hash, key, value);
        true
    }

    fn insert_new_many(&self, records: Vec<(K, V)>) -> bool {
        let hashed = self.hash_all(records);
        let (stripes, mut guards) = self
            .hashed
            .write_many(hashed.iter().map(|(hash, _, _)| *hash));
        let any_present = hashed.iter().any(|(hash, key, _)| {
            let position = guard_position(&stripes, self.hashed.stripe_index(*hash));
            guards[position].find(*hash, key).is_some()
        });
        if any_present {
            return false;
        }
        for (hash, key, value) in hashed {
            let position = guard_position(&stripes, self.hashed.stripe_index(hash));
            self.put(&mut guards[position], hash, key, value);
        }
        true
    }

    fn lookup(&self, key: &K) -> Vec<V> {
        let hash = self.hashed.hash(key);
        self.hashed
            .read(hash)
            .find(hash, key)
            .cloned()
            .unwrap_or_default()
    }

    fn get(&self, key: &K) -> Option<V> {
        let hash = self.hashed.hash(key);
        self.hashed
            .read(hash)
            .find(hash, key)
            .and_then(|values| values.first().cloned())
    }

    fn member(&self, key: &K) -> bool {
        let hash = self.hashed.hash(key);
        self.hashed.read(hash).find(hash, key).is_some()
    }

    fn delete(&self, key: &K) {
        self.take(key);
    }

    fn delete_object(&self, key: &K, value: &V) {
        let hash = self.hashed.hash(key);
        let mut stripe = self.hashed.write(hash);
        let Ok(mut entry) = stripe
            .entries
            .find_entry(hash, |(candidate, _)| candidate == key)
        else {
            return;
        };
        let values = &mut entry.get_mut().1;
        let before = values.len();
        values.retain(|stored| stored != value);
        let removed = before - values.len();
        if values.is_empty() {
            entry.remove();
        }
        stripe.objects -= removed;
    }

    fn take(&self, key: &K) -> Vec<V> {
        let hash = self.hashed.hash(key);
        let mut stripe = self.hashed.write(hash);
        match stripe.remove(hash, key) {
            Some((_, values)) => {
                stripe.objects -= values.len();
                values
            }
            None => Vec::new(),
        }
    }

    fn fold_while<R: RangeBounds<K>, A>(
        &self,
        range: &R,
        init: A,
        mut step: impl FnMut(A, &K, &V) -> ControlFlow<A, A>,
    ) -> A {
        settled(
            (0..self.hashed.stripe_count()).try_fold(init, |accumulator, stripe| {
                self.hashed
                    .read_stripe(stripe)
                    .entries
                    .iter()
                    .filter(|(key, _)| range.contains(key))
                    .flat_map(|(key, values)| values.iter().map(move |value| (key, value)))
                    .try_fold(accumulator, |accumulator, (key, value)| {
                        step(accumulator, key, value)
                    })
            }),
        )
    }

    fn select_delete<R: RangeBounds<K>>(
        &self,
        range: &R,
        mut predicate: impl FnMut(&K, &V) -> bool,
    ) -> usize {
        let mut deleted = 0;
        for stripe in 0..self.hashed.stripe_count() {
            let mut stripe = self.hashed.write_stripe(stripe);
            let mut deleted_here = 0;
            stripe.entries.retain(|(key, values)| {
                if !range.contains(key) {
                    return true;
                }
                let before = values.len();
                values.retain(|value| !predicate(key, value));
                deleted_here += before - values.len();
                !values.is_empty()
            });
            stripe.objects -= deleted_here;
            deleted += deleted_here;
        }
        deleted
    }

    fn clear(&self) {
        for mut stripe in self.hashed.write_all() {
            stripe.entries = hashbrown::HashTable::new();
            stripe.objects = 0;
        }
    }

    fn size(&self) -> usize {
        (0..self.hashed.stripe_count())
            .map(|stripe| self.hashed.read_stripe(stripe).objects)
            .sum()
    }

    fn memory_bytes(&self) -> usize {
        // The value lists' heap: counted by objects, not capacity, so that
        // this stays one read per stripe.
        self.hashed.table_bytes() + self.size() * std::mem::size_of::<V>()
    }
}

impl<K: Key, V: Value> Bags<K, V> {
    pub(crate) fn stripe_count(&self) -> usize {
        self.hashed.stripe_count()
    }
}
