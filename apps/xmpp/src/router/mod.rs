//! Routing stanzas on one node (RFC 6120 §10, RFC 6121 §8).
//!
//! The [`Router`] takes a stanza with `from` stamped and decides where it
//! goes: to a session in the [`SessionTable`], to an IQ handler of a module,
//! to the [`OfflineSink`], or back to the sender as an error. It does this on
//! the task of the session that sent the stanza (no router actor to queue
//! behind): a lookup in the session table is a shared read, and a delivery is
//! a message to the receiving session.
//!
//! The rules, for a stanza addressed `to` (for a local user, bare or full JID, they are the
//! pure function `plan::plan`, in plan.rs, which [`Router::route`] carries out):
//! - **Another domain**: no server-to-server yet, so messages and iqs are
//!   bounced with `remote-server-not-found`; presence is dropped.
//! - **A served domain** (no localpart): iqs get/set go to the
//!   [`IqScope::Server`] handler of their payload namespace, or get
//!   `service-unavailable` (also when `to` has a resource); results, errors,
//!   messages and presence are dropped.
//! - **A local full JID** `user@domain/resource`: to that session (the newest
//!   one, if two hold the resource for a moment). If there is none: `chat`
//!   and `normal` messages follow the bare-JID rules; `groupchat` messages and
//!   iqs get/set get `service-unavailable`; other messages, presence
//!   (except subscription requests, which follow the bare-JID rules) and iq
//!   results are dropped.
//! - **A local bare JID** `user@domain`:
//!   - `normal`/`chat` messages go to the available resources with the
//!     highest non-negative priority (all of them); with none, to the
//!     offline sink if the account exists (else, or if the sink refuses,
//!     `service-unavailable`);
//!   - `headline` messages go to every available resource with a
//!     non-negative priority, else are dropped; `groupchat` gets
//!     `service-unavailable`; `error` messages are dropped;
//!   - presence (available, unavailable, subscription states) goes to every
//!     available resource; probes are left to hooks; other types are
//!     dropped;
//!   - iqs get/set are answered on the user's behalf by the
//!     [`IqScope::User`] handler, or get `service-unavailable` (also for an
//!     unknown account); results and errors are dropped.
//! - An account that does not exist (checked with [`Accounts`] only when it
//!   has no session) gets `service-unavailable` for messages and iqs;
//!   presence for it is dropped.
//!
//! Errors are never answered with errors, and an error reply goes back
//! through [`Router::route`] like any stanza. Before the default handling,
//! messages, presence and iqs for local users pass the [`InboundHook`]s,
//! every stanza from a client the [`OutboundHook`]s, and presence from
//! clients the [`PresenceHook`]s (see [`hooks`]).
//!
//! Edges: a session that is gone when a stanza reaches it (it ended between
//! the lookup and the delivery) is removed from the table, and the stanza is
//! handled as if it had not been there. A session table or account store
//! that fails (or does not answer within [`STORAGE_TIMEOUT`]) makes messages
//! and iqs bounce with `internal-server-error`; an offline sink that fails
//! or is late, with `service-unavailable`, except that a full one
//! ([`OfflineError::Full`]) answers `resource-constraint` (type `wait`), as
//! MongooseIM's `mod_offline` does.

pub mod caps_cache;
pub mod hooks;
pub mod offline;
mod plan;
pub mod requests;
pub mod session;
pub mod stanza_id;
pub mod table;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;

pub use hooks::{
    AfterAnswer, DeliveredHook, Flow, Hooks, HooksBuilder, Identity, InboundHook, IqHandler,
    IqKind, IqRequest, IqResult, IqScope, Module, OutboundHook, PresenceHook, SessionHook,
};
pub use offline::{NoOfflineStorage, OfflineError, OfflineSink};
pub use session::{
    ClientSession, DeliverError, SessionControl, SessionEntry, SessionFeatures, SessionHandle,
    SessionId, TakeoverError,
};
pub use table::{LocalSessionTable, SessionTable, SessionTableError};

use self::caps_cache::{CapsCache, LocalCapsCache};
use self::plan::{Plan, StanzaKind};
pub use self::requests::RequestError;
use crate::c2s::accounts::Accounts;
use crate::jid::{served_domains, BareJid, DomainsError, Jid};
use crate::stanza::error::{StanzaError, StanzaErrorCondition, StreamError, StreamErrorCondition};
use crate::xml::Element;

/// How long the router waits for the account store (does a user exist?) or
/// the offline sink (store this message) before answering the stanza with
/// `internal-server-error` / `service-unavailable`. Hooks bound their own
/// waits.
pub const STORAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a [`Router`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// No domain, or one that is not a valid JID domainpart.
    #[error(transparent)]
    Domains(#[from] DomainsError),
    /// Two modules handle the same iqs.
    #[error("more than one handler for {scope} iqs in namespace {namespace}")]
    DuplicateIqHandler {
        /// The scope.
        scope: IqScope,
        /// The payload namespace.
        namespace: String,
    },
}

/// Routes stanzas between the sessions and modules of this node. See the
/// [module documentation](self).
pub struct Router {
    domains: Vec<String>,
    max_user_sessions: Option<usize>,
    sessions: Arc<dyn SessionTable>,
    accounts: Arc<dyn Accounts>,
    offline: Arc<dyn OfflineSink>,
    hooks: Hooks,
    requests: Arc<requests::Requests>,
    /// The cluster's capabilities cache once [`Router::set_caps_cache`] gave it.
    caps: OnceLock<Arc<dyn CapsCache>>,
    /// The cache until then (or for good, on one node).
    local_caps: Arc<LocalCapsCache>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Router")
            .field("domains", &self.domains)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router for `domains` with `modules` registered in order.
    pub fn new(
        domains: &[String],
        sessions: Arc<dyn SessionTable>,
        accounts: Arc<dyn Accounts>,
        offline: Arc<dyn OfflineSink>,
        modules: &[Arc<dyn Module>],
    ) -> Result<Router, RouterError> {
        let prepared = served_domains(domains)?;
        let mut builder = HooksBuilder::default();
        for module in modules {
            builder.for_module(module.name());
            Arc::clone(module).register(&mut builder);
        }
        let hooks = builder.finish().map_err(|duplicates| {
            // `finish` fails only with at least one duplicate.
            let (scope, namespace) = duplicates
                .into_iter()
                .next()
                .unwrap_or((IqScope::Server, String::new()));
            RouterError::DuplicateIqHandler { scope, namespace }
        })?;
        Ok(Router {
            domains: prepared,
            max_user_sessions: None,
            sessions,
            accounts,
            offline,
            hooks,
            requests: Arc::default(),
            caps: OnceLock::new(),
            local_caps: Arc::default(),
        })
    }

    /// Uses `cache` as the capabilities cache from now on (the cluster's, shared by every
    /// node); only the first call counts.
    pub fn set_caps_cache(&self, cache: Arc<dyn CapsCache>) {
        let _ = self.caps.set(cache);
    }

    /// The capabilities cache (see [`caps_cache`]).
    pub fn caps_cache(&self) -> Arc<dyn CapsCache> {
        match self.caps.get() {
            Some(cache) => Arc::clone(cache),
            None => Arc::clone(&self.local_caps) as Arc<dyn CapsCache>,
        }
    }

    /// Sends the request `iq` (`get` or `set`, `from` the server) and waits at most `timeout`
    /// for its answer from the entity it went to (see [`requests`]).
    pub async fn request(&self, iq: Element, timeout: Duration) -> Result<Element, RequestError> {
        let (answered, answer) = tokio::sync::oneshot::channel();
        self.send_request(
            iq,
            timeout,
            Box::new(move |answer| {
                let _ = answered.send(answer);
            }),
        )
        .await?;
        match answer.await {
            Ok(Some(answer)) => Ok(answer),
            _ => Err(RequestError::Timeout(timeout)),
        }
    }

    /// Sends the request `iq`; `on_answer` runs with its answer as soon as it is routed back
    /// (on the answering session's task, before that session's next stanza), or with `None`
    /// after `timeout`. For a hook on a session's task, which must not wait for that session's
    /// own client.
    pub async fn send_request(
        &self,
        mut iq: Element,
        timeout: Duration,
        on_answer: requests::OnAnswer,
    ) -> Result<(), RequestError> {
        let id = self.requests.register(&mut iq, on_answer)?;
        let requests = Arc::clone(&self.requests);
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            requests.expire(&id);
        });
        self.route(iq).await;
        Ok(())
    }

    /// The same router, allowing each account at most `max` sessions at once
    /// (MongooseIM's `max_user_sessions`): a bind past it closes the
    /// account's oldest sessions. `None`: no limit. The count is the session
    /// table's, so on a replicated table it is cluster-wide.
    pub fn with_max_user_sessions(mut self, max: Option<usize>) -> Router {
        self.max_user_sessions = max.map(|max| max.max(1));
        self
    }

    /// The served domains, prepared.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Whether `domain` (prepared) is served here.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|served| served == domain)
    }

    /// The session table.
    pub fn sessions(&self) -> &dyn SessionTable {
        self.sessions.as_ref()
    }

    /// The account store.
    pub fn accounts(&self) -> &dyn Accounts {
        self.accounts.as_ref()
    }

    /// The registered hooks (for disco: features and identities).
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// Registers a freshly bound session, then asks every older session with
    /// the same full JID to close with `conflict` (RFC 6120 §7.7.2.2, the
    /// "newer wins" policy MongooseIM uses). If a newer one is already there
    /// (two binds raced), this session is the one told to close.
    pub async fn open_session(&self, entry: SessionEntry) -> Result<(), SessionTableError> {
        self.sessions.insert(entry.clone()).await?;
        crate::metrics::session_opened();
        for other in self.sessions.resource_sessions(&entry.jid)? {
            let replaced = if other.sid < entry.sid {
                &other
            } else if other.sid > entry.sid {
                &entry
            } else {
                continue;
            };
            tracing::info!(jid = %replaced.jid, sid = %replaced.sid, "session replaced by a newer one");
            replaced.handle.close(
                StreamError::new(StreamErrorCondition::Conflict)
                    .with_text("replaced by a new connection"),
            );
        }
        if let Some(max) = self.max_user_sessions {
            self.enforce_max_user_sessions(&entry, max)?;
        }
        let client = entry.client();
        for hook in &self.hooks.session {
            hook.session_opened(self, &client).await;
        }
        Ok(())
    }

    /// Closes the oldest sessions of `entry`'s account past `max` (ids grow
    /// with bind time, so the oldest have the smallest ids); sessions being
    /// replaced for the same full JID count once.
    fn enforce_max_user_sessions(
        &self,
        entry: &SessionEntry,
        max: usize,
    ) -> Result<(), SessionTableError> {
        let mut sessions = self.sessions.user_sessions(entry.jid.bare())?;
        // Of two sessions with one full JID only the newest stays.
        sessions.sort_by_key(|session| std::cmp::Reverse(session.sid));
        let mut seen = std::collections::BTreeSet::new();
        sessions.retain(|session| seen.insert(session.jid.clone()));
        if sessions.len() <= max {
            return Ok(());
        }
        for oldest in &sessions[max..] {
            tracing::info!(jid = %oldest.jid, sid = %oldest.sid, max, "max_user_sessions reached: closing the oldest session");
            oldest.handle.close(
                StreamError::new(StreamErrorCondition::PolicyViolation)
                    .with_text("too many sessions for this account"),
            );
        }
        Ok(())
    }

    /// Puts a resumed session (XEP-0198) in the place of the one it took over: the entry has
    /// the old session's full JID, id, priority and presence, and the resuming connection's
    /// handle, so it replaces the old record under the same key. No hooks run and nothing
    /// is broadcast: for contacts and the router it is the same session.
    pub async fn resume_session(&self, entry: SessionEntry) -> Result<(), SessionTableError> {
        self.sessions.insert(entry).await
    }

    /// Removes an ended session and runs the session-closed hooks, once: a
    /// second call for the same session (the session's own cleanup, then the
    /// monitor that watches it for crashes) does nothing.
    pub async fn close_session(&self, session: &ClientSession) {
        match self.sessions.remove(&session.jid, session.sid).await {
            Ok(true) => {
                crate::metrics::session_closed();
                for hook in &self.hooks.session {
                    hook.session_closed(self, session).await;
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(jid = %session.jid, sid = %session.sid, %error, "cannot remove session");
            }
        }
    }

    /// Routes a stanza sent by the bound client `sender` (`from` stamped):
    /// presence passes the presence hooks first, and presence without `to`
    /// (a broadcast) is theirs alone.
    pub fn route_from_client<'a>(
        &'a self,
        sender: &'a ClientSession,
        stanza: Element,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for hook in &self.hooks.outbound {
                if hook.user_send_stanza(self, sender, &stanza).await == Flow::Stop {
                    return;
                }
            }
            if stanza.name == "presence" {
                for hook in &self.hooks.presence {
                    if hook.user_send_presence(self, sender, &stanza).await == Flow::Stop {
                        return;
                    }
                }
                if stanza.attr("to").is_none() {
                    return;
                }
            }
            self.route(stanza).await;
        })
    }

    /// Routes a stanza by its `to` (absent: the sender's bare JID). `from`
    /// must be set for anything to be answered.
    pub fn route(&self, stanza: Element) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _timer = crate::metrics::Timer::routing();
            let from = stanza
                .attr("from")
                .and_then(|from| from.parse::<Jid>().ok());
            let to = match stanza.attr("to") {
                Some(to) => match to.parse::<Jid>() {
                    Ok(to) => to,
                    Err(_) => {
                        self.bounce(&stanza, StanzaErrorCondition::JidMalformed)
                            .await;
                        return;
                    }
                },
                None => match &from {
                    Some(from) => Jid::from(from.to_bare()),
                    None => {
                        tracing::debug!(stanza = stanza.name, "no to and no from: dropped");
                        return;
                    }
                },
            };
            if !self.is_local_domain(to.domain()) {
                self.to_remote(&stanza, &to).await;
            } else if to.local().is_none() {
                self.to_server(&stanza, from, &to).await;
            } else {
                self.to_user(stanza, from, to).await;
            }
        })
    }

    async fn to_remote(&self, stanza: &Element, to: &Jid) {
        tracing::debug!(stanza = stanza.name, %to, "no server-to-server: remote domain unreachable");
        if stanza.name != "presence" {
            self.bounce(stanza, StanzaErrorCondition::RemoteServerNotFound)
                .await;
        }
    }

    async fn to_server(&self, stanza: &Element, from: Option<Jid>, to: &Jid) {
        if stanza.name == "iq" && is_request(stanza) {
            if to.resource().is_some() {
                self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable)
                    .await;
            } else {
                self.handle_iq(IqScope::Server, stanza, from, to).await;
            }
        } else if stanza.name == "iq" {
            if let Err(unasked) = self.requests.answer(stanza.clone()) {
                tracing::trace!(id = unasked.attr("id"), %to, "answer to no request dropped");
            }
        } else {
            tracing::trace!(stanza = stanza.name, %to, "stanza for the server dropped");
        }
    }

    async fn to_user(&self, stanza: Element, from: Option<Jid>, to: Jid) {
        let user = to.to_bare();
        let sessions = match self.sessions.user_sessions(&user) {
            Ok(sessions) => sessions,
            Err(error) => {
                tracing::error!(%error, %to, "session table unavailable");
                self.bounce(&stanza, StanzaErrorCondition::InternalServerError)
                    .await;
                return;
            }
        };
        let mut stanza = stanza;
        if stanza.name == "message" {
            stanza_id::stamp(&mut stanza, &user, |domain| self.is_local_domain(domain));
        }
        let Some(kind) = StanzaKind::of(&stanza) else {
            return;
        };
        if let Some(from) = &from {
            for hook in &self.hooks.inbound {
                if hook.local_stanza(self, from, &to, &stanza).await == Flow::Stop {
                    return;
                }
            }
        }
        let mut next = plan::plan(kind, &to, &sessions);
        loop {
            match next {
                Plan::Deliver {
                    sessions: targets,
                    otherwise,
                } => {
                    let receivers: Vec<SessionId> = targets
                        .iter()
                        .filter(|entry| self.deliver(entry, stanza.clone()))
                        .map(|entry| entry.sid)
                        .collect();
                    if !receivers.is_empty() {
                        if stanza.name == "message" {
                            for hook in &self.hooks.delivered {
                                hook.message_delivered(self, &stanza, &sessions, &receivers);
                            }
                        }
                        return;
                    }
                    next = *otherwise;
                }
                Plan::StoreOffline { check_account } => {
                    self.offline(&stanza, &user, check_account).await;
                    return;
                }
                Plan::HandleIq { check_account } => {
                    if check_account {
                        match self.user_exists(to.bare()).await {
                            Ok(true) => {}
                            Ok(false) => {
                                self.bounce(&stanza, StanzaErrorCondition::ServiceUnavailable)
                                    .await;
                                return;
                            }
                            Err(()) => {
                                self.bounce(&stanza, StanzaErrorCondition::InternalServerError)
                                    .await;
                                return;
                            }
                        }
                    }
                    self.handle_iq(IqScope::User, &stanza, from, &to).await;
                    return;
                }
                Plan::Bounce(condition) => {
                    self.bounce(&stanza, condition).await;
                    return;
                }
                Plan::Drop => return,
            }
        }
    }

    async fn offline(&self, stanza: &Element, user: &BareJid, check_account: bool) {
        if check_account {
            match self.user_exists(user).await {
                Ok(true) => {}
                Ok(false) => {
                    self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable)
                        .await;
                    return;
                }
                Err(()) => {
                    self.bounce(stanza, StanzaErrorCondition::InternalServerError)
                        .await;
                    return;
                }
            }
        }
        match tokio::time::timeout(STORAGE_TIMEOUT, self.offline.store(user, stanza)).await {
            Ok(Ok(())) => tracing::debug!(%user, "message stored offline"),
            Ok(Err(error)) => {
                tracing::debug!(%user, %error, "message not stored offline: bounced");
                let condition = match error {
                    OfflineError::Full { .. } => StanzaErrorCondition::ResourceConstraint,
                    _ => StanzaErrorCondition::ServiceUnavailable,
                };
                self.bounce(stanza, condition).await;
            }
            Err(_) => {
                tracing::error!(%user, timeout = ?STORAGE_TIMEOUT, "offline storage did not answer: bounced");
                self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable)
                    .await;
            }
        }
    }

    async fn user_exists(&self, user: &BareJid) -> Result<bool, ()> {
        let Some(local) = user.local() else {
            return Ok(false);
        };
        match tokio::time::timeout(
            STORAGE_TIMEOUT,
            self.accounts.user_exists(user.domain(), local),
        )
        .await
        {
            Ok(Ok(exists)) => Ok(exists),
            Ok(Err(error)) => {
                tracing::error!(%user, %error, "account store unavailable");
                Err(())
            }
            Err(_) => {
                tracing::error!(%user, timeout = ?STORAGE_TIMEOUT, "account store did not answer");
                Err(())
            }
        }
    }

    async fn handle_iq(&self, scope: IqScope, stanza: &Element, from: Option<Jid>, to: &Jid) {
        let Some(from) = from else {
            tracing::debug!("iq without from: dropped");
            return;
        };
        let mut payloads = stanza.elements();
        let (Some(payload), None, Some(id)) = (payloads.next(), payloads.next(), stanza.attr("id"))
        else {
            self.bounce(stanza, StanzaErrorCondition::BadRequest).await;
            return;
        };
        let Some(handler) = self.hooks.iq_handler(scope, &payload.namespace) else {
            tracing::debug!(%scope, namespace = payload.namespace, "no IQ handler");
            self.bounce(stanza, StanzaErrorCondition::ServiceUnavailable)
                .await;
            return;
        };
        let request = IqRequest {
            from,
            to: to.clone(),
            id: id.to_owned(),
            kind: if stanza.attr("type") == Some("set") {
                IqKind::Set
            } else {
                IqKind::Get
            },
            payload: payload.clone(),
            after_answer: Default::default(),
        };
        let reply = match handler.handle_iq(self, &request).await {
            Ok(payload) => iq_result(stanza, payload),
            Err(error) => error.reply_to(stanza),
        };
        self.route(reply).await;
        for after in request.after_answer.take() {
            self.route(after).await;
        }
    }

    /// Hands `stanza` to `entry`'s session; a session that is gone is
    /// removed from the table. Whether it was handed over.
    fn deliver(&self, entry: &SessionEntry, stanza: Element) -> bool {
        match entry.handle.deliver(stanza) {
            Ok(()) => true,
            Err(DeliverError::Gone(_)) => {
                tracing::debug!(jid = %entry.jid, sid = %entry.sid, "session gone: removed");
                self.sessions.forget(&entry.jid, entry.sid);
                false
            }
        }
    }

    /// Answers `stanza` with a `condition` error, unless it is an error
    /// itself or has no `from` to answer to.
    async fn bounce(&self, stanza: &Element, condition: StanzaErrorCondition) {
        if stanza.attr("type") == Some("error") || stanza.attr("from").is_none() {
            return;
        }
        let mut reply = StanzaError::new(condition).reply_to(stanza);
        if reply
            .attr("from")
            .is_some_and(|from| from.parse::<Jid>().is_err())
        {
            reply.remove_attr("from");
        }
        self.route(reply).await;
    }
}

/// An iq of type get or set.
fn is_request(stanza: &Element) -> bool {
    matches!(stanza.attr("type"), Some("get" | "set"))
}

/// The result of the request iq `stanza`, with `payload` if any.
fn iq_result(stanza: &Element, payload: Option<Element>) -> Element {
    let mut result = Element::new("iq", stanza.namespace.clone()).with_attr("type", "result");
    if let Some(id) = stanza.attr("id") {
        result.set_attr("id", id);
    }
    if let Some(from) = stanza.attr("from") {
        result.set_attr("to", from);
    }
    if let Some(to) = stanza.attr("to") {
        result.set_attr("from", to);
    }
    if let Some(payload) = payload {
        result.push_child(payload);
    }
    result
}

#[cfg(test)]
mod tests;
