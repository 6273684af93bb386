//! Which shard of a replicated table holds a key.
//!
//! A table split into N shards runs N independent replicated units on every
//! node (N server actors, N process groups, N leaders, N join references),
//! over one local [`crate::Table`]: a key belongs to exactly one shard, so
//! writes to different shards go through different servers and proceed in
//! parallel, while reads see one table.
//!
//! The shard of a key must be the same on every node, so it comes from a
//! hash with a fixed seed (foldhash's quality hasher) of the key's `Hash`,
//! not from the local table's per-table random seed. Two consequences:
//! every node must run a build whose key types hash alike (the same build,
//! as for postcard's wire format), and every node must use the same shard
//! count: the count is part of each shard's process-group name
//! ([`group_of`]), so servers of a table started with different counts
//! never meet (they show up as not joined in status) rather than mixing
//! records filed under different shards.
//!
//! # Choosing N
//!
//! Shards pay when one table's server saturates a core: each shard's server
//! runs on its own, so writes to different shards use more cores. They
//! cost elsewhere: a burst of writes is cut into N smaller batches per
//! peer (more frames, more wake-ups per write), and a join, a pause or a
//! status is N of them. Measured with `cargo bench -p bream-tables --bench
//! replication` on a 2-core machine shared with other builds (3 nodes on
//! one box, 64 writers, medians of 6 runs): 1 shard about 40 k
//! acknowledged inserts/s, 2 shards 37 k, 4 shards 30 k, 8 shards 25 k;
//! 64 writers spread over the 3 nodes, 1 shard 34 k, 4 shards 24 k;
//! synchronous insert latency on 3 nodes the same with 1 or 4 shards.
//! With fewer cores than busy servers, sharding only adds frames: keep
//! N = 1 (the default), the XMPP session table included, and measure again
//! on hosts with cores to spare (where N up to about the cores per node
//! is the range worth trying).

use std::hash::{BuildHasher, Hash};

/// Most shards a replicated table may have: each is a server actor and a
/// process group per node, and a join or a status joins or asks each.
pub const SHARDS_MAX: usize = 256;

const _: () = assert!(SHARDS_MAX > 1);

/// The seed of the shard hash. Changing it reshuffles every sharded table:
/// all nodes of a cluster must agree on it.
const SHARD_HASH_SEED: u64 = 0x6272_6561_6d5f_7368; // "bream_sh"

/// One shard of a table split into `count`: its `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard.
    pub index: usize,
    /// How many shards the table has.
    pub count: usize,
}

impl Shard {
    /// The only shard of an unsharded table.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether `key` belongs to this shard.
    pub fn holds<K: Hash>(&self, key: &K) -> bool {
        self.count == 1 || shard_of(key, self.count) == self.index
    }
}

/// The shard of `key` in a table of `count` shards (`count` ≥ 1).
pub fn shard_of<K: Hash + ?Sized>(key: &K, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    let hash = foldhash::quality::FixedState::with_seed(SHARD_HASH_SEED).hash_one(key);
    // Multiply-shift onto 0..count: uses the hash's high bits, which are
    // its best mixed, and needs no division.
    (((hash >> 32) * count as u64) >> 32) as usize
}

/// The process group of a shard's servers. An unsharded table keeps the
/// plain `bream.table.<name>`; a shard's group names the count too, so
/// nodes that disagree on it never join.
pub fn group_of(table: &str, shard: Shard) -> String {
    if shard.count == 1 {
        format!("bream.table.{table}")
    } else {
        format!("bream.table.{table}.{}of{}", shard.index, shard.count)
    }
}

/// The name a shard's replica reports and logs: the table's, with the
/// shard for a sharded table (`sessions#2/4`).
pub fn replica_name(table: &str, shard: Shard) -> String {
    if shard.count == 1 {
        table.to_string()
    } else {
        format!("{table}#{}/{}", shard.index, shard.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_shard_and_keys_spread_over_all() {
        let count = 8;
        let mut per_shard = [0usize; 8];
        for key in 0..8_000u64 {
            let shard = shard_of(&key, count);
            per_shard[shard] += 1;
            let holders = (0..count)
                .filter(|index| {
                    Shard {
                        index: *index,
                        count,
                    }
                    .holds(&key)
                })
                .count();
            assert_eq!(holders, 1);
        }
        for filed in per_shard {
            assert!((800..1200).contains(&filed), "{per_shard:?}");
        }
    }

    #[test]
    fn the_shard_of_a_key_is_fixed_across_processes() {
        // Fixed values: a change here reshuffles deployed tables.
        let shards: Vec<usize> = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|key| shard_of(&key.to_string(), 4))
            .collect();
        assert_eq!(shards, FIXED_SHARDS);
    }

    /// Recorded from this build; a change means keys move between shards.
    const FIXED_SHARDS: [usize; 4] = [2, 3, 0, 3];

    #[test]
    fn an_unsharded_table_keeps_its_group_name() {
        assert_eq!(group_of("kv", Shard::WHOLE), "bream.table.kv");
        let shard = Shard { index: 1, count: 4 };
        assert_eq!(group_of("kv", shard), "bream.table.kv.1of4");
        assert_eq!(replica_name("kv", shard), "kv#1/4");
    }
}
