//! Blocking Command (XEP-0191) over [`Storage`]'s `blocking` table.
//!
//! **Managing the list** (`urn:xmpp:blocking`, one's own bare JID only;
//! another's is `forbidden`):
//! - `get <blocklist/>`: the blocked JIDs; the asking session becomes
//!   interested in pushes (§3.2).
//! - `set <block>` with one or more items: adds them (none is
//!   `bad-request`, a bad JID `jid-malformed`), then pushes the `<block/>`
//!   to the interested sessions.
//! - `set <unblock>` with items removes them; without items it removes
//!   everything (§3.4, "unblock all"). Pushed the same way.
//!
//! **Enforcement** (§3.3, matching as privacy lists do: an item
//! `user@domain/resource` matches that full JID, `user@domain` any of its
//! resources, `domain/resource` and `domain` anyone at the domain):
//! - A stanza *to* a local user *from* a JID the user blocks is dropped;
//!   an iq get/set is answered `service-unavailable`, as if the user did not
//!   exist (an inbound hook, registered first so that nothing acts on it).
//! - Presence *from* a local user *to* a JID the user blocks is dropped
//!   (this covers broadcasts to subscribers and probe answers, which the
//!   server sends on the user's behalf).
//! - A message or iq a client sends *to* a JID its user blocks is refused
//!   with `not-acceptable` and the application condition
//!   `<blocked xmlns='urn:xmpp:blocking:errors'/>`; presence is dropped (an
//!   outbound hook). The error is handed to the sending session directly:
//!   routed, it would come *from* the blocked JID and be dropped.
//!
//! Cost: enforcement needs the recipient's list for every stanza, so the
//! lists of users seen recently are cached in memory, at most
//! [`BLOCKLIST_CACHE_MAX`] users (the cache is emptied when full; a miss
//! is one query). A change on this node updates the cache; on a cluster
//! other nodes would see it late, which waits for the clustering issue.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{account, session_entry, storage_failed, Interested};
use crate::jid::{BareJid, Jid};
use crate::router::{
    ClientSession, Flow, HooksBuilder, InboundHook, IqHandler, IqKind, IqRequest, IqResult,
    IqScope, Module, OutboundHook, Router, SessionHook,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::Storage;
use crate::xml::Element;

/// The blocking namespace, also its disco feature.
pub const NS_BLOCKING: &str = "urn:xmpp:blocking";

/// The namespace of the `<blocked/>` application error condition.
pub const NS_BLOCKING_ERRORS: &str = "urn:xmpp:blocking:errors";

/// Users whose block lists are kept in memory at most.
pub const BLOCKLIST_CACHE_MAX: usize = 10_000;

/// Whether the block list `list` matches `jid`.
pub fn is_blocked(list: &[Jid], jid: &Jid) -> bool {
    list.iter()
        .any(|item| match (item.local(), item.resource()) {
            (Some(_), Some(_)) => item == jid,
            (Some(_), None) => item.bare() == jid.bare(),
            (None, Some(resource)) => {
                item.domain() == jid.domain() && jid.resource() == Some(resource)
            }
            (None, None) => item.domain() == jid.domain(),
        })
}

/// The blocking module. See the module docs.
#[derive(Debug)]
pub struct Blocking {
    storage: Storage,
    interested: Interested,
    cache: Mutex<HashMap<BareJid, Arc<Vec<Jid>>>>,
}

impl Blocking {
    /// Blocking over `storage`.
    pub fn new(storage: Storage) -> Blocking {
        Blocking {
            storage,
            interested: Interested::default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user's block list (empty for a non-account or on a storage
    /// failure, which is logged: a failing database must not stop traffic).
    async fn list(&self, user: &BareJid) -> Arc<Vec<Jid>> {
        if let Some(list) = self.cache.lock().get(user) {
            return Arc::clone(list);
        }
        let Some((domain, username)) = account(user) else {
            return Arc::default();
        };
        match self.storage.blocklist(domain, username).await {
            Ok(jids) => {
                let list: Arc<Vec<Jid>> =
                    Arc::new(jids.iter().filter_map(|jid| jid.parse().ok()).collect());
                let mut cache = self.cache.lock();
                if cache.len() >= BLOCKLIST_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(user.clone(), Arc::clone(&list));
                list
            }
            Err(error) => {
                storage_failed("blocklist", &error);
                Arc::default()
            }
        }
    }

    async fn set(&self, router: &Router, request: &IqRequest, user: &BareJid) -> IqResult {
        let Some((domain, username)) = account(user) else {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
        };
        let payload = &request.payload;
        let block = match payload.name.as_str() {
            "block" => true,
            "unblock" => false,
            _ => return Err(StanzaError::new(StanzaErrorCondition::BadRequest)),
        };
        let mut jids = Vec::new();
        for item in payload
            .elements()
            .filter(|child| child.is("item", NS_BLOCKING))
        {
            let jid = item
                .attr("jid")
                .and_then(|jid| jid.parse::<Jid>().ok())
                .ok_or_else(|| StanzaError::new(StanzaErrorCondition::JidMalformed))?;
            jids.push(jid.to_string());
        }
        if block && jids.is_empty() {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest)
                .with_text("block needs at least one item"));
        }
        let written = if block {
            self.storage.block(domain, username, &jids).await
        } else {
            self.storage.unblock(domain, username, &jids).await
        };
        // Whatever happened, the cached copy may be stale now.
        self.cache.lock().remove(user);
        written.map_err(|error| storage_failed(if block { "block" } else { "unblock" }, &error))?;
        let mut push = Element::new(payload.name.clone(), NS_BLOCKING);
        for jid in &jids {
            push.push_child(Element::new("item", NS_BLOCKING).with_attr("jid", jid.as_str()));
        }
        self.interested.push(router, user, &push);
        Ok(None)
    }
}

impl Module for Blocking {
    fn name(&self) -> &'static str {
        "blocking"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::User, NS_BLOCKING, self.clone());
        hooks.outbound(self.clone());
        hooks.inbound(self.clone());
        hooks.session(self);
    }
}

impl IqHandler for Blocking {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        let user = request.own_account()?;
        match request.kind {
            IqKind::Get if request.payload.name == "blocklist" => {
                self.interested.add(router, &request.from);
                let Some((domain, username)) = account(user) else {
                    return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
                };
                let jids = self
                    .storage
                    .blocklist(domain, username)
                    .await
                    .map_err(|error| storage_failed("blocklist", &error))?;
                let mut list = Element::new("blocklist", NS_BLOCKING);
                for jid in jids {
                    list.push_child(Element::new("item", NS_BLOCKING).with_attr("jid", jid));
                }
                Ok(Some(list))
            }
            IqKind::Get => Err(StanzaError::new(StanzaErrorCondition::BadRequest)),
            IqKind::Set => self.set(router, request, user).await,
        }
    }
}

impl OutboundHook for Blocking {
    async fn user_send_stanza(
        &self,
        router: &Router,
        sender: &ClientSession,
        stanza: &Element,
    ) -> Flow {
        let Some(to) = stanza.attr("to").and_then(|to| to.parse::<Jid>().ok()) else {
            return Flow::Continue;
        };
        if to.bare() == sender.jid.bare() {
            return Flow::Continue;
        }
        let list = self.list(sender.jid.bare()).await;
        if !is_blocked(&list, &to) {
            return Flow::Continue;
        }
        tracing::debug!(jid = %sender.jid, %to, stanza = stanza.name, "stanza to a blocked JID refused");
        let answerable = match stanza.name.as_str() {
            "message" => stanza.attr("type") != Some("error"),
            "iq" => matches!(stanza.attr("type"), Some("get" | "set")),
            _ => false,
        };
        if answerable {
            let reply = StanzaError::new(StanzaErrorCondition::NotAcceptable)
                .with_application_condition(Element::new("blocked", NS_BLOCKING_ERRORS))
                .reply_to(stanza);
            if let Some(entry) = session_entry(router, sender) {
                let _ = entry.handle.deliver(reply);
            }
        }
        Flow::Stop
    }
}

impl InboundHook for Blocking {
    async fn local_stanza(&self, router: &Router, from: &Jid, to: &Jid, stanza: &Element) -> Flow {
        if from.bare() == to.bare() {
            return Flow::Continue;
        }
        let list = self.list(to.bare()).await;
        if is_blocked(&list, from) {
            tracing::debug!(%from, %to, stanza = stanza.name, "stanza from a blocked JID dropped");
            if stanza.name == "iq" && matches!(stanza.attr("type"), Some("get" | "set")) {
                let reply =
                    StanzaError::new(StanzaErrorCondition::ServiceUnavailable).reply_to(stanza);
                router.route(reply).await;
            }
            return Flow::Stop;
        }
        if stanza.name == "presence" && router.is_local_domain(from.domain()) {
            let list = self.list(from.bare()).await;
            if is_blocked(&list, to) {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}

impl SessionHook for Blocking {
    async fn session_closed(&self, _router: &Router, session: &ClientSession) {
        self.interested.remove(session.sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_match_as_privacy_lists_do() {
        let list = |items: &[&str]| -> Vec<Jid> {
            items
                .iter()
                .map(|item| item.parse().expect("jid"))
                .collect()
        };
        let jid = |jid: &str| -> Jid { jid.parse().expect("jid") };
        assert!(is_blocked(&list(&["a@x"]), &jid("a@x/phone")));
        assert!(is_blocked(&list(&["a@x/phone"]), &jid("a@x/phone")));
        assert!(!is_blocked(&list(&["a@x/phone"]), &jid("a@x/desk")));
        assert!(!is_blocked(&list(&["a@x/phone"]), &jid("a@x")));
        assert!(is_blocked(&list(&["x"]), &jid("b@x/any")));
        assert!(is_blocked(&list(&["x/r"]), &jid("b@x/r")));
        assert!(!is_blocked(&list(&["x/r"]), &jid("b@x/s")));
        assert!(!is_blocked(&list(&["y"]), &jid("b@x")));
    }
}
