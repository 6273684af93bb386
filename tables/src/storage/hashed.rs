//! `Hashed<K, S>`: keys spread over hash shards, each a `hashbrown::HashTable`
//! of `(K, S)` behind a [`ShardLocks`] lock. `S` is the slot under a key: the
//! value for a set, the list of values for a bag.
//!
//! A key is hashed once: bits 32.. of the hash pick the shard and the whole
//! hash finds the slot in the shard's table. hashbrown takes its bucket index
//! from the low bits and its 7-bit tag from the top bits, so the shard bits
//! overlap neither (up to 2^32 buckets per shard); taking the shard from the
//! top bits instead would leave every key of a shard with nearly the same
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

use super::lock::{ReadGuard, ShardLocks, WriteGuard};

pub(crate) struct HashShard<K, S> {
    pub(crate) entries: HashTable<(K, S)>,
    /// Objects in this shard. Kept by the bag code only (a bag key holds
    /// several objects); a set's count is `entries.len()`.
    pub(crate) objects: usize,
}

impl<K: Eq, S> HashShard<K, S> {
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
    locks: ShardLocks<HashShard<K, S>>,
    hasher: RandomState,
    shard_mask: usize,
}

impl<K: Hash + Eq, S> Hashed<K, S> {
    /// `shards` must be a power of two (the options check it).
    pub(crate) fn new(shards: usize) -> Self {
        debug_assert!(shards.is_power_of_two());
        Self {
            locks: ShardLocks::new((0..shards).map(|_| HashShard {
                entries: HashTable::new(),
                objects: 0,
            })),
            hasher: RandomState::default(),
            shard_mask: shards - 1,
        }
    }

    #[inline]
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn shard_index(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.shard_mask
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.locks.len()
    }

    /// The function hashbrown needs to rehash entries when a shard grows.
    pub(crate) fn rehasher(&self) -> impl Fn(&(K, S)) -> u64 + '_ {
        move |(key, _)| self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn read(&self, hash: u64) -> ReadGuard<'_, HashShard<K, S>> {
        self.locks.read(self.shard_index(hash))
    }

    #[inline]
    pub(crate) fn write(&self, hash: u64) -> WriteGuard<'_, HashShard<K, S>> {
        self.locks.write(self.shard_index(hash))
    }

    pub(crate) fn read_shard(&self, shard: usize) -> ReadGuard<'_, HashShard<K, S>> {
        self.locks.read(shard)
    }

    pub(crate) fn write_shard(&self, shard: usize) -> WriteGuard<'_, HashShard<K, S>> {
        self.locks.write(shard)
    }

    /// Write guards for the shards of `hashes`, taken in ascending shard
    /// order (the one order every multi-shard writer uses, so writers never
    /// deadlock). Returns the sorted shard indices and their guards, in the
    /// same positions.
    pub(crate) fn write_many(
        &self,
        hashes: impl Iterator<Item = u64>,
    ) -> (Vec<usize>, Vec<WriteGuard<'_, HashShard<K, S>>>) {
        let mut shards: Vec<usize> = hashes.map(|hash| self.shard_index(hash)).collect();
        shards.sort_unstable();
        shards.dedup();
        let guards = shards
            .iter()
            .map(|&shard| self.locks.write(shard))
            .collect();
        (shards, guards)
    }

    /// Write guards on every shard, ascending.
    pub(crate) fn write_all(&self) -> Vec<WriteGuard<'_, HashShard<K, S>>> {
        (0..self.locks.len())
            .map(|shard| self.locks.write(shard))
            .collect()
    }

    /// Bytes held by the shards' hash tables and locks (not what keys and
    /// slots own on the heap).
    pub(crate) fn table_bytes(&self) -> usize {
        let tables: usize = (0..self.locks.len())
            .map(|shard| self.locks.read(shard).entries.allocation_size())
            .sum();
        tables + self.locks.overhead_bytes() + std::mem::size_of::<Self>()
    }
}

/// Position of `shard` in the sorted list from [`Hashed::write_many`].
#[inline]
pub(crate) fn guard_position(shards: &[usize], shard: usize) -> usize {
    // Present by construction: every hash was in the list write_many saw.
    shards
        .binary_search(&shard)
        .unwrap_or_else(|_| unreachable!("shard {shard} was not locked by write_many"))
}
