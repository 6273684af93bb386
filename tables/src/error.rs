//! `TableError`: every way a table operation can fail, with the table's
//! name, and the key or actor where one is involved.
//!
//! ETS answers most of these with `badarg`; here each cause is its own
//! variant, and the message says which table, which operation and why.

use std::fmt;
use std::sync::Arc;

use ractor::ActorId;

use crate::kind::TableKind;
use crate::ownership::Access;

/// A table's name, as given at creation (cheap to clone into errors).
pub type TableName = Arc<str>;

/// A table operation, named as in ETS where ETS has the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `insert`.
    Insert,
    /// `insert_new`.
    InsertNew,
    /// `lookup`.
    Lookup,
    /// `member`.
    Member,
    /// `delete`.
    Delete,
    /// `delete_object`.
    DeleteObject,
    /// `take`.
    Take,
    /// `update_counter`.
    UpdateCounter,
    /// `update_element`.
    UpdateElement,
    /// `select`.
    Select,
    /// `select_count`.
    SelectCount,
    /// `select_delete`.
    SelectDelete,
    /// `first`.
    First,
    /// `next`.
    Next,
    /// `last`.
    Last,
    /// `prev`.
    Prev,
    /// `foldl`.
    Fold,
    /// `tab2list`.
    ToVec,
    /// `delete_all_objects`.
    Clear,
    /// `info`.
    Info,
    /// `delete`.
    DeleteTable,
    /// `give_away`.
    GiveAway,
    /// `setopts(heir)`.
    SetHeir,
}

impl Operation {
    /// The ETS function name (`insert_new`, `delete_all_objects`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::InsertNew => "insert_new",
            Self::Lookup => "lookup",
            Self::Member => "member",
            Self::Delete => "delete",
            Self::DeleteObject => "delete_object",
            Self::Take => "take",
            Self::UpdateCounter => "update_counter",
            Self::UpdateElement => "update_element",
            Self::Select => "select",
            Self::SelectCount => "select_count",
            Self::SelectDelete => "select_delete",
            Self::First => "first",
            Self::Next => "next",
            Self::Last => "last",
            Self::Prev => "prev",
            Self::Fold => "foldl",
            Self::ToVec => "tab2list",
            Self::Clear => "delete_all_objects",
            Self::Info => "info",
            Self::DeleteTable => "delete",
            Self::GiveAway => "give_away",
            Self::SetHeir => "setopts(heir)",
        }
    }

    /// Whether the operation changes records (and so needs write access).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Self::Insert
                | Self::InsertNew
                | Self::Delete
                | Self::DeleteObject
                | Self::Take
                | Self::UpdateCounter
                | Self::UpdateElement
                | Self::SelectDelete
                | Self::Clear
                | Self::DeleteTable
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Why a table no longer exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// `Table::delete_table` was called.
    Deleted,
    /// The owner stopped and there was no live heir to take the table.
    OwnerStopped {
        /// The owner that stopped.
        owner: ActorId,
    },
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deleted => formatter.write_str("delete_table was called"),
            Self::OwnerStopped { owner } => {
                write!(
                    formatter,
                    "its owner {owner} stopped and no live heir took it"
                )
            }
        }
    }
}

/// Why a handle may not do what it asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRights {
    /// The handle never had owner rights (it came from `whereis`,
    /// `without_owner_rights`, or a clone of such a handle).
    NotOwner,
    /// The handle had owner rights, and lost them when ownership passed to
    /// another actor (`give_away`, or the heir taking over).
    OwnershipPassed,
}

impl fmt::Display for MissingRights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::NotOwner => "this handle has no owner rights",
            Self::OwnershipPassed => {
                "this handle's owner rights ended when ownership passed to another actor"
            }
        })
    }
}

/// A failed table operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The table was deleted; every handle to it now gets this error.
    /// (ETS: `badarg`, the table identifier is no longer valid.)
    #[error("table \"{table}\" no longer exists: {reason}")]
    Deleted {
        /// The table.
        table: TableName,
        /// Why it no longer exists.
        reason: DeleteReason,
    },

    /// The access mode forbids this handle the operation: writes to a
    /// protected table, and anything on a private one, need owner rights.
    #[error("table \"{table}\" is {access}: {operation} needs the owner's handle, and {rights}")]
    AccessDenied {
        /// The table.
        table: TableName,
        /// Its access mode.
        access: Access,
        /// The operation asked for.
        operation: Operation,
        /// Why this handle lacks the rights.
        rights: MissingRights,
    },

    /// Only the owner may give a table away or name its heir, whatever the
    /// access mode.
    #[error("table \"{table}\": only the owner may {operation}, and {rights}")]
    NotOwner {
        /// The table.
        table: TableName,
        /// The operation asked for.
        operation: Operation,
        /// Why this handle lacks the rights.
        rights: MissingRights,
    },

    /// The operation does not exist for this kind of table (for example
    /// `next` on a `set`, `update_counter` on a `bag`).
    #[error("table \"{table}\" is a {kind}: {operation} needs {needs}")]
    WrongKind {
        /// The table.
        table: TableName,
        /// Its kind.
        kind: TableKind,
        /// The operation asked for.
        operation: Operation,
        /// The kinds that have the operation.
        needs: &'static str,
    },

    /// `update_counter` (without a default) or a similar operation found no
    /// record under the key.
    #[error("table \"{table}\": {operation} found no record with key {key}")]
    KeyNotFound {
        /// The table.
        table: TableName,
        /// The operation asked for.
        operation: Operation,
        /// The key, printed with `Debug`.
        key: String,
    },

    /// The counter's current value, or the updated one, does not fit
    /// (`i64` for arithmetic, then the value's own type).
    #[error("table \"{table}\": update_counter at key {key}: {detail}")]
    CounterOutOfRange {
        /// The table.
        table: TableName,
        /// The key, printed with `Debug`.
        key: String,
        /// What did not fit.
        detail: String,
    },

    /// A callback given to an operation (a `select` predicate, a `fold`
    /// function, an `update_element` change) called into the same table.
    /// The callback runs with a stripe locked, so that call would deadlock.
    #[error(
        "table \"{table}\": {operation} was called from inside a callback running on the same table (it would deadlock)"
    )]
    CalledFromCallback {
        /// The table.
        table: TableName,
        /// The operation asked for.
        operation: Operation,
    },

    /// A named table already has this name on this node.
    #[error("a named table \"{name}\" already exists on this node")]
    NameTaken {
        /// The name.
        name: TableName,
    },

    /// No named table has this name on this node (ETS `whereis` gives
    /// `undefined`).
    #[error("no named table \"{name}\" on this node")]
    NoTable {
        /// The name.
        name: TableName,
    },

    /// The named table exists but holds other key or value types.
    #[error("named table \"{name}\" is a Table<{actual}>, not a Table<{expected}>")]
    TypeMismatch {
        /// The name.
        name: TableName,
        /// The key and value types asked for.
        expected: &'static str,
        /// The key and value types it holds.
        actual: &'static str,
    },

    /// The owner given at creation has already stopped.
    #[error("table \"{table}\": owner {owner} is not alive")]
    OwnerNotAlive {
        /// The table.
        table: TableName,
        /// The owner.
        owner: ActorId,
    },

    /// `give_away` or an heir named an actor that has stopped.
    #[error("table \"{table}\": cannot {operation} to {recipient}: it is not alive")]
    RecipientNotAlive {
        /// The table.
        table: TableName,
        /// The operation asked for.
        operation: Operation,
        /// The actor named.
        recipient: ActorId,
    },

    /// `give_away` to the current owner (ETS: `badarg`).
    #[error("table \"{table}\": cannot give_away to {recipient}: it already owns the table")]
    RecipientIsOwner {
        /// The table.
        table: TableName,
        /// The actor named.
        recipient: ActorId,
    },

    /// Tables watch their owner with a task on a tokio runtime, so a table
    /// must be created from inside one (as every actor runs).
    #[error("table \"{table}\": creating a table needs a tokio runtime (create it from an actor or a runtime thread)")]
    NoRuntime {
        /// The table.
        table: TableName,
    },

    /// An option outside its bounds.
    #[error("table \"{table}\": option {option} = {value} is outside {bounds}")]
    InvalidOption {
        /// The table.
        table: TableName,
        /// The option.
        option: &'static str,
        /// The value given.
        value: usize,
        /// The values allowed.
        bounds: &'static str,
    },
}
