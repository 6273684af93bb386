//! `TableOptions`: what `Table::new` takes, each option with its default.
//!
//! ```text
//! option        default       ETS equivalent
//! kind          Set           set | ordered_set | bag | duplicate_bag
//! access        Protected     public | protected | private
//! named_table   off           named_table
//! heir          none          {heir, Pid, HeirData}
//! stripes        64            (write_concurrency; ETS picks its own lock count)
//! ```

use std::fmt;

use crate::kind::TableKind;
use crate::ownership::{Access, Recipient};

/// Default hash stripes per set or bag table. 64 keeps two writers on
/// different keys apart (1 in 64 chance of sharing a stripe) for about 9 KB
/// of locks per table; a program with many tiny tables may want fewer.
pub const STRIPES_DEFAULT: usize = 64;

/// Most hash stripes a table may have. Each costs a 128-byte lock plus
/// 4 bytes per reader slot, and walks (`fold`, `select`, `size`) visit
/// every stripe, so more than this only costs.
pub const STRIPES_MAX: usize = 1024;

const _: () = assert!(STRIPES_DEFAULT.is_power_of_two() && STRIPES_DEFAULT <= STRIPES_MAX);
const _: () = assert!(STRIPES_MAX.is_power_of_two());

/// Options for `Table::new`. Start from [`TableOptions::new`] (or the
/// per-kind shorthands) and chain.
pub struct TableOptions<K, V> {
    pub(crate) kind: TableKind,
    pub(crate) access: Access,
    pub(crate) named: bool,
    pub(crate) heir: Option<Recipient<K, V>>,
    pub(crate) stripes: usize,
}

impl<K, V> TableOptions<K, V> {
    /// A `kind` table with the defaults above.
    pub fn new(kind: TableKind) -> Self {
        Self {
            kind,
            access: Access::default(),
            named: false,
            heir: None,
            stripes: STRIPES_DEFAULT,
        }
    }

    /// A `set`: one record per key.
    pub fn set() -> Self {
        Self::new(TableKind::Set)
    }

    /// An `ordered_set`: one record per key, in key order.
    pub fn ordered_set() -> Self {
        Self::new(TableKind::OrderedSet)
    }

    /// A `bag`: several distinct records per key.
    pub fn bag() -> Self {
        Self::new(TableKind::Bag)
    }

    /// A `duplicate_bag`: several records per key, duplicates kept.
    pub fn duplicate_bag() -> Self {
        Self::new(TableKind::DuplicateBag)
    }

    /// With the access mode `access` (default protected).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Register the table's name on the node, so `whereis` finds it; the
    /// name must be free (`TableError::NameTaken`).
    pub fn named_table(mut self) -> Self {
        self.named = true;
        self
    }

    /// The actor that takes the table when the owner stops. It must be
    /// alive now (`TableError::RecipientNotAlive`) and then.
    pub fn heir(mut self, heir: Recipient<K, V>) -> Self {
        self.heir = Some(heir);
        self
    }

    /// Hash stripes, in `1..=STRIPES_MAX`, rounded up to a power of two
    /// (`TableError::InvalidOption` outside). Ignored by ordered sets,
    /// which have one B-tree.
    pub fn stripes(mut self, stripes: usize) -> Self {
        self.stripes = stripes;
        self
    }
}

impl<K, V> Default for TableOptions<K, V> {
    fn default() -> Self {
        Self::new(TableKind::default())
    }
}

impl<K, V> fmt::Debug for TableOptions<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TableOptions")
            .field("kind", &self.kind)
            .field("access", &self.access)
            .field("named", &self.named)
            .field("heir", &self.heir)
            .field("stripes", &self.stripes)
            .finish()
    }
}
