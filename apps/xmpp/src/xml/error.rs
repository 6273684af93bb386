//! What can go wrong while parsing a stream, as values.
//!
//! Every error names its cause precisely enough to log; the mapping to the
//! stream error sent to the peer lives with the stream errors
//! ([`crate::stanza::error::StreamErrorCondition::from`]): malformed XML is
//! `not-well-formed`, forbidden XML features are `restricted-xml`, a hit limit
//! is `policy-violation`, a wrong stream namespace is `invalid-namespace`.

use super::limits::Limit;

/// Why the stream parser stopped. After an error the parser returns the same
/// error again until [`reset`](super::StreamParser::reset).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not well-formed (namespace-well-formed) XML 1.0 in UTF-8.
    #[error("XML is not well-formed: {reason}")]
    NotWellFormed {
        /// What was wrong, for logs.
        reason: &'static str,
    },
    /// A prefix was used that no enclosing element declares.
    #[error("namespace prefix `{prefix}` is not declared")]
    UndeclaredPrefix {
        /// The prefix as written.
        prefix: String,
    },
    /// XML that RFC 6120 §11.1 forbids in a stream.
    #[error("restricted XML: {0}")]
    Restricted(Restriction),
    /// A bound of [`Limits`](super::Limits) was exceeded.
    #[error("{limit} of {max} exceeded")]
    LimitExceeded {
        /// Which bound.
        limit: Limit,
        /// Its value.
        max: usize,
    },
    /// The root element is not `stream` in `http://etherx.jabber.org/streams`.
    #[error(
        "stream header is {{{namespace}}}{name}, not {{http://etherx.jabber.org/streams}}stream"
    )]
    InvalidStreamHeader {
        /// Local name of the root element.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// Non-whitespace character data directly inside the stream element.
    #[error("text between stanzas")]
    TextOutsideStanza,
    /// The XML declaration names an encoding other than UTF-8.
    #[error("encoding `{0}` is not supported: XMPP streams are UTF-8")]
    UnsupportedEncoding(String),
}

/// An XML feature that XMPP streams must not use (RFC 6120 §11.1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Restriction {
    /// `<!-- ... -->`.
    #[error("comment")]
    Comment,
    /// `<?target ...?>` other than the XML declaration before the stream header.
    #[error("processing instruction")]
    ProcessingInstruction,
    /// `<!DOCTYPE ...>` or another markup declaration (`<!ENTITY`, `<!ELEMENT`, ...).
    #[error("document type or markup declaration")]
    Dtd,
    /// `&name;` for a name other than `lt`, `gt`, `amp`, `apos`, `quot`.
    #[error("reference to entity `{0}`")]
    EntityReference(String),
}

impl ParseError {
    pub(crate) fn malformed(reason: &'static str) -> Self {
        ParseError::NotWellFormed { reason }
    }
}
