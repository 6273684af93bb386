//! Stream errors and stanza errors (RFC 6120 §4.9 and §8.3), as typed values
//! with the XML they are sent as.
//!
//! A stream error ends the connection: the server sends
//! `<stream:error><condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`
//! then closes the stream. A stanza error answers one stanza and the stream
//! goes on: `<error type='cancel'><condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`
//! inside a reply of type `error`. Each condition is an enum variant, so a
//! typo cannot reach the wire, and each stanza condition carries the error
//! type RFC 6120's examples give it, which a caller may override.
//!
//! ```
//! use bream_xmpp::stanza::error::{StanzaError, StanzaErrorCondition, StreamError, StreamErrorCondition};
//!
//! assert_eq!(
//!     StreamError::new(StreamErrorCondition::NotWellFormed).to_xml(),
//!     "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
//! );
//! assert_eq!(
//!     StanzaError::new(StanzaErrorCondition::ServiceUnavailable).to_xml(),
//!     "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
//! );
//! ```
//!
//! Parser errors map to stream errors with [`StreamError::from`]: malformed
//! XML is `not-well-formed`, restricted XML `restricted-xml`, a hit limit
//! `policy-violation`, a wrong stream namespace `invalid-namespace`, a
//! non-UTF-8 encoding `unsupported-encoding`, text between stanzas
//! `bad-format`.
//!
//! The two kinds live in their own files (stream.rs, stanza.rs) and are re-exported here, so
//! `crate::stanza::error::{StreamError, StanzaError, ...}` is the one path to them. The
//! condition names are derived with `strum` from the variant names in kebab case, RFC 6120's
//! element names, so no hand-written table can drift from the enums.

mod described;
mod stanza;
mod stream;

pub use self::described::Described;
pub use self::stanza::{ErrorType, StanzaError, StanzaErrorCondition};
pub use self::stream::{StreamError, StreamErrorCondition};

/// Namespace of stream error conditions and their `<text/>`.
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Namespace of stanza error conditions and their `<text/>`.
pub const NS_STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Element, NS_CLIENT};
    use strum::IntoEnumIterator;

    #[test]
    fn errors_parse_back_from_their_elements() {
        let stream_error =
            StreamError::new(StreamErrorCondition::SeeOtherHost("h".into())).with_text("t");
        assert_eq!(
            StreamError::from_element(&stream_error.to_element()),
            Some(stream_error)
        );
        let stanza_error = StanzaError::new(StanzaErrorCondition::Gone(Some("xmpp:x@y".into())))
            .with_by("y")
            .with_text("t")
            .with_application_condition(Element::new("c", "urn:app"));
        assert_eq!(
            StanzaError::from_element(&stanza_error.to_element()),
            Some(stanza_error)
        );
        assert_eq!(
            StanzaError::from_element(&Element::new("error", NS_CLIENT)),
            None
        );
        assert_eq!(
            StreamError::from_element(&Element::new("error", NS_CLIENT)),
            None
        );
    }

    /// The element names, written out from RFC 6120 §4.9.3 and §8.3.3 (and the error types
    /// of §8.3.2): the derived names must be exactly these, in declaration order.
    #[test]
    fn derived_names_are_rfc_6120s() {
        let stream = [
            "bad-format",
            "bad-namespace-prefix",
            "conflict",
            "connection-timeout",
            "host-gone",
            "host-unknown",
            "improper-addressing",
            "internal-server-error",
            "invalid-from",
            "invalid-namespace",
            "invalid-xml",
            "not-authorized",
            "not-well-formed",
            "policy-violation",
            "remote-connection-failed",
            "reset",
            "resource-constraint",
            "restricted-xml",
            "see-other-host",
            "system-shutdown",
            "undefined-condition",
            "unsupported-encoding",
            "unsupported-feature",
            "unsupported-stanza-type",
            "unsupported-version",
        ];
        let names: Vec<&str> = StreamErrorCondition::iter()
            .map(|condition| condition.name())
            .collect();
        assert_eq!(names, stream);
        for (condition, name) in StreamErrorCondition::iter().zip(stream) {
            assert_eq!(condition.to_string(), name);
            assert_eq!(StreamErrorCondition::from_name(name, ""), Some(condition));
        }

        let stanza = [
            "bad-request",
            "conflict",
            "feature-not-implemented",
            "forbidden",
            "gone",
            "internal-server-error",
            "item-not-found",
            "jid-malformed",
            "not-acceptable",
            "not-allowed",
            "not-authorized",
            "policy-violation",
            "recipient-unavailable",
            "redirect",
            "registration-required",
            "remote-server-not-found",
            "remote-server-timeout",
            "resource-constraint",
            "service-unavailable",
            "subscription-required",
            "undefined-condition",
            "unexpected-request",
        ];
        let names: Vec<&str> = StanzaErrorCondition::iter()
            .map(|condition| condition.name())
            .collect();
        assert_eq!(names, stanza);
        for (condition, name) in StanzaErrorCondition::iter().zip(stanza) {
            assert_eq!(condition.to_string(), name);
            assert_eq!(StanzaErrorCondition::from_name(name, ""), Some(condition));
        }

        use ErrorType::*;
        for (error_type, name) in [
            (Auth, "auth"),
            (Cancel, "cancel"),
            (Continue, "continue"),
            (Modify, "modify"),
            (Wait, "wait"),
        ] {
            assert_eq!(error_type.name(), name);
            assert_eq!(error_type.to_string(), name);
            assert_eq!(ErrorType::from_name(name), Some(error_type));
        }
    }

    /// Names are matched exactly, as on the wire: no other case, no variant name.
    #[test]
    fn only_the_exact_names_parse() {
        for name in ["Bad-Format", "BadFormat", "bad_format", " bad-format", ""] {
            assert_eq!(StreamErrorCondition::from_name(name, ""), None, "{name:?}");
        }
        for name in ["Bad-Request", "BadRequest", "bad_request", "gone "] {
            assert_eq!(StanzaErrorCondition::from_name(name, ""), None, "{name:?}");
        }
        assert_eq!(ErrorType::from_name("Cancel"), None);
        assert_eq!(
            StreamErrorCondition::from_name("see-other-host", "h:1"),
            Some(StreamErrorCondition::SeeOtherHost("h:1".into()))
        );
        assert_eq!(
            StanzaErrorCondition::from_name("redirect", ""),
            Some(StanzaErrorCondition::Redirect(None))
        );
        assert_eq!(
            StanzaErrorCondition::from_name("conflict", "ignored"),
            Some(StanzaErrorCondition::Conflict)
        );
    }
}
