//! Service Discovery (XEP-0030) for the server and for users' bare JIDs.
//!
//! - `disco#info` to a served domain: the server identity (`server`/`im`)
//!   plus the identities and features every module registered for
//!   [`IqScope::Server`] (each IQ handler's namespace is a feature).
//! - `disco#items` to a served domain: none yet (no components or MUC).
//! - `disco#info` to a user's bare JID (answered by the server on the user's
//!   behalf, RFC 6121 §8.5.1): the `account`/`registered` identity and the
//!   [`IqScope::User`] features. The router has already checked that the
//!   account exists (`service-unavailable` otherwise).
//! - `disco#items` to a user's bare JID: the user's connected resources, shown
//!   only to the user's own resources; others get an empty list, so presence
//!   is not leaked to strangers.
//!
//! A `node` the server does not know is `item-not-found`; a `set` is
//! `feature-not-implemented`.

use std::sync::Arc;

use crate::router::{
    HooksBuilder, Identity, IqHandler, IqRequest, IqResult, IqScope, Module, Router,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::xml::Element;

/// The disco#info namespace.
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// The disco#items namespace.
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// The disco module.
#[derive(Clone, Debug)]
pub struct Disco {
    server_identity: Identity,
}

impl Default for Disco {
    /// The server is `server`/`im`, named [`crate::modules::version::SERVER_NAME`].
    fn default() -> Self {
        Disco {
            server_identity: Identity::new("server", "im")
                .with_name(crate::modules::version::SERVER_NAME),
        }
    }
}

impl Module for Disco {
    fn name(&self) -> &'static str {
        "disco"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.identity(IqScope::Server, self.server_identity.clone());
        hooks.identity(IqScope::User, Identity::new("account", "registered"));
        for scope in [IqScope::Server, IqScope::User] {
            hooks.iq(scope, NS_DISCO_INFO, Arc::new(Info { scope }));
            hooks.iq(scope, NS_DISCO_ITEMS, Arc::new(Items { scope }));
            // The router stamps every message for a local user (XEP-0359 §6).
            hooks.feature(scope, crate::router::stanza_id::NS_SID);
        }
    }
}

struct Info {
    scope: IqScope,
}

struct Items {
    scope: IqScope,
}

/// Refuses what neither disco handler answers: a `set`, or a `node` (the
/// server has none).
fn check(request: &IqRequest) -> Result<(), StanzaErrorCondition> {
    request.get_only()?;
    if request.payload.attr("node").is_some() {
        return Err(StanzaErrorCondition::ItemNotFound);
    }
    Ok(())
}

/// The disco#info of `scope` as the registered modules describe it (no `node`).
pub fn info_query(hooks: &crate::router::Hooks, scope: IqScope) -> Element {
    let mut query = Element::new("query", NS_DISCO_INFO);
    for identity in hooks.identities(scope) {
        let mut element = Element::new("identity", NS_DISCO_INFO)
            .with_attr("category", identity.category.as_str())
            .with_attr("type", identity.kind.as_str());
        if let Some(name) = &identity.name {
            element.set_attr("name", name.as_str());
        }
        query.push_child(element);
    }
    for feature in hooks.features(scope) {
        query.push_child(Element::new("feature", NS_DISCO_INFO).with_attr("var", feature));
    }
    query
}

impl IqHandler for Info {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        // The server's own caps node (XEP-0115 §6.2): the same answer, naming the node.
        if self.scope == IqScope::Server {
            if let Some(node) = request.payload.attr("node") {
                request.get_only()?;
                let query = info_query(router.hooks(), self.scope);
                let own = crate::modules::caps::verification_string(&query).is_some_and(|ver| {
                    node == format!("{}#{ver}", crate::modules::caps::SERVER_NODE)
                });
                if !own {
                    return Err(StanzaError::new(StanzaErrorCondition::ItemNotFound));
                }
                return Ok(Some(query.with_attr("node", node)));
            }
        }
        check(request)?;
        Ok(Some(info_query(router.hooks(), self.scope)))
    }
}

impl IqHandler for Items {
    async fn handle_iq(&self, router: &Router, request: &IqRequest) -> IqResult {
        check(request)?;
        let mut query = Element::new("query", NS_DISCO_ITEMS);
        if self.scope == IqScope::User && request.is_own_account() {
            let sessions = match router.sessions().user_sessions(request.to.bare()) {
                Ok(sessions) => sessions,
                Err(error) => {
                    tracing::error!(%error, "session table unavailable");
                    return Err(StanzaError::new(StanzaErrorCondition::InternalServerError));
                }
            };
            for session in sessions {
                let mut item =
                    Element::new("item", NS_DISCO_ITEMS).with_attr("jid", session.jid.to_string());
                if let Some(resource) = session.jid.resource() {
                    item.set_attr("name", resource);
                }
                query.push_child(item);
            }
        }
        Ok(Some(query))
    }
}
