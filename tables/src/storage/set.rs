//! Set semantics on hash stripes: one value per key, a new insert replaces.

use std::ops::{ControlFlow, RangeBounds};

use hashbrown::hash_table::Entry;

use super::hashed::{guard_position, HashStripe, Hashed};
use super::{settled, Store};
use crate::record::{Key, Value};

fn put<K: Key, V>(
    stripe: &mut HashStripe<K, V>,
    rehasher: impl Fn(&(K, V)) -> u64,
    hash: u64,
    key: K,
    value: V,
) {
    match stripe
        .entries
        .entry(hash, |(candidate, _)| *candidate == key, rehasher)
    {
        Entry::Occupied(mut entry) => entry.get_mut().1 = value,
        Entry::Vacant(entry) => {
            entry.insert((key, value));
        }
    }
}

impl<K: Key, V: Value> Hashed<K, V> {
    /// Runs `change` on the value at `key`, or, if there is none and
    /// `default` is given, on `default`, which is then inserted if `change`
    /// succeeds. `Ok(None)` when the key is absent and there is no default.
    pub(crate) fn update<R, E>(
        &self,
        key: &K,
        default: Option<V>,
        change: impl FnOnce(&mut V) -> Result<R, E>,
    ) -> Result<Option<R>, E> {
        let hash = self.hash(key);
        let mut stripe = self.write(hash);
        if let Some(value) = stripe.find_mut(hash, key) {
            return change(value).map(Some);
        }
        let Some(mut value) = default else {
            return Ok(None);
        };
        let result = change(&mut value)?;
        stripe
            .entries
            .insert_unique(hash, (key.clone(), value), self.rehasher());
        Ok(Some(result))
    }
}

impl<K: Key, V: Value> Store<K, V> for Hashed<K, V> {
    fn insert(&self, key: K, value: V) {
        let hash = self.hash(&key);
        let mut stripe = self.write(hash);
        put(&mut stripe, self.rehasher(), hash, key, value);
    }

    fn insert_many(&self, records: Vec<(K, V)>) {
        let hashed: Vec<(u64, K, V)> = records
            .into_iter()
            .map(|(key, value)| (self.hash(&key), key, value))
            .collect();
        let (stripes, mut guards) = self.write_many(hashed.iter().map(|(hash, _, _)| *hash));
        for (hash, key, value) in hashed {
            let position = guard_position(&stripes, self.stripe_index(hash));
            put(&mut guards[position], self.rehasher(), hash, key, value);
        }
    }

    fn insert_new(&self, key: K, value: V) -> bool {
        let hash = self.hash(&key);
        let mut stripe = self.write(hash);
        match stripe
            .entries
            .entry(hash, |(candidate, _)| *candidate == key, self.rehasher())
        {
            Entry::Occupied(_) => false,
            Entry::Vacant(entry) => {
                entry.insert((key, value));
                true
            }
        }
    }

    fn insert_new_many(&self, records: Vec<(K, V)>) -> bool {
        let hashed: Vec<(u64, K, V)> = records
            .into_iter()
            .map(|(key, value)| (self.hash(&key), key, value))
            .collect();
        let (stripes, mut guards) = self.write_many(hashed.iter().map(|(hash, _, _)| *hash));
        let any_present = hashed.iter().any(|(hash, key, _)| {
            let position = guard_position(&stripes, self.stripe_index(*hash));
            guards[position].find(*hash, key).is_some()
        });
        if any_present {
            return false;
        }
        for (hash, key, value) in hashed {
            let position = guard_position(&stripes, self.stripe_index(hash));
            put(&mut guards[position], self.rehasher(), hash, key, value);
        }
        true
    }

    fn lookup(&self, key: &K) -> Vec<V> {
        self.get(key).into_iter().collect()
    }

    #[inline]
    fn get(&self, key: &K) -> Option<V> {
        let hash = self.hash(key);
        self.read(hash).find(hash, key).cloned()
    }

    fn member(&self, key: &K) -> bool {
        let hash = self.hash(key);
        self.read(hash).find(hash, key).is_some()
    }

    fn delete(&self, key: &K) {
        let hash = self.hash(key);
        self.write(hash).remove(hash, key);
    }

    fn delete_object(&self, key: &K, value: &V) {
        let hash = self.hash(key);
        let mut stripe = self.write(hash);
        if let Ok(entry) = stripe.entries.find_entry(hash, |(candidate, stored)| {
            candidate == key && stored == value
        }) {
            entry.remove();
        }
    }

    fn take(&self, key: &K) -> Vec<V> {
        let hash = self.hash(key);
        let removed = self.write(hash).remove(hash, key);
        removed.map(|(_, value)| value).into_iter().collect()
    }

    fn fold_while<R: RangeBounds<K>, A>(
        &self,
        range: &R,
        init: A,
        mut step: impl FnMut(A, &K, &V) -> ControlFlow<A, A>,
    ) -> A {
        settled(
            (0..self.stripe_count()).try_fold(init, |accumulator, stripe| {
                self.read_stripe(stripe)
                    .entries
                    .iter()
                    .filter(|(key, _)| range.contains(key))
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
        for stripe in 0..self.stripe_count() {
            let mut stripe = self.write_stripe(stripe);
            stripe.entries.retain(|(key, value)| {
                let delete = range.contains(key) && predicate(key, value);
                deleted += usize::from(delete);
                !delete
            });
        }
        deleted
    }

    fn clear(&self) {
        for mut stripe in self.write_all() {
            stripe.entries = hashbrown::HashTable::new();
        }
    }

    fn size(&self) -> usize {
        (0..self.stripe_count())
            .map(|stripe| self.read_stripe(stripe).entries.len())
            .sum()
    }

    fn memory_bytes(&self) -> usize {
        self.table_bytes()
    }
}
