//! `TableKind`: the four ETS table types.

use std::fmt;

/// How a table treats keys: the ETS table types.
///
/// | kind           | per key                                  | order              |
/// |----------------|------------------------------------------|--------------------|
/// | `Set`          | one value; an insert replaces it         | unspecified        |
/// | `OrderedSet`   | one value; an insert replaces it         | by key (`Ord`)     |
/// | `Bag`          | distinct values, in insertion order      | unspecified        |
/// | `DuplicateBag` | any values, repeats kept, insertion order | unspecified       |
///
/// ETS's `ordered_set` compares keys with `==` (so `1` and `1.0` are one
/// key); here keys are one Rust type and `Ord` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TableKind {
    /// ETS `set`, the default.
    #[default]
    Set,
    /// ETS `ordered_set`.
    OrderedSet,
    /// ETS `bag`.
    Bag,
    /// ETS `duplicate_bag`.
    DuplicateBag,
}

impl TableKind {
    /// The ETS name: `set`, `ordered_set`, `bag`, `duplicate_bag`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::OrderedSet => "ordered_set",
            Self::Bag => "bag",
            Self::DuplicateBag => "duplicate_bag",
        }
    }

    /// Whether a key holds at most one value (`set`, `ordered_set`).
    pub fn is_set(self) -> bool {
        matches!(self, Self::Set | Self::OrderedSet)
    }
}

impl fmt::Display for TableKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}
