//! Cluster-wide names (Erlang's `global`): a name held by an actor on one node, resolved from
//! any node, released when the actor stops or its node goes down.
//!
//! Each node keeps the whole table, learning other nodes' names when they come up and as they
//! change. Two nodes that claim the same name at once (or two halves of a healed partition) are
//! reconciled by one deterministic rule: the claim of the node whose name sorts first wins on
//! every node, and the loser drops its registration. Erlang's `global` instead asks a resolve
//! function and kills one holder; we log and unregister instead of killing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::{ActorCell, ActorRef, Message, RpcReplyPort};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wire::RemoteFailure;
use crate::call::{call_timeout, CallError};
use crate::monitor::MonitorRef;

/// A message type an actor accepts from other nodes: requests decoded from bytes, answers
/// encoded back. Implement it for an actor's message type, then
/// [`super::Node::register_global`] the actor.
pub trait RemoteMessage: Message + Sized {
    /// What callers send (serde; encoded with postcard).
    type Request: Serialize + DeserializeOwned + Send + 'static;
    /// What the actor answers to a call.
    type Response: Serialize + DeserializeOwned + Send + 'static;
    /// Builds the actor's message; `reply` is `None` for a cast.
    fn from_remote(request: Self::Request, reply: Option<RpcReplyPort<Self::Response>>) -> Self;
}

pub(crate) type CallHandler = Arc<
    dyn Fn(Vec<u8>, Duration) -> BoxFuture<'static, Result<Vec<u8>, RemoteFailure>> + Send + Sync,
>;
pub(crate) type CastHandler = Arc<dyn Fn(Vec<u8>) -> Result<(), RemoteFailure> + Send + Sync>;

/// A locally held global name.
pub(crate) struct Service {
    pub call: CallHandler,
    pub cast: CastHandler,
    pub actor: ActorCell,
    pub cleanup: MonitorRef,
}

pub(crate) fn service_handlers<M: RemoteMessage>(
    actor: &ActorRef<M>,
) -> (CallHandler, CastHandler) {
    let call_actor = actor.clone();
    let call: CallHandler = Arc::new(move |payload: Vec<u8>, timeout: Duration| {
        let actor = call_actor.clone();
        Box::pin(async move {
            let request: M::Request = postcard::from_bytes(&payload)
                .map_err(|error| RemoteFailure::BadRequest(error.to_string()))?;
            let response = call_timeout(
                &actor,
                |reply| M::from_remote(request, Some(reply)),
                timeout,
            )
            .await
            .map_err(|error| match error {
                CallError::Timeout { .. } => RemoteFailure::Timeout,
                CallError::NoProc | CallError::Stopped => RemoteFailure::Stopped,
            })?;
            postcard::to_allocvec(&response)
                .map_err(|error| RemoteFailure::BadRequest(error.to_string()))
        })
    });
    let cast_actor = actor.clone();
    let cast: CastHandler = Arc::new(move |payload: Vec<u8>| {
        let request: M::Request = postcard::from_bytes(&payload)
            .map_err(|error| RemoteFailure::BadRequest(error.to_string()))?;
        crate::call::cast(&cast_actor, M::from_remote(request, None))
            .map_err(|_| RemoteFailure::Stopped)
    });
    (call, cast)
}

/// The name table: who holds each name, and the services held here.
#[derive(Default)]
pub(crate) struct GlobalNames {
    owners: HashMap<String, String>,
    local: HashMap<String, Service>,
}

/// What a claim from another node did here.
pub(crate) enum ClaimOutcome {
    /// Recorded (or already known).
    Recorded,
    /// It beat this node's own registration, which must be dropped.
    BeatLocal(Service),
    /// This node's claim (or a third node's) stands.
    Lost,
}

impl GlobalNames {
    pub(crate) fn owner(&self, name: &str) -> Option<&str> {
        self.owners.get(name).map(String::as_str)
    }

    pub(crate) fn all(&self) -> Vec<(String, String)> {
        let mut all: Vec<_> = self
            .owners
            .iter()
            .map(|(name, node)| (name.clone(), node.clone()))
            .collect();
        all.sort();
        all
    }

    pub(crate) fn local_names(&self) -> Vec<String> {
        self.local.keys().cloned().collect()
    }

    pub(crate) fn local(&self, name: &str) -> Option<&Service> {
        self.local.get(name)
    }

    pub(crate) fn insert_local(&mut self, name: String, own_node: &str, service: Service) {
        self.owners.insert(name.clone(), own_node.to_string());
        self.local.insert(name, service);
    }

    /// Removes a local registration if `actor` still holds it.
    pub(crate) fn remove_local(
        &mut self,
        name: &str,
        actor: Option<ractor::ActorId>,
    ) -> Option<Service> {
        let holds = self
            .local
            .get(name)
            .is_some_and(|service| actor.is_none_or(|actor| service.actor.get_id() == actor));
        if !holds {
            return None;
        }
        self.owners.remove(name);
        self.local.remove(name)
    }

    /// `node` says it holds `name`.
    pub(crate) fn claim(&mut self, name: &str, node: &str, own_node: &str) -> ClaimOutcome {
        match self.owners.get(name) {
            None => {
                self.owners.insert(name.to_string(), node.to_string());
                ClaimOutcome::Recorded
            }
            Some(current) if current == node => ClaimOutcome::Recorded,
            Some(current) if node < current.as_str() => {
                let loser_is_local = current == own_node;
                self.owners.insert(name.to_string(), node.to_string());
                match (loser_is_local, self.local.remove(name)) {
                    (true, Some(service)) => ClaimOutcome::BeatLocal(service),
                    _ => ClaimOutcome::Recorded,
                }
            }
            Some(_) => ClaimOutcome::Lost,
        }
    }

    /// `node` released `name`.
    pub(crate) fn release(&mut self, name: &str, node: &str) {
        if self.owners.get(name).is_some_and(|owner| owner == node) {
            self.owners.remove(name);
        }
    }

    /// `node` went down: its names are gone.
    pub(crate) fn node_down(&mut self, node: &str) {
        self.owners.retain(|_, owner| owner != node);
    }
}
