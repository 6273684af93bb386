//! Private XML storage (XEP-0049) over [`Storage`]'s `private_storage`
//! table: a user keeps XML fragments on the server, one per namespace
//! (bookmarks, client settings), readable only by the user.
//!
//! - `get` of `<query xmlns='jabber:iq:private'><x xmlns='ns'/></query>`
//!   returns the stored element of namespace `ns`, or the empty element as
//!   asked when none is stored (XEP-0049 §3).
//! - `set` stores each child of the query under its namespace, replacing
//!   what was there, in the order given.
//! - Another user's storage is `forbidden`; a query without a child is
//!   `bad-request`; a child in a `jabber:*` namespace (which the XEP
//!   reserves) or without a namespace is `not-acceptable`.
//!
//! Bound: what a user stores arrives in stanzas, so each element is at most
//! the stanza size; the number of namespaces is not bounded (MongooseIM's
//! isn't either).

use std::sync::Arc;

use super::{account, UserXml};
use crate::router::{
    HooksBuilder, IqHandler, IqKind, IqRequest, IqResult, IqScope, Module, Router,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::Storage;
use crate::xml::Element;

/// The private storage namespace, also its disco feature.
pub const NS_PRIVATE: &str = "jabber:iq:private";

/// The private storage module.
#[derive(Clone, Debug)]
pub struct Private {
    storage: Storage,
}

impl Private {
    /// Private storage over `storage`.
    pub fn new(storage: Storage) -> Private {
        Private { storage }
    }
}

impl Module for Private {
    fn name(&self) -> &'static str {
        "private"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::User, NS_PRIVATE, self);
    }
}

impl IqHandler for Private {
    async fn handle_iq(&self, _router: &Router, request: &IqRequest) -> IqResult {
        let Some(account) = account(request.own_account()?) else {
            return Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable));
        };
        request.expect_payload("query")?;
        let children: Vec<&Element> = request.payload.elements().collect();
        if children.is_empty() {
            return Err(StanzaError::new(StanzaErrorCondition::BadRequest));
        }
        if children
            .iter()
            .any(|child| child.namespace.is_empty() || child.namespace.starts_with("jabber:"))
        {
            return Err(StanzaError::new(StanzaErrorCondition::NotAcceptable));
        }
        match request.kind {
            IqKind::Get => {
                let mut query = Element::new("query", NS_PRIVATE);
                for child in children {
                    let stored = UserXml::Private.get(&self.storage, account, child).await?;
                    query.push_child(stored);
                }
                Ok(Some(query))
            }
            IqKind::Set => {
                for child in children {
                    UserXml::Private.set(&self.storage, account, child).await?;
                }
                Ok(None)
            }
        }
    }
}
