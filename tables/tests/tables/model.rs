//! Property tests: random operation sequences against a simple model, for
//! each table kind. Keys and values come from small domains so that
//! operations collide.
//!
//! The model is a `BTreeMap<u16, Vec<i64>>` (values per key in insertion
//! order) with each kind's insert rule; results from hash tables, whose
//! order is unspecified, are compared sorted.

use std::collections::BTreeMap;
use std::ops::Bound;

use bream_tables::{Table, TableError, TableKind, TableOptions};
use proptest::prelude::*;

use super::support::table_sync;

type K = u16;
type V = i64;

#[derive(Debug, Clone)]
enum Op {
    Insert(K, V),
    InsertMany(Vec<(K, V)>),
    InsertNew(K, V),
    InsertNewMany(Vec<(K, V)>),
    Lookup(K),
    Get(K),
    Member(K),
    Delete(K),
    DeleteObject(K, V),
    Take(K),
    UpdateCounter(K, V, Option<V>),
    UpdateElement(K, V),
    Select(Bound<K>, Bound<K>),
    SelectCount(Bound<K>, Bound<K>),
    SelectDelete(Bound<K>, Bound<K>),
    First,
    Last,
    Next(K),
    Prev(K),
    Fold,
    ToVec,
    Clear,
    Size,
}

fn key() -> impl Strategy<Value = K> {
    0u16..12
}

fn value() -> impl Strategy<Value = V> {
    -3i64..4
}

fn bound() -> impl Strategy<Value = Bound<K>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => prop::collection::vec((key(), value()), 0..5).prop_map(Op::InsertMany),
        2 => (key(), value()).prop_map(|(k, v)| Op::InsertNew(k, v)),
        1 => prop::collection::vec((key(), value()), 0..4).prop_map(Op::InsertNewMany),
        2 => key().prop_map(Op::Lookup),
        1 => key().prop_map(Op::Get),
        1 => key().prop_map(Op::Member),
        1 => key().prop_map(Op::Delete),
        2 => (key(), value()).prop_map(|(k, v)| Op::DeleteObject(k, v)),
        1 => key().prop_map(Op::Take),
        2 => (key(), value(), prop::option::of(value()))
            .prop_map(|(k, v, d)| Op::UpdateCounter(k, v, d)),
        1 => (key(), value()).prop_map(|(k, v)| Op::UpdateElement(k, v)),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::Select(s, e)),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::SelectCount(s, e)),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::SelectDelete(s, e)),
        1 => Just(Op::First),
        1 => Just(Op::Last),
        1 => key().prop_map(Op::Next),
        1 => key().prop_map(Op::Prev),
        1 => Just(Op::Fold),
        1 => Just(Op::ToVec),
        1 => Just(Op::Clear),
        1 => Just(Op::Size),
    ]
}

/// The reference: values per key, in insertion order.
struct Model {
    kind: TableKind,
    records: BTreeMap<K, Vec<V>>,
}

fn in_range(key: K, start: Bound<K>, end: Bound<K>) -> bool {
    use std::ops::RangeBounds;
    (start, end).contains(&key)
}

/// The predicate every select uses.
fn even(value: &V) -> bool {
    value % 2 == 0
}

impl Model {
    fn insert(&mut self, key: K, value: V) {
        let values = self.records.entry(key).or_default();
        match self.kind {
            TableKind::Set | TableKind::OrderedSet => *values = vec![value],
            TableKind::Bag => {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            TableKind::DuplicateBag => values.push(value),
        }
    }

    fn objects(&self) -> Vec<(K, V)> {
        self.records
            .iter()
            .flat_map(|(key, values)| values.iter().map(move |value| (*key, *value)))
            .collect()
    }

    fn select(&self, start: Bound<K>, end: Bound<K>) -> Vec<(K, V)> {
        self.objects()
            .into_iter()
            .filter(|(key, value)| in_range(*key, start, end) && even(value))
            .collect()
    }

    fn ordered(&self) -> bool {
        self.kind == TableKind::OrderedSet
    }
}

fn sorted(mut records: Vec<(K, V)>) -> Vec<(K, V)> {
    records.sort_unstable();
    records
}

fn is_wrong_kind<T: std::fmt::Debug>(result: Result<T, TableError>) -> bool {
    matches!(result, Err(TableError::WrongKind { .. }))
}

/// Runs `ops` on a fresh table of `kind` and on the model, comparing every
/// result, then the whole contents.
fn check(kind: TableKind, ops: Vec<Op>) -> Result<(), TestCaseError> {
    // Few stripes, so that many keys share one.
    let table: Table<K, V> = table_sync("model", TableOptions::new(kind).stripes(4));
    let mut model = Model {
        kind,
        records: BTreeMap::new(),
    };
    let is_set = kind.is_set();
    for op in ops {
        match op {
            Op::Insert(key, value) => {
                table.insert(key, value).unwrap();
                model.insert(key, value);
            }
            Op::InsertMany(records) => {
                table.insert_many(records.clone()).unwrap();
                for (key, value) in records {
                    model.insert(key, value);
                }
            }
            Op::InsertNew(key, value) => {
                let absent = !model.records.contains_key(&key);
                prop_assert_eq!(table.insert_new(key, value).unwrap(), absent);
                if absent {
                    model.insert(key, value);
                }
            }
            Op::InsertNewMany(records) => {
                let absent = records
                    .iter()
                    .all(|(key, _)| !model.records.contains_key(key));
                prop_assert_eq!(table.insert_new_many(records.clone()).unwrap(), absent);
                if absent {
                    for (key, value) in records {
                        model.insert(key, value);
                    }
                }
            }
            Op::Lookup(key) => {
                let expected = model.records.get(&key).cloned().unwrap_or_default();
                prop_assert_eq!(table.lookup(&key).unwrap(), expected);
            }
            Op::Get(key) => {
                let expected = model
                    .records
                    .get(&key)
                    .and_then(|values| values.first().copied());
                prop_assert_eq!(table.get(&key).unwrap(), expected);
            }
            Op::Member(key) => {
                prop_assert_eq!(
                    table.member(&key).unwrap(),
                    model.records.contains_key(&key)
                );
            }
            Op::Delete(key) => {
                table.delete(&key).unwrap();
                model.records.remove(&key);
            }
            Op::DeleteObject(key, value) => {
                table.delete_object(&key, &value).unwrap();
                if let Some(values) = model.records.get_mut(&key) {
                    values.retain(|stored| *stored != value);
                    if values.is_empty() {
                        model.records.remove(&key);
                    }
                }
            }
            Op::Take(key) => {
                let expected = model.records.remove(&key).unwrap_or_default();
                prop_assert_eq!(table.take(&key).unwrap(), expected);
            }
            Op::UpdateCounter(key, increment, default) => {
                let result = table.update_counter(&key, increment, default);
                if !is_set {
                    prop_assert!(is_wrong_kind(result));
                    continue;
                }
                match (model.records.get_mut(&key), default) {
                    (Some(values), _) => {
                        values[0] += increment;
                        prop_assert_eq!(result.unwrap(), values[0]);
                    }
                    (None, Some(default)) => {
                        model.records.insert(key, vec![default + increment]);
                        prop_assert_eq!(result.unwrap(), default + increment);
                    }
                    (None, None) => {
                        let is_key_not_found =
                            matches!(result, Err(TableError::KeyNotFound { .. }));
                        prop_assert!(is_key_not_found);
                    }
                }
            }
            Op::UpdateElement(key, addend) => {
                let result = table.update_element(&key, |value| {
                    *value += addend;
                    *value
                });
                if !is_set {
                    prop_assert!(is_wrong_kind(result));
                    continue;
                }
                let expected = model.records.get_mut(&key).map(|values| {
                    values[0] += addend;
                    values[0]
                });
                prop_assert_eq!(result.unwrap(), expected);
            }
            Op::Select(start, end) => {
                let selected = table.select((start, end), |_, value| even(value)).unwrap();
                let expected = model.select(start, end);
                if model.ordered() {
                    prop_assert_eq!(selected, expected);
                } else {
                    prop_assert_eq!(sorted(selected), sorted(expected));
                }
            }
            Op::SelectCount(start, end) => {
                let count = table
                    .select_count((start, end), |_, value| even(value))
                    .unwrap();
                prop_assert_eq!(count, model.select(start, end).len());
            }
            Op::SelectDelete(start, end) => {
                let deleted = table
                    .select_delete((start, end), |_, value| even(value))
                    .unwrap();
                prop_assert_eq!(deleted, model.select(start, end).len());
                model.records.retain(|key, values| {
                    if in_range(*key, start, end) {
                        values.retain(|value| !even(value));
                    }
                    !values.is_empty()
                });
            }
            Op::First => {
                let result = table.first();
                if model.ordered() {
                    prop_assert_eq!(result.unwrap(), model.records.keys().next().copied());
                } else {
                    prop_assert!(is_wrong_kind(result));
                }
            }
            Op::Last => {
                let result = table.last();
                if model.ordered() {
                    prop_assert_eq!(result.unwrap(), model.records.keys().next_back().copied());
                } else {
                    prop_assert!(is_wrong_kind(result));
                }
            }
            Op::Next(key) => {
                let result = table.next(&key);
                if model.ordered() {
                    let expected = model
                        .records
                        .range((Bound::Excluded(key), Bound::Unbounded))
                        .next()
                        .map(|(key, _)| *key);
                    prop_assert_eq!(result.unwrap(), expected);
                } else {
                    prop_assert!(is_wrong_kind(result));
                }
            }
            Op::Prev(key) => {
                let result = table.prev(&key);
                if model.ordered() {
                    let expected = model.records.range(..key).next_back().map(|(key, _)| *key);
                    prop_assert_eq!(result.unwrap(), expected);
                } else {
                    prop_assert!(is_wrong_kind(result));
                }
            }
            Op::Fold => {
                let sum = table
                    .fold(0i64, |sum, key, value| sum + i64::from(*key) * 100 + value)
                    .unwrap();
                let expected: i64 = model
                    .objects()
                    .iter()
                    .map(|(key, value)| i64::from(*key) * 100 + value)
                    .sum();
                prop_assert_eq!(sum, expected);
            }
            Op::ToVec => {
                let records = table.to_vec().unwrap();
                if model.ordered() {
                    prop_assert_eq!(records, model.objects());
                } else {
                    prop_assert_eq!(sorted(records), sorted(model.objects()));
                }
            }
            Op::Clear => {
                table.clear().unwrap();
                model.records.clear();
            }
            Op::Size => {
                prop_assert_eq!(table.size().unwrap(), model.objects().len());
            }
        }
    }
    // Bags keep each key's values in insertion order; compare per key.
    for (key, values) in &model.records {
        prop_assert_eq!(&table.lookup(key).unwrap(), values);
    }
    prop_assert_eq!(table.size().unwrap(), model.objects().len());
    table.delete_table().unwrap();
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn set_matches_model(ops in ops()) {
        check(TableKind::Set, ops)?;
    }

    #[test]
    fn ordered_set_matches_model(ops in ops()) {
        check(TableKind::OrderedSet, ops)?;
    }

    #[test]
    fn bag_matches_model(ops in ops()) {
        check(TableKind::Bag, ops)?;
    }

    #[test]
    fn duplicate_bag_matches_model(ops in ops()) {
        check(TableKind::DuplicateBag, ops)?;
    }
}
