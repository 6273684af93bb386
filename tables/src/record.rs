//! What a table stores: records `(K, V)`, a key and a value.
//!
//! ETS stores tuples and finds the key at a position (`keypos`); a typed
//! table stores the key beside the value instead, so `{Key, A, B}` in ETS is
//! `(Key, (A, B))` here, or `(Key, MyStruct)`.
//!
//! One table type serves all four kinds (the kind is chosen at run time, as
//! in ETS), so keys need both what hashing needs and what ordering needs.
//! Values need `PartialEq` because bags and `delete_object` compare whole
//! objects, and `Clone` because reads return copies, as ETS copies terms out
//! of a table: no reference into the table ever escapes a lock.

use std::fmt::Debug;
use std::hash::Hash;

/// A table key: hashed by set and bag tables, ordered by ordered sets,
/// cloned out by reads, and printed (with `Debug`) in errors.
///
/// Implemented for every type with these traits; nothing to implement.
/// As in any hash map or B-tree, `Hash`, `Eq` and `Ord` must agree
/// (`a == b` implies equal hashes and `a.cmp(b) == Equal`).
pub trait Key: Clone + Eq + Hash + Ord + Debug + Send + Sync + 'static {}

impl<T> Key for T where T: Clone + Eq + Hash + Ord + Debug + Send + Sync + 'static {}

/// A table value: cloned out by reads and compared by bags and
/// `delete_object`.
///
/// Implemented for every type with these traits; nothing to implement.
pub trait Value: Clone + PartialEq + Send + Sync + 'static {}

impl<T> Value for T where T: Clone + PartialEq + Send + Sync + 'static {}
