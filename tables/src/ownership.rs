//! Who owns a table, who may read and write it, and what happens when the
//! owner stops.
//!
//! # Owner and heir
//!
//! Every table has an owner actor (a ractor `ActorCell`). When the owner
//! stops, for any reason, the table is deleted, unless an heir is named and
//! alive: then the heir becomes the owner and is told with a [`Transfer`]
//! message, the typed form of ETS's `{'ETS-TRANSFER', Tab, FromPid,
//! HeirData}`. The heir is used once: after taking over, the table has no
//! heir until its new owner names one. `Table::give_away` passes ownership
//! to a live actor the same way (ETS `give_away/3`).
//!
//! The owner is watched by `watch_owner`, for now a tokio task awaiting
//! `ActorCell::wait`; it is the one place to change when the runtime's
//! monitors take over. The watch is cancelled when ownership passes on or
//! the table is deleted.
//!
//! # Access: how a call knows who is calling
//!
//! ETS checks the calling process. Rust has no implicit current actor, so
//! Bream makes the owner's rights a capability: the `Table` handle returned
//! by `Table::new` (and the one in a `Transfer`) carries owner rights;
//! `Table::without_owner_rights` and `whereis` give handles without them.
//! Cloning a handle clones its rights, so an owner can share them with its
//! own tasks; hand other actors `without_owner_rights()`.
//!
//! | access      | reads                    | writes                   |
//! |-------------|--------------------------|--------------------------|
//! | `Public`    | any handle               | any handle               |
//! | `Protected` | any handle               | owner rights             |
//! | `Private`   | owner rights             | owner rights             |
//!
//! Rights are checked against an ownership epoch that grows each time
//! ownership passes on, so an old owner's handles lose their rights the
//! moment the table changes hands. `give_away` and naming an heir need
//! owner rights whatever the access mode. A denied call returns
//! `TableError::AccessDenied` naming the table, the access mode, the
//! operation, and whether the handle never had rights or lost them.
//!
//! Differences from ETS: rights follow the handle, not the calling actor
//! (a task holding the owner's handle writes as the owner); and an owner
//! stopping is noticed by the watch task shortly after, not atomically
//! with the exit.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ractor::{ActorCell, ActorId, ActorRef, ActorStatus};
use tokio::runtime::Handle;

use crate::error::{DeleteReason, MissingRights, Operation, TableError};
use crate::record::{Key, Value};
use crate::table::{Shared, Table};

/// Who may read and write a table (ETS access modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Access {
    /// Any handle reads and writes.
    Public,
    /// Any handle reads; only a handle with owner rights writes. The
    /// default, as in ETS.
    #[default]
    Protected,
    /// Only a handle with owner rights reads or writes.
    Private,
}

impl fmt::Display for Access {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Public => "public",
            Self::Protected => "protected",
            Self::Private => "private",
        })
    }
}

/// Why a table changed hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferReason {
    /// The previous owner stopped and this actor was its heir.
    OwnerStopped,
    /// The previous owner called `Table::give_away`.
    GiveAway,
}

/// Told to an actor that has just become a table's owner.
pub struct Transfer<K, V> {
    /// The table, with owner rights for the new owner.
    /// The table, with owner rights for its new owner.
    pub table: Table<K, V>,
    /// The previous owner.
    pub from: ActorId,
    /// Why it changed hands.
    pub reason: TransferReason,
}

impl<K: Key, V: Value> fmt::Debug for Transfer<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Transfer")
            .field("table", &self.table)
            .field("from", &self.from)
            .field("reason", &self.reason)
            .finish()
    }
}

type Notify<K, V> = Box<dyn FnOnce(Transfer<K, V>) -> bool + Send>;

/// An actor that can receive a table (as heir or by `give_away`), and how
/// to tell it: a function from [`Transfer`] to the actor's message type.
/// Whatever ETS would carry as `HeirData` or `GiftData` goes in the
/// function's captures.
pub struct Recipient<K, V> {
    actor: ActorCell,
    notify: Notify<K, V>,
}

impl<K: Key, V: Value> Recipient<K, V> {
    /// `actor` receives `to_message(transfer)` when it gets the table.
    pub fn new<M: ractor::Message>(
        actor: &ActorRef<M>,
        to_message: impl FnOnce(Transfer<K, V>) -> M + Send + 'static,
    ) -> Self {
        let target = actor.clone();
        Self {
            actor: actor.get_cell(),
            notify: Box::new(move |transfer| target.send_message(to_message(transfer)).is_ok()),
        }
    }

    /// `actor` receives `M::from(transfer)`.
    pub fn from_ref<M: ractor::Message + From<Transfer<K, V>>>(actor: &ActorRef<M>) -> Self {
        Self::new(actor, M::from)
    }

    /// The recipient's actor id.
    pub fn actor(&self) -> ActorId {
        self.actor.get_id()
    }

    pub(crate) fn is_alive(&self) -> bool {
        is_alive(&self.actor)
    }
}

impl<K, V> fmt::Debug for Recipient<K, V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Recipient")
            .field("actor", &self.actor.get_id())
            .finish_non_exhaustive()
    }
}

/// Ownership state, behind `Shared::owner` (a mutex taken only by
/// ownership changes and deletion, never by record operations).
pub(crate) struct OwnerState<K, V> {
    pub(crate) owner: ActorCell,
    pub(crate) heir: Option<Recipient<K, V>>,
    watch: Option<OwnerWatch>,
}

impl<K, V> OwnerState<K, V> {
    pub(crate) fn new(owner: ActorCell, heir: Option<Recipient<K, V>>) -> Self {
        Self {
            owner,
            heir,
            watch: None,
        }
    }
}

/// A running watch on an owner; dropping it cancels the watch.
struct OwnerWatch(tokio::task::AbortHandle);

impl Drop for OwnerWatch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Calls `on_exit` once `owner` has stopped (at once if it already has).
///
/// A tokio task awaiting `ActorCell::wait` for now; the runtime's monitor
/// API replaces it here, and only here.
fn watch_owner(
    runtime: &Handle,
    owner: ActorCell,
    on_exit: impl FnOnce() + Send + 'static,
) -> OwnerWatch {
    let task = runtime.spawn(async move {
        // No deadline, on purpose: this is not a wait for an answer but a
        // watch that lasts exactly as long as the owner. Without a timeout
        // `wait` only returns once the actor has stopped.
        let _stopped = owner.wait(None).await;
        on_exit();
    });
    OwnerWatch(task.abort_handle())
}

pub(crate) fn is_alive(actor: &ActorCell) -> bool {
    actor.get_status() < ActorStatus::Stopping
}

/// Starts watching the owner recorded in `state`. Called once at creation,
/// then by every change of owner.
pub(crate) fn start_watch<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    state: &mut OwnerState<K, V>,
    epoch: u64,
) {
    let watched = Arc::clone(shared);
    state.watch = Some(watch_owner(
        &shared.runtime,
        state.owner.clone(),
        move || on_owner_exit(&watched, epoch),
    ));
}

/// The owner watched since `epoch` stopped: pass the table to a live heir,
/// or delete it.
fn on_owner_exit<K: Key, V: Value>(shared: &Arc<Shared<K, V>>, epoch: u64) {
    let mut state = shared.owner.lock();
    if shared.deleted.get().is_some() || shared.owner_epoch.load(Ordering::Acquire) != epoch {
        return; // Ownership moved on before this owner stopped.
    }
    let previous = state.owner.get_id();
    if let Some(heir) = state.heir.take() {
        if is_alive(&heir.actor) && heir.actor.get_id() != previous {
            let table = pass_ownership(shared, &mut state, heir.actor.clone());
            drop(state);
            deliver(shared, heir, table, previous, TransferReason::OwnerStopped);
            return;
        }
        tracing::debug!(
            table = %shared.name, heir = %heir.actor.get_id(),
            "owner stopped and the heir is not alive; deleting the table"
        );
    }
    delete_locked(
        shared,
        &mut state,
        DeleteReason::OwnerStopped { owner: previous },
    );
}

/// Makes `new_owner` the owner; returns its handle with owner rights.
fn pass_ownership<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    state: &mut OwnerState<K, V>,
    new_owner: ActorCell,
) -> Table<K, V> {
    let epoch = shared.owner_epoch.fetch_add(1, Ordering::AcqRel) + 1;
    state.owner = new_owner;
    // Replacing the watch cancels the previous owner's.
    start_watch(shared, state, epoch);
    Table::from_shared(Arc::clone(shared), Some(epoch))
}

fn deliver<K: Key, V: Value>(
    shared: &Shared<K, V>,
    recipient: Recipient<K, V>,
    table: Table<K, V>,
    from: ActorId,
    reason: TransferReason,
) {
    let to = recipient.actor.get_id();
    let delivered = (recipient.notify)(Transfer {
        table,
        from,
        reason,
    });
    if delivered {
        tracing::debug!(table = %shared.name, %from, %to, ?reason, "table changed owner");
    } else {
        // The new owner is stopping; its watch deletes the table.
        tracing::warn!(table = %shared.name, %from, %to, ?reason,
            "table changed owner but the new owner's mailbox is closed");
    }
}

/// Deletes the table: every handle then gets `TableError::Deleted`, the
/// name is freed, and the records are dropped.
pub(crate) fn delete<K: Key, V: Value>(shared: &Arc<Shared<K, V>>, reason: DeleteReason) {
    let mut state = shared.owner.lock();
    delete_locked(shared, &mut state, reason);
}

fn delete_locked<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    state: &mut OwnerState<K, V>,
    reason: DeleteReason,
) {
    if shared.deleted.set(reason).is_err() {
        return; // Already deleted.
    }
    // Revoke owner rights, cancel the watch (possibly the running task:
    // it is finishing anyway) and drop the heir.
    shared.owner_epoch.fetch_add(1, Ordering::AcqRel);
    state.watch = None;
    state.heir = None;
    if shared.named {
        crate::named::unregister(&shared.name, shared);
    }
    shared.clear_storage();
    tracing::debug!(table = %shared.name, %reason, "table deleted");
}

/// Whether `epoch` (a handle's) still carries owner rights.
pub(crate) fn rights<K, V>(
    shared: &Shared<K, V>,
    handle_epoch: Option<u64>,
) -> Result<(), MissingRights> {
    match handle_epoch {
        None => Err(MissingRights::NotOwner),
        Some(epoch) if epoch == shared.owner_epoch.load(Ordering::Acquire) => Ok(()),
        Some(_) => Err(MissingRights::OwnershipPassed),
    }
}

/// `Table::give_away`: checks, then passes ownership and tells `recipient`.
pub(crate) fn give_away<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    handle_epoch: Option<u64>,
    recipient: Recipient<K, V>,
) -> Result<(), TableError> {
    let mut state = shared.owner.lock();
    shared.check_alive()?;
    rights(shared, handle_epoch).map_err(|rights| TableError::NotOwner {
        table: shared.name.clone(),
        operation: Operation::GiveAway,
        rights,
    })?;
    if !is_alive(&recipient.actor) {
        return Err(TableError::RecipientNotAlive {
            table: shared.name.clone(),
            operation: Operation::GiveAway,
            recipient: recipient.actor.get_id(),
        });
    }
    let from = state.owner.get_id();
    if recipient.actor.get_id() == from {
        return Err(TableError::RecipientIsOwner {
            table: shared.name.clone(),
            recipient: from,
        });
    }
    let table = pass_ownership(shared, &mut state, recipient.actor.clone());
    drop(state);
    deliver(shared, recipient, table, from, TransferReason::GiveAway);
    Ok(())
}

/// `Table::set_heir`.
pub(crate) fn set_heir<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    handle_epoch: Option<u64>,
    heir: Option<Recipient<K, V>>,
) -> Result<(), TableError> {
    let mut state = shared.owner.lock();
    shared.check_alive()?;
    rights(shared, handle_epoch).map_err(|rights| TableError::NotOwner {
        table: shared.name.clone(),
        operation: Operation::SetHeir,
        rights,
    })?;
    if let Some(heir) = &heir {
        if !is_alive(&heir.actor) {
            return Err(TableError::RecipientNotAlive {
                table: shared.name.clone(),
                operation: Operation::SetHeir,
                recipient: heir.actor.get_id(),
            });
        }
    }
    state.heir = heir;
    Ok(())
}
