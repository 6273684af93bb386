//! The XMPP side of the test kit: one test client ([`TestClient`]) over bream-load's
//! connection, and the real server started in-process ([`TestServer`]) on a temporary SQLite
//! database with every listener on a free port; [`graphql`] reads the answers of its
//! GraphQL APIs.

mod client;
pub mod graphql;
mod server;
mod tls;

pub use client::{befriend, TestClient};
pub use server::{TestServer, TestServerBuilder, ADMIN_CREDENTIALS};
pub use tls::tls_connector;

/// The XMPP domain the test servers serve.
pub const DOMAIN: &str = "localhost";
/// The password of every account the test kit registers.
pub const PASSWORD: &str = "secret";
/// SASL's namespace.
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// STARTTLS's namespace.
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// Resource binding's namespace.
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// The roster's namespace.
pub const NS_ROSTER: &str = "jabber:iq:roster";
