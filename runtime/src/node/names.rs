//! The node's side of global names: registering and releasing them, resolving, calling and
//! casting to them, and monitoring them across nodes. The table of names and its merge rule
//! are in [`global`](super::global).

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use std::sync::atomic::Ordering;

use super::global::{service_handlers, RemoteMessage, Service};
use super::wire::{AgentMsg, RemoteExit, RemoteFailure, Wire};
use super::{broadcast_wire, config, Node, NodeInner, NodeState, PendingCall, Watching};
use crate::monitor::{demonitor, monitor_fn};
use parking_lot::MutexGuard;

/// Why a remote operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// No node holds that global name.
    #[error("no actor is registered globally as {0:?}")]
    NoSuchName(String),
    /// The node holding the name is down (or went down during the call).
    #[error("node {0} is down")]
    NodeDown(String),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request is larger than a frame may be.
    #[error("the request is {size} bytes, over the {max}-byte frame limit")]
    TooLarge {
        /// Its encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The request or answer did not encode or decode.
    #[error("encoding: {0}")]
    Encoding(String),
    /// The serving node reported a failure.
    #[error(transparent)]
    Failed(#[from] RemoteFailure),
}

/// Why a global name was not registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GlobalRegisterError {
    /// Some node already holds it.
    #[error("{name:?} is already registered on {node}")]
    Taken {
        /// The name.
        name: String,
        /// Who holds it.
        node: String,
    },
    /// The actor is not alive.
    #[error("the actor is not alive")]
    NoProc,
}

/// A monitor on a global name ([`Node::monitor_global`]).
#[derive(Debug)]
pub struct RemoteMonitor {
    /// Identifies it, for [`Node::demonitor_global`].
    pub id: u64,
    /// Completes when the actor (or its node) stops.
    pub down: oneshot::Receiver<RemoteExit>,
}

impl Node {
    /// Makes `actor` callable as `name` from every node.
    pub fn register_global<M: RemoteMessage>(
        &self,
        name: &str,
        actor: &ActorRef<M>,
    ) -> Result<(), GlobalRegisterError> {
        if !crate::call::is_alive(&actor.get_cell()) {
            return Err(GlobalRegisterError::NoProc);
        }
        let own = self.inner.config.name.clone();
        let (call, cast) = service_handlers(actor);
        let mut state = self.inner.state.lock();
        if let Some(node) = state.names.owner(name) {
            return Err(GlobalRegisterError::Taken {
                name: name.to_string(),
                node: node.to_string(),
            });
        }
        let weak = Arc::downgrade(&self.inner);
        let released = name.to_string();
        let actor_id = actor.get_id();
        let cleanup = monitor_fn(&actor.get_cell(), move |_| {
            if let Some(inner) = weak.upgrade() {
                release_global(&inner, &released, Some(actor_id));
            }
        });
        state.names.insert_local(
            name.to_string(),
            &own,
            Service {
                call,
                cast,
                actor: actor.get_cell(),
                cleanup,
            },
        );
        broadcast_wire(
            &self.inner,
            &state,
            Wire::NameRegistered {
                name: name.to_string(),
            },
        );
        Ok(())
    }

    /// Releases a global name held on this node. Returns whether it was held here.
    pub fn unregister_global(&self, name: &str) -> bool {
        release_global(&self.inner, name, None)
    }

    /// The node holding `name`.
    pub fn whereis_global(&self, name: &str) -> Option<String> {
        self.inner
            .state
            .lock()
            .names
            .owner(name)
            .map(str::to_string)
    }

    /// Every global name and its node, sorted by name.
    pub fn global_names(&self) -> Vec<(String, String)> {
        self.inner.state.lock().names.all()
    }

    /// Calls the actor registered globally as `name`, wherever it runs.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        name: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RemoteError> {
        let payload = self.encode(request)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let local_call = {
            let mut state = self.inner.state.lock();
            match resolve(&state, &self.inner.config.name, name, |service| {
                service.call.clone()
            })? {
                Holder::Local(call) => Some(call),
                Holder::Remote { owner, agent } => {
                    state.pending_calls.insert(
                        id,
                        PendingCall {
                            node: owner.clone(),
                            reply,
                        },
                    );
                    let envelope = self.envelope(Wire::Request {
                        id,
                        name: name.to_string(),
                        payload: payload.clone(),
                        timeout_ms: timeout.as_millis().try_into().unwrap_or(u64::MAX),
                    });
                    if agent.cast(AgentMsg::Remote(envelope)).is_err() {
                        state.pending_calls.remove(&id);
                        return Err(RemoteError::NodeDown(owner));
                    }
                    None
                }
            }
        };
        let bytes = match local_call {
            Some(handler) => handler(payload, timeout).await?,
            None => match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(result)) => result?,
                Ok(Err(_)) => return Err(RemoteError::NodeDown(name.to_string())),
                Err(_) => {
                    self.inner.state.lock().pending_calls.remove(&id);
                    return Err(RemoteError::Timeout(timeout));
                }
            },
        };
        postcard::from_bytes(&bytes).map_err(|error| RemoteError::Encoding(error.to_string()))
    }

    /// Casts to the actor registered globally as `name`; delivery is not confirmed.
    pub fn cast<Req: Serialize>(&self, name: &str, request: &Req) -> Result<(), RemoteError> {
        let payload = self.encode(request)?;
        let state = self.inner.state.lock();
        let (owner, agent) = match resolve(&state, &self.inner.config.name, name, |service| {
            service.cast.clone()
        })? {
            Holder::Local(cast) => return Ok(cast(payload)?),
            Holder::Remote { owner, agent } => (owner, agent),
        };
        agent
            .cast(AgentMsg::Remote(self.envelope(Wire::Cast {
                name: name.to_string(),
                payload,
            })))
            .map_err(|_| RemoteError::NodeDown(owner))
    }

    /// Monitors the actor registered globally as `name`: the receiver completes with how it
    /// ended, or with [`RemoteExit::NodeDown`] if its node goes down first.
    pub fn monitor_global(&self, name: &str) -> Result<RemoteMonitor, RemoteError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (down_sender, down) = oneshot::channel();
        let mut state = self.inner.state.lock();
        let (owner, agent) = match resolve(&state, &self.inner.config.name, name, |service| {
            service.actor.clone()
        })? {
            Holder::Local(actor) => {
                monitor_fn(&actor, move |notice| {
                    let _ = down_sender.send(RemoteExit::from(notice.reason));
                });
                return Ok(RemoteMonitor { id, down });
            }
            Holder::Remote { owner, agent } => (owner, agent),
        };
        state.watching.insert(
            id,
            Watching {
                node: owner.clone(),
                down: down_sender,
            },
        );
        let envelope = self.envelope(Wire::Monitor {
            id,
            name: name.to_string(),
        });
        if agent.cast(AgentMsg::Remote(envelope)).is_err() {
            state.watching.remove(&id);
            return Err(RemoteError::NodeDown(owner));
        }
        Ok(RemoteMonitor { id, down })
    }

    /// Cancels a remote monitor. Returns whether it was still set.
    pub fn demonitor_global(&self, id: u64) -> bool {
        let mut state = self.inner.state.lock();
        let Some(watching) = state.watching.remove(&id) else {
            return false;
        };
        if let Some(agent) = state.membership.agent(&watching.node) {
            let _ = agent.cast(AgentMsg::Remote(self.envelope(Wire::Demonitor { id })));
        }
        true
    }

    fn encode<Req: Serialize>(&self, request: &Req) -> Result<Vec<u8>, RemoteError> {
        let payload = postcard::to_allocvec(request)
            .map_err(|error| RemoteError::Encoding(error.to_string()))?;
        let max = self
            .inner
            .config
            .frame_bytes_max
            .saturating_sub(config::FRAME_OVERHEAD_BYTES);
        if payload.len() > max {
            return Err(RemoteError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        Ok(payload)
    }
}

fn release_global(inner: &NodeInner, name: &str, actor: Option<ractor::ActorId>) -> bool {
    let mut state = inner.state.lock();
    let Some(service) = state.names.remove_local(name, actor) else {
        return false;
    };
    announce_release(inner, state, name, service);
    true
}

/// Tells every peer this node no longer holds `name`, then (with the lock released) stops
/// watching the actor that held it.
pub(super) fn announce_release(
    inner: &NodeInner,
    state: MutexGuard<'_, NodeState>,
    name: &str,
    service: Service,
) {
    broadcast_wire(
        inner,
        &state,
        Wire::NameReleased {
            name: name.to_string(),
        },
    );
    drop(state);
    demonitor(service.cleanup);
}

/// Where a global name's actor runs, as this node's table says.
enum Holder<T> {
    /// On this node: what the caller took from its service.
    Local(T),
    /// On `owner`, reached through that node's agent.
    Remote {
        owner: String,
        agent: ActorRef<AgentMsg>,
    },
}

/// Resolves `name` for a call, cast or monitor: `local` picks what is needed from this node's
/// service, or the owner's agent is returned. Errors: the name is not registered
/// (`NoSuchName`), its node is not up (`NodeDown`).
fn resolve<T>(
    state: &NodeState,
    me: &str,
    name: &str,
    local: impl FnOnce(&Service) -> T,
) -> Result<Holder<T>, RemoteError> {
    let no_such_name = || RemoteError::NoSuchName(name.to_string());
    let owner = state.names.owner(name).ok_or_else(no_such_name)?;
    if owner == me {
        return state
            .names
            .local(name)
            .map(local)
            .map(Holder::Local)
            .ok_or_else(no_such_name);
    }
    let agent = state
        .membership
        .agent(owner)
        .cloned()
        .ok_or_else(|| RemoteError::NodeDown(owner.to_string()))?;
    Ok(Holder::Remote {
        owner: owner.to_string(),
        agent,
    })
}
