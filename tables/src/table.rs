//! `Table<K, V>`: a handle on a local table, and the ETS operations.
//!
//! A handle is an `Arc` to the table's shared state plus, for the owner,
//! its owner rights (see [`crate::ownership`]). Every operation runs on
//! the calling thread against the shared storage: no message, no await.
//! Each one first checks, in this order, that it is not called from a
//! callback of the same table, that the table still exists, that the access
//! mode allows it for this handle, and that the table's kind has it; each
//! failure is its own [`TableError`].
//!
//! Values come out as clones (ETS copies terms out of a table); the records
//! inside never escape a lock.

use std::fmt;
use std::ops::{ControlFlow, RangeBounds};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use ractor::ActorCell;
use tokio::runtime::Handle;

use crate::callback;
use crate::counter::{Counter, CounterUpdate};
use crate::error::{DeleteReason, Operation, TableError, TableName};
use crate::info::TableInfo;
use crate::kind::TableKind;
use crate::options::{TableOptions, STRIPES_MAX};
use crate::ownership::{self, Access, OwnerState, Recipient};
use crate::record::{Key, Value};
use crate::storage::{dispatch, Storage, Store};

/// What every handle of one table shares.
pub(crate) struct Shared<K, V> {
    pub(crate) name: TableName,
    pub(crate) kind: TableKind,
    pub(crate) access: Access,
    pub(crate) named: bool,
    storage: Storage<K, V>,
    /// Set once, when the table is deleted; checked by every operation.
    pub(crate) deleted: OnceLock<DeleteReason>,
    /// Grows each time ownership passes on or the table is deleted; a
    /// handle has owner rights while its epoch equals this.
    pub(crate) owner_epoch: AtomicU64,
    pub(crate) owner: Mutex<OwnerState<K, V>>,
    /// Where owner watches run.
    pub(crate) runtime: Handle,
}

impl<K: Key, V: Value> Shared<K, V> {
    pub(crate) fn check_alive(&self) -> Result<(), TableError> {
        match self.deleted.get() {
            None => Ok(()),
            Some(reason) => Err(self.deleted_error(*reason)),
        }
    }

    #[cold]
    fn deleted_error(&self, reason: DeleteReason) -> TableError {
        TableError::Deleted {
            table: self.name.clone(),
            reason,
        }
    }

    pub(crate) fn clear_storage(&self) {
        dispatch!(&self.storage, store => store.clear());
    }
}

/// A handle on a table. Cheap to clone (an `Arc`), `Send` and `Sync`.
///
/// A handle from [`Table::new`] or a [`crate::Transfer`] has owner rights;
/// clones keep them. See the crate doc for an example and
/// [`crate::ownership`] for the access rules.
///
/// A table lives until its owner stops (without a live heir) or
/// [`Table::delete_table`] is called, as in ETS: dropping every handle
/// does not delete it, and its records stay in memory until then.
pub struct Table<K, V> {
    shared: Arc<Shared<K, V>>,
    owner_epoch: Option<u64>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            owner_epoch: self.owner_epoch,
        }
    }
}

impl<K: Key, V: Value> fmt::Debug for Table<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Table")
            .field("name", &self.shared.name)
            .field("kind", &self.shared.kind)
            .field("access", &self.shared.access)
            .field("owner_rights", &self.has_owner_rights())
            .finish()
    }
}

/// What an operation needs of the table's kind.
#[derive(Clone, Copy)]
enum KindNeed {
    Any,
    SetOrOrderedSet,
    OrderedSet,
}

impl<K: Key, V: Value> Table<K, V> {
    /// Creates a table named `name` (ETS `new/2`), owned by `owner`, and
    /// returns the owner's handle.
    ///
    /// Must run inside a tokio runtime (any actor does): the owner is
    /// watched from a task on it.
    ///
    /// Errors: `NoRuntime`; `OwnerNotAlive` if `owner` is stopping or
    /// stopped; `RecipientNotAlive` if the heir is; `NameTaken` for a
    /// `named_table` whose name is in use; `InvalidOption` for stripes
    /// outside `1..=STRIPES_MAX`.
    pub fn new(
        name: &str,
        owner: &ActorCell,
        options: TableOptions<K, V>,
    ) -> Result<Self, TableError> {
        let name: TableName = name.into();
        if !(1..=STRIPES_MAX).contains(&options.stripes) {
            return Err(TableError::InvalidOption {
                table: name,
                option: "stripes",
                value: options.stripes,
                bounds: "1..=1024 (STRIPES_MAX)",
            });
        }
        let Ok(runtime) = Handle::try_current() else {
            return Err(TableError::NoRuntime { table: name });
        };
        if !ownership::is_alive(owner) {
            return Err(TableError::OwnerNotAlive {
                table: name,
                owner: owner.get_id(),
            });
        }
        if let Some(heir) = &options.heir {
            if !heir.is_alive() {
                return Err(TableError::RecipientNotAlive {
                    table: name,
                    operation: Operation::SetHeir,
                    recipient: heir.actor(),
                });
            }
        }
        let shared = Arc::new(Shared {
            name,
            kind: options.kind,
            access: options.access,
            named: options.named,
            storage: Storage::new(options.kind, options.stripes.next_power_of_two()),
            deleted: OnceLock::new(),
            owner_epoch: AtomicU64::new(0),
            owner: Mutex::new(OwnerState::new(owner.clone(), options.heir)),
            runtime,
        });
        if shared.named {
            crate::named::register(&shared)?;
        }
        ownership::start_watch(&shared, &mut shared.owner.lock(), 0);
        tracing::debug!(table = %shared.name, kind = %shared.kind, access = %shared.access,
            owner = %owner.get_id(), "table created");
        Ok(Self::from_shared(shared, Some(0)))
    }

    /// The named table `name`, without owner rights (ETS `whereis/1`); see
    /// [`crate::whereis`].
    pub fn whereis(name: &str) -> Result<Self, TableError> {
        crate::named::whereis(name)
    }

    pub(crate) fn from_shared(shared: Arc<Shared<K, V>>, owner_epoch: Option<u64>) -> Self {
        Self {
            shared,
            owner_epoch,
        }
    }

    /// A handle on the same table without owner rights: what to give
    /// other actors.
    pub fn without_owner_rights(&self) -> Self {
        Self::from_shared(Arc::clone(&self.shared), None)
    }

    /// Whether this handle currently has owner rights.
    pub fn has_owner_rights(&self) -> bool {
        ownership::rights(&self.shared, self.owner_epoch).is_ok()
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Its kind.
    pub fn kind(&self) -> TableKind {
        self.shared.kind
    }

    /// Its access mode.
    pub fn access(&self) -> Access {
        self.shared.access
    }

    /// Whether two handles are on the same table.
    pub fn same_table(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn identity(&self) -> usize {
        Arc::as_ptr(&self.shared) as *const () as usize
    }

    /// The checks every operation starts with (module doc).
    #[inline]
    fn check(&self, operation: Operation, need: KindNeed) -> Result<&Storage<K, V>, TableError> {
        if callback::is_running(self.identity()) {
            return Err(self.error_in_callback(operation));
        }
        self.shared.check_alive()?;
        let needs_owner = match self.shared.access {
            Access::Public => false,
            Access::Protected => operation.writes(),
            Access::Private => operation != Operation::Info,
        };
        if needs_owner {
            if let Err(rights) = ownership::rights(&self.shared, self.owner_epoch) {
                return Err(TableError::AccessDenied {
                    table: self.shared.name.clone(),
                    access: self.shared.access,
                    operation,
                    rights,
                });
            }
        }
        let kind = self.shared.kind;
        let (allowed, needs) = match need {
            KindNeed::Any => (true, ""),
            KindNeed::SetOrOrderedSet => (kind.is_set(), "a set or an ordered_set"),
            KindNeed::OrderedSet => (kind == TableKind::OrderedSet, "an ordered_set"),
        };
        if !allowed {
            return Err(TableError::WrongKind {
                table: self.shared.name.clone(),
                kind,
                operation,
                needs,
            });
        }
        Ok(&self.shared.storage)
    }

    #[cold]
    fn error_in_callback(&self, operation: Operation) -> TableError {
        TableError::CalledFromCallback {
            table: self.shared.name.clone(),
            operation,
        }
    }

    /// Inserts one record (ETS `insert/2`): a set replaces the value under
    /// `key`; a bag adds `value` unless the same object is there; a
    /// duplicate bag always adds it.
    #[inline]
    pub fn insert(&self, key: K, value: V) -> Result<(), TableError> {
        let storage = self.check(Operation::Insert, KindNeed::Any)?;
        dispatch!(storage, store => store.insert(key, value));
        Ok(())
    }

    /// Inserts every record atomically: readers see all of them or none
    /// (ETS `insert/2` with a list). For a set, when several records share
    /// a key the last one stays.
    pub fn insert_many(&self, records: impl IntoIterator<Item = (K, V)>) -> Result<(), TableError> {
        let storage = self.check(Operation::Insert, KindNeed::Any)?;
        let records: Vec<(K, V)> = records.into_iter().collect();
        dispatch!(storage, store => store.insert_many(records));
        Ok(())
    }

    /// Inserts the record unless `key` is present (ETS `insert_new/2`).
    /// Returns whether it inserted.
    pub fn insert_new(&self, key: K, value: V) -> Result<bool, TableError> {
        let storage = self.check(Operation::InsertNew, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.insert_new(key, value)))
    }

    /// Inserts every record, atomically, unless any of their keys is
    /// present, in which case it inserts nothing and returns false.
    pub fn insert_new_many(
        &self,
        records: impl IntoIterator<Item = (K, V)>,
    ) -> Result<bool, TableError> {
        let storage = self.check(Operation::InsertNew, KindNeed::Any)?;
        let records: Vec<(K, V)> = records.into_iter().collect();
        Ok(dispatch!(storage, store => store.insert_new_many(records)))
    }

    /// Every value under `key` (ETS `lookup/2`): none or one for a set, in
    /// insertion order for a bag.
    pub fn lookup(&self, key: &K) -> Result<Vec<V>, TableError> {
        let storage = self.check(Operation::Lookup, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.lookup(key)))
    }

    /// The value under `key`, for a set (for a bag, the first value). Like
    /// `lookup` without allocating a `Vec`: the fast read.
    #[inline]
    pub fn get(&self, key: &K) -> Result<Option<V>, TableError> {
        let storage = self.check(Operation::Lookup, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.get(key)))
    }

    /// Whether any record has `key` (ETS `member/2`).
    pub fn member(&self, key: &K) -> Result<bool, TableError> {
        let storage = self.check(Operation::Member, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.member(key)))
    }

    /// Deletes every record with `key` (ETS `delete/2`); nothing if none.
    pub fn delete(&self, key: &K) -> Result<(), TableError> {
        let storage = self.check(Operation::Delete, KindNeed::Any)?;
        dispatch!(storage, store => store.delete(key));
        Ok(())
    }

    /// Deletes the object `(key, value)` exactly, every copy of it in a
    /// duplicate bag (ETS `delete_object/2`).
    pub fn delete_object(&self, key: &K, value: &V) -> Result<(), TableError> {
        let storage = self.check(Operation::DeleteObject, KindNeed::Any)?;
        dispatch!(storage, store => store.delete_object(key, value));
        Ok(())
    }

    /// Deletes and returns every value under `key` (ETS `take/2`).
    pub fn take(&self, key: &K) -> Result<Vec<V>, TableError> {
        let storage = self.check(Operation::Take, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.take(key)))
    }

    /// Atomically updates the counter in the value under `key` and returns
    /// its new value (ETS `update_counter/3,4`). If `key` is absent,
    /// `default` is inserted first; with no default that is
    /// `TableError::KeyNotFound`. Set and ordered set only.
    ///
    /// `update` is an increment (`5`, `-1`) or a [`CounterUpdate`] with a
    /// threshold. Arithmetic is in `i64`; a result that does not fit (or
    /// does not fit `V`'s counter) is `TableError::CounterOutOfRange` and
    /// changes nothing.
    pub fn update_counter(
        &self,
        key: &K,
        update: impl Into<CounterUpdate>,
        default: Option<V>,
    ) -> Result<i64, TableError>
    where
        V: Counter,
    {
        let storage = self.check(Operation::UpdateCounter, KindNeed::SetOrOrderedSet)?;
        let update = update.into();
        let change = |value: &mut V| -> Result<i64, String> {
            let current = value
                .counter()
                .ok_or_else(|| "the current value does not fit an i64".to_string())?;
            let next = update
                .apply(current)
                .ok_or_else(|| format!("{current} updated by {update:?} overflows an i64"))?;
            if value.set_counter(next) {
                Ok(next)
            } else {
                Err(format!("{next} does not fit the value's counter type"))
            }
        };
        let result = match storage {
            Storage::Set(store) => store.update(key, default, change),
            Storage::OrderedSet(store) => store.update(key, default, change),
            Storage::Bag(_) => unreachable!("checked: update_counter needs a set"),
        };
        match result {
            Ok(Some(counter)) => Ok(counter),
            Ok(None) => Err(TableError::KeyNotFound {
                table: self.shared.name.clone(),
                operation: Operation::UpdateCounter,
                key: format!("{key:?}"),
            }),
            Err(detail) => Err(TableError::CounterOutOfRange {
                table: self.shared.name.clone(),
                key: format!("{key:?}"),
                detail,
            }),
        }
    }

    /// Changes the value under `key` in place, atomically, and returns
    /// `change`'s result, or `None` if `key` is absent (ETS
    /// `update_element/3`, which replaces tuple positions; here `change`
    /// edits the value). Set and ordered set only.
    ///
    /// `change` runs with the key's stripe write-locked: keep it short, and
    /// it must not use this table (`TableError::CalledFromCallback`).
    pub fn update_element<R>(
        &self,
        key: &K,
        change: impl FnOnce(&mut V) -> R,
    ) -> Result<Option<R>, TableError> {
        let storage = self.check(Operation::UpdateElement, KindNeed::SetOrOrderedSet)?;
        let _scope = callback::enter(self.identity());
        let change = |value: &mut V| Ok::<R, std::convert::Infallible>(change(value));
        let result = match storage {
            Storage::Set(store) => store.update(key, None, change),
            Storage::OrderedSet(store) => store.update(key, None, change),
            Storage::Bag(_) => unreachable!("checked: update_element needs a set"),
        };
        match result {
            Ok(changed) => Ok(changed),
            Err(never) => match never {},
        }
    }

    /// The records with a key in `range` for which `predicate` holds (ETS
    /// `select/2` with a predicate instead of a match spec). Pass `..` for
    /// every key. An ordered set visits only the range, in key order; hash
    /// tables test every key against it.
    ///
    /// `predicate` runs with a stripe read-locked: it must not use this
    /// table (`TableError::CalledFromCallback`).
    pub fn select(
        &self,
        range: impl RangeBounds<K>,
        mut predicate: impl FnMut(&K, &V) -> bool,
    ) -> Result<Vec<(K, V)>, TableError> {
        self.select_map_limit(range, usize::MAX, |key, value| {
            predicate(key, value).then(|| (key.clone(), value.clone()))
        })
    }

    /// `select` that stops after `limit` records (the first chunk of ETS
    /// `select/3`). On an ordered set these are the first matches in key
    /// order; continue after the last key returned with
    /// `(Bound::Excluded(last), end)`. On hash tables which records come
    /// first is unspecified, and there is no continuation.
    pub fn select_limit(
        &self,
        range: impl RangeBounds<K>,
        limit: usize,
        mut predicate: impl FnMut(&K, &V) -> bool,
    ) -> Result<Vec<(K, V)>, TableError> {
        self.select_map_limit(range, limit, |key, value| {
            predicate(key, value).then(|| (key.clone(), value.clone()))
        })
    }

    /// `select` with a projection: keeps `project(key, value)` where it is
    /// `Some` (the match spec body of ETS `select/2`).
    pub fn select_map<T>(
        &self,
        range: impl RangeBounds<K>,
        project: impl FnMut(&K, &V) -> Option<T>,
    ) -> Result<Vec<T>, TableError> {
        self.select_map_limit(range, usize::MAX, project)
    }

    /// `select_map` that stops after `limit` items (as `select_limit`).
    pub fn select_map_limit<T>(
        &self,
        range: impl RangeBounds<K>,
        limit: usize,
        mut project: impl FnMut(&K, &V) -> Option<T>,
    ) -> Result<Vec<T>, TableError> {
        let storage = self.check(Operation::Select, KindNeed::Any)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let _scope = callback::enter(self.identity());
        let step = |mut selected: Vec<T>, key: &K, value: &V| {
            if let Some(item) = project(key, value) {
                selected.push(item);
                if selected.len() >= limit {
                    return ControlFlow::Break(selected);
                }
            }
            ControlFlow::Continue(selected)
        };
        Ok(dispatch!(storage, store => store.fold_while(&range, Vec::new(), step)))
    }

    /// How many records in `range` satisfy `predicate` (ETS
    /// `select_count/2`). Same rules as `select`.
    pub fn select_count(
        &self,
        range: impl RangeBounds<K>,
        mut predicate: impl FnMut(&K, &V) -> bool,
    ) -> Result<usize, TableError> {
        let storage = self.check(Operation::SelectCount, KindNeed::Any)?;
        let _scope = callback::enter(self.identity());
        let step = |count: usize, key: &K, value: &V| {
            ControlFlow::Continue(count + usize::from(predicate(key, value)))
        };
        Ok(dispatch!(storage, store => store.fold_while(&range, 0, step)))
    }

    /// Deletes the records in `range` that satisfy `predicate` and returns
    /// how many (ETS `select_delete/2`). Each stripe is write-locked while
    /// it is filtered; same callback rule as `select`.
    pub fn select_delete(
        &self,
        range: impl RangeBounds<K>,
        predicate: impl FnMut(&K, &V) -> bool,
    ) -> Result<usize, TableError> {
        let storage = self.check(Operation::SelectDelete, KindNeed::Any)?;
        let _scope = callback::enter(self.identity());
        Ok(dispatch!(storage, store => store.select_delete(&range, predicate)))
    }

    fn ordered(&self, operation: Operation) -> Result<&crate::storage::Ordered<K, V>, TableError> {
        match self.check(operation, KindNeed::OrderedSet)? {
            Storage::OrderedSet(ordered) => Ok(ordered),
            _ => unreachable!("checked: {operation} needs an ordered_set"),
        }
    }

    /// The smallest key (ETS `first/1`), ordered set only. ETS also walks
    /// hash tables with `first`/`next`; here use `fold` or `to_vec`.
    pub fn first(&self) -> Result<Option<K>, TableError> {
        Ok(self.ordered(Operation::First)?.first())
    }

    /// The largest key (ETS `last/1`), ordered set only.
    pub fn last(&self) -> Result<Option<K>, TableError> {
        Ok(self.ordered(Operation::Last)?.last())
    }

    /// The smallest key after `key`, present or not (ETS `next/2`),
    /// ordered set only. `None` at the end.
    pub fn next(&self, key: &K) -> Result<Option<K>, TableError> {
        Ok(self.ordered(Operation::Next)?.next(key))
    }

    /// The largest key before `key`, present or not (ETS `prev/2`),
    /// ordered set only. `None` at the start.
    pub fn prev(&self, key: &K) -> Result<Option<K>, TableError> {
        Ok(self.ordered(Operation::Prev)?.prev(key))
    }

    /// Folds `step` over every record (ETS `foldl/3`): in key order for an
    /// ordered set, unspecified otherwise. `step` runs with a stripe
    /// read-locked; same callback rule as `select`.
    pub fn fold<A>(&self, init: A, mut step: impl FnMut(A, &K, &V) -> A) -> Result<A, TableError> {
        let storage = self.check(Operation::Fold, KindNeed::Any)?;
        let _scope = callback::enter(self.identity());
        let step =
            |accumulator, key: &K, value: &V| ControlFlow::Continue(step(accumulator, key, value));
        Ok(dispatch!(storage, store => store.fold_while(&.., init, step)))
    }

    /// Every record (ETS `tab2list/1`), in key order for an ordered set.
    pub fn to_vec(&self) -> Result<Vec<(K, V)>, TableError> {
        let storage = self.check(Operation::ToVec, KindNeed::Any)?;
        let step = |mut records: Vec<(K, V)>, key: &K, value: &V| {
            records.push((key.clone(), value.clone()));
            ControlFlow::Continue(records)
        };
        Ok(dispatch!(storage, store => store.fold_while(&.., Vec::new(), step)))
    }

    /// Deletes every record, atomically for readers (ETS
    /// `delete_all_objects/1`).
    pub fn clear(&self) -> Result<(), TableError> {
        let storage = self.check(Operation::Clear, KindNeed::Any)?;
        dispatch!(storage, store => store.clear());
        Ok(())
    }

    /// Objects in the table (ETS `info(Tab, size)`); any handle may ask.
    pub fn size(&self) -> Result<usize, TableError> {
        let storage = self.check(Operation::Info, KindNeed::Any)?;
        Ok(dispatch!(storage, store => store.size()))
    }

    /// The table's properties (ETS `info/1`); any handle may ask, even of a
    /// private table.
    pub fn info(&self) -> Result<TableInfo, TableError> {
        let storage = self.check(Operation::Info, KindNeed::Any)?;
        let (owner, heir) = {
            let state = self.shared.owner.lock();
            (
                state.owner.get_id(),
                state.heir.as_ref().map(Recipient::actor),
            )
        };
        Ok(TableInfo {
            name: self.shared.name.clone(),
            named: self.shared.named,
            kind: self.shared.kind,
            access: self.shared.access,
            size: dispatch!(storage, store => store.size()),
            memory_bytes: dispatch!(storage, store => store.memory_bytes())
                + std::mem::size_of::<Shared<K, V>>(),
            owner,
            heir,
            stripes: storage.stripe_count(),
        })
    }

    /// Deletes the table (ETS `delete/1`): its records are dropped, its
    /// name is freed, and every handle then gets `TableError::Deleted`.
    /// Needs write access (owner rights unless public).
    pub fn delete_table(&self) -> Result<(), TableError> {
        self.check(Operation::DeleteTable, KindNeed::Any)?;
        ownership::delete(&self.shared, DeleteReason::Deleted);
        Ok(())
    }

    /// Makes `recipient` the owner and sends it a [`crate::Transfer`]
    /// (ETS `give_away/3`). Needs owner rights, which this handle (and
    /// every clone) then loses. The heir, if any, stays.
    ///
    /// Errors: `Deleted`, `NotOwner`, `RecipientNotAlive`,
    /// `RecipientIsOwner`, `CalledFromCallback`.
    pub fn give_away(&self, recipient: Recipient<K, V>) -> Result<(), TableError> {
        if callback::is_running(self.identity()) {
            return Err(self.error_in_callback(Operation::GiveAway));
        }
        ownership::give_away(&self.shared, self.owner_epoch, recipient)
    }

    /// Names the heir, or removes it with `None` (ETS `setopts(Tab,
    /// {heir, ...})`). Needs owner rights; the heir must be alive.
    pub fn set_heir(&self, heir: Option<Recipient<K, V>>) -> Result<(), TableError> {
        if callback::is_running(self.identity()) {
            return Err(self.error_in_callback(Operation::SetHeir));
        }
        ownership::set_heir(&self.shared, self.owner_epoch, heir)
    }
}
