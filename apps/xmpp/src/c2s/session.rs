//! The session actor: one per client connection, the shell around
//! [`Stream`].
//!
//! It is a temporary child of the listener's dynamic supervisor, so a crash
//! (a panic in a handler, a bug reached by one client's input) ends that
//! session and nothing else. Its mailbox gets three kinds of messages:
//! events from its connection task ([`super::connection`]), stanzas and
//! close requests from the router (through [`SessionHandle`]), and its
//! negotiation timer. Each becomes an [`Input`] for the state machine, and
//! the [`Action`]s that come back are carried out here, in order:
//! writes go to the connection's bounded queue, credentials are looked up in
//! [`Accounts`](super::Accounts) (with [`CREDENTIALS_TIMEOUT`]), binding and
//! routing go to the [`Router`].
//!
//! Why the mailbox is unbounded although everything else is bounded: ractor
//! mailboxes are. What keeps it short is that each message is handled
//! without waiting on the client: a stanza for the client is moved into the
//! bounded outgoing queue at once, and a full queue disconnects the client
//! (the router's deliveries never wait on a slow reader). Events from the
//! connection are paced by its permits (at most `INCOMING_EVENTS_MAX` in
//! the mailbox).
//!
//! Ending: the stream's [`Action::Close`] queues the stream error and
//! `</stream:stream>`, removes the session from the router (which runs the
//! session-closed hooks: unavailable presence) and stops the actor; the
//! connection task finishes the writes on its own, bounded by the write
//! timeout. A stop by the supervisor (server shutdown) closes with
//! `system-shutdown` in `post_stop`. A crash or a kill skips `post_stop`, so
//! `Drop` aborts the connection task and schedules the router cleanup.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::connection::{self, ConnectionConfig, Inbound, InboundSink, Outgoing};
use super::settings::{CREDENTIALS_TIMEOUT, INCOMING_EVENTS_MAX};
use super::stream::{Action, Credentials, Input, Stream, StreamConfig};
use crate::router::{
    ClientSession, DeliverError, Router, SessionControl, SessionEntry, SessionHandle, SessionId,
};
use crate::stanza::error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, NamespaceContext, StreamEvent, STREAM_CLOSE};

/// What every session of one listener shares.
pub(crate) struct ListenerContext {
    pub(crate) router: Arc<Router>,
    pub(crate) stream_config: Arc<StreamConfig>,
    pub(crate) connection: Arc<ConnectionConfig>,
    pub(crate) outgoing_queue_max: usize,
    pub(crate) negotiation_timeout: Duration,
}

/// The arguments of one session: its accepted socket (taken once, at
/// start), its peer, its listener's context. `Clone + Sync`, as the
/// dynamic supervisor's arguments must be.
#[derive(Clone)]
pub(crate) struct SessionArgs {
    pub(crate) socket: Arc<Mutex<Option<TcpStream>>>,
    pub(crate) peer: SocketAddr,
    pub(crate) context: Arc<ListenerContext>,
}

/// The session actor's messages.
pub(crate) enum SessionMsg {
    /// An event from the connection task, with the permit that paces
    /// parsing (released when handled).
    Inbound(InboundEvent),
    /// A stanza the router delivers to this client.
    Deliver(Element),
    /// End the stream with this error.
    Close(StreamError),
    /// The negotiation timer of this generation fired (an older one is
    /// ignored: the timer restarts at each step).
    NegotiationTimeout(u64),
}

bream_runtime::local_message!(SessionMsg);

/// An event from the connection task (opaque outside c2s).
pub(crate) struct InboundEvent {
    event: Inbound,
    permit: Option<OwnedSemaphorePermit>,
}

impl InboundSink for ActorRef<SessionMsg> {
    fn send(&self, event: Inbound, permit: Option<OwnedSemaphorePermit>) -> bool {
        self.cast(SessionMsg::Inbound(InboundEvent { event, permit }))
            .is_ok()
    }
}

/// How the router reaches a session actor.
struct ActorSession(ActorRef<SessionMsg>);

impl SessionControl for ActorSession {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        crate::metrics::stanza_out(&stanza.name);
        self.0
            .cast(SessionMsg::Deliver(stanza))
            .map_err(|error| match error {
                MessagingErr::SendErr(SessionMsg::Deliver(stanza)) => {
                    DeliverError::Gone(Some(stanza))
                }
                _ => DeliverError::Gone(None),
            })
    }

    fn close(&self, error: StreamError) {
        // A session that is gone is closed already.
        let _ = self.0.cast(SessionMsg::Close(error));
    }
}

/// The session actor.
pub(crate) struct Session;

/// A task aborted when dropped, unless detached.
struct OwnedTask<T>(Option<JoinHandle<T>>);

impl<T> OwnedTask<T> {
    fn abort(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }

    fn detach(&mut self) {
        self.0 = None;
    }
}

impl<T> Drop for OwnedTask<T> {
    fn drop(&mut self) {
        self.abort();
    }
}

pub(crate) struct SessionState {
    context: Arc<ListenerContext>,
    /// `None` only while an input runs on the blocking pool.
    stream: Option<Stream>,
    outgoing: mpsc::Sender<Outgoing>,
    permits: Arc<Semaphore>,
    connection: OwnedTask<()>,
    negotiation_timer: OwnedTask<Result<(), MessagingErr<SessionMsg>>>,
    /// Which negotiation timer is current.
    negotiation_generation: u64,
    sid: SessionId,
    peer: SocketAddr,
    myself: ActorRef<SessionMsg>,
    /// Set while the session is in the router's table.
    bound: Option<ClientSession>,
    /// The session has ended; the actor stops after the current message.
    ended: bool,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        // Only after a crash or a kill: a normal end has removed it already.
        if let Some(client) = self.bound.take() {
            let router = Arc::clone(&self.context.router);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { router.close_session(&client).await });
            }
        }
    }
}

impl Actor for Session {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let socket = args
            .socket
            .lock()
            .take()
            .ok_or("the session's socket was taken by an earlier start")?;
        let context = args.context;
        let (outgoing, outgoing_queue) = mpsc::channel(context.outgoing_queue_max);
        let permits = Arc::new(Semaphore::new(1));
        let connection = tokio::spawn(connection::run(
            socket,
            Arc::clone(&context.connection),
            outgoing_queue,
            Arc::clone(&permits),
            myself.clone(),
        ));
        let negotiation_timer = myself.send_after(context.negotiation_timeout, || {
            SessionMsg::NegotiationTimeout(0)
        });
        let sid = SessionId::next();
        tracing::debug!(%sid, peer = %args.peer, "connection accepted");
        Ok(SessionState {
            stream: Some(Stream::new(Arc::clone(&context.stream_config))),
            context,
            outgoing,
            permits,
            connection: OwnedTask(Some(connection)),
            negotiation_timer: OwnedTask(Some(negotiation_timer)),
            negotiation_generation: 0,
            sid,
            peer: args.peer,
            myself,
            bound: None,
            ended: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // An event's permit is held until it has been handled.
        let (input, _permit) = match message {
            SessionMsg::Inbound(InboundEvent { event, permit }) => {
                if state.bound.is_none() {
                    // Each step before binding gets the full timeout.
                    state.restart_negotiation_timer();
                }
                (state.inbound(event), permit)
            }
            SessionMsg::Deliver(stanza) => (Input::Deliver(stanza), None),
            SessionMsg::Close(error) => (Input::Close(error), None),
            SessionMsg::NegotiationTimeout(generation) => {
                if generation != state.negotiation_generation {
                    return Ok(());
                }
                (Input::NegotiationTimeout, None)
            }
        };
        state.input(input).await?;
        if state.ended {
            myself.stop(None);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if !state.ended {
            // Stopped from outside: the server is shutting down.
            state
                .input(Input::Close(StreamError::new(
                    StreamErrorCondition::SystemShutdown,
                )))
                .await?;
        }
        Ok(())
    }
}

impl SessionState {
    fn restart_negotiation_timer(&mut self) {
        self.negotiation_timer.abort();
        self.negotiation_generation += 1;
        let generation = self.negotiation_generation;
        let timer = self
            .myself
            .send_after(self.context.negotiation_timeout, move || {
                SessionMsg::NegotiationTimeout(generation)
            });
        self.negotiation_timer = OwnedTask(Some(timer));
    }

    fn inbound(&self, event: Inbound) -> Input {
        match event {
            Inbound::Event(StreamEvent::StreamStart(header)) => Input::Header(header),
            Inbound::Event(StreamEvent::Stanza(element)) => Input::Element(element),
            Inbound::Event(StreamEvent::StreamEnd) => Input::End,
            Inbound::ParseError(error) => {
                tracing::info!(sid = %self.sid, peer = %self.peer, %error, "stream parse error");
                Input::ParseError(error)
            }
            Inbound::TlsEstablished => Input::TlsEstablished,
            Inbound::IdleTimeout => Input::IdleTimeout,
            Inbound::Disconnected(reason) => {
                tracing::debug!(sid = %self.sid, peer = %self.peer, %reason, "connection ended");
                Input::Disconnected
            }
        }
    }

    /// Runs `input` through the stream and carries out the actions.
    async fn input(&mut self, input: Input) -> Result<(), ActorProcessingErr> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let actions = stream.handle(input);
        self.run(actions).await?;
        if self.ended {
            // After an overflow, which cannot wait for the router.
            self.end().await;
        }
        Ok(())
    }

    /// Runs `input` on the blocking pool: the credentials answer, which may
    /// cost a PBKDF2 run (PLAIN) that must not hold up a runtime thread.
    async fn input_blocking(&mut self, input: Input) -> Result<Vec<Action>, ActorProcessingErr> {
        let Some(mut stream) = self.stream.take() else {
            return Ok(Vec::new());
        };
        let (stream, actions) = tokio::task::spawn_blocking(move || {
            let actions = stream.handle(input);
            (stream, actions)
        })
        .await?;
        self.stream = Some(stream);
        Ok(actions)
    }

    async fn run(&mut self, actions: Vec<Action>) -> Result<(), ActorProcessingErr> {
        let mut queue = VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            if self.ended {
                break;
            }
            match action {
                Action::SendHeader(header) => self.send(Outgoing::Xml(header)),
                Action::Send(element) => self.send(Outgoing::Xml(
                    element.to_xml_in(&NamespaceContext::CLIENT_STREAM),
                )),
                Action::StartTls => self.send(Outgoing::StartTls),
                Action::RestartStream => self.send(Outgoing::ResetParser),
                Action::LookupCredentials { domain, username } => {
                    let answer = self.credentials(&domain, &username).await;
                    let more = self.input_blocking(Input::Credentials(answer)).await?;
                    for action in more.into_iter().rev() {
                        queue.push_front(action);
                    }
                }
                Action::OpenSession { jid } => {
                    let entry = SessionEntry::new(
                        jid,
                        self.sid,
                        SessionHandle::new(ActorSession(self.myself.clone())),
                    );
                    let client = entry.client();
                    if let Err(error) = self.context.router.open_session(entry).await {
                        tracing::error!(sid = %self.sid, %error, "cannot register the session");
                        let error = StreamError::new(StreamErrorCondition::InternalServerError);
                        let more = self
                            .stream
                            .as_mut()
                            .map(|stream| stream.handle(Input::Close(error)));
                        queue.extend(more.unwrap_or_default());
                        continue;
                    }
                    tracing::info!(sid = %self.sid, jid = %client.jid, peer = %self.peer, "session bound");
                    self.bound = Some(client);
                    self.negotiation_timer.abort();
                    // Bound: parse ahead of the session, up to the bound.
                    self.permits.add_permits(INCOMING_EVENTS_MAX - 1);
                }
                Action::Route(stanza) => {
                    if let Some(client) = self.bound.clone() {
                        crate::metrics::stanza_in(&stanza.name);
                        self.context.router.route_from_client(&client, stanza).await;
                    }
                }
                Action::Close(error) => {
                    let mut xml = String::new();
                    if let Some(error) = &error {
                        tracing::info!(sid = %self.sid, peer = %self.peer, condition = %error.condition, "closing the stream");
                        xml.push_str(&error.to_xml());
                    }
                    xml.push_str(STREAM_CLOSE);
                    self.send(Outgoing::Xml(xml));
                    self.send(Outgoing::Close);
                    // The connection task finishes the writes on its own.
                    self.connection.detach();
                    self.end().await;
                }
                Action::Terminate => {
                    self.connection.abort();
                    self.end().await;
                }
            }
        }
        Ok(())
    }

    async fn credentials(&self, domain: &str, username: &str) -> Credentials {
        let lookup = self
            .context
            .router
            .accounts()
            .pass_details(domain, username);
        match tokio::time::timeout(CREDENTIALS_TIMEOUT, lookup).await {
            Ok(Ok(Some(details))) => Credentials::Found(details),
            Ok(Ok(None)) => Credentials::NoSuchUser,
            Ok(Err(error)) => {
                tracing::error!(sid = %self.sid, %error, "credentials lookup failed");
                Credentials::Unavailable
            }
            Err(_) => {
                tracing::error!(sid = %self.sid, timeout = ?CREDENTIALS_TIMEOUT, "credentials lookup timed out");
                Credentials::Unavailable
            }
        }
    }

    /// Queues a command for the connection. A full queue means the client
    /// does not read: it is disconnected.
    fn send(&mut self, command: Outgoing) {
        if self.ended {
            return;
        }
        match self.outgoing.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    sid = %self.sid,
                    peer = %self.peer,
                    outgoing_queue_max = self.context.outgoing_queue_max,
                    "client does not read: outgoing_queue_max reached, disconnecting"
                );
                self.overflow();
            }
            Err(TrySendError::Closed(_)) => self.overflow(),
        }
    }

    /// The connection cannot take more: drop it, and end the stream without
    /// writing anything more.
    fn overflow(&mut self) {
        self.connection.abort();
        if let Some(stream) = self.stream.as_mut() {
            let _ = stream.handle(Input::Disconnected);
        }
        self.ended = true;
    }

    async fn end(&mut self) {
        self.ended = true;
        self.negotiation_timer.abort();
        if let Some(client) = self.bound.take() {
            self.context.router.close_session(&client).await;
            tracing::info!(sid = %self.sid, jid = %client.jid, "session closed");
        }
    }
}
