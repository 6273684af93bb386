//! bream-tables: ETS-like tables owned by actors.
//!
//! A [`Table<K, V>`] holds records `(K, V)` in one of the four ETS kinds
//! ([`TableKind`]: set, ordered set, bag, duplicate bag) and offers the ETS
//! operations: `insert` (one or many, atomically), `insert_new`, `lookup`
//! and `get`, `member`, `delete`, `delete_object`, `take`, `update_counter`,
//! `update_element`, `select` / `select_count` / `select_delete` with a
//! predicate and a key range, `first` / `next` / `last` / `prev` on ordered
//! sets, `fold`, `to_vec`, `clear`, `info`.
//!
//! Reads and writes run on the caller's thread against shared, striped
//! storage: no message and no await, as ETS reads are plain memory reads.
//! Every table has an owner actor; when it stops the table is deleted or
//! passes to its heir ([`ownership`]). Access is public, protected or
//! private, enforced through owner rights carried by handles.
//!
//! ```
//! use bream_tables::{Access, Table, TableOptions};
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//!
//! struct Owner;
//! struct Never;
//! impl ractor::Message for Never {}
//!
//! impl Actor for Owner {
//!     type Msg = Never;
//!     type State = ();
//!     type Arguments = ();
//!     async fn pre_start(&self, _: ActorRef<Never>, _: ()) -> Result<(), ActorProcessingErr> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (owner, _) = Actor::spawn(None, Owner, ()).await?;
//! let visits: Table<String, u64> =
//!     Table::new("visits", &owner, TableOptions::set().named_table())?;
//! visits.insert("home".to_string(), 1)?;
//! assert_eq!(visits.update_counter(&"home".to_string(), 1, None)?, 2);
//!
//! // Any actor can find it by name and read; it is protected, so only the
//! // owner's handle writes.
//! let reader = Table::<String, u64>::whereis("visits")?;
//! assert_eq!(reader.get(&"home".to_string())?, Some(2));
//! assert!(reader.insert("away".to_string(), 1).is_err());
//! assert_eq!(reader.access(), Access::Protected);
//! # owner.stop(None);
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`table`]: the handle and the operations.
//! - [`ownership`]: owner, heir, `give_away`, access modes, and how a call
//!   knows who is calling.
//! - [`named`]: the node's registry of named tables (`whereis`).
//! - `storage`: the striped data structures, and the measurements that
//!   chose them.
//! - [`counter`]: what `update_counter` can count.
//!
//! # Differences from ETS
//!
//! - Records are `(K, V)` with typed keys and values, not tuples with a key
//!   position; a table's kind is still chosen at run time.
//! - Owner rights travel with handles rather than being checked against
//!   the calling process (see [`ownership`]).
//! - `lookup` returns a `Vec`; `get` returns the one value of a set without
//!   allocating.
//! - `select` takes a key range and a Rust predicate instead of a match
//!   spec; there is no continuation (`select/3`) yet.
//! - `first` / `next` work on ordered sets only.
//! - `update_counter` counts in `i64`, not bignums ([`counter`]).
//! - Callbacks (predicates, `fold` steps, `update_element` changes) run
//!   with a stripe locked and must not use the same table: such a call
//!   returns `TableError::CalledFromCallback` rather than deadlocking.
//! - Memory is reported in bytes of structure, not words of everything
//!   ([`TableInfo::memory_bytes`]).
//!
//! Replication across nodes (CETS semantics) is in [`replicated`].

mod callback;
pub mod counter;
mod error;
mod info;
mod kind;
pub mod named;
mod options;
pub mod ownership;
mod record;
pub mod replicated;
mod storage;
pub mod table;

pub use counter::{Counter, CounterUpdate};
pub use error::{DeleteReason, MissingRights, Operation, TableError, TableName};
pub use info::TableInfo;
pub use kind::TableKind;
pub use named::{named_tables, whereis};
pub use options::{TableOptions, STRIPES_DEFAULT, STRIPES_MAX};
pub use ownership::{Access, Recipient, Transfer, TransferReason};
pub use record::{Key, Value};
pub use table::Table;
