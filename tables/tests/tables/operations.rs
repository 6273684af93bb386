//! The edges of single operations: bag order, counters, ranges, info.

use bream_tables::{CounterUpdate, Table, TableError, TableKind, TableOptions};

use super::support::table_sync;

#[test]
fn bags_keep_insertion_order_and_duplicate_bags_keep_copies() {
    let bag: Table<&str, u32> = table_sync("bag", TableOptions::bag());
    bag.insert_many([("k", 3), ("k", 1), ("k", 3), ("k", 2)])
        .unwrap();
    assert_eq!(bag.lookup(&"k").unwrap(), vec![3, 1, 2]);
    assert_eq!(bag.get(&"k").unwrap(), Some(3), "get is the first value");
    assert_eq!(bag.size().unwrap(), 3);

    let duplicates: Table<&str, u32> = table_sync("dbag", TableOptions::duplicate_bag());
    duplicates
        .insert_many([("k", 3), ("k", 1), ("k", 3)])
        .unwrap();
    assert_eq!(duplicates.lookup(&"k").unwrap(), vec![3, 1, 3]);
    duplicates.delete_object(&"k", &3).unwrap();
    assert_eq!(duplicates.lookup(&"k").unwrap(), vec![1], "every copy goes");
    duplicates.delete_object(&"k", &1).unwrap();
    assert!(!duplicates.member(&"k").unwrap());
    assert_eq!(duplicates.size().unwrap(), 0);
}

#[test]
fn update_counter_defaults_wraps_and_refuses_overflow() {
    let counters: Table<&str, u8> = table_sync("counters", TableOptions::set());
    assert_eq!(counters.update_counter(&"a", 5, Some(10)).unwrap(), 15);
    assert_eq!(
        counters
            .update_counter(&"a", CounterUpdate::add_wrapping(1, 16, 0), None)
            .unwrap(),
        16
    );
    assert_eq!(
        counters
            .update_counter(&"a", CounterUpdate::add_wrapping(1, 16, 0), None)
            .unwrap(),
        0
    );
    let error = counters.update_counter(&"a", -1, None).unwrap_err();
    assert!(
        matches!(error, TableError::CounterOutOfRange { ref key, .. } if key == "\"a\""),
        "{error:?}"
    );
    assert_eq!(counters.get(&"a").unwrap(), Some(0), "unchanged");
    let error = counters.update_counter(&"b", 1, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "table \"counters\": update_counter found no record with key \"b\""
    );
    assert!(!counters.member(&"b").unwrap());
}

#[test]
fn ordered_walks_and_ranges() {
    let table: Table<u32, char> = table_sync("ordered", TableOptions::ordered_set());
    table
        .insert_many([(30, 'c'), (10, 'a'), (20, 'b'), (40, 'd')])
        .unwrap();
    assert_eq!(table.first().unwrap(), Some(10));
    assert_eq!(table.last().unwrap(), Some(40));
    assert_eq!(table.next(&10).unwrap(), Some(20));
    assert_eq!(table.next(&15).unwrap(), Some(20), "from an absent key");
    assert_eq!(table.next(&40).unwrap(), None);
    assert_eq!(table.prev(&35).unwrap(), Some(30));
    assert_eq!(table.prev(&10).unwrap(), None);

    let keys = |range: (std::ops::Bound<u32>, std::ops::Bound<u32>)| {
        table.select_map(range, |key, _| Some(*key)).unwrap()
    };
    use std::ops::Bound::{Excluded, Included, Unbounded};
    assert_eq!(keys((Included(20), Unbounded)), vec![20, 30, 40]);
    assert_eq!(keys((Excluded(20), Excluded(40))), vec![30]);
    // Inverted and empty ranges select nothing (BTreeMap would panic).
    assert_eq!(keys((Included(30), Included(20))), Vec::<u32>::new());
    assert_eq!(keys((Excluded(20), Excluded(20))), Vec::<u32>::new());
    // A chunk, then the rest from after its last key.
    let chunk = table.select_limit(.., 2, |_, _| true).unwrap();
    assert_eq!(chunk, vec![(10, 'a'), (20, 'b')]);
    let rest = table
        .select_limit((Excluded(chunk[1].0), Unbounded), 10, |_, _| true)
        .unwrap();
    assert_eq!(rest, vec![(30, 'c'), (40, 'd')]);
    assert_eq!(table.select_limit(.., 0, |_, _| true).unwrap(), vec![]);
    assert_eq!(table.select_delete(20..=30, |_, _| true).unwrap(), 2);
    assert_eq!(table.to_vec().unwrap(), vec![(10, 'a'), (40, 'd')]);
    assert_eq!(
        table.fold(String::new(), |mut word, _, letter| {
            word.push(*letter);
            word
        }),
        Ok("ad".to_string())
    );
}

#[test]
fn insert_new_many_is_all_or_nothing() {
    for kind in [TableKind::Set, TableKind::OrderedSet, TableKind::Bag] {
        let table: Table<u32, u32> = table_sync("insert_new_many", TableOptions::new(kind));
        table.insert(2, 0).unwrap();
        assert!(!table.insert_new_many([(1, 1), (2, 2), (3, 3)]).unwrap());
        assert_eq!(table.size().unwrap(), 1, "{kind}");
        assert!(table.insert_new_many([(1, 1), (3, 3)]).unwrap());
        assert_eq!(table.size().unwrap(), 3, "{kind}");
    }
}

#[test]
fn info_reports_the_table() {
    let table: Table<u64, u64> = table_sync("info", TableOptions::set().stripes(8));
    let empty = table.info().unwrap();
    assert_eq!(empty.kind, TableKind::Set);
    assert_eq!(empty.size, 0);
    assert_eq!(empty.stripes, 8);
    assert!(!empty.named);
    assert_eq!(empty.owner, super::support::BACKGROUND.owner.get_id());
    table
        .insert_many((0..10_000).map(|key| (key, key)))
        .unwrap();
    let full = table.info().unwrap();
    assert_eq!(full.size, 10_000);
    // At least the records themselves, at most a few times them.
    let records = 10_000 * std::mem::size_of::<(u64, u64)>();
    assert!(
        full.memory_bytes > records && full.memory_bytes < empty.memory_bytes + 4 * records,
        "{} bytes",
        full.memory_bytes
    );
    table.clear().unwrap();
    assert_eq!(table.info().unwrap().memory_bytes, empty.memory_bytes);
}

#[test]
fn take_removes_and_returns() {
    let table: Table<u64, String> = table_sync("take", TableOptions::set());
    table.insert(1, "one".to_string()).unwrap();
    assert_eq!(table.take(&1).unwrap(), vec!["one".to_string()]);
    assert_eq!(table.take(&1).unwrap(), Vec::<String>::new());
    assert!(!table.member(&1).unwrap());
}
