//! vCards (XEP-0054) over [`Storage`]'s `vcard` table.
//!
//! `<iq type='get'><vCard xmlns='vcard-temp'/></iq>` to a user's bare JID
//! (or without `to`, for one's own) returns the stored vCard, or an empty
//! `<vCard/>` when none was set (XEP-0054 §3.1 allows either; an empty one
//! lets clients tell "no vCard" from an error). Anyone may read a vCard, as
//! in MongooseIM. A `set` replaces one's own vCard; setting another user's
//! is `not-allowed` (MongooseIM's answer). The router has already answered
//! `service-unavailable` for an unknown account.
//!
//! Bound: a vCard is at most one stanza (the parser's stanza size limit),
//! which is also what the `vcard` column holds.

use std::sync::Arc;

use super::{account, UserXml};
use crate::router::{
    HooksBuilder, IqHandler, IqKind, IqRequest, IqResult, IqScope, Module, Router,
};
use crate::stanza::error::{StanzaError, StanzaErrorCondition};
use crate::storage::Storage;

/// The vCard namespace, also its disco feature.
pub const NS_VCARD: &str = "vcard-temp";

/// The vCard module.
#[derive(Clone, Debug)]
pub struct Vcard {
    storage: Storage,
}

impl Vcard {
    /// vCards over `storage`.
    pub fn new(storage: Storage) -> Vcard {
        Vcard { storage }
    }
}

impl Module for Vcard {
    fn name(&self) -> &'static str {
        "vcard"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::User, NS_VCARD, self);
    }
}

impl IqHandler for Vcard {
    async fn handle_iq(&self, _router: &Router, request: &IqRequest) -> IqResult {
        request.expect_payload("vCard")?;
        let Some(account) = account(request.to.bare()) else {
            return Err(StanzaError::new(StanzaErrorCondition::ServiceUnavailable));
        };
        match request.kind {
            IqKind::Get => {
                let vcard = UserXml::Vcard
                    .get(&self.storage, account, &request.payload)
                    .await?;
                Ok(Some(vcard))
            }
            IqKind::Set => {
                if !request.is_own_account() {
                    return Err(StanzaError::new(StanzaErrorCondition::NotAllowed));
                }
                UserXml::Vcard
                    .set(&self.storage, account, &request.payload)
                    .await?;
                Ok(None)
            }
        }
    }
}
