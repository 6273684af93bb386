//! Process groups: named sets of actors, for broadcast and lookup (Erlang's `pg`).
//!
//! A thin facade over ractor's `pg`, which already removes an actor from every group when it
//! stops. It exists so that users depend on Bream's vocabulary, and so that the cluster layer
//! can later widen membership to other nodes behind the same functions.

use ractor::{ActorCell, Message};

/// Adds `actors` to `group` (an actor may join a group more than once in Erlang's `pg`;
/// here membership is a set).
pub fn join(group: &str, actors: &[ActorCell]) {
    ractor::pg::join(group.to_string(), actors.to_vec());
}

/// Removes `actors` from `group`.
pub fn leave(group: &str, actors: &[ActorCell]) {
    ractor::pg::leave(group.to_string(), actors.to_vec());
}

/// The members of `group`.
pub fn members(group: &str) -> Vec<ActorCell> {
    ractor::pg::get_members(&group.to_string())
}

/// The members of `group` that run on this node.
pub fn local_members(group: &str) -> Vec<ActorCell> {
    ractor::pg::get_local_members(&group.to_string())
}

/// The groups that have members.
pub fn which_groups() -> Vec<String> {
    ractor::pg::which_groups()
}

/// Sends a clone of `message` to every member of `group` that takes messages of type `M`;
/// returns how many it reached.
pub fn broadcast<M: Message + Clone>(group: &str, message: M) -> usize {
    members(group)
        .into_iter()
        .filter(|member| member.is_message_type_of::<M>() != Some(false))
        .filter(|member| member.send_message(message.clone()).is_ok())
        .count()
}
