//! XML for XMPP: an element tree, a serializer, and an incremental stream
//! parser with the limits and restrictions an XMPP server needs.
//!
//! Why our own layer on quick-xml rather than a DOM library: an XMPP stream
//! is one unbounded document read from an untrusted peer, in chunks split
//! anywhere, and it must be handed on one first-level element (stanza) at a
//! time. A general parser either wants the whole document or yields low-level
//! events; this module adds the stanza framing, namespace resolution, the RFC
//! 6120 restrictions (no DTD, comments, processing instructions or custom
//! entities) and named bounds on everything a peer controls.
//!
//! - [`element`] has [`Element`], [`Node`], [`Attribute`] and builder helpers;
//! - [`serialize`] escapes and writes elements and stream headers;
//! - [`parser`] has [`StreamParser`], bytes in, [`StreamEvent`]s out;
//! - [`limits`] has [`Limits`] and their defaults;
//! - [`error`] has [`ParseError`].

mod chars;
pub mod element;
pub mod error;
pub mod limits;
pub mod parser;
mod scan;
pub mod serialize;

#[cfg(test)]
mod parser_tests;

pub use element::{Attribute, Element, Node};
pub use error::{ParseError, Restriction};
pub use limits::{Limit, Limits};
pub use parser::{ParseOutcome, StreamEvent, StreamHeader, StreamParser};
pub use serialize::{NamespaceContext, STREAM_CLOSE};

/// One stanza parsed from `xml` in a `jabber:client` stream, for tests; panics on bad XML.
#[cfg(test)]
pub(crate) fn stanza_for_test(xml: &str) -> Element {
    match crate::api::graphql::parse_stanza(xml) {
        Ok(element) => element,
        Err(error) => panic!("{xml}: {error}"),
    }
}

/// The stream namespace, bound to the `stream` prefix by convention.
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
/// The content namespace of client-to-server streams.
pub const NS_CLIENT: &str = "jabber:client";
/// The content namespace of server-to-server streams.
pub const NS_SERVER: &str = "jabber:server";
/// The namespace of `xml:lang` and other `xml:` attributes, bound to `xml` by
/// definition.
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` declarations, which no prefix may be bound to.
pub const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";
