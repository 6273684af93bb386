//! XMPP Ping (XEP-0199): `<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`
//! is answered with an empty result, by the server for itself and on behalf
//! of a user for their bare JID (a ping to a full JID goes to that client,
//! which answers itself). A `set` is `feature-not-implemented`: the XEP
//! defines only `get`.
//!
//! Server-initiated pings (MongooseIM's `send_pings`) are not here but in
//! the c2s stream, which knows when its client last spoke:
//! [`crate::c2s::keepalive`].

use std::sync::Arc;

use crate::router::{HooksBuilder, IqHandler, IqRequest, IqResult, IqScope, Module, Router};

/// The ping namespace, also its disco feature.
pub const NS_PING: &str = "urn:xmpp:ping";

/// The ping module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ping;

impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::Server, NS_PING, self.clone());
        hooks.iq(IqScope::User, NS_PING, self);
    }
}

impl IqHandler for Ping {
    async fn handle_iq(&self, _router: &Router, request: &IqRequest) -> IqResult {
        request.get_only()?;
        Ok(None)
    }
}
