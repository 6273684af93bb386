//! The node agent: the actor that feeds [`super::membership`] and speaks [`super::wire`].
//!
//! It hears ractor_cluster's session events through a subscription, learns peers' agents
//! through process-group sync, pings on a timer, serves peers' requests for the global names
//! held here, and routes answers back to waiting callers.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ractor::pg::GroupChangeMessage;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage};

use super::global::ClaimOutcome;
use super::membership::{Action, RefusedReason};
use super::wire::{AgentMsg, Envelope, LocalEvent, RemoteExit, RemoteFailure, Wire, AGENTS_GROUP};
use super::{ConnectError, NodeEvent, NodeInner, RemoteError};
use crate::monitor::{demonitor, monitor_fn};
use crate::supervisor::StartError;

/// Spawns the agent linked to `supervisor` (the node's), subscribes it to session events, and
/// starts its heartbeat (a task that ends with the agent).
pub(crate) async fn start(
    inner: &Arc<NodeInner>,
    supervisor: ActorCell,
) -> Result<ActorCell, StartError> {
    let cell = crate::fault::spawn_linked(
        Agent {
            node: Arc::downgrade(inner),
        },
        (),
        supervisor,
    )
    .await?;
    let agent: ActorRef<AgentMsg> = cell.clone().into();
    if inner.agent.set(agent.clone()).is_err() {
        // The node's supervisor never restarts a child (see the node module): a second agent
        // would be a second node in one process.
        agent.stop(None);
        return Err(StartError::Spawn("the node already has an agent".into()));
    }
    ractor::pg::join(AGENTS_GROUP.to_string(), vec![agent.get_cell()]);
    ractor::pg::monitor(AGENTS_GROUP.to_string(), agent.get_cell());
    if let Some(server) = inner.server.get() {
        let _ = server.cast(NodeServerMessage::SubscribeToEvents {
            id: "bream-node-agent".into(),
            subscription: Box::new(SessionEvents(agent.clone())),
        });
    }
    let interval = inner.config.heartbeat_interval;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if agent
                .cast(AgentMsg::Local(LocalEvent::HeartbeatTick))
                .is_err()
            {
                return;
            }
        }
    });
    Ok(cell)
}

/// Forwards ractor_cluster's session events into the agent's mailbox.
struct SessionEvents(ActorRef<AgentMsg>);

fn peer_name(session: &NodeServerSessionInformation) -> Option<String> {
    session.peer_name.as_ref().map(|name| name.name.clone())
}

impl NodeEventSubscription for SessionEvents {
    fn node_session_opened(&self, session: NodeServerSessionInformation) {
        let _ = self.0.cast(AgentMsg::Local(LocalEvent::SessionOpened {
            session: session.node_id,
            address: session.peer_addr.clone(),
            actor: session.actor.clone(),
        }));
    }

    fn node_session_disconnected(&self, session: NodeServerSessionInformation) {
        let _ = self.0.cast(AgentMsg::Local(LocalEvent::SessionClosed {
            session: session.node_id,
            name: peer_name(&session),
        }));
    }

    fn node_session_authenticated(&self, session: NodeServerSessionInformation) {
        let _ = self
            .0
            .cast(AgentMsg::Local(LocalEvent::SessionAuthenticated {
                session: session.node_id,
                name: peer_name(&session),
            }));
    }

    fn node_session_ready(&self, session: NodeServerSessionInformation) {
        let _ = self.0.cast(AgentMsg::Local(LocalEvent::SessionReady {
            session: session.node_id,
            name: peer_name(&session),
        }));
    }
}

struct Agent {
    node: Weak<NodeInner>,
}

impl Actor for Agent {
    type Msg = AgentMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<AgentMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<AgentMsg>,
        message: AgentMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let Some(inner) = self.node.upgrade() else {
            return Ok(());
        };
        let now = Instant::now();
        match message {
            AgentMsg::Local(event) => local_event(&inner, event, now),
            AgentMsg::Remote(envelope) => remote_envelope(&inner, envelope, now),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<AgentMsg>,
        event: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let Some(inner) = self.node.upgrade() else {
            return Ok(());
        };
        if let SupervisionEvent::ProcessGroupChanged(GroupChangeMessage::Join(_, group, cells)) =
            event
        {
            if group != AGENTS_GROUP {
                return Ok(());
            }
            let now = Instant::now();
            for cell in cells.into_iter().filter(|cell| !cell.get_id().is_local()) {
                let session = cell.get_id().node();
                let actions =
                    inner
                        .state
                        .lock()
                        .membership
                        .agent_joined(session, ActorRef::from(cell), now);
                carry_out(&inner, actions, now);
            }
        }
        Ok(())
    }
}

fn local_event(inner: &Arc<NodeInner>, event: LocalEvent, now: Instant) {
    let actions = {
        let mut state = inner.state.lock();
        match event {
            LocalEvent::SessionOpened {
                session,
                address,
                actor,
            } => {
                state.session_actors.insert(session, actor);
                state.membership.session_opened(session, address);
                Vec::new()
            }
            LocalEvent::SessionAuthenticated { session, name } => {
                state.membership.session_authenticated(session, name)
            }
            LocalEvent::SessionReady { session, name } => {
                state.membership.session_ready(session, name, now)
            }
            LocalEvent::SessionClosed { session, name } => {
                state.session_actors.remove(&session);
                if let Some(name) = name {
                    state.membership.session_named(session, name);
                }
                let address = state
                    .membership
                    .session_address(session)
                    .map(str::to_string);
                let peer = state.membership.session_name(session).map(str::to_string);
                let actions = state.membership.session_closed(session, Instant::now());
                // A connection that lost ractor's duplicate-session election leads to a peer
                // all the same: its pending connect completes when that peer is up.
                if let (Some(address), Some(peer), true) = (address, peer, actions.is_empty()) {
                    if state.membership.is_up(&peer) {
                        complete_connects(&mut state.pending_connects, &address, Ok(peer));
                    } else {
                        state.aliases.insert(address, peer);
                    }
                }
                actions
            }
            LocalEvent::HeartbeatTick => state.membership.tick(now),
        }
    };
    carry_out(inner, actions, now);
}

fn complete_connects(
    pending: &mut std::collections::HashMap<
        String,
        Vec<tokio::sync::oneshot::Sender<Result<String, ConnectError>>>,
    >,
    address: &str,
    outcome: Result<String, ConnectError>,
) {
    for waiter in pending.remove(address).unwrap_or_default() {
        let _ = waiter.send(outcome.clone());
    }
}

/// Carries out the membership state machine's actions.
pub(crate) fn carry_out(
    inner: &Arc<NodeInner>,
    actions: Vec<Action<ActorRef<AgentMsg>>>,
    _now: Instant,
) {
    for action in actions {
        match action {
            Action::Up { name, address } => {
                tracing::info!(node = %inner.config.name, peer = %name, %address, "node up");
                let mut state = inner.state.lock();
                complete_connects(&mut state.pending_connects, &address, Ok(name.clone()));
                let aliased: Vec<String> = state
                    .aliases
                    .iter()
                    .filter(|(_, peer)| **peer == name)
                    .map(|(address, _)| address.clone())
                    .collect();
                for address in aliased {
                    state.aliases.remove(&address);
                    complete_connects(&mut state.pending_connects, &address, Ok(name.clone()));
                }
                if let Some(agent) = state.membership.agent(&name) {
                    let names = state.names.local_names();
                    let _ = agent.cast(AgentMsg::Remote(envelope(inner, Wire::Names { names })));
                }
                drop(state);
                let _ = inner.events.send(NodeEvent::Up { node: name });
                // A peer that connected to us may be newer than our last look at discovery.
                inner.poll_now.notify_one();
            }
            Action::Down { name, reason } => {
                tracing::warn!(node = %inner.config.name, peer = %name, %reason, "node down");
                node_down(inner, &name, &reason);
                let _ = inner.events.send(NodeEvent::Down { node: name, reason });
                inner.poll_now.notify_one();
            }
            Action::Disconnect(session) => {
                if let Some(actor) = inner.state.lock().session_actors.remove(&session) {
                    actor.kill();
                }
            }
            Action::Ping(agent) => {
                let _ = agent.cast(AgentMsg::Remote(envelope(inner, Wire::Ping)));
                // This node's global names ride along with every heartbeat: the sync sent at
                // node-up can be lost when both nodes dial each other at once and
                // ractor_cluster drops one of the two connections, and a peer that missed it
                // would answer NoSuchName for a name that exists. Claims are idempotent.
                let names = inner.state.lock().names.local_names();
                if !names.is_empty() {
                    let _ = agent.cast(AgentMsg::Remote(envelope(inner, Wire::Names { names })));
                }
            }
            Action::Refused { address, reason } => {
                tracing::warn!(node = %inner.config.name, %address, ?reason, "connection refused");
                let error = match reason {
                    RefusedReason::CookieRefused => ConnectError::WrongCookie {
                        address: address.clone(),
                    },
                    RefusedReason::HandshakeFailed => ConnectError::HandshakeFailed {
                        address: address.clone(),
                    },
                };
                complete_connects(
                    &mut inner.state.lock().pending_connects,
                    &address,
                    Err(error),
                );
            }
        }
    }
}

/// A peer is gone: fail what waits on it, forget what it held.
fn node_down(inner: &NodeInner, name: &str, reason: &super::DownReason) {
    let mut state = inner.state.lock();
    let failed: Vec<u64> = state
        .pending_calls
        .iter()
        .filter(|(_, call)| call.node == name)
        .map(|(id, _)| *id)
        .collect();
    for id in failed {
        if let Some(call) = state.pending_calls.remove(&id) {
            let _ = call
                .reply
                .send(Err(RemoteError::NodeDown(name.to_string())));
        }
    }
    let watched: Vec<u64> = state
        .watching
        .iter()
        .filter(|(_, watching)| watching.node == name)
        .map(|(id, _)| *id)
        .collect();
    for id in watched {
        if let Some(watching) = state.watching.remove(&id) {
            let _ = watching.down.send(RemoteExit::NodeDown(reason.clone()));
        }
    }
    let served: Vec<(String, u64)> = state
        .serving
        .keys()
        .filter(|(node, _)| node == name)
        .cloned()
        .collect();
    let mut monitors = Vec::new();
    for key in served {
        if let Some(Some(monitor)) = state.serving.remove(&key) {
            monitors.push(monitor);
        }
    }
    state.names.node_down(name);
    drop(state);
    for monitor in monitors {
        demonitor(monitor);
    }
}

fn envelope(inner: &NodeInner, wire: Wire) -> Envelope {
    Envelope {
        from: inner.config.name.clone(),
        wire,
    }
}

/// Sends `wire` to the agent of `node`, if it is up.
fn send_to(inner: &NodeInner, node: &str, wire: Wire) {
    let agent = inner.state.lock().membership.agent(node).cloned();
    if let Some(agent) = agent {
        let _ = agent.cast(AgentMsg::Remote(envelope(inner, wire)));
    }
}

fn remote_envelope(inner: &Arc<NodeInner>, envelope: Envelope, now: Instant) {
    let Envelope { from, wire } = envelope;
    {
        let mut state = inner.state.lock();
        if state.membership.is_cut(&from) {
            // A partition drops everything, heartbeats included.
            tracing::trace!(node = %inner.config.name, peer = %from, "dropped: link cut");
            return;
        }
        state.membership.heard_from(&from, now);
    }
    match wire {
        Wire::Ping => send_to(inner, &from, Wire::Pong),
        Wire::Pong => {}
        Wire::Names { names } => {
            for name in names {
                claim(inner, &name, &from);
            }
        }
        Wire::NameRegistered { name } => claim(inner, &name, &from),
        Wire::NameReleased { name } => inner.state.lock().names.release(&name, &from),
        Wire::Request {
            id,
            name,
            payload,
            timeout_ms,
        } => {
            let handler = inner
                .state
                .lock()
                .names
                .local(&name)
                .map(|service| service.call.clone());
            let inner = inner.clone();
            tokio::spawn(async move {
                let result = match handler {
                    Some(handler) => handler(payload, Duration::from_millis(timeout_ms)).await,
                    None => Err(RemoteFailure::NoSuchName(name)),
                };
                send_to(&inner, &from, Wire::Response { id, result });
            });
        }
        Wire::Cast { name, payload } => {
            let handler = inner
                .state
                .lock()
                .names
                .local(&name)
                .map(|service| service.cast.clone());
            match handler {
                Some(handler) => {
                    if let Err(error) = handler(payload) {
                        tracing::debug!(%name, %error, "remote cast not delivered");
                    }
                }
                None => tracing::debug!(%name, from = %from, "remote cast to an unknown name"),
            }
        }
        Wire::Response { id, result } => {
            if let Some(call) = inner.state.lock().pending_calls.remove(&id) {
                let _ = call.reply.send(result.map_err(RemoteError::Failed));
            }
        }
        Wire::Monitor { id, name } => {
            let actor = inner
                .state
                .lock()
                .names
                .local(&name)
                .map(|service| service.actor.clone());
            match actor {
                None => send_to(
                    inner,
                    &from,
                    Wire::Down {
                        id,
                        reason: RemoteExit::NoProc,
                    },
                ),
                Some(actor) => {
                    // Mark the request first: the monitor may fire at once (a dead actor).
                    inner.state.lock().serving.insert((from.clone(), id), None);
                    let weak = Arc::downgrade(inner);
                    let watcher = from.clone();
                    let monitor = monitor_fn(&actor, move |notice| {
                        if let Some(inner) = weak.upgrade() {
                            let wanted = inner
                                .state
                                .lock()
                                .serving
                                .remove(&(watcher.clone(), id))
                                .is_some();
                            if wanted {
                                send_to(
                                    &inner,
                                    &watcher,
                                    Wire::Down {
                                        id,
                                        reason: RemoteExit::from(notice.reason),
                                    },
                                );
                            }
                        }
                    });
                    if let Some(slot) = inner.state.lock().serving.get_mut(&(from, id)) {
                        *slot = Some(monitor);
                    }
                }
            }
        }
        Wire::Demonitor { id } => {
            let monitor = inner.state.lock().serving.remove(&(from, id)).flatten();
            if let Some(monitor) = monitor {
                demonitor(monitor);
            }
        }
        Wire::Down { id, reason } => {
            if let Some(watching) = inner.state.lock().watching.remove(&id) {
                let _ = watching.down.send(reason);
            }
        }
    }
}

fn claim(inner: &NodeInner, name: &str, node: &str) {
    let mut state = inner.state.lock();
    let outcome = state.names.claim(name, node, &inner.config.name);
    if let ClaimOutcome::BeatLocal(service) = outcome {
        tracing::warn!(%name, winner = %node, "global name claimed twice: this node's registration is dropped");
        super::names::announce_release(inner, state, name, service);
    }
}
