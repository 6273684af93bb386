//! Node-local names for actors, given and taken back at any time.
//!
//! Erlang's `register/2`, `unregister/1` and `whereis/1`: a name maps to one live actor, an
//! actor holds at most one name, and the name is freed when the actor stops. ractor names an
//! actor only at spawn; [`whereis`] also finds those names, so both kinds resolve the same way.

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::RwLock;
use ractor::{ActorCell, ActorId, ActorRef, Message};

use crate::call::is_alive_status;
use crate::monitor::{demonitor, monitor_fn, MonitorRef};

/// Why a name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The name already belongs to a live actor.
    #[error("name {name:?} is already registered to actor {holder}")]
    NameTaken {
        /// The name asked for.
        name: String,
        /// The actor holding it.
        holder: ActorId,
    },
    /// The actor already has a name; Erlang allows one per process.
    #[error("actor {actor} is already registered as {name:?}")]
    AlreadyNamed {
        /// The actor.
        actor: ActorId,
        /// Its current name.
        name: String,
    },
    /// The actor is not alive.
    #[error("no process: actor {0} is not alive")]
    NoProc(ActorId),
}

struct Entry {
    actor: ActorCell,
    cleanup: MonitorRef,
}

#[derive(Default)]
struct Names {
    by_name: HashMap<String, Entry>,
    name_of: HashMap<ActorId, String>,
}

static NAMES: OnceLock<RwLock<Names>> = OnceLock::new();

fn names() -> &'static RwLock<Names> {
    NAMES.get_or_init(Default::default)
}

/// Registers `actor` under `name` (Erlang's `register/2`).
pub fn register(name: impl Into<String>, actor: &ActorCell) -> Result<(), RegisterError> {
    let name = name.into();
    let actor_id = actor.get_id();
    if !is_alive_status(actor.get_status()) {
        return Err(RegisterError::NoProc(actor_id));
    }
    let mut table = names().write();
    if let Some(current) = table.name_of.get(&actor_id) {
        return Err(RegisterError::AlreadyNamed {
            actor: actor_id,
            name: current.clone(),
        });
    }
    if let Some(entry) = table.by_name.get(&name) {
        if is_alive_status(entry.actor.get_status()) {
            return Err(RegisterError::NameTaken {
                name,
                holder: entry.actor.get_id(),
            });
        }
    }
    if let Some(holder) = ractor::registry::where_is(name.clone()) {
        return Err(RegisterError::NameTaken {
            name,
            holder: holder.get_id(),
        });
    }
    let released_name = name.clone();
    let cleanup = monitor_fn(actor, move |_| release(&released_name, actor_id));
    if let Some(stale) = table.by_name.insert(
        name.clone(),
        Entry {
            actor: actor.clone(),
            cleanup,
        },
    ) {
        table.name_of.remove(&stale.actor.get_id());
        demonitor(stale.cleanup);
    }
    table.name_of.insert(actor_id, name);
    Ok(())
}

/// Removes `name` (Erlang's `unregister/1`). Returns whether it was registered.
pub fn unregister(name: &str) -> bool {
    let removed = {
        let mut table = names().write();
        let removed = table.by_name.remove(name);
        if let Some(entry) = &removed {
            table.name_of.remove(&entry.actor.get_id());
        }
        removed
    };
    match removed {
        Some(entry) => {
            demonitor(entry.cleanup);
            true
        }
        None => false,
    }
}

/// The live actor registered as `name`, by [`register`] or named at spawn (Erlang's `whereis/1`).
pub fn whereis(name: &str) -> Option<ActorCell> {
    let registered = names()
        .read()
        .by_name
        .get(name)
        .map(|entry| entry.actor.clone());
    registered
        .or_else(|| ractor::registry::where_is(name))
        .filter(|actor| is_alive_status(actor.get_status()))
}

/// [`whereis`] for a typed reference; `None` also when the actor takes another message type.
pub fn whereis_ref<M: Message>(name: &str) -> Option<ActorRef<M>> {
    let actor = whereis(name)?;
    match actor.is_message_type_of::<M>() {
        Some(false) => None,
        _ => Some(actor.into()),
    }
}

/// The name `actor` was registered under with [`register`], if any.
pub fn name_of(actor: &ActorCell) -> Option<String> {
    names().read().name_of.get(&actor.get_id()).cloned()
}

/// Every name given with [`register`] or at spawn.
pub fn registered() -> Vec<String> {
    let mut all: Vec<String> = names().read().by_name.keys().cloned().collect();
    all.extend(ractor::registry::registered());
    all.sort();
    all.dedup();
    all
}

fn release(name: &str, actor_id: ActorId) {
    let mut table = names().write();
    if table
        .by_name
        .get(name)
        .is_some_and(|entry| entry.actor.get_id() == actor_id)
    {
        table.by_name.remove(name);
        table.name_of.remove(&actor_id);
    }
}
