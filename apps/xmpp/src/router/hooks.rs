//! Hooks: how feature modules plug into routing, as MongooseIM's modules
//! plug into `ejabberd_hooks` and `gen_iq_handler`.
//!
//! A [`Module`] registers, once, when the [`Router`] is built:
//! - **IQ handlers** by payload namespace, for the server
//!   ([`IqScope::Server`]: `to` is a served domain) or on behalf of users
//!   ([`IqScope::User`]: `to` is a local account's bare JID). The router
//!   answers the iq with the handler's payload as a result, or its error;
//!   an iq nobody handles gets `service-unavailable`. Registering a handler
//!   also advertises its namespace as a disco feature of that scope.
//! - **Presence hooks** ([`PresenceHook`]): a bound client sent presence,
//!   without `to` (broadcast) or with it (directed). A hook may consume the
//!   stanza ([`Flow::Stop`]).
//! - **Outbound hooks** ([`OutboundHook`]): a bound client sent a stanza
//!   (any kind), before anything else looks at it; a hook may consume it (the
//!   blocking module refuses stanzas to blocked JIDs there).
//! - **Inbound hooks** ([`InboundHook`]): a message, presence or iq is about
//!   to be handled for a local user by the RFC 6121 rules (delivered, or, for
//!   an iq to the bare JID, answered on the user's behalf); a hook may consume
//!   it (the presence module answers probes there, the roster module takes
//!   subscription requests, the blocking module drops stanzas from blocked
//!   JIDs).
//! - **Delivered hooks** ([`DeliveredHook`]): a message for a local user was handed to some of
//!   the user's sessions; the hook gets the user's sessions the router already read, so that
//!   a module acting on the rest (carbons) costs no second look-up. Synchronous: it may only
//!   hand stanzas over.
//! - **Session hooks** ([`SessionHook`]): a session was bound or closed.
//! - Disco **features** and **identities** beyond those of IQ handlers.
//!
//! Hooks run in registration order, on the task of the session that caused
//! them (no hook actor to queue behind), and are `async` so that a module can
//! use its storage. A hook that waits delays only that session.
//!
//! Registering two handlers for one scope and namespace is a configuration
//! error reported by [`Router::new`](super::Router::new), not a panic.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::session::{ClientSession, SessionEntry, SessionId};
use super::Router;
use crate::jid::{BareJid, Jid};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::xml::Element;

/// Whether a hook chain goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Run the next hook, then the default handling.
    Continue,
    /// The stanza is handled: stop here.
    Stop,
}

/// Whom an IQ handler answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IqScope {
    /// Iqs to a served domain.
    Server,
    /// Iqs to a local account's bare JID (or without `to`: the sender's own
    /// account), answered by the server on the user's behalf (RFC 6121
    /// §8.5.1).
    User,
}

impl fmt::Display for IqScope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            IqScope::Server => "server",
            IqScope::User => "user",
        })
    }
}

/// The type of a request iq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IqKind {
    /// `get`.
    Get,
    /// `set`.
    Set,
}

/// An iq of type get or set, as a handler gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IqRequest {
    /// The requester.
    pub from: Jid,
    /// The addressee: a domain, or a user's bare JID.
    pub to: Jid,
    /// The iq's id.
    pub id: String,
    /// Get or set.
    pub kind: IqKind,
    /// The one child element.
    pub payload: Element,
    /// Stanzas to route once the answer is out ([`IqRequest::send_after_answer`]).
    pub after_answer: AfterAnswer,
}

/// Stanzas a handler wants routed after its answer, in order: XEP-0237 §4's roster pushes
/// follow the empty result that says "your copy will be brought up to date". As many as the
/// handler adds (the roster adds at most one per item and per kept removal); the router
/// routes them after the answer, and an API calling a handler directly drops them.
#[derive(Debug, Default)]
pub struct AfterAnswer(parking_lot::Mutex<Vec<Element>>);

impl AfterAnswer {
    /// The stanzas added, in order, leaving none.
    pub fn take(&self) -> Vec<Element> {
        std::mem::take(&mut *self.0.lock())
    }
}

impl Clone for AfterAnswer {
    fn clone(&self) -> Self {
        AfterAnswer(parking_lot::Mutex::new(self.0.lock().clone()))
    }
}

impl PartialEq for AfterAnswer {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other) || *self.0.lock() == *other.0.lock()
    }
}

impl Eq for AfterAnswer {}

impl IqRequest {
    /// Routes `stanza` once the answer is out. See [`AfterAnswer`].
    pub fn send_after_answer(&self, stanza: Element) {
        self.after_answer.0.lock().push(stanza);
    }

    // The checks below fail with a bare condition, which `?` turns into the
    // handler's `StanzaError`: the error itself is too large to return
    // cheaply (clippy's `result_large_err`).

    /// Whether the requester asks about its own account: `to` is the
    /// requester's bare JID (or was absent, which the router reads as that).
    pub fn is_own_account(&self) -> bool {
        self.from.bare() == self.to.bare()
    }

    /// The addressed account, if the requester owns it; `forbidden`
    /// otherwise. For data only its owner may see or change (the roster,
    /// the block list, private storage).
    pub fn own_account(&self) -> Result<&BareJid, StanzaErrorCondition> {
        if self.is_own_account() {
            Ok(self.to.bare())
        } else {
            Err(StanzaErrorCondition::Forbidden)
        }
    }

    /// `bad-request` unless the payload is the element `name`: the handler
    /// was chosen by the payload's namespace alone.
    pub fn expect_payload(&self, name: &str) -> Result<(), StanzaErrorCondition> {
        if self.payload.name == name {
            Ok(())
        } else {
            Err(StanzaErrorCondition::BadRequest)
        }
    }

    /// `feature-not-implemented` for a `set`, for namespaces whose XEP
    /// defines only `get` (ping, version, disco, last activity).
    pub fn get_only(&self) -> Result<(), StanzaErrorCondition> {
        match self.kind {
            IqKind::Get => Ok(()),
            IqKind::Set => Err(StanzaErrorCondition::FeatureNotImplemented),
        }
    }
}

/// A handler's answer: the result payload (`None` for an empty result), or
/// the error to reply with.
pub type IqResult = Result<Option<Element>, StanzaError>;

/// Answers iqs of one namespace. See the module docs.
pub trait IqHandler: Send + Sync + 'static {
    /// Handles `request`.
    fn handle_iq(
        &self,
        router: &Router,
        request: &IqRequest,
    ) -> impl Future<Output = IqResult> + Send;
}

/// Sees presence sent by bound clients.
pub trait PresenceHook: Send + Sync + 'static {
    /// `sender` sent `presence` (`from` is stamped; `to` may be absent).
    fn user_send_presence(
        &self,
        router: &Router,
        sender: &ClientSession,
        presence: &Element,
    ) -> impl Future<Output = Flow> + Send;
}

/// Sees every stanza a bound client sends, before presence hooks and routing.
pub trait OutboundHook: Send + Sync + 'static {
    /// `sender` sent `stanza` (`from` is stamped; `to` may be absent).
    fn user_send_stanza(
        &self,
        router: &Router,
        sender: &ClientSession,
        stanza: &Element,
    ) -> impl Future<Output = Flow> + Send;
}

/// Sees messages, presence and iqs for local users before delivery.
pub trait InboundHook: Send + Sync + 'static {
    /// `stanza` from `from` is for the local user `to` (bare or full JID).
    fn local_stanza(
        &self,
        router: &Router,
        from: &Jid,
        to: &Jid,
        stanza: &Element,
    ) -> impl Future<Output = Flow> + Send;
}

/// Sees messages handed to local users' sessions.
pub trait DeliveredHook: Send + Sync + 'static {
    /// `message` for a local user was handed to the sessions `receivers` among `sessions`
    /// (every session of the user).
    fn message_delivered(
        &self,
        router: &Router,
        message: &Element,
        sessions: &[SessionEntry],
        receivers: &[SessionId],
    );
}

/// Sees sessions bound and closed.
pub trait SessionHook: Send + Sync + 'static {
    /// `session` bound its resource and is in the session table. Nothing by default: most
    /// modules only clean up when a session ends.
    fn session_opened(
        &self,
        _router: &Router,
        _session: &ClientSession,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// `session` ended (closed, replaced, crashed) and left the session
    /// table. Runs once per session.
    fn session_closed(
        &self,
        router: &Router,
        session: &ClientSession,
    ) -> impl Future<Output = ()> + Send;
}

// The hooks as the router keeps them. The traits above return `impl Future`
// so that a module writes `async fn`; a trait object cannot hold such a
// method, so each has a `dyn`-compatible twin that boxes the future,
// implemented here once for every hook and never by hand.

/// [`IqHandler`] as the router keeps it, behind `dyn`.
pub trait DynIqHandler: Send + Sync + 'static {
    /// [`IqHandler::handle_iq`], boxed.
    fn handle_iq<'a>(
        &'a self,
        router: &'a Router,
        request: &'a IqRequest,
    ) -> BoxFuture<'a, IqResult>;
}

impl<T: IqHandler> DynIqHandler for T {
    fn handle_iq<'a>(
        &'a self,
        router: &'a Router,
        request: &'a IqRequest,
    ) -> BoxFuture<'a, IqResult> {
        Box::pin(IqHandler::handle_iq(self, router, request))
    }
}

/// [`PresenceHook`] as the router keeps it, behind `dyn`.
pub(crate) trait DynPresenceHook: Send + Sync + 'static {
    /// [`PresenceHook::user_send_presence`], boxed.
    fn user_send_presence<'a>(
        &'a self,
        router: &'a Router,
        sender: &'a ClientSession,
        presence: &'a Element,
    ) -> BoxFuture<'a, Flow>;
}

impl<T: PresenceHook> DynPresenceHook for T {
    fn user_send_presence<'a>(
        &'a self,
        router: &'a Router,
        sender: &'a ClientSession,
        presence: &'a Element,
    ) -> BoxFuture<'a, Flow> {
        Box::pin(PresenceHook::user_send_presence(
            self, router, sender, presence,
        ))
    }
}

/// [`OutboundHook`] as the router keeps it, behind `dyn`.
pub(crate) trait DynOutboundHook: Send + Sync + 'static {
    /// [`OutboundHook::user_send_stanza`], boxed.
    fn user_send_stanza<'a>(
        &'a self,
        router: &'a Router,
        sender: &'a ClientSession,
        stanza: &'a Element,
    ) -> BoxFuture<'a, Flow>;
}

impl<T: OutboundHook> DynOutboundHook for T {
    fn user_send_stanza<'a>(
        &'a self,
        router: &'a Router,
        sender: &'a ClientSession,
        stanza: &'a Element,
    ) -> BoxFuture<'a, Flow> {
        Box::pin(OutboundHook::user_send_stanza(self, router, sender, stanza))
    }
}

/// [`InboundHook`] as the router keeps it, behind `dyn`.
pub(crate) trait DynInboundHook: Send + Sync + 'static {
    /// [`InboundHook::local_stanza`], boxed.
    fn local_stanza<'a>(
        &'a self,
        router: &'a Router,
        from: &'a Jid,
        to: &'a Jid,
        stanza: &'a Element,
    ) -> BoxFuture<'a, Flow>;
}

impl<T: InboundHook> DynInboundHook for T {
    fn local_stanza<'a>(
        &'a self,
        router: &'a Router,
        from: &'a Jid,
        to: &'a Jid,
        stanza: &'a Element,
    ) -> BoxFuture<'a, Flow> {
        Box::pin(InboundHook::local_stanza(self, router, from, to, stanza))
    }
}

/// [`SessionHook`] as the router keeps it, behind `dyn`.
pub(crate) trait DynSessionHook: Send + Sync + 'static {
    /// [`SessionHook::session_opened`], boxed.
    fn session_opened<'a>(
        &'a self,
        router: &'a Router,
        session: &'a ClientSession,
    ) -> BoxFuture<'a, ()>;
    /// [`SessionHook::session_closed`], boxed.
    fn session_closed<'a>(
        &'a self,
        router: &'a Router,
        session: &'a ClientSession,
    ) -> BoxFuture<'a, ()>;
}

impl<T: SessionHook> DynSessionHook for T {
    fn session_opened<'a>(
        &'a self,
        router: &'a Router,
        session: &'a ClientSession,
    ) -> BoxFuture<'a, ()> {
        Box::pin(SessionHook::session_opened(self, router, session))
    }

    fn session_closed<'a>(
        &'a self,
        router: &'a Router,
        session: &'a ClientSession,
    ) -> BoxFuture<'a, ()> {
        Box::pin(SessionHook::session_closed(self, router, session))
    }
}

/// A disco identity (XEP-0030 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `category`, such as `server` or `account`.
    pub category: String,
    /// `type`, such as `im` or `registered`.
    pub kind: String,
    /// `name`, if any.
    pub name: Option<String>,
}

impl Identity {
    /// An identity without a name.
    pub fn new(category: impl Into<String>, kind: impl Into<String>) -> Identity {
        Identity {
            category: category.into(),
            kind: kind.into(),
            name: None,
        }
    }

    /// Adds a name.
    pub fn with_name(mut self, name: impl Into<String>) -> Identity {
        self.name = Some(name.into());
        self
    }
}

/// A feature of the server, registered with a [`Router`].
pub trait Module: Send + Sync + 'static {
    /// A short name for logs (`ping`, `disco`, ...).
    fn name(&self) -> &'static str;
    /// Registers the module's handlers and features.
    fn register(self: Arc<Self>, hooks: &mut HooksBuilder);
}

/// Collects registrations; see [`Module::register`].
#[derive(Default)]
pub struct HooksBuilder {
    hooks: Hooks,
    module: &'static str,
    duplicates: Vec<(IqScope, String)>,
}

impl HooksBuilder {
    pub(crate) fn for_module(&mut self, module: &'static str) {
        self.module = module;
        self.hooks.modules.push(module);
    }

    pub(crate) fn finish(self) -> Result<Hooks, Vec<(IqScope, String)>> {
        if self.duplicates.is_empty() {
            Ok(self.hooks)
        } else {
            Err(self.duplicates)
        }
    }

    /// Handles iqs with a `namespace` payload in `scope`, and advertises
    /// `namespace` as a feature of the scope.
    pub fn iq(&mut self, scope: IqScope, namespace: &str, handler: Arc<impl IqHandler>) {
        let key = (scope, namespace.to_owned());
        if self.hooks.iq.contains_key(&key) {
            tracing::error!(module = self.module, %scope, namespace, "IQ handler registered twice");
            self.duplicates.push(key);
            return;
        }
        self.hooks.iq.insert(key, handler);
        self.feature(scope, namespace);
    }

    /// Advertises a disco feature in `scope`.
    pub fn feature(&mut self, scope: IqScope, feature: &str) {
        self.hooks
            .features
            .entry(scope)
            .or_default()
            .insert(feature.to_owned());
    }

    /// Advertises a disco identity in `scope`.
    pub fn identity(&mut self, scope: IqScope, identity: Identity) {
        self.hooks
            .identities
            .entry(scope)
            .or_default()
            .push(identity);
    }

    /// Adds a presence hook.
    pub fn presence(&mut self, hook: Arc<impl PresenceHook>) {
        self.hooks.presence.push(hook);
    }

    /// Adds an outbound hook.
    pub fn outbound(&mut self, hook: Arc<impl OutboundHook>) {
        self.hooks.outbound.push(hook);
    }

    /// Adds an inbound hook.
    pub fn inbound(&mut self, hook: Arc<impl InboundHook>) {
        self.hooks.inbound.push(hook);
    }

    /// Adds a session hook.
    pub fn session(&mut self, hook: Arc<impl SessionHook>) {
        self.hooks.session.push(hook);
    }

    /// Adds a delivered hook.
    pub fn delivered(&mut self, hook: Arc<impl DeliveredHook>) {
        self.hooks.delivered.push(hook);
    }

    /// Offers `feature` in the stream features of every authenticated stream (roster
    /// versioning's `<ver/>`).
    pub fn stream_feature(&mut self, feature: Element) {
        self.hooks.stream_features.push(feature);
    }
}

/// The registrations of every module, frozen when the router is built.
#[derive(Default)]
pub struct Hooks {
    modules: Vec<&'static str>,
    iq: HashMap<(IqScope, String), Arc<dyn DynIqHandler>>,
    features: HashMap<IqScope, BTreeSet<String>>,
    identities: HashMap<IqScope, Vec<Identity>>,
    pub(crate) outbound: Vec<Arc<dyn DynOutboundHook>>,
    pub(crate) presence: Vec<Arc<dyn DynPresenceHook>>,
    pub(crate) inbound: Vec<Arc<dyn DynInboundHook>>,
    pub(crate) session: Vec<Arc<dyn DynSessionHook>>,
    pub(crate) delivered: Vec<Arc<dyn DeliveredHook>>,
    stream_features: Vec<Element>,
}

impl Hooks {
    /// The names of the registered modules, in order.
    pub fn modules(&self) -> &[&'static str] {
        &self.modules
    }

    /// What modules offer in the stream features of authenticated streams.
    pub fn stream_features(&self) -> &[Element] {
        &self.stream_features
    }

    /// The handler of `namespace` iqs in `scope`.
    pub fn iq_handler(&self, scope: IqScope, namespace: &str) -> Option<&Arc<dyn DynIqHandler>> {
        self.iq.get(&(scope, namespace.to_owned()))
    }

    /// The disco features of `scope`, sorted.
    pub fn features(&self, scope: IqScope) -> impl Iterator<Item = &str> {
        self.features
            .get(&scope)
            .into_iter()
            .flat_map(|features| features.iter().map(String::as_str))
    }

    /// The disco identities of `scope`, in registration order.
    pub fn identities(&self, scope: IqScope) -> &[Identity] {
        self.identities
            .get(&scope)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut iq: Vec<_> = self.iq.keys().collect();
        iq.sort();
        formatter
            .debug_struct("Hooks")
            .field("modules", &self.modules)
            .field("iq", &iq)
            .field("outbound", &self.outbound.len())
            .field("presence", &self.presence.len())
            .field("inbound", &self.inbound.len())
            .field("session", &self.session.len())
            .field("delivered", &self.delivered.len())
            .finish()
    }
}
