//! A listener: an actor whose task accepts connections and starts a session
//! for each under the sessions supervisor.
//!
//! The socket is bound once, by [`super::serve`], before any actor starts
//! (so a port in use is a start-up error, and port 0 in tests is known at
//! once); the actor shares it, so a restarted listener accepts on the same
//! socket without binding again.
//!
//! Accepting is sequential: each accepted socket waits for the sessions
//! supervisor to start its session (a few microseconds) before the next is
//! accepted, and meanwhile the kernel queues new connections in the listen
//! backlog. At `sessions_max` sessions a new connection is closed at once.
//! An accept error (out of file descriptors) is logged, then the loop waits
//! [`ACCEPT_ERROR_BACKOFF`] rather than spin.

use std::sync::Arc;

use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef};
use bream_runtime::supervisor::{DynamicSupervisor, SupervisorError, SupervisorRef};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::session::{ListenerContext, SessionArgs};
use super::settings::ACCEPT_ERROR_BACKOFF;

/// The child id of the sessions supervisor under the c2s supervisor.
pub(crate) const SESSIONS_CHILD: &str = "sessions";

/// A listener's start arguments.
#[derive(Clone)]
pub(crate) struct ListenerArgs {
    pub(crate) socket: Arc<TcpListener>,
    /// The c2s supervisor, to find the sessions supervisor (again, after a
    /// restart) when the accept loop needs it.
    pub(crate) root: SupervisorRef,
    pub(crate) context: Arc<ListenerContext>,
    /// The child id, for logs.
    pub(crate) name: String,
}

/// A listener has no messages: its work is its accept task.
pub(crate) enum ListenerMsg {}

bream_runtime::local_message!(ListenerMsg);

pub(crate) struct Listener;

/// The accept task, aborted with the actor (also after a kill, when
/// `post_stop` does not run).
pub(crate) struct ListenerState(JoinHandle<()>);

impl Drop for ListenerState {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Actor for Listener {
    type Msg = ListenerMsg;
    type State = ListenerState;
    type Arguments = ListenerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ListenerMsg>,
        args: ListenerArgs,
    ) -> Result<ListenerState, ActorProcessingErr> {
        let task = tokio::spawn(async move {
            accept_loop(&args).await;
            // The loop ends only if the sessions supervisor is gone for good.
            myself.stop(Some("accept loop ended".to_owned()));
        });
        Ok(ListenerState(task))
    }
}

async fn accept_loop(args: &ListenerArgs) {
    let mut sessions: Option<DynamicSupervisor<SessionArgs>> = None;
    loop {
        let (socket, peer) = match args.socket.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(listener = %args.name, %error, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let session_args = SessionArgs {
            socket: Arc::new(Mutex::new(Some(socket))),
            peer,
            context: Arc::clone(&args.context),
        };
        let supervisor = match sessions.clone() {
            Some(supervisor) => supervisor,
            None => match find_sessions(&args.root).await {
                Some(supervisor) => {
                    sessions = Some(supervisor.clone());
                    supervisor
                }
                None => {
                    tracing::error!(listener = %args.name, "no sessions supervisor");
                    return;
                }
            },
        };
        match supervisor.start_child(session_args).await {
            Ok(_) => {}
            Err(SupervisorError::MaxChildren(max)) => {
                tracing::warn!(listener = %args.name, %peer, sessions_max = max, "sessions_max reached: connection refused");
            }
            Err(SupervisorError::Call(error)) => {
                // The supervisor is gone (it may be restarting): look again next time.
                tracing::warn!(listener = %args.name, %peer, %error, "sessions supervisor unavailable");
                sessions = None;
            }
            Err(error) => {
                tracing::warn!(listener = %args.name, %peer, %error, "session not started")
            }
        }
    }
}

pub(crate) async fn find_sessions(root: &SupervisorRef) -> Option<DynamicSupervisor<SessionArgs>> {
    let children = root.which_children().await.ok()?;
    let cell = children
        .into_iter()
        .find(|child| child.id == SESSIONS_CHILD)?
        .actor?;
    let supervisor = SupervisorRef::from_cell(cell).await.ok()?;
    Some(DynamicSupervisor::from_ref(supervisor))
}
