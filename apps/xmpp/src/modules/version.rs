//! Software Version (XEP-0092): the server answers `jabber:iq:version` gets
//! with its name and version. The operating system is not told (the XEP
//! makes it optional, and it helps attackers more than users). A `set` is
//! `feature-not-implemented`.

use std::sync::Arc;

use crate::router::{HooksBuilder, IqHandler, IqRequest, IqResult, IqScope, Module, Router};
use crate::xml::Element;

/// The software version namespace.
pub const NS_VERSION: &str = "jabber:iq:version";

/// The name the server gives.
pub const SERVER_NAME: &str = "Bream";

/// The version module.
#[derive(Clone, Debug)]
pub struct Version {
    name: String,
    version: String,
}

impl Default for Version {
    /// [`SERVER_NAME`] and this crate's version.
    fn default() -> Self {
        Version {
            name: SERVER_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

impl Module for Version {
    fn name(&self) -> &'static str {
        "version"
    }

    fn register(self: Arc<Self>, hooks: &mut HooksBuilder) {
        hooks.iq(IqScope::Server, NS_VERSION, self);
    }
}

impl IqHandler for Version {
    async fn handle_iq(&self, _router: &Router, request: &IqRequest) -> IqResult {
        request.get_only()?;
        Ok(Some(
            Element::new("query", NS_VERSION)
                .with_child(Element::new("name", NS_VERSION).with_text(self.name.as_str()))
                .with_child(Element::new("version", NS_VERSION).with_text(self.version.as_str())),
        ))
    }
}
