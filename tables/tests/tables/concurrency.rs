//! Concurrent writers and readers on std threads: results stay consistent.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use bream_tables::{Table, TableKind, TableOptions};

use super::support::table_sync;

const THREADS: u64 = 4;

#[test]
fn writers_on_disjoint_keys_and_readers_agree() {
    for kind in [
        TableKind::Set,
        TableKind::OrderedSet,
        TableKind::DuplicateBag,
    ] {
        let table: Table<u64, u64> = table_sync("disjoint", TableOptions::new(kind));
        let per_thread = 5_000u64;
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            let writers: Vec<_> = (0..THREADS)
                .map(|writer| {
                    let table = table.clone();
                    scope.spawn(move || {
                        for index in 0..per_thread {
                            let key = index * THREADS + writer;
                            table.insert(key, key * 2).unwrap();
                        }
                    })
                })
                .collect();
            let reader = scope.spawn(|| {
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    for key in (0..per_thread * THREADS).step_by(97) {
                        // A key is either absent or has its one value.
                        if let Some(value) = table.get(&key).unwrap() {
                            assert_eq!(value, key * 2);
                        }
                        reads += 1;
                    }
                }
                reads
            });
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::Release);
            assert!(reader.join().unwrap() > 0);
        });
        assert_eq!(table.size().unwrap() as u64, per_thread * THREADS, "{kind}");
        for key in 0..per_thread * THREADS {
            assert_eq!(table.get(&key).unwrap(), Some(key * 2), "{kind}");
        }
    }
}

#[test]
fn concurrent_update_counter_loses_no_increment() {
    for kind in [TableKind::Set, TableKind::OrderedSet] {
        let table: Table<u64, i64> = table_sync("counters", TableOptions::new(kind));
        let rounds = 5_000;
        thread::scope(|scope| {
            for _ in 0..THREADS {
                let table = table.clone();
                scope.spawn(move || {
                    for round in 0..rounds {
                        table.update_counter(&(round % 8), 1, Some(0)).unwrap();
                    }
                });
            }
        });
        let total: i64 = table.fold(0, |sum, _, count| sum + count).unwrap();
        assert_eq!(total, THREADS as i64 * rounds as i64, "{kind}");
    }
}

#[test]
fn insert_many_is_atomic_for_readers() {
    // The writer stores the same counter under 32 pairs of keys in one
    // insert_many; a reader that sees the first key of a pair at n must see
    // the second at n or later, or the batch was visible half-done.
    let table: Table<u64, u64> = table_sync("atomic_batch", TableOptions::set());
    let pairs = 32u64;
    let rounds = 3_000u64;
    let done = AtomicBool::new(false);
    let checks = AtomicUsize::new(0);
    thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for round in 1..=rounds {
                table
                    .insert_many(
                        (0..pairs).flat_map(|pair| [(pair * 2, round), (pair * 2 + 1, round)]),
                    )
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        });
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    for pair in 0..pairs {
                        let first = table.get(&(pair * 2)).unwrap().unwrap_or(0);
                        let second = table.get(&(pair * 2 + 1)).unwrap().unwrap_or(0);
                        assert!(second >= first, "pair {pair}: {first} then {second}");
                        checks.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        writer.join().unwrap();
    });
    assert!(checks.load(Ordering::Relaxed) > 0);
}

#[test]
fn insert_new_has_one_winner_per_key() {
    let table: Table<u64, u64> = table_sync("insert_new_race", TableOptions::set());
    let wins = AtomicUsize::new(0);
    let keys = 2_000u64;
    thread::scope(|scope| {
        for thread_index in 0..THREADS {
            let table = table.clone();
            let wins = &wins;
            scope.spawn(move || {
                for key in 0..keys {
                    if table.insert_new(key, thread_index).unwrap() {
                        wins.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(wins.load(Ordering::Relaxed) as u64, keys);
    assert_eq!(table.size().unwrap() as u64, keys);
}

#[test]
fn ordered_walks_stay_ordered_under_writes() {
    let table: Table<u64, u64> = table_sync("ordered_walk", TableOptions::ordered_set());
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        for writer in 0..2u64 {
            let table = table.clone();
            let done = &done;
            scope.spawn(move || {
                let mut state = writer + 1;
                for _ in 0..20_000 {
                    // A small LCG: keys arrive out of order.
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let key = state >> 48;
                    if state % 5 == 0 {
                        table.delete(&key).unwrap();
                    } else {
                        table.insert(key, key).unwrap();
                    }
                }
                done.store(true, Ordering::Release);
            });
        }
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let mut previous = table.first().unwrap();
                let mut steps = 0;
                while let Some(key) = previous {
                    let next = table.next(&key).unwrap();
                    if let Some(next) = next {
                        assert!(next > key, "next({key}) = {next}");
                    }
                    previous = next;
                    steps += 1;
                    if steps > 200 {
                        break;
                    }
                }
                let scan = table.select(1000..3000, |_, _| true).unwrap();
                assert!(scan.windows(2).all(|pair| pair[0].0 < pair[1].0));
                assert!(scan.iter().all(|(key, value)| key == value));
            }
        });
    });
}
