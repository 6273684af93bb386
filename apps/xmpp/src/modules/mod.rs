//! Feature modules that need no storage, each behind the router's hooks
//! ([`crate::router::hooks`]), as MongooseIM's `mod_*` are behind
//! `ejabberd_hooks`.
//!
//! - [`ping`]: XEP-0199, for the server and on behalf of users;
//! - [`disco`]: XEP-0030 info and items, for the server and users' bare
//!   JIDs, listing what the other modules registered;
//! - [`version`]: XEP-0092, the server's software version;
//! - [`presence`]: RFC 6121 presence that needs no roster (broadcast to the
//!   user's own resources, directed presence, unavailable on disconnect),
//!   with [`presence::Contacts`] as the point where a roster plugs in.
//!
//! Modules with storage (roster, offline, vCard, private, last, blocking)
//! will sit beside these and register the same way.

pub mod disco;
pub mod ping;
pub mod presence;
pub mod version;

use std::sync::Arc;

use crate::router::Module;

/// The storage-free modules with their defaults, in registration order:
/// ping, disco, version, presence without contacts.
pub fn defaults() -> Vec<Arc<dyn Module>> {
    vec![
        Arc::new(ping::Ping),
        Arc::new(disco::Disco::default()),
        Arc::new(version::Version::default()),
        Arc::new(presence::Presence::new(Arc::new(presence::NoContacts))),
    ]
}
