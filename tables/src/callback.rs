//! Guard against a callback calling into the table that is running it.
//!
//! `select` predicates, `fold` functions and `update_element` changes run
//! with a stripe locked (so that they see a consistent stripe without copying
//! it). If one called back into the same table it could deadlock: a write
//! waits for the callback's own read lock, or a read waits behind a writer
//! that waits for the callback. So each thread keeps the tables whose
//! callbacks it is running, and every operation on one of them returns
//! `TableError::CalledFromCallback` instead. Calls into other tables are
//! fine.

use std::cell::{Cell, RefCell};

thread_local! {
    /// How many callbacks this thread is running (the length of
    /// `RUNNING`), so that the check every operation makes is one load.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Identities (addresses of the shared state) of the tables whose
    /// callbacks this thread is running, innermost last. Unbounded: its
    /// length is the nesting depth of callbacks on this thread's stack.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is running a callback of table `table`.
#[inline]
pub(crate) fn is_running(table: usize) -> bool {
    DEPTH.get() != 0 && RUNNING.with_borrow(|running| running.contains(&table))
}

/// Marks this thread as running a callback of `table` until dropped
/// (also when the callback panics).
pub(crate) struct CallbackScope(());

pub(crate) fn enter(table: usize) -> CallbackScope {
    RUNNING.with_borrow_mut(|running| running.push(table));
    DEPTH.set(DEPTH.get() + 1);
    CallbackScope(())
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
        RUNNING.with_borrow_mut(|running| {
            running.pop();
        });
    }
}
