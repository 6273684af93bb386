//! Links: two actors that live and die together, unless one traps exits.
//!
//! `link(A, B)` in Erlang is bidirectional: when either ends with a reason other than
//! `normal`, the other receives an exit signal. An actor that does not trap exits then exits
//! with the same reason; one that traps exits receives `{'EXIT', From, Reason}` as a message
//! instead. A `normal` exit is ignored by a non-trapping actor and delivered to a trapping one.
//!
//! ractor's only link is the parent/child one made at spawn. [`link`] builds Erlang's on top
//! of a pair of monitors; [`trap_exit`] registers how an actor wants its [`ExitSignal`]s
//! delivered.
//!
//! Deviation from Erlang: an exit signal to a non-trapping actor is a graceful ractor stop with
//! the linked actor's reason. The actor finishes the message it is handling, drops the rest of
//! its mailbox, and its `post_stop` runs (Erlang's would not run `terminate`). Its observed
//! exit reason is the one that was propagated, as in Erlang.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use ractor::{ActorCell, ActorId, ActorRef, Message};

use crate::call::is_alive_status;
use crate::exit::ExitReason;
use crate::monitor::{demonitor, monitor_fn, MonitorRef};

/// An exit signal delivered as a message to an actor that traps exits
/// (Erlang's `{'EXIT', From, Reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitSignal {
    /// The linked actor that stopped.
    pub from: ActorId,
    /// Why it stopped.
    pub reason: ExitReason,
}

/// Why a link could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// One side was already dead (Erlang's `noproc`).
    #[error("no process: actor {0} is not alive")]
    NoProc(ActorId),
    /// An actor cannot link to itself.
    #[error("an actor cannot link to itself ({0})")]
    SelfLink(ActorId),
}

type ExitDelivery = Arc<dyn Fn(ExitSignal) + Send + Sync>;

#[derive(Default)]
struct LinkTable {
    /// Each link, keyed by its two ends in ascending order, holds the monitor watching each end
    /// (`None` while [`link`] is still setting them up).
    links: HashMap<(ActorId, ActorId), Option<[MonitorRef; 2]>>,
    trapping: HashMap<ActorId, (ExitDelivery, MonitorRef)>,
}

static LINKS: OnceLock<Mutex<LinkTable>> = OnceLock::new();

fn table() -> &'static Mutex<LinkTable> {
    LINKS.get_or_init(Default::default)
}

fn link_key(a: ActorId, b: ActorId) -> (ActorId, ActorId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Links `a` and `b`. Linking twice is a no-op, as in Erlang.
pub fn link(a: &ActorCell, b: &ActorCell) -> Result<(), LinkError> {
    let (a_id, b_id) = (a.get_id(), b.get_id());
    if a_id == b_id {
        return Err(LinkError::SelfLink(a_id));
    }
    for end in [a, b] {
        if !is_alive_status(end.get_status()) {
            return Err(LinkError::NoProc(end.get_id()));
        }
    }
    let key = link_key(a_id, b_id);
    {
        let mut links = table().lock();
        if links.links.contains_key(&key) {
            return Ok(());
        }
        links.links.insert(key, None);
    }
    // Each monitor forwards its end's exit to the other end. A race with an end dying right
    // now is fine: its monitor fires with the real reason, or with `noproc`.
    let watch_a = {
        let other = b.clone();
        monitor_fn(a, move |down| {
            deliver_exit(&other, key, down.actor, down.reason)
        })
    };
    let watch_b = {
        let other = a.clone();
        monitor_fn(b, move |down| {
            deliver_exit(&other, key, down.actor, down.reason)
        })
    };
    let mut links = table().lock();
    match links.links.get_mut(&key) {
        Some(slot) => *slot = Some([watch_a, watch_b]),
        None => {
            // An end died (or the pair was unlinked) while the monitors were being set up;
            // the exit signal, if any, has been delivered.
            drop(links);
            demonitor(watch_a);
            demonitor(watch_b);
        }
    }
    Ok(())
}

/// Removes the link between `a` and `b`, if any. Returns whether there was one.
pub fn unlink(a: &ActorCell, b: &ActorCell) -> bool {
    let removed = table()
        .lock()
        .links
        .remove(&link_key(a.get_id(), b.get_id()));
    match removed {
        Some(watches) => {
            for watch in watches.into_iter().flatten() {
                demonitor(watch);
            }
            true
        }
        None => false,
    }
}

/// Makes `actor` trap exits: exit signals from linked actors arrive as the message
/// `to_message` builds, whatever their reason, instead of stopping it.
pub fn trap_exit<M: Message>(
    actor: &ActorRef<M>,
    to_message: impl Fn(ExitSignal) -> M + Send + Sync + 'static,
) {
    let target = actor.clone();
    let delivery: ExitDelivery = Arc::new(move |signal| {
        let _ = target.cast(to_message(signal));
    });
    let actor_id = actor.get_id();
    // Forget the registration when the actor stops, so the table does not grow.
    let cleanup = monitor_fn(&actor.get_cell(), move |_| {
        table().lock().trapping.remove(&actor_id);
    });
    if let Some((_, previous)) = table()
        .lock()
        .trapping
        .insert(actor_id, (delivery, cleanup))
    {
        demonitor(previous);
    }
}

/// Stops trapping exits for `actor`; linked exits stop it again.
pub fn untrap_exit(actor: &ActorCell) {
    if let Some((_, cleanup)) = table().lock().trapping.remove(&actor.get_id()) {
        demonitor(cleanup);
    }
}

/// Whether `actor` currently traps exits.
pub fn is_trapping_exits(actor: &ActorCell) -> bool {
    table().lock().trapping.contains_key(&actor.get_id())
}

fn deliver_exit(to: &ActorCell, key: (ActorId, ActorId), from: ActorId, reason: ExitReason) {
    let delivery = {
        let mut links = table().lock();
        // The link dies with either end. No entry means it was unlinked meanwhile.
        let Some(watches) = links.links.remove(&key) else {
            return;
        };
        let delivery = links
            .trapping
            .get(&to.get_id())
            .map(|(delivery, _)| delivery.clone());
        drop(links);
        // The surviving end's monitor is no longer needed.
        for watch in watches.into_iter().flatten() {
            demonitor(watch);
        }
        delivery
    };
    match delivery {
        Some(delivery) => delivery(ExitSignal { from, reason }),
        None if reason == ExitReason::Normal => {}
        None => {
            tracing::debug!(actor = %to.get_id(), linked = %from, %reason, "exit signal stops a linked actor");
            to.stop(reason.to_stop_reason());
        }
    }
}
