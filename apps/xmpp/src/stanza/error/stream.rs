//! Stream errors (RFC 6120 §4.9): the conditions, the `<stream:error/>` element, and the
//! mapping from parser errors.

use strum::{Display, EnumIter, EnumString, IntoStaticStr};

use super::{Described, NS_STREAM_ERRORS};
use crate::xml::{Element, NamespaceContext, ParseError, NS_STREAMS};

/// The defined stream error conditions, RFC 6120 §4.9.3.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Display, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum StreamErrorCondition {
    /// XML that cannot be processed.
    BadFormat,
    /// An unsupported namespace prefix, or none where one is needed.
    BadNamespacePrefix,
    /// A new stream conflicts with an existing one (e.g. same resource).
    Conflict,
    /// No traffic for too long.
    ConnectionTimeout,
    /// The `to` domain is no longer served here.
    HostGone,
    /// The `to` domain is not served here.
    HostUnknown,
    /// A stanza lacks a needed `to` or `from`, or it is malformed.
    ImproperAddressing,
    /// The server cannot go on.
    InternalServerError,
    /// A `from` that does not match an authenticated JID.
    InvalidFrom,
    /// A stream namespace other than the stream namespace, or an unsupported
    /// content namespace.
    InvalidNamespace,
    /// Invalid XML (schema-wise) when validation is done.
    InvalidXml,
    /// Data sent before authentication, or the stream is not authorized.
    NotAuthorized,
    /// XML that is not well-formed.
    NotWellFormed,
    /// A local policy was violated, such as a stanza size limit.
    PolicyViolation,
    /// A needed remote connection failed.
    RemoteConnectionFailed,
    /// The stream must be re-established (e.g. credentials changed).
    Reset,
    /// The server lacks resources to serve the stream.
    ResourceConstraint,
    /// XML that RFC 6120 §11.1 forbids (comments, PIs, DTDs, entities).
    RestrictedXml,
    /// Connect to another host instead; carries that host.
    SeeOtherHost(String),
    /// The server is shutting down.
    SystemShutdown,
    /// Nothing else fits.
    UndefinedCondition,
    /// An encoding other than UTF-8.
    UnsupportedEncoding,
    /// A mandatory-to-negotiate feature the receiver does not support.
    UnsupportedFeature,
    /// A first-level child the server does not support.
    UnsupportedStanzaType,
    /// A `version` the server does not support.
    UnsupportedVersion,
}

impl StreamErrorCondition {
    /// The element name of this condition: the variant's name in kebab case.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// The condition for an element name; `content` is the element's text,
    /// the host for `see-other-host`.
    pub fn from_name(name: &str, content: &str) -> Option<Self> {
        match name.parse::<StreamErrorCondition>().ok()? {
            StreamErrorCondition::SeeOtherHost(_) => {
                Some(StreamErrorCondition::SeeOtherHost(content.to_owned()))
            }
            condition => Some(condition),
        }
    }

    fn to_element(&self) -> Element {
        let element = Element::new(self.name(), NS_STREAM_ERRORS);
        match self {
            StreamErrorCondition::SeeOtherHost(host) => element.with_text(host.as_str()),
            _ => element,
        }
    }
}

/// A stream error: a condition and an optional human-readable text.
pub type StreamError = Described<StreamErrorCondition>;

impl StreamError {
    /// The `<error/>` element in the stream namespace.
    pub fn to_element(&self) -> Element {
        self.element(
            "error",
            NS_STREAMS,
            self.condition.to_element(),
            NS_STREAM_ERRORS,
        )
    }

    /// The XML to send inside a stream opened with the `stream` prefix:
    /// `<stream:error>...</stream:error>`.
    pub fn to_xml(&self) -> String {
        self.to_element()
            .to_xml_in(&NamespaceContext::CLIENT_STREAM)
    }

    /// Reads a received `<stream:error/>`; `None` if `element` is not one or
    /// has no known condition.
    pub fn from_element(element: &Element) -> Option<Self> {
        if !element.is("error", NS_STREAMS) {
            return None;
        }
        let condition = element
            .elements()
            .filter(|child| child.namespace == NS_STREAM_ERRORS && child.name != "text")
            .find_map(|child| StreamErrorCondition::from_name(&child.name, &child.text()))?;
        let text = element.child("text", NS_STREAM_ERRORS).map(Element::text);
        Some(StreamError { condition, text })
    }
}

impl From<&ParseError> for StreamErrorCondition {
    fn from(error: &ParseError) -> Self {
        match error {
            ParseError::NotWellFormed { .. } | ParseError::UndeclaredPrefix { .. } => {
                StreamErrorCondition::NotWellFormed
            }
            ParseError::Restricted(_) => StreamErrorCondition::RestrictedXml,
            ParseError::LimitExceeded { .. } => StreamErrorCondition::PolicyViolation,
            ParseError::InvalidStreamHeader { .. } => StreamErrorCondition::InvalidNamespace,
            ParseError::TextOutsideStanza => StreamErrorCondition::BadFormat,
            ParseError::UnsupportedEncoding(_) => StreamErrorCondition::UnsupportedEncoding,
        }
    }
}

/// The stream error to close a stream with after `error`, with the parser's
/// explanation as text.
impl From<&ParseError> for StreamError {
    fn from(error: &ParseError) -> Self {
        StreamError::new(error.into()).with_text(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limit, Restriction, StreamEvent, StreamParser};
    use strum::IntoEnumIterator;

    #[test]
    fn stream_error_xml() {
        assert_eq!(
            StreamError::new(StreamErrorCondition::NotWellFormed).to_xml(),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        );
        assert_eq!(
            StreamError::new(StreamErrorCondition::SeeOtherHost(
                "[2001:db8::1]:5222".into()
            ))
            .with_text("moved")
            .to_xml(),
            "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>\
             [2001:db8::1]:5222</see-other-host><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>\
             moved</text></stream:error>"
        );
    }

    #[test]
    fn every_stream_condition_round_trips_through_its_name() {
        let conditions: Vec<_> = StreamErrorCondition::iter().collect();
        for condition in &conditions {
            let parsed = StreamErrorCondition::from_name(condition.name(), "");
            assert_eq!(parsed.as_ref(), Some(condition));
        }
        let names: std::collections::HashSet<_> = conditions
            .iter()
            .map(|condition| condition.name())
            .collect();
        assert_eq!(names.len(), 25);
        assert_eq!(
            StreamErrorCondition::from_name("no-such-condition", ""),
            None
        );
    }

    fn condition_for(input: &str) -> StreamErrorCondition {
        let mut parser = StreamParser::new();
        parser.feed(input.as_bytes());
        loop {
            match parser.next_event() {
                Ok(Some(StreamEvent::StreamStart(_) | StreamEvent::Stanza(_))) => continue,
                Ok(other) => panic!("no error for {input}: {other:?}"),
                Err(error) => return StreamErrorCondition::from(&error),
            }
        }
    }

    #[test]
    fn parser_errors_map_to_stream_errors() {
        let header =
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
        assert_eq!(
            condition_for(&format!("{header}<a></b>")),
            StreamErrorCondition::NotWellFormed
        );
        assert_eq!(
            condition_for(&format!("{header}<a><p:b/></a>")),
            StreamErrorCondition::NotWellFormed
        );
        assert_eq!(
            condition_for("<!DOCTYPE a>"),
            StreamErrorCondition::RestrictedXml
        );
        assert_eq!(
            condition_for(&format!("{header}<a>&xxe;</a>")),
            StreamErrorCondition::RestrictedXml
        );
        assert_eq!(
            condition_for(&format!("{header}<?pi?>")),
            StreamErrorCondition::RestrictedXml
        );
        assert_eq!(
            condition_for("<stream xmlns='jabber:client'>"),
            StreamErrorCondition::InvalidNamespace
        );
        assert_eq!(
            condition_for(&format!("{header}hi")),
            StreamErrorCondition::BadFormat
        );
        assert_eq!(
            condition_for("<?xml version='1.0' encoding='UTF-16'?>"),
            StreamErrorCondition::UnsupportedEncoding
        );
        let big = format!("{header}<a>{}</a>", "x".repeat(70_000));
        assert_eq!(condition_for(&big), StreamErrorCondition::PolicyViolation);
        let error = ParseError::LimitExceeded {
            limit: Limit::StanzaBytes,
            max: 65_536,
        };
        assert_eq!(
            StreamError::from(&error).to_xml(),
            "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>stanza_bytes_max of 65536 exceeded</text></stream:error>"
        );
        assert_eq!(
            StreamErrorCondition::from(&ParseError::Restricted(Restriction::Comment)),
            StreamErrorCondition::RestrictedXml
        );
    }
}
