//! Storage candidates, measured to choose the data structures of
//! `bream-tables` (the figures are quoted in `src/storage/mod.rs`).
//!
//! Hash storage (set, bag): N stripes of `RwLock<hashbrown::HashTable>`
//! with foldhash, the same with std's SipHash, `dashmap` (foldhash), and a
//! single `RwLock<HashMap>`.
//! Ordered storage: a single `RwLock<BTreeMap>`, `crossbeam_skiplist::SkipMap`,
//! and 16 hash-striped `RwLock<BTreeMap>`s (whose ordered scans must merge).
//!
//! `cargo bench -p bream-tables --bench storage`
// criterion_main! writes a `pub fn main` without a doc comment.
#![allow(missing_docs)]

mod common;
#[allow(dead_code, unused_imports, unreachable_pub)]
#[path = "../src/storage/lock.rs"]
mod lock;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::hint::black_box;

use common::{criterion_short, scramble, time_threads, SCAN_ROWS, TABLE_ROWS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_skiplist::SkipMap;
use dashmap::DashMap;
use parking_lot::RwLock;

type Fold = foldhash::fast::RandomState;

trait Candidate: Sync + Send {
    fn insert(&self, key: u64, value: u64);
    fn lookup(&self, key: u64) -> Option<u64>;
    /// Sum of up to `rows` values from `start` upwards (ordered only).
    fn scan(&self, _start: u64, _rows: usize) -> u64 {
        0
    }
}

#[repr(align(128))]
struct Padded<T>(T);

type LockedTable = Padded<RwLock<hashbrown::HashTable<(u64, u64)>>>;

struct Striped<S> {
    stripes: Vec<LockedTable>,
    hasher: S,
    shift: u32,
}

impl<S: BuildHasher + Default> Striped<S> {
    fn new(stripes: usize) -> Self {
        Self {
            stripes: (0..stripes)
                .map(|_| Padded(RwLock::new(hashbrown::HashTable::new())))
                .collect(),
            hasher: S::default(),
            shift: 64 - stripes.trailing_zeros(),
        }
    }
}

impl<S: BuildHasher + Default + Sync + Send> Candidate for Striped<S> {
    fn insert(&self, key: u64, value: u64) {
        let hash = self.hasher.hash_one(key);
        let mut stripe = self.stripes[stripe_of(hash, self.shift)].0.write();
        upsert(&mut stripe, &self.hasher, hash, key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        let hash = self.hasher.hash_one(key);
        let stripe = self.stripes[stripe_of(hash, self.shift)].0.read();
        find(&stripe, hash, key)
    }
}

/// The chosen design: hash stripes behind `StripeLocks` (per-slot reader counts).
struct StripedReadMostly {
    locks: lock::StripeLocks<hashbrown::HashTable<(u64, u64)>>,
    hasher: Fold,
    shift: u32,
}
impl StripedReadMostly {
    fn new(stripes: usize) -> Self {
        Self {
            locks: lock::StripeLocks::new((0..stripes).map(|_| hashbrown::HashTable::new())),
            hasher: Fold::default(),
            shift: 64 - stripes.trailing_zeros(),
        }
    }
}
impl Candidate for StripedReadMostly {
    fn insert(&self, key: u64, value: u64) {
        let hash = self.hasher.hash_one(key);
        let mut stripe = self.locks.write(stripe_of(hash, self.shift));
        upsert(&mut stripe, &self.hasher, hash, key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        let hash = self.hasher.hash_one(key);
        let stripe = self.locks.read(stripe_of(hash, self.shift));
        find(&stripe, hash, key)
    }
}

/// The stripe a hash falls in, from the bits below the middle (31 downwards): the table inside
/// the stripe indexes by the lowest bits and tags by the top seven, so neither is skewed.
fn stripe_of(hash: u64, shift: u32) -> usize {
    (hash.rotate_left(32) >> shift) as usize
}

fn upsert(
    stripe: &mut hashbrown::HashTable<(u64, u64)>,
    hasher: &impl BuildHasher,
    hash: u64,
    key: u64,
    value: u64,
) {
    match stripe.entry(hash, |(k, _)| *k == key, |(k, _)| hasher.hash_one(*k)) {
        hashbrown::hash_table::Entry::Occupied(mut entry) => entry.get_mut().1 = value,
        hashbrown::hash_table::Entry::Vacant(entry) => {
            entry.insert((key, value));
        }
    }
}

fn find(stripe: &hashbrown::HashTable<(u64, u64)>, hash: u64, key: u64) -> Option<u64> {
    stripe.find(hash, |(k, _)| *k == key).map(|(_, v)| *v)
}

struct BTreeReadMostly(lock::StripeLocks<BTreeMap<u64, u64>>);
impl Candidate for BTreeReadMostly {
    fn insert(&self, key: u64, value: u64) {
        self.0.write(0).insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.0.read(0).get(&key).copied()
    }
    fn scan(&self, start: u64, rows: usize) -> u64 {
        self.0
            .read(0)
            .range(start..)
            .take(rows)
            .map(|(_, v)| *v)
            .sum()
    }
}

struct Dash(DashMap<u64, u64, Fold>);
impl Candidate for Dash {
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|v| *v)
    }
}

struct SingleHash(RwLock<hashbrown::HashMap<u64, u64, Fold>>);
impl Candidate for SingleHash {
    fn insert(&self, key: u64, value: u64) {
        self.0.write().insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.0.read().get(&key).copied()
    }
}

struct SingleBTree(RwLock<BTreeMap<u64, u64>>);
impl Candidate for SingleBTree {
    fn insert(&self, key: u64, value: u64) {
        self.0.write().insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.0.read().get(&key).copied()
    }
    fn scan(&self, start: u64, rows: usize) -> u64 {
        self.0
            .read()
            .range(start..)
            .take(rows)
            .map(|(_, v)| *v)
            .sum()
    }
}

struct Skip(SkipMap<u64, u64>);
impl Candidate for Skip {
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|entry| *entry.value())
    }
    fn scan(&self, start: u64, rows: usize) -> u64 {
        self.0
            .range(start..)
            .take(rows)
            .map(|entry| *entry.value())
            .sum()
    }
}

struct StripedBTree {
    stripes: Vec<Padded<RwLock<BTreeMap<u64, u64>>>>,
    hasher: Fold,
}
impl StripedBTree {
    fn stripe(&self, key: u64) -> &RwLock<BTreeMap<u64, u64>> {
        &self.stripes[(self.hasher.hash_one(key) % self.stripes.len() as u64) as usize].0
    }
}
impl Candidate for StripedBTree {
    fn insert(&self, key: u64, value: u64) {
        self.stripe(key).write().insert(key, value);
    }
    fn lookup(&self, key: u64) -> Option<u64> {
        self.stripe(key).read().get(&key).copied()
    }
    fn scan(&self, start: u64, rows: usize) -> u64 {
        // An ordered scan must merge every stripe's run.
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(rows * self.stripes.len());
        for stripe in &self.stripes {
            merged.extend(
                stripe
                    .0
                    .read()
                    .range(start..)
                    .take(rows)
                    .map(|(k, v)| (*k, *v)),
            );
        }
        merged.sort_unstable();
        merged.iter().take(rows).map(|(_, v)| *v).sum()
    }
}

type Maker = fn() -> Box<dyn Candidate>;

fn hash_candidates() -> Vec<(&'static str, Maker)> {
    vec![
        ("striped64_readmostly_foldhash", || {
            Box::new(StripedReadMostly::new(64))
        }),
        ("striped64_hashtable_foldhash", || {
            Box::new(Striped::<Fold>::new(64))
        }),
        ("striped64_hashtable_siphash", || {
            Box::new(Striped::<RandomState>::new(64))
        }),
        ("dashmap_foldhash", || {
            Box::new(Dash(DashMap::with_hasher(Fold::default())))
        }),
        ("single_rwlock_hashmap", || {
            Box::new(SingleHash(RwLock::new(hashbrown::HashMap::with_hasher(
                Fold::default(),
            ))))
        }),
    ]
}

fn ordered_candidates() -> Vec<(&'static str, Maker)> {
    vec![
        ("single_readmostly_btreemap", || {
            Box::new(BTreeReadMostly(lock::StripeLocks::new([BTreeMap::new()])))
        }),
        ("single_rwlock_btreemap", || {
            Box::new(SingleBTree(RwLock::new(BTreeMap::new())))
        }),
        ("skipmap", || Box::new(Skip(SkipMap::new()))),
        ("striped16_btreemap", || {
            Box::new(StripedBTree {
                stripes: (0..16)
                    .map(|_| Padded(RwLock::new(BTreeMap::new())))
                    .collect(),
                hasher: Fold::default(),
            })
        }),
    ]
}

fn filled(maker: Maker) -> Box<dyn Candidate> {
    let table = maker();
    for index in 0..TABLE_ROWS {
        table.insert(scramble(index), index);
    }
    table
}

fn bench_group(
    criterion: &mut Criterion,
    group_name: &str,
    candidates: Vec<(&'static str, Maker)>,
    scan: bool,
) {
    let mut group = criterion.benchmark_group(group_name);
    for (name, maker) in candidates {
        for threads in [1usize, 2] {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(
                BenchmarkId::new(format!("insert/{name}"), threads),
                |bencher| {
                    bencher.iter_custom(|iterations| {
                        let table = maker();
                        time_threads(threads, iterations, |thread_index, iterations| {
                            let base = thread_index as u64 * iterations;
                            for index in base..base + iterations {
                                table.insert(scramble(index), index);
                            }
                        })
                    })
                },
            );
            let table = filled(maker);
            group.bench_function(
                BenchmarkId::new(format!("lookup/{name}"), threads),
                |bencher| {
                    bencher.iter_custom(|iterations| {
                        time_threads(threads, iterations, |thread_index, iterations| {
                            let start = thread_index as u64 * 7919;
                            for index in start..start + iterations {
                                black_box(table.lookup(scramble(index % TABLE_ROWS)));
                            }
                        })
                    })
                },
            );
            if scan {
                group.bench_function(
                    BenchmarkId::new(format!("scan100/{name}"), threads),
                    |bencher| {
                        bencher.iter_custom(|iterations| {
                            time_threads(threads, iterations, |thread_index, iterations| {
                                let start = thread_index as u64 * 7919;
                                for index in start..start + iterations {
                                    black_box(table.scan(scramble(index % TABLE_ROWS), SCAN_ROWS));
                                }
                            })
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

fn storage(criterion: &mut Criterion) {
    bench_group(criterion, "hash_storage", hash_candidates(), false);
    bench_group(criterion, "ordered_storage", ordered_candidates(), true);
}

criterion_group! { name = benches; config = criterion_short(); targets = storage }
criterion_main!(benches);
