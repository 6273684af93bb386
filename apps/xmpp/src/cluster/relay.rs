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

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use bream_runtime::node::{Node, RemoteMessage};
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_runtime::supervisor::{ChildSpec, StartError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::router::{DeliverError, Router, SessionHandle, SessionId};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::Element;

/// The global name of `node`'s relay.
pub fn relay_name(node: &str) -> String {
    format!("bream.xmpp.relay/{node}")
}

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
}

/// The relay actor's message.
pub struct RelayMsg(SessionCommand);

bream_runtime::local_message!(RelayMsg);

impl RemoteMessage for RelayMsg {
    type Request = SessionCommand;
    type Response = ();

    fn from_remote(request: SessionCommand, _reply: Option<RpcReplyPort<()>>) -> Self {
        RelayMsg(request)
    }
}

/// Both ends: sending to other nodes' relays, and what this node's
/// relay needs to hand stanzas on.
pub struct Relay {
    node: Node,
    local: Arc<Mutex<HashMap<SessionId, SessionHandle>>>,
    router: OnceLock<Weak<Router>>,
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
    ) -> Arc<Relay> {
        Arc::new(Relay {
            node,
            local,
            router: OnceLock::new(),
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

    fn handle(&self, command: SessionCommand) {
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
        RelayMsg(command): Self::Msg,
        relay: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        relay.handle(command);
        Ok(())
    }
}
