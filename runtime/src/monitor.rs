//! Monitors: learn when an actor stops, and why.
//!
//! `erlang:monitor(process, Pid)` delivers `{'DOWN', Ref, process, Pid, Reason}` exactly once,
//! with `noproc` when `Pid` was already dead. ractor's monitors deliver a copy of the target's
//! supervision events to the monitoring actor's `handle_supervisor_evt`, and nothing at all for
//! a target that is already dead. This module turns that into Erlang's contract:
//!
//! - [`monitor`] delivers a [`Down`] to an actor as an ordinary message built by a function
//!   of yours; [`monitor_fn`] runs a callback; [`monitor_channel`] gives a oneshot receiver;
//! - a target that is already dead yields [`ExitReason::NoProc`], also when it dies while the
//!   monitor is being set up;
//! - each monitor fires at most once; [`demonitor`] cancels it (returns `false` if it had
//!   already fired or been cancelled).
//!
//! One service actor (the *monitor hub*, on the `bream-system` thread) is ractor's monitor of
//! every monitored target; the watches themselves live in a process-wide table, so setting a
//! monitor is a lock and a map insert, not a message.
//!
//! Deviation from Erlang: a callback monitor is not removed when whoever set it stops; its
//! callback runs (and usually finds a closed mailbox) when the target stops. Demonitor what you
//! no longer need.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, ActorStatus, Message, SupervisionEvent,
};
use tokio::sync::oneshot;

use crate::exit::ExitReason;
use crate::system;

/// Identifies one monitor, for [`demonitor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(u64);

/// The notice that a monitored actor stopped (Erlang's `'DOWN'` message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor that fired.
    pub monitor: MonitorRef,
    /// The actor that stopped.
    pub actor: ActorId,
    /// Why it stopped; [`ExitReason::NoProc`] if it was already dead.
    pub reason: ExitReason,
}

type DownCallback = Box<dyn FnOnce(Down) + Send>;

struct Watched {
    target: ActorCell,
    watches: Vec<(MonitorRef, DownCallback)>,
}

#[derive(Default)]
struct WatchTable {
    by_target: HashMap<ActorId, Watched>,
    target_of: HashMap<MonitorRef, ActorId>,
}

static WATCHES: OnceLock<Mutex<WatchTable>> = OnceLock::new();
static NEXT_MONITOR: AtomicU64 = AtomicU64::new(1);
static HUB: OnceLock<ActorCell> = OnceLock::new();

fn watches() -> &'static Mutex<WatchTable> {
    WATCHES.get_or_init(Default::default)
}

/// Monitors `target`; when it stops, `on_down` runs once with the [`Down`] notice.
///
/// The callback runs on the runtime's service thread or on the caller's: keep it short and
/// non-blocking (send a message, complete a channel).
pub fn monitor_fn(target: &ActorCell, on_down: impl FnOnce(Down) + Send + 'static) -> MonitorRef {
    let monitor = MonitorRef(NEXT_MONITOR.fetch_add(1, Ordering::Relaxed));
    let target_id = target.get_id();
    {
        let mut table = watches().lock();
        table.target_of.insert(monitor, target_id);
        let watched = table.by_target.entry(target_id).or_insert_with(|| Watched {
            target: target.clone(),
            watches: Vec::new(),
        });
        let first_watch = watched.watches.is_empty();
        watched.watches.push((monitor, Box::new(on_down)));
        if first_watch {
            hub().monitor(target.clone());
        }
    }
    // ractor notifies monitors while the target is `Stopping`, then marks it `Stopped`. A
    // target seen `Stopped` here will never notify us; one seen `Stopping` may or may not.
    match target.get_status() {
        ActorStatus::Stopped => fire_remaining(target_id, ExitReason::NoProc),
        ActorStatus::Stopping => {
            let target = target.clone();
            system::handle().spawn(async move {
                let _ = target.wait(None).await;
                // The hub reads its supervision port before its mailbox, so a real exit event
                // sent before `Stopped` is handled before this check.
                let _ = hub().send_message(HubMsg::CheckDead(target_id));
            });
        }
        _ => {}
    }
    monitor
}

/// Monitors `target`, delivering the [`Down`] notice to `watcher` as the message `to_message`
/// builds (Erlang's `'DOWN'` message in the watcher's mailbox).
pub fn monitor<M: Message>(
    target: &ActorCell,
    watcher: &ActorRef<M>,
    to_message: impl FnOnce(Down) -> M + Send + 'static,
) -> MonitorRef {
    let watcher = watcher.clone();
    monitor_fn(target, move |down| {
        let _ = watcher.cast(to_message(down));
    })
}

/// Monitors `target` and returns a receiver that completes with the [`Down`] notice.
pub fn monitor_channel(target: &ActorCell) -> (MonitorRef, oneshot::Receiver<Down>) {
    let (sender, receiver) = oneshot::channel();
    let monitor = monitor_fn(target, move |down| {
        let _ = sender.send(down);
    });
    (monitor, receiver)
}

/// Cancels a monitor. Returns `false` if it had already fired or been cancelled.
pub fn demonitor(monitor: MonitorRef) -> bool {
    let mut table = watches().lock();
    let Some(target_id) = table.target_of.remove(&monitor) else {
        return false;
    };
    if let Some(watched) = table.by_target.get_mut(&target_id) {
        watched.watches.retain(|(id, _)| *id != monitor);
        if watched.watches.is_empty() {
            if let Some(watched) = table.by_target.remove(&target_id) {
                hub().unmonitor(watched.target);
            }
        }
    }
    true
}

/// Runs every watch still registered on `target_id` with `reason`, outside the lock.
fn fire_remaining(target_id: ActorId, reason: ExitReason) {
    let fired = {
        let mut table = watches().lock();
        let Some(watched) = table.by_target.remove(&target_id) else {
            return;
        };
        for (monitor, _) in &watched.watches {
            table.target_of.remove(monitor);
        }
        watched.watches
    };
    for (monitor, on_down) in fired {
        on_down(Down {
            monitor,
            actor: target_id,
            reason: reason.clone(),
        });
    }
}

fn hub() -> &'static ActorCell {
    HUB.get_or_init(|| {
        let _context = system::handle().enter();
        match ractor::ActorRuntime::spawn_instant(None, MonitorHub, ()) {
            Ok((hub, _)) => hub.get_cell(),
            // Spawning an unnamed actor only fails if ractor itself is broken.
            Err(error) => panic!("cannot spawn the monitor hub: {error}"),
        }
    })
}

/// The hub's own messages.
enum HubMsg {
    /// A target was seen stopping while a monitor was set: fire what its exit event missed.
    CheckDead(ActorId),
}

impl Message for HubMsg {}

struct MonitorHub;

impl Actor for MonitorHub {
    type Msg = HubMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            HubMsg::CheckDead(target_id) => fire_remaining(target_id, ExitReason::NoProc),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some((cell, reason)) = ExitReason::from_event(&event) {
            fire_remaining(cell.get_id(), reason);
        }
        Ok(())
    }
}
