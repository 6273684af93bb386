//! `TableInfo`: what `Table::info` reports (ETS `info/1`).

use ractor::ActorId;

use crate::error::TableName;
use crate::kind::TableKind;
use crate::ownership::Access;

/// A snapshot of a table's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The name given at creation.
    pub name: TableName,
    /// Whether the name is registered on the node (`named_table`).
    pub named: bool,
    /// Set, ordered set, bag or duplicate bag.
    pub kind: TableKind,
    /// Who may read and write.
    pub access: Access,
    /// Objects in the table (for bags, every value counts).
    pub size: usize,
    /// Estimated bytes held by the table's structure: hash tables (exact
    /// allocation sizes), B-tree nodes (estimated from the record size),
    /// bag value lists, locks. Not counted: heap data that keys and values
    /// own themselves (a `String`'s bytes), which the table cannot see.
    /// ETS reports words of everything; this is bytes of the structure.
    pub memory_bytes: usize,
    /// The owning actor.
    pub owner: ActorId,
    /// The actor that takes the table when the owner stops, if any.
    pub heir: Option<ActorId>,
    /// Hash stripes (1 for an ordered set).
    pub stripes: usize,
}
