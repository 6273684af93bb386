//! An actor that does nothing: the owner of a table, a parent, a process to monitor or kill.
//! Tests across the workspace need one; this is the one.

use ractor::{Actor, ActorProcessingErr, ActorRef};

/// Does nothing, takes no messages, stops when told.
pub struct Idle;

/// [`Idle`]'s message type, which has no values.
pub enum IdleMsg {}

impl ractor::Message for IdleMsg {}

impl Actor for Idle {
    type Msg = IdleMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<IdleMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Spawns an unnamed [`Idle`].
pub async fn spawn_idle() -> ActorRef<IdleMsg> {
    match Actor::spawn(None, Idle, ()).await {
        Ok((actor, _task)) => actor,
        Err(error) => panic!("spawn an idle actor: {error}"),
    }
}
