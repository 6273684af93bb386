//! How a stanza reaches a session on another node: each node runs one
//! relay actor, registered globally as [`relay_name`]`(node)`, that hands
//! what other nodes send to its own session actors.
//!
//! Why one relay per node rather than a remote reference per session: a
//! session table record stays small and serializable (a node name and a
//! session id), the node link already orders messages between two nodes,
//! and a stanza crosses as its element tree (postcard), not as XML text.
//!
//! A stanza for a session that ended between the sender's lookup and the
//! delivery is routed again on the owner's node (as Erlang would drop a
//! message to a dead pid, but XMPP wants the bare-JID rules: another
//! resource, or offline storage). A node that is not up answers "gone", and
//! the sender's router routes the stanza as if that session were not there.
//!
//! Resumption on another node (XEP-0198) goes through the relays too. The resuming node B
//! first puts the resuming connection's handle in its own map under the session id (so
//! whatever the old node forwards finds it), then calls A's relay with
//! [`SessionCommand::TakeOver`]; A asks its session to hand itself over with a handle that
//! forwards to B's relay, and answers with the [`ResumableState`] or a [`TakeoverError`],
//! within [`HANDOVER_CALL_TIMEOUT`]. The old session forwards what is already in its mailbox
//! and stops; A's map keeps the forwarding handle, so stanzas routed by nodes that still read
//! the old record go on to B, until B, once its record is in the table on every node, sends
//! [`SessionCommand::HandoverDone`]. A lost `HandoverDone` (B died) leaves one forwarding
//! handle in A's map, which the next delivery to it clears (B gone: the router forgets it).
//! A handover answered after B stopped waiting loses the session (its state went nowhere),
//! as a crash would: A then drops the forwarding handle, so nothing bounces between the two.
//! Mirrors (`super::sm_mirror`) arrive as [`SessionCommand::Mirror`], and a resumption from a
//! mirror is [`SessionCommand::TakeMirror`], within [`MIRROR_TAKE_TIMEOUT`].

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bream_runtime::node::{Node, RemoteMessage};
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_runtime::supervisor::{ChildSpec, StartError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::sm_mirror::{MirrorCommand, MirrorService};
use crate::c2s::settings::TAKEOVER_TIMEOUT;
use crate::c2s::sm::{ResumableState, SmId};
use crate::router::{DeliverError, Router, SessionHandle, SessionId, TakeoverError};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::Element;

/// The global name of `node`'s relay.
pub fn relay_name(node: &str) -> String {
    format!("bream.xmpp.relay/{node}")
}

/// How long a resuming node waits for the old node's answer to a [`SessionCommand::TakeOver`]:
/// the old session's own [`TAKEOVER_TIMEOUT`] plus a margin for the node link both ways.
pub const HANDOVER_CALL_TIMEOUT: Duration = TAKEOVER_TIMEOUT.saturating_add(Duration::from_secs(2));
/// How long a resuming node waits for a mirror's answer to a [`SessionCommand::TakeMirror`]
/// (the mirror answers from memory, at once).
pub const MIRROR_TAKE_TIMEOUT: Duration = Duration::from_secs(5);

const _: () = assert!(HANDOVER_CALL_TIMEOUT.as_millis() > TAKEOVER_TIMEOUT.as_millis());

/// What a relay answers to the commands that are calls ([`SessionCommand::TakeOver`],
/// [`SessionCommand::TakeMirror`]).
pub type TakeoverAnswer = Result<ResumableState, TakeoverError>;

/// What one node asks of another's session.
#[derive(Debug, Serialize, Deserialize)]
pub enum SessionCommand {
    /// Hand this stanza to the session's client.
    Deliver {
        /// The session.
        sid: SessionId,
        /// The stanza.
        stanza: Element,
    },
    /// End the session's stream with this error.
    Close {
        /// The session.
        sid: SessionId,
        /// The stream error condition's name.
        condition: String,
        /// Its text.
        text: Option<String>,
    },
    /// A call: hand the session over to a connection resuming it on node `by`; the answer is
    /// a [`TakeoverAnswer`].
    TakeOver {
        /// The session.
        sid: SessionId,
        /// The resuming node.
        by: String,
    },
    /// The session handed over to the sender is in the table everywhere: stop forwarding.
    HandoverDone {
        /// The session.
        sid: SessionId,
    },
    /// For the mirror of a session of the sender's.
    Mirror(MirrorCommand),
    /// A call: the mirrored state of `id`, for a connection resuming it (its owner died); the
    /// answer is a [`TakeoverAnswer`].
    TakeMirror {
        /// The stream management id.
        id: SmId,
    },
}

/// The relay actor's message.
pub struct RelayMsg {
    command: SessionCommand,
    reply: Option<RpcReplyPort<TakeoverAnswer>>,
}

bream_runtime::local_message!(RelayMsg);

impl RemoteMessage for RelayMsg {
    type Request = SessionCommand;
    type Response = TakeoverAnswer;

    fn from_remote(request: SessionCommand, reply: Option<RpcReplyPort<TakeoverAnswer>>) -> Self {
        RelayMsg {
            command: request,
            reply,
        }
    }
}

/// Both ends: sending to other nodes' relays, and what this node's
/// relay needs to hand stanzas on.
pub struct Relay {
    node: Node,
    local: Arc<Mutex<HashMap<SessionId, SessionHandle>>>,
    router: OnceLock<Weak<Router>>,
    mirrors: Arc<MirrorService>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Relay")
            .field("node", &self.node.name())
            .finish_non_exhaustive()
    }
}

impl Relay {
    pub(crate) fn new(
        node: Node,
        local: Arc<Mutex<HashMap<SessionId, SessionHandle>>>,
        mirrors: Arc<MirrorService>,
    ) -> Arc<Relay> {
        Arc::new(Relay {
            node,
            local,
            router: OnceLock::new(),
            mirrors,
        })
    }

    /// The router stanzas for ended sessions are routed again with.
    pub(crate) fn set_router(&self, router: &Arc<Router>) {
        let _ = self.router.set(Arc::downgrade(router));
    }

    /// A child spec `relay` for this node's relay actor; it registers the actor's global name
    /// when it starts.
    pub(crate) fn child_spec(self: &Arc<Self>) -> ChildSpec {
        let relay = Arc::clone(self);
        ChildSpec::worker("relay", move |parent| {
            let relay = Arc::clone(&relay);
            async move {
                let cell =
                    bream_runtime::fault::spawn_linked(RelayActor, Arc::clone(&relay), parent)
                        .await?;
                let actor: ActorRef<RelayMsg> = cell.clone().into();
                if let Err(error) = relay
                    .node
                    .register_global(&relay_name(relay.node.name()), &actor)
                {
                    actor.stop(None);
                    return Err(StartError::Spawn(error.to_string()));
                }
                Ok(cell)
            }
        })
    }

    /// Sends `stanza` to session `sid` on `node`.
    pub(crate) fn deliver(
        &self,
        node: &str,
        sid: SessionId,
        stanza: Element,
    ) -> Result<(), DeliverError> {
        self.node
            .cast(&relay_name(node), &SessionCommand::Deliver { sid, stanza })
            .map_err(|error| {
                tracing::debug!(%node, %sid, %error, "remote session unreachable");
                DeliverError::Gone(None)
            })
    }

    /// Asks session `sid` on `node` to close with `error`.
    pub(crate) fn close(&self, node: &str, sid: SessionId, error: StreamError) {
        let command = SessionCommand::Close {
            sid,
            condition: error.condition.name().to_string(),
            text: error.text,
        };
        if let Err(error) = self.node.cast(&relay_name(node), &command) {
            tracing::debug!(%node, %sid, %error, "remote session unreachable: not closed");
        }
    }

    /// Takes session `sid` on `node` over for `by`, a connection resuming it here. See the
    /// module docs.
    pub(crate) async fn take_over(
        &self,
        node: &str,
        sid: SessionId,
        by: SessionHandle,
    ) -> TakeoverAnswer {
        // Before asking: what the old session forwards must find the new one.
        self.local.lock().insert(sid, by.clone());
        let command = SessionCommand::TakeOver {
            sid,
            by: self.node.name().to_owned(),
        };
        let answer = self
            .node
            .call::<_, TakeoverAnswer>(&relay_name(node), &command, HANDOVER_CALL_TIMEOUT)
            .await
            .unwrap_or_else(|error| Err(TakeoverError::NoAnswer(format!("{node}: {error}"))));
        if answer.is_err() {
            let mut local = self.local.lock();
            if local.get(&sid) == Some(&by) {
                local.remove(&sid);
            }
        }
        answer
    }

    /// Tells `node` that session `sid`, handed over from it, is in the table everywhere.
    pub(crate) fn handover_done(&self, node: &str, sid: SessionId) {
        if let Err(error) = self
            .node
            .cast(&relay_name(node), &SessionCommand::HandoverDone { sid })
        {
            tracing::debug!(%node, %sid, %error, "old node unreachable: handover not confirmed");
        }
    }

    fn handle(
        self: &Arc<Self>,
        command: SessionCommand,
        reply: Option<RpcReplyPort<TakeoverAnswer>>,
    ) {
        match command {
            SessionCommand::Deliver { sid, stanza } => {
                let handle = self.local.lock().get(&sid).cloned();
                let undelivered = match handle {
                    Some(handle) => match handle.deliver(stanza) {
                        Ok(()) => None,
                        Err(DeliverError::Gone(stanza)) => stanza,
                    },
                    None => Some(stanza),
                };
                if let Some(stanza) = undelivered {
                    self.route_again(stanza);
                }
            }
            SessionCommand::Close {
                sid,
                condition,
                text,
            } => {
                let Some(handle) = self.local.lock().get(&sid).cloned() else {
                    return;
                };
                let condition = StreamErrorCondition::from_name(&condition, "")
                    .unwrap_or(StreamErrorCondition::UndefinedCondition);
                handle.close(StreamError { condition, text });
            }
            SessionCommand::TakeOver { sid, by } => {
                let Some(reply) = reply else {
                    return;
                };
                let Some(handle) = self.local.lock().get(&sid).cloned() else {
                    let _ = reply.send(Err(TakeoverError::NotResumable));
                    return;
                };
                let forward = super::sessions::remote_handle(Arc::clone(self), by.clone(), sid);
                let relay = Arc::clone(self);
                tokio::spawn(async move {
                    let answer = handle.take_over(forward).await;
                    match &answer {
                        Ok(_) => {
                            tracing::info!(%sid, to = %by, "session handed over to another node")
                        }
                        Err(error) => tracing::info!(%sid, to = %by, %error, "handover refused"),
                    }
                    let handed = answer.is_ok();
                    if reply.send(answer).is_err() && handed {
                        // The resuming node gave up waiting (HANDOVER_CALL_TIMEOUT) after the
                        // session had given itself up: its state is lost, as after a crash.
                        // Stop forwarding, or stanzas would bounce between the two nodes
                        // (the other has forgotten the session, the table still names this
                        // node); from now on they are routed as for a session that is gone.
                        tracing::warn!(%sid, to = %by, timeout = ?HANDOVER_CALL_TIMEOUT, "handover answered too late: the session is lost");
                        relay.local.lock().remove(&sid);
                    }
                });
            }
            SessionCommand::HandoverDone { sid } => {
                self.local.lock().remove(&sid);
            }
            SessionCommand::Mirror(command) => self.mirrors.handle(command),
            SessionCommand::TakeMirror { id } => {
                let answer = self.mirrors.take(&id);
                if let Some(reply) = reply {
                    let _ = reply.send(answer);
                }
            }
        }
    }

    fn route_again(&self, stanza: Element) {
        let Some(router) = self.router.get().and_then(Weak::upgrade) else {
            return;
        };
        tokio::spawn(async move { router.route(stanza).await });
    }
}

struct RelayActor;

impl Actor for RelayActor {
    type Msg = RelayMsg;
    type State = Arc<Relay>;
    type Arguments = Arc<Relay>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        relay: Arc<Relay>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(relay)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        RelayMsg { command, reply }: Self::Msg,
        relay: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        relay.handle(command, reply);
        Ok(())
    }
}
