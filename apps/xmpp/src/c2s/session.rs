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
//! Stream management (XEP-0198, see [`super::sm`]): the unacknowledged
//! buffer lives in the [`Stream`] this actor owns. When the connection of a
//! resumable session drops (or idles out), the stream says
//! [`Action::Detach`]: the actor drops the connection, stays in the session
//! table (still available, still buffering what the router delivers) and arms
//! the `resume_timeout` timer. A new connection that sends `<resume/>` finds
//! the session through the [`SmRegistry`] and the session table, and asks it
//! to hand itself over ([`SessionControl::take_over`]): the old actor gives up
//! its [`ResumableState`], points its handle at the new session (so that a
//! stanza routed through a handle read before the switch still arrives),
//! forwards what is already in its mailbox, and stops after that. The new actor
//! puts itself in the table under the same key and resends the unacknowledged
//! stanzas. When a session ends for real (timeout, close, replaced, overflow),
//! its unacknowledged messages are routed again after it left the table:
//! another resource, or offline storage, by the router's rules.
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

use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr, RpcReplyPort};
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpStream;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::connection::{self, ConnectionConfig, Inbound, InboundSink, Outgoing};
use super::registration::InBandRegistration;
use super::settings::{CREDENTIALS_TIMEOUT, INCOMING_EVENTS_MAX, TAKEOVER_TIMEOUT};
use super::sm::{ResumableState, SmId};
use super::sm_mirror::{MirrorCursor, MirrorView};
use super::sm_registry::{SmLookup, SmRecord, SmRegistry};
use super::stream::{Action, Credentials, Input, Stream, StreamConfig};
use crate::router::{
    ClientSession, DeliverError, Router, SessionControl, SessionEntry, SessionHandle, SessionId,
    TakeoverError,
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
    /// Stream management ids → sessions.
    pub(crate) sm_registry: Arc<dyn SmRegistry>,
    /// Who creates accounts before sign-in, if registration is offered.
    pub(crate) registration: Option<Arc<dyn InBandRegistration>>,
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
    /// A connection resuming this session asks for it (see the module docs).
    TakeOver {
        /// The resuming session.
        by: SessionHandle,
        /// The state, or why not.
        reply: RpcReplyPort<Result<ResumableState, TakeoverError>>,
    },
    /// The resume timer of this generation fired.
    ResumeTimeout(u64),
    /// The stream management idle request timer fired.
    AckTimer,
    /// Time to check whether the client has been silent for the server pings' interval.
    PingCheck,
    /// The answer to the ping of this generation is late.
    PingTimeout(u64),
    /// Handed over: everything before this in the mailbox has been forwarded; stop.
    Stop,
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

/// Where a session's handle leads: its actor, or, once the session was taken over by a
/// resuming connection, that connection's session.
enum Target {
    Actor(ActorRef<SessionMsg>),
    Forward(SessionHandle),
}

/// How the router reaches a session actor. The target is behind a lock so that a
/// handover switches every copy of the handle at once (a delivery holds the read lock
/// while it casts, so none slips past the switch into a mailbox that is about to stop).
struct ActorSession(Arc<RwLock<Target>>);

impl SessionControl for ActorSession {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        let target = self.0.read();
        match &*target {
            Target::Actor(actor) => {
                crate::metrics::stanza_out(&stanza.name);
                actor
                    .cast(SessionMsg::Deliver(stanza))
                    .map_err(|error| match error {
                        MessagingErr::SendErr(SessionMsg::Deliver(stanza)) => {
                            DeliverError::Gone(Some(stanza))
                        }
                        _ => DeliverError::Gone(None),
                    })
            }
            Target::Forward(next) => next.deliver(stanza),
        }
    }

    fn close(&self, error: StreamError) {
        match &*self.0.read() {
            // A session that is gone is closed already.
            Target::Actor(actor) => {
                let _ = actor.cast(SessionMsg::Close(error));
            }
            Target::Forward(next) => next.close(error),
        }
    }

    fn take_over(&self, by: SessionHandle) -> BoxFuture<'_, Result<ResumableState, TakeoverError>> {
        let actor = match &*self.0.read() {
            Target::Actor(actor) => Ok(actor.clone()),
            Target::Forward(next) => Err(next.clone()),
        };
        Box::pin(async move {
            match actor {
                Ok(actor) => {
                    let call = bream_runtime::call::call_timeout(
                        &actor,
                        |reply| SessionMsg::TakeOver { by, reply },
                        TAKEOVER_TIMEOUT,
                    );
                    call.await
                        .map_err(|error| TakeoverError::NoAnswer(error.to_string()))?
                }
                Err(next) => next.take_over(by).await,
            }
        })
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
    /// Where this session's handle leads (see [`ActorSession`]).
    target: Arc<RwLock<Target>>,
    /// This session's handle, as the router holds it.
    handle: SessionHandle,
    /// Set while the session is in the router's table.
    bound: Option<ClientSession>,
    /// The stream management id registered for this session.
    sm_id: Option<SmId>,
    /// Detached: the resume timer and which one is current.
    resume_timer: OwnedTask<Result<(), MessagingErr<SessionMsg>>>,
    resume_generation: u64,
    /// The stream management idle request timer.
    ack_timer: OwnedTask<Result<(), MessagingErr<SessionMsg>>>,
    /// Taken over by a resuming connection: what reaches this actor goes there.
    handed_over: Option<SessionHandle>,
    /// What the mirror of this session's state on another node has seen (`buffer_replicas`).
    mirror: MirrorCursor,
    /// When the client last sent something (server pings ask after silence).
    last_heard: tokio::time::Instant,
    /// The next silence check, and the current ping's answer timer and its generation.
    ping_check: OwnedTask<Result<(), MessagingErr<SessionMsg>>>,
    ping_timeout: OwnedTask<Result<(), MessagingErr<SessionMsg>>>,
    ping_generation: u64,
    /// The session has ended; the actor stops after the current message.
    ended: bool,
}

impl Drop for SessionState {
    fn drop(&mut self) {
        // Only after a crash or a kill: a normal end has removed it already. The
        // unacknowledged stanzas die with the crashed stream (what a crash costs).
        let (client, sm_id) = (self.bound.take(), self.sm_id.take());
        if client.is_none() && sm_id.is_none() {
            return;
        }
        let router = Arc::clone(&self.context.router);
        let registry = Arc::clone(&self.context.sm_registry);
        let sid = self.sid;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(id) = sm_id {
                    let _ = registry.unregister(&id, sid, None).await;
                }
                if let Some(client) = client {
                    router.close_session(&client).await;
                }
            });
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
        let target = Arc::new(RwLock::new(Target::Actor(myself.clone())));
        let handle = SessionHandle::new(ActorSession(Arc::clone(&target)));
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
            target,
            handle,
            bound: None,
            sm_id: None,
            resume_timer: OwnedTask(None),
            resume_generation: 0,
            ack_timer: OwnedTask(None),
            handed_over: None,
            mirror: MirrorCursor::default(),
            last_heard: tokio::time::Instant::now(),
            ping_check: OwnedTask(None),
            ping_timeout: OwnedTask(None),
            ping_generation: 0,
            ended: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(next) = &state.handed_over {
            match message {
                SessionMsg::Deliver(stanza) => {
                    // The resumed session ended meanwhile: route the stanza as if it had
                    // not reached us (its table entry is gone by now).
                    if let Err(DeliverError::Gone(Some(stanza))) = next.deliver(stanza) {
                        state.context.router.route(stanza).await;
                    }
                }
                SessionMsg::TakeOver { reply, .. } => {
                    let _ = reply.send(Err(TakeoverError::NotResumable));
                }
                SessionMsg::Stop => myself.stop(None),
                _ => {}
            }
            return Ok(());
        }
        // An event's permit is held until it has been handled.
        let (input, _permit) = match message {
            SessionMsg::Inbound(InboundEvent { event, permit }) => {
                state.last_heard = tokio::time::Instant::now();
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
            SessionMsg::ResumeTimeout(generation) => {
                if generation != state.resume_generation {
                    return Ok(());
                }
                (Input::ResumeTimeout, None)
            }
            SessionMsg::TakeOver { by, reply } => {
                let answer = state.hand_over(by);
                let handed = answer.is_ok();
                let _ = reply.send(answer);
                if handed {
                    // Behind whatever is in the mailbox already, which is forwarded.
                    let _ = myself.cast(SessionMsg::Stop);
                }
                return Ok(());
            }
            SessionMsg::AckTimer => (Input::AckTimer, None),
            SessionMsg::PingCheck => match state.check_silence() {
                Some(input) => (input, None),
                None => return Ok(()),
            },
            SessionMsg::PingTimeout(generation) => {
                if generation != state.ping_generation {
                    return Ok(());
                }
                (Input::PingTimeout, None)
            }
            SessionMsg::Stop => return Ok(()),
        };
        state.input(input).await?;
        state.sync_mirror();
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
        if !state.ended && state.handed_over.is_none() {
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
    /// Arms the next silence check, `after` from now (default: the pings' interval), if
    /// the server sends pings.
    fn arm_ping_check(&mut self, after: Option<Duration>) {
        let Some(pings) = self.context.stream_config.server_pings() else {
            return;
        };
        let after = after.unwrap_or(pings.interval);
        let timer = self.myself.send_after(after, || SessionMsg::PingCheck);
        self.ping_check = OwnedTask(Some(timer));
    }

    /// A silence check: [`Input::PingDue`] if the client has said nothing for the pings'
    /// interval; the next check is armed either way (for when that much silence would be
    /// over, if the client spoke meanwhile).
    fn check_silence(&mut self) -> Option<Input> {
        let interval = self.context.stream_config.server_pings()?.interval;
        let silent = self.last_heard.elapsed();
        if silent >= interval {
            self.arm_ping_check(None);
            Some(Input::PingDue)
        } else {
            self.arm_ping_check(Some(interval - silent));
            None
        }
    }

    fn arm_ping_timeout(&mut self) {
        let Some(pings) = self.context.stream_config.server_pings() else {
            return;
        };
        self.ping_generation += 1;
        let generation = self.ping_generation;
        let timer = self
            .myself
            .send_after(pings.timeout, move || SessionMsg::PingTimeout(generation));
        self.ping_timeout = OwnedTask(Some(timer));
    }

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
                Action::SendStanza(stanza) => {
                    let mut xml = stanza.to_xml_in(&NamespaceContext::CLIENT_STREAM);
                    // The `<r/>` that follows a stanza goes out in the same write: one queue
                    // slot, one wake-up of the connection task and one send for both.
                    if matches!(queue.front(), Some(Action::RequestAck)) {
                        queue.pop_front();
                        xml.push_str(super::sm::REQUEST_XML);
                    }
                    self.send(Outgoing::Xml(xml));
                    if let Some(stream) = self.stream.as_mut() {
                        stream.stanza_written(stanza);
                    }
                }
                Action::EnableSm { id, resumable } => self.enable_sm(id, resumable).await,
                Action::Resume { previd } => {
                    let answer = self.resume(previd).await;
                    let more = self
                        .stream
                        .as_mut()
                        .map(|stream| stream.handle(answer))
                        .unwrap_or_default();
                    for action in more.into_iter().rev() {
                        queue.push_front(action);
                    }
                    self.arm_ping_check(None);
                }
                Action::Detach => self.detach(),
                Action::RequestAck => self.send(Outgoing::Xml(super::sm::REQUEST_XML.to_owned())),
                Action::ArmAckTimer => {
                    let timer = self
                        .myself
                        .send_after(super::sm::ACK_REQUEST_IDLE, || SessionMsg::AckTimer);
                    self.ack_timer = OwnedTask(Some(timer));
                }
                Action::ArmPingTimeout => self.arm_ping_timeout(),
                Action::Register {
                    id,
                    username,
                    password,
                } => {
                    let outcome = self.register(&username, &password).await;
                    let more = self
                        .stream
                        .as_mut()
                        .map(|stream| stream.handle(Input::Registered { id, outcome }))
                        .unwrap_or_default();
                    for action in more.into_iter().rev() {
                        queue.push_front(action);
                    }
                }
                Action::StartTls => self.send(Outgoing::StartTls),
                Action::RestartStream => self.send(Outgoing::ResetParser),
                Action::LookupCredentials { domain, username } => {
                    let answer = self.credentials(&domain, &username).await;
                    let more = self.input_blocking(Input::Credentials(answer)).await?;
                    for action in more.into_iter().rev() {
                        queue.push_front(action);
                    }
                }
                Action::OpenSession { jid, carbons } => {
                    let mut entry = SessionEntry::new(jid, self.sid, self.handle.clone());
                    entry.features.carbons = carbons;
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
                    self.arm_ping_check(None);
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

    /// Creates an account for this client before sign-in, within [`CREDENTIALS_TIMEOUT`].
    async fn register(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), crate::stanza::error::StanzaErrorCondition> {
        use crate::stanza::error::StanzaErrorCondition;
        let (Some(registration), Some(domain)) = (
            self.context.registration.as_ref(),
            self.stream.as_ref().and_then(Stream::domain),
        ) else {
            return Err(StanzaErrorCondition::ServiceUnavailable);
        };
        let attempt = registration.register(domain, username, password, self.peer.ip());
        match tokio::time::timeout(CREDENTIALS_TIMEOUT, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!(sid = %self.sid, timeout = ?CREDENTIALS_TIMEOUT, "registration timed out");
                Err(StanzaErrorCondition::InternalServerError)
            }
        }
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
        self.resume_timer.abort();
        self.ack_timer.abort();
        self.ping_check.abort();
        self.ping_timeout.abort();
        let (unacked, handled) = match self.stream.as_mut() {
            Some(stream) => (
                stream.take_unacked(),
                stream.stream_management().map(|sm| sm.handled_in()),
            ),
            None => (Vec::new(), None),
        };
        if let Some(id) = self.sm_id.take() {
            if let Some(mirror) = self.context.sm_registry.mirror() {
                mirror.forget(&id, &mut self.mirror);
            }
            if let Err(error) = self
                .context
                .sm_registry
                .unregister(&id, self.sid, handled)
                .await
            {
                tracing::error!(sid = %self.sid, %error, "cannot remove the stream management id");
            }
        }
        if let Some(client) = self.bound.take() {
            self.context.router.close_session(&client).await;
            tracing::info!(sid = %self.sid, jid = %client.jid, unacked = unacked.len(), "session closed");
        }
        self.reroute(unacked).await;
    }

    /// Routes the unacknowledged messages of an ended session again, now that it is out of
    /// the table: by RFC 6121's rules for a full JID without a session (chat and normal go
    /// to another resource or offline storage, groupchat is bounced, headline and error are
    /// dropped), so none is lost silently. Presence and iqs are not re-routed: presence is
    /// out of date by now, and an iq's sender times out as for any lost connection.
    async fn reroute(&self, unacked: Vec<Element>) {
        for stanza in unacked {
            if stanza.name == "message" {
                self.context.router.route(stanza).await;
            }
        }
    }

    /// Sends the mirror of this session's state (if the registry keeps one) what the last
    /// input changed: see [`super::sm_mirror`].
    fn sync_mirror(&mut self) {
        let Some(mirror) = self.context.sm_registry.mirror() else {
            return;
        };
        let (Some(id), Some(client), Some(sm)) = (
            self.sm_id.as_ref(),
            self.bound.as_ref(),
            self.stream.as_ref().and_then(Stream::stream_management),
        ) else {
            return;
        };
        let view = MirrorView {
            id,
            jid: &client.jid,
            sid: self.sid,
            sm,
        };
        mirror.sync(&view, &mut self.mirror);
    }

    /// Records the stream management id of a resumable session.
    async fn enable_sm(&mut self, id: SmId, resumable: bool) {
        let Some(client) = self.bound.clone() else {
            return;
        };
        tracing::debug!(sid = %self.sid, jid = %client.jid, resumable, "stream management enabled");
        if !resumable {
            return;
        }
        let record = SmRecord {
            jid: client.jid,
            sid: self.sid,
        };
        match self.context.sm_registry.register(id.clone(), record).await {
            Ok(()) => self.sm_id = Some(id),
            Err(error) => {
                tracing::error!(sid = %self.sid, %error, "cannot record the stream management id: resumption will fail");
            }
        }
    }

    /// The connection is gone, the session stays: see the module docs.
    fn detach(&mut self) {
        self.connection.abort();
        self.resume_generation += 1;
        let generation = self.resume_generation;
        let timeout = self
            .context
            .stream_config
            .stream_management()
            .map(|config| config.resume_timeout)
            .unwrap_or_default();
        let timer = self
            .myself
            .send_after(timeout, move || SessionMsg::ResumeTimeout(generation));
        self.resume_timer = OwnedTask(Some(timer));
        tracing::info!(sid = %self.sid, peer = %self.peer, resume_timeout = ?timeout, "connection lost: session detached, resumable");
    }

    /// A resuming connection takes this session: the stream gives up its state (if it is
    /// resumable), the handle switches to `by`, and the actor only forwards from now on.
    fn hand_over(&mut self, by: SessionHandle) -> Result<ResumableState, TakeoverError> {
        let sm = self
            .stream
            .as_mut()
            .and_then(Stream::take_resumable)
            .ok_or(TakeoverError::NotResumable)?;
        let Some(client) = self.bound.take() else {
            return Err(TakeoverError::NotResumable);
        };
        let table = self
            .context
            .router
            .sessions()
            .resource_sessions(&client.jid)
            .ok()
            .and_then(|entries| entries.into_iter().find(|entry| entry.sid == client.sid))
            .map(|entry| (entry.priority, entry.presence, entry.features))
            .unwrap_or_default();
        let state = sm.into_resumable(client.jid.to_string(), client.sid.get(), table);
        *self.target.write() = Target::Forward(by.clone());
        self.handed_over = Some(by);
        // The registry's record (same id, same session id) now names the new connection,
        // which mirrors itself from now on.
        if let (Some(mirror), Some(id)) = (self.context.sm_registry.mirror(), self.sm_id.take()) {
            mirror.forget(&id, &mut self.mirror);
        }
        self.sm_id = None;
        self.connection.abort();
        self.resume_timer.abort();
        self.negotiation_timer.abort();
        tracing::info!(sid = %self.sid, jid = %client.jid, unacked = state.buffer.len(), "session handed over to a resuming connection");
        Ok(state)
    }

    /// `<resume previd/>`: finds the session of `previd` for this user, takes it over, and
    /// takes its place in the session table. The answer for the stream.
    async fn resume(&mut self, previd: SmId) -> Input {
        let (Some(username), Some(domain)) = (
            self.stream
                .as_ref()
                .and_then(Stream::username)
                .map(str::to_owned),
            self.stream
                .as_ref()
                .and_then(Stream::domain)
                .map(str::to_owned),
        ) else {
            return Input::ResumeFailed { h: None };
        };
        let own = |user: &crate::jid::BareJid| {
            user.local() == Some(username.as_str()) && user.domain() == domain
        };
        let record = match self.context.sm_registry.lookup(&previd) {
            SmLookup::Live(record) if own(record.jid.bare()) => record,
            SmLookup::Stale { user, h } if own(&user) => {
                tracing::debug!(sid = %self.sid, h, "resume of a timed-out session: stale h");
                return Input::ResumeFailed { h: Some(h) };
            }
            _ => {
                tracing::debug!(sid = %self.sid, peer = %self.peer, "resume of an unknown session");
                return Input::ResumeFailed { h: None };
            }
        };
        let old = self
            .context
            .router
            .sessions()
            .resource_sessions(&record.jid)
            .ok()
            .and_then(|entries| entries.into_iter().find(|entry| entry.sid == record.sid));
        // No session in the table: its node died; a mirror of it may be left (buffer_replicas).
        let taken = match &old {
            Some(old) => old.handle.take_over(self.handle.clone()).await,
            None => {
                self.context
                    .sm_registry
                    .take_over_mirrored(&previd, self.handle.clone())
                    .await
            }
        };
        let state = match taken {
            Ok(state) => state,
            Err(error) => {
                tracing::info!(sid = %self.sid, jid = %record.jid, %error, "resume refused");
                return Input::ResumeFailed { h: None };
            }
        };
        let mut entry = SessionEntry::new(record.jid.clone(), record.sid, self.handle.clone());
        entry.priority = state.priority;
        entry.available = state.presence.is_some();
        entry.presence = state.presence.clone();
        entry.features = state.features;
        let client = entry.client();
        if let Err(error) = self.context.router.resume_session(entry).await {
            // The state is ours now: end it as a session that closed (re-routing its
            // messages) rather than lose it.
            tracing::error!(sid = %self.sid, %error, "cannot register the resumed session");
        }
        if let Some(old) = &old {
            old.handle.resumed();
        }
        // The id now leads here (on another node, the record moves to this node).
        let moved = SmRecord {
            jid: record.jid.clone(),
            sid: record.sid,
        };
        if let Err(error) = self
            .context
            .sm_registry
            .register(previd.clone(), moved)
            .await
        {
            tracing::error!(sid = %record.sid, %error, "cannot move the stream management id");
        }
        self.sid = record.sid;
        self.bound = Some(client);
        self.sm_id = Some(previd);
        self.negotiation_timer.abort();
        self.permits.add_permits(INCOMING_EVENTS_MAX - 1);
        tracing::info!(sid = %self.sid, jid = %record.jid, peer = %self.peer, unacked = state.buffer.len(), "session resumed");
        Input::Resumed(Box::new(state))
    }
}
