//! Named tables: a node-local registry from name to table (ETS
//! `named_table` and `whereis/1`).
//!
//! A table created with `TableOptions::named_table` is registered under its
//! name for as long as it exists; its deletion frees the name. Names are
//! unique per node (one OS process); unnamed tables may share a name.
//! `whereis` returns a handle without owner rights, typed: asking for the
//! wrong key or value types is `TableError::TypeMismatch`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::error::{TableError, TableName};
use crate::record::{Key, Value};
use crate::table::{Shared, Table};

struct Entry {
    /// An `Arc<Shared<K, V>>`, erased.
    table: Arc<dyn Any + Send + Sync>,
    /// `type_name` of `(K, V)`, for mismatch errors.
    types: &'static str,
}

/// Name to table. Unbounded: it holds one entry per live named table,
/// which the program creates itself.
static NAMED: LazyLock<Mutex<HashMap<TableName, Entry>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn types_of<K, V>() -> &'static str {
    std::any::type_name::<(K, V)>()
}

pub(crate) fn register<K: Key, V: Value>(shared: &Arc<Shared<K, V>>) -> Result<(), TableError> {
    let mut named = NAMED.lock();
    if named.contains_key(&shared.name) {
        return Err(TableError::NameTaken {
            name: shared.name.clone(),
        });
    }
    let table: Arc<dyn Any + Send + Sync> = Arc::clone(shared) as _;
    named.insert(
        shared.name.clone(),
        Entry {
            table,
            types: types_of::<K, V>(),
        },
    );
    Ok(())
}

/// Removes `name` if it still names `shared` (and not a newer table).
pub(crate) fn unregister<K: Key, V: Value>(name: &TableName, shared: &Shared<K, V>) {
    let mut named = NAMED.lock();
    let same = named.get(name).is_some_and(|entry| {
        std::ptr::addr_eq(Arc::as_ptr(&entry.table), shared as *const Shared<K, V>)
    });
    if same {
        named.remove(name);
    }
}

/// The named table `name`, as a handle without owner rights.
///
/// Errors: `NoTable` if no live table has the name, `TypeMismatch` if it is
/// not a `Table<K, V>`.
pub fn whereis<K: Key, V: Value>(name: &str) -> Result<Table<K, V>, TableError> {
    let named = NAMED.lock();
    let Some(entry) = named.get(name) else {
        return Err(TableError::NoTable { name: name.into() });
    };
    match Arc::clone(&entry.table).downcast::<Shared<K, V>>() {
        Ok(shared) => Ok(Table::from_shared(shared, None)),
        Err(_) => Err(TableError::TypeMismatch {
            name: name.into(),
            expected: types_of::<K, V>(),
            actual: entry.types,
        }),
    }
}

/// The names of every named table on this node, sorted.
pub fn named_tables() -> Vec<TableName> {
    let mut names: Vec<TableName> = NAMED.lock().keys().cloned().collect();
    names.sort();
    names
}
