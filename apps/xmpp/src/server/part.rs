//! A supervised child that owns one part of the server built outside the actor model: an HTTP
//! listener, the cluster membership, the c2s subtree with its graceful close.
//!
//! The owner starts its part in `pre_start` and stops it in `post_stop`, so the part lives
//! exactly as long as its place in the tree: the supervisor's ordered shutdown stops it in
//! order, a restart of the owner is a restart of the part, and a part that carries an actor of
//! its own (the c2s supervisor, the cluster's relay) names it in [`Part::watched`]: the owner
//! is linked to it (an Erlang link, [`bream_runtime::link`]), so its crash is the owner's,
//! which the supervisor restarts, and a killed owner (whose `post_stop` does not run) takes the
//! part's actor down with it instead of leaking it.
//!
//! A killed owner's `post_stop` does not run, so what the part holds outside actors (a bound
//! port, the node's registry row and listener) would outlive it and make the restart fail
//! ("address in use"). The part therefore lives in a slot shared by every instance of its
//! owner: a new instance first stops what a killed one left there, then starts its own.

use std::future::Future;
use std::sync::Arc;

use bream_runtime::ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use bream_runtime::supervisor::{ChildSpec, Shutdown};
use futures::future::BoxFuture;

/// One part of the server as its owner sees it.
pub(crate) trait Part: Send + Sync + 'static {
    /// The actor whose end is this part's end, if it has one.
    fn watched(&self) -> Option<ActorCell> {
        None
    }

    /// Stops the part (in order: no new work, what runs finishes or is closed).
    fn stop(self) -> impl Future<Output = ()> + Send;
}

/// How an owner starts its part, again on every restart.
pub(crate) type StartPart<P> = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<P>> + Send + Sync>;

/// A worker child `id` owning the part `start` makes; `shutdown` bounds its stop.
pub(crate) fn part_child<P: Part>(id: &str, shutdown: Shutdown, start: StartPart<P>) -> ChildSpec {
    let name = id.to_string();
    let slot: Slot<P> = Arc::new(tokio::sync::Mutex::new(None));
    ChildSpec::actor(
        id,
        move || Owner::<P> {
            name: name.clone(),
            start: Arc::clone(&start),
            slot: Arc::clone(&slot),
        },
        || (),
    )
    .shutdown(shutdown)
}

/// An owner takes no messages: its life is its part's.
pub(crate) enum OwnerMsg {}

bream_runtime::local_message!(OwnerMsg);

/// Where the running part is, for whichever instance of its owner comes next.
type Slot<P> = Arc<tokio::sync::Mutex<Option<P>>>;

struct Owner<P> {
    name: String,
    start: StartPart<P>,
    slot: Slot<P>,
}

impl<P: Part> Actor for Owner<P> {
    type Msg = OwnerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<OwnerMsg>,
        (): (),
    ) -> Result<(), ActorProcessingErr> {
        let leftover = self.slot.lock().await.take();
        if let Some(leftover) = leftover {
            tracing::warn!(part = %self.name, "stopping what a killed instance left running");
            leftover.stop().await;
        }
        let part = (self.start)().await.map_err(|error| format!("{error:#}"))?;
        if let Some(watched) = part.watched() {
            if let Err(error) = bream_runtime::link::link(&myself.get_cell(), &watched) {
                part.stop().await;
                return Err(format!("{} part: {error}", self.name).into());
            }
        }
        tracing::debug!(part = %self.name, "part started");
        *self.slot.lock().await = Some(part);
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<OwnerMsg>,
        (): &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let part = self.slot.lock().await.take();
        if let Some(part) = part {
            part.stop().await;
            tracing::debug!(part = %self.name, "part stopped");
        }
        Ok(())
    }
}
