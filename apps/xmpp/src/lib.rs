//! bream-xmpp: an XMPP server in the spirit of MongooseIM on the Bream runtime.
//!
//! This crate starts with the pure, I/O-free foundations the server's
//! connection and session state machines are built from:
//!
//! - [`xml`]: element tree, serializer, and the incremental, bounded stream
//!   parser that turns socket bytes into stanzas;
//! - [`jid`]: XMPP addresses (RFC 7622) parsed and normalised;
//! - [`stanza`]: stream and stanza error conditions (RFC 6120) and the XML for
//!   them;
//! - [`sasl`]: server-side SASL mechanisms (PLAIN, SCRAM-SHA-1/256/512) as
//!   state machines, and the SCRAM secrets passwords are stored as.
//!
//! The protocol modules (xml, jid, stanza, sasl) do no I/O, read no clock and
//! spawn nothing; storage, config, the CLI and the server around them do.

pub mod api;
pub mod c2s;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod jid;
pub mod metrics;
pub mod modules;
pub mod router;
pub mod sasl;
pub mod server;
pub mod stanza;
pub mod storage;
pub mod xml;
