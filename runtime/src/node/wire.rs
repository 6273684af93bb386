//! What agents say to each other, and how it crosses ractor_cluster.
//!
//! Every node runs one agent actor; agents find each other through a process group that
//! ractor_cluster synchronises between nodes. They exchange [`Envelope`]s, encoded with
//! postcard into ractor's `SerializedMessage::Cast`. Each envelope names its sender, because
//! ractor does not say which session a message came on. Bytes that do not decode are dropped
//! by ractor with a debug log, never a panic.

use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::Message;
use serde::{Deserialize, Serialize};

use super::membership::{DownReason, SessionId};

/// The process group every node's agent joins.
pub(crate) const AGENTS_GROUP: &str = "bream.node_agents";

/// One message between agents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The sending node's name.
    pub from: String,
    /// What it says.
    pub wire: Wire,
}

/// The agent protocol.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Wire {
    /// Heartbeat; answered with [`Wire::Pong`].
    Ping,
    /// Heartbeat answer.
    Pong,
    /// Every global name the sender holds (sent when a peer comes up).
    Names { names: Vec<String> },
    /// The sender registered a global name.
    NameRegistered { name: String },
    /// The sender released a global name.
    NameReleased { name: String },
    /// Call the actor registered as `name`.
    Request {
        id: u64,
        name: String,
        payload: Vec<u8>,
        timeout_ms: u64,
    },
    /// Cast to the actor registered as `name`.
    Cast { name: String, payload: Vec<u8> },
    /// The answer to a [`Wire::Request`].
    Response {
        id: u64,
        result: Result<Vec<u8>, RemoteFailure>,
    },
    /// Monitor the actor registered as `name`; answered with [`Wire::Down`] when it stops.
    Monitor { id: u64, name: String },
    /// Cancel a [`Wire::Monitor`].
    Demonitor { id: u64 },
    /// A monitored actor stopped.
    Down { id: u64, reason: RemoteExit },
}

/// Why a remote request failed on the serving node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RemoteFailure {
    /// No actor holds that name on the serving node.
    #[error("no actor registered as {0:?} there")]
    NoSuchName(String),
    /// The actor did not answer in time.
    #[error("the actor did not answer in time")]
    Timeout,
    /// The actor stopped before answering.
    #[error("the actor stopped before answering")]
    Stopped,
    /// The request did not decode as the actor's request type.
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// How a remotely monitored actor ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteExit {
    /// It stopped normally (`normal` or `shutdown`).
    Normal,
    /// It was killed.
    Killed,
    /// It crashed, with this reason.
    Crashed(String),
    /// It was not alive when the monitor was set.
    NoProc,
    /// Its node went down, or the connection to it did.
    NodeDown(DownReason),
}

impl From<crate::exit::ExitReason> for RemoteExit {
    fn from(reason: crate::exit::ExitReason) -> Self {
        use crate::exit::ExitReason;
        match reason {
            ExitReason::Normal | ExitReason::Shutdown => RemoteExit::Normal,
            ExitReason::Killed => RemoteExit::Killed,
            ExitReason::NoProc => RemoteExit::NoProc,
            ExitReason::Error(text) => RemoteExit::Crashed(text),
        }
    }
}

/// Facts the agent learns locally: session events from ractor_cluster and its own timers.
#[derive(Debug)]
pub(crate) enum LocalEvent {
    SessionOpened {
        session: SessionId,
        address: String,
        actor: ractor::ActorRef<ractor_cluster::NodeSessionMessage>,
    },
    SessionAuthenticated {
        session: SessionId,
        name: Option<String>,
    },
    SessionReady {
        session: SessionId,
        name: Option<String>,
    },
    SessionClosed {
        session: SessionId,
        name: Option<String>,
    },
    HeartbeatTick,
}

/// The agent's mailbox: envelopes from peers, events from here.
#[derive(Debug)]
pub(crate) enum AgentMsg {
    Remote(Envelope),
    Local(LocalEvent),
}

impl Message for AgentMsg {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        match self {
            AgentMsg::Remote(envelope) => Ok(SerializedMessage::Cast {
                variant: String::new(),
                args: postcard::to_allocvec(&envelope).map_err(|_| BoxedDowncastErr)?,
                metadata: None,
            }),
            AgentMsg::Local(_) => Err(BoxedDowncastErr),
        }
    }

    fn deserialize(bytes: SerializedMessage) -> Result<Self, BoxedDowncastErr> {
        match bytes {
            SerializedMessage::Cast { args, .. } => postcard::from_bytes(&args)
                .map(AgentMsg::Remote)
                .map_err(|_| BoxedDowncastErr),
            _ => Err(BoxedDowncastErr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_garbage_is_an_error() {
        let envelope = Envelope {
            from: "a@h".into(),
            wire: Wire::Request {
                id: 7,
                name: "echo".into(),
                payload: vec![1, 2, 3],
                timeout_ms: 100,
            },
        };
        let serialized = AgentMsg::Remote(envelope).serialize().expect("serialize");
        match AgentMsg::deserialize(serialized).expect("deserialize") {
            AgentMsg::Remote(Envelope {
                from,
                wire: Wire::Request { id, payload, .. },
            }) => {
                assert_eq!((from.as_str(), id, payload), ("a@h", 7, vec![1, 2, 3]));
            }
            other => panic!("{other:?}"),
        }
        let garbage = SerializedMessage::Cast {
            variant: String::new(),
            args: vec![0xff; 9],
            metadata: None,
        };
        assert!(AgentMsg::deserialize(garbage).is_err());
    }
}
