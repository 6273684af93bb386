//! `Hashed<K, S>`: keys spread over hash stripes, each a `hashbrown::HashTable`
//! of `(K, S)` behind a [`StripeLocks`] lock. `S` is the slot under a key: the
//! value for a set, the list of values for a bag.
//!
//! A key is hashed once: bits 32.. of the hash pick the stripe and the whole
//! hash finds the slot in the stripe's table. hashbrown takes its bucket index
//! from the low bits and its 7-bit tag from the top bits, so the stripe bits
//! overlap neither (up to 2^32 buckets per stripe); taking the stripe from the
//! top bits instead would leave every key of a stripe with nearly the same
//! tag and turn each probe into a string of false matches.
//!
//! The hasher is foldhash's fast hasher with a random seed per table
//! (measured: 2.3x SipHash's lookup rate on u64 keys; `benches/storage.rs`).
//! It resists casual hash flooding, not a determined attacker with timing
//! access; keys from untrusted sources that must withstand that need a
//! keyed cryptographic hash, which is a later option.

use std::hash::{BuildHasher, Hash};

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::lock::{ReadGuard, StripeLocks, WriteGuard};

pub(crate) struct HashStripe<K, S> {
    pub(crate) entries: HashTable<(K, S)>,
    /// Objects in this stripe. Kept by the bag code only (a bag key holds
    /// several objects); a set's count is `entries.len()`.
    pub(crate) objects: usize,
}

impl<K: Eq, S> HashStripe<K, S> {
    #[inline]
    pub(crate) fn find(&self, hash: u64, key: &K) -> Option<&S> {
        self.entries
            .find(hash, |(candidate, _)| candidate == key)
            .map(|(_, slot)| slot)
    }

    #[inline]
    pub(crate) fn find_mut(&mut self, hash: u64, key: &K) -> Option<&mut S> {
        self.entries
            .find_mut(hash, |(candidate, _)| candidate == key)
            .map(|(_, slot)| slot)
    }

    pub(crate) fn remove(&mut self, hash: u64, key: &K) -> Option<(K, S)> {
        match self
            .entries
            .find_entry(hash, |(candidate, _)| candidate == key)
        {
            Ok(entry) => Some(entry.remove().0),
            Err(_) => None,
        }
    }
}

pub(crate) struct Hashed<K, S> {
    locks: StripeLocks<HashStripe<K, S>>,
    hasher: RandomState,
    stripe_mask: usize,
}

impl<K: Hash + Eq, S> Hashed<K, S> {
    /// `stripes` must be a power of two (the options check it).
    pub(crate) fn new(stripes: usize) -> Self {
        debug_assert!(stripes.is_power_of_two());
        Self {
            locks: StripeLocks::new((0..stripes).map(|_| HashStripe {
                entries: HashTable::new(),
                objects: 0,
            })),
            hasher: RandomState::default(),
            stripe_mask: stripes - 1,
        }
    }

    #[inline]
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn stripe_index(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.stripe_mask
    }

    pub(crate) fn stripe_count(&self) -> usize {
        self.locks.len()
    }

    /// The function hashbrown needs to rehash entries when a stripe grows.
    pub(crate) fn rehasher(&self) -> impl Fn(&(K, S)) -> u64 + '_ {
        move |(key, _)| self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn read(&self, hash: u64) -> ReadGuard<'_, HashStripe<K, S>> {
        self.locks.read(self.stripe_index(hash))
    }

    #[inline]
    pub(crate) fn write(&self, hash: u64) -> WriteGuard<'_, HashStripe<K, S>> {
        self.locks.write(self.stripe_index(hash))
    }

    pub(crate) fn read_stripe(&self, stripe: usize) -> ReadGuard<'_, HashStripe<K, S>> {
        self.locks.read(stripe)
    }

    pub(crate) fn write_stripe(&self, stripe: usize) -> WriteGuard<'_, HashStripe<K, S>> {
        self.locks.write(stripe)
    }

    /// Write guards for the stripes of `hashes`, taken in ascending stripe
    /// order (the one order every multi-stripe writer uses, so writers never
    /// deadlock). Returns the sorted stripe indices and their guards, in the
    /// same positions.
    pub(crate) fn write_many(
        &self,
        hashes: impl Iterator<Item = u64>,
    ) -> (Vec<usize>, Vec<WriteGuard<'_, HashStripe<K, S>>>) {
        let mut stripes: Vec<usize> = hashes.map(|hash| self.stripe_index(hash)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let guards = stripes
            .iter()
            .map(|&stripe| self.locks.write(stripe))
            .collect();
        (stripes, guards)
    }

    /// Write guards on every stripe, ascending.
    pub(crate) fn write_all(&self) -> Vec<WriteGuard<'_, HashStripe<K, S>>> {
        (0..self.locks.len())
            .map(|stripe| self.locks.write(stripe))
            .collect()
    }

    /// Bytes held by the stripes' hash tables and locks (not what keys and
    /// slots own on the heap).
    pub(crate) fn table_bytes(&self) -> usize {
        let tables: usize = (0..self.locks.len())
            .map(|stripe| self.locks.read(stripe).entries.allocation_size())
            .sum();
        tables + self.locks.overhead_bytes() + std::mem::size_of::<Self>()
    }
}

/// Position of `stripe` in the sorted list from [`Hashed::write_many`].
#[inline]
pub(crate) fn guard_position(stripes: &[usize], stripe: usize) -> usize {
    // Present by construction: every hash was in the list write_many saw.
    stripes
        .binary_search(&stripe)
        .unwrap_or_else(|_| unreachable!("stripe {stripe} was not locked by write_many"))
}
