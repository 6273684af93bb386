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

use std::fmt;

use crate::xml::{Element, NamespaceContext, ParseError, NS_CLIENT, NS_STREAMS};

/// Namespace of stream error conditions and their `<text/>`.
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Namespace of stanza error conditions and their `<text/>`.
pub const NS_STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// The defined stream error conditions, RFC 6120 §4.9.3.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    /// Every condition (`SeeOtherHost` with an empty host).
    pub fn all() -> [StreamErrorCondition; 25] {
        use StreamErrorCondition::*;
        [
            BadFormat,
            BadNamespacePrefix,
            Conflict,
            ConnectionTimeout,
            HostGone,
            HostUnknown,
            ImproperAddressing,
            InternalServerError,
            InvalidFrom,
            InvalidNamespace,
            InvalidXml,
            NotAuthorized,
            NotWellFormed,
            PolicyViolation,
            RemoteConnectionFailed,
            Reset,
            ResourceConstraint,
            RestrictedXml,
            SeeOtherHost(String::new()),
            SystemShutdown,
            UndefinedCondition,
            UnsupportedEncoding,
            UnsupportedFeature,
            UnsupportedStanzaType,
            UnsupportedVersion,
        ]
    }

    /// The element name of this condition.
    pub fn name(&self) -> &'static str {
        use StreamErrorCondition::*;
        match self {
            BadFormat => "bad-format",
            BadNamespacePrefix => "bad-namespace-prefix",
            Conflict => "conflict",
            ConnectionTimeout => "connection-timeout",
            HostGone => "host-gone",
            HostUnknown => "host-unknown",
            ImproperAddressing => "improper-addressing",
            InternalServerError => "internal-server-error",
            InvalidFrom => "invalid-from",
            InvalidNamespace => "invalid-namespace",
            InvalidXml => "invalid-xml",
            NotAuthorized => "not-authorized",
            NotWellFormed => "not-well-formed",
            PolicyViolation => "policy-violation",
            RemoteConnectionFailed => "remote-connection-failed",
            Reset => "reset",
            ResourceConstraint => "resource-constraint",
            RestrictedXml => "restricted-xml",
            SeeOtherHost(_) => "see-other-host",
            SystemShutdown => "system-shutdown",
            UndefinedCondition => "undefined-condition",
            UnsupportedEncoding => "unsupported-encoding",
            UnsupportedFeature => "unsupported-feature",
            UnsupportedStanzaType => "unsupported-stanza-type",
            UnsupportedVersion => "unsupported-version",
        }
    }

    /// The condition for an element name; `content` is the element's text,
    /// the host for `see-other-host`.
    pub fn from_name(name: &str, content: &str) -> Option<Self> {
        if name == "see-other-host" {
            return Some(StreamErrorCondition::SeeOtherHost(content.to_owned()));
        }
        StreamErrorCondition::all()
            .into_iter()
            .find(|condition| condition.name() == name)
    }

    fn to_element(&self) -> Element {
        let element = Element::new(self.name(), NS_STREAM_ERRORS);
        match self {
            StreamErrorCondition::SeeOtherHost(host) => element.with_text(host.as_str()),
            _ => element,
        }
    }
}

impl fmt::Display for StreamErrorCondition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A stream error: a condition and an optional human-readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The defined condition.
    pub condition: StreamErrorCondition,
    /// Descriptive text for logs and humans, not for program logic.
    pub text: Option<String>,
}

impl StreamError {
    /// A stream error without text.
    pub fn new(condition: StreamErrorCondition) -> Self {
        StreamError {
            condition,
            text: None,
        }
    }

    /// Adds descriptive text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The `<error/>` element in the stream namespace.
    pub fn to_element(&self) -> Element {
        let mut element = Element::new("error", NS_STREAMS).with_child(self.condition.to_element());
        if let Some(text) = &self.text {
            element.push_child(Element::new("text", NS_STREAM_ERRORS).with_text(text.as_str()));
        }
        element
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

impl From<StreamErrorCondition> for StreamError {
    fn from(condition: StreamErrorCondition) -> Self {
        StreamError::new(condition)
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

/// What the sender of a failed stanza should do (RFC 6120 §8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry: the error cannot be remedied.
    Cancel,
    /// Proceed: the condition was only a warning.
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting: the error is temporary.
    Wait,
}

impl ErrorType {
    /// The `type` attribute value.
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }

    /// The type for a `type` attribute value.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ErrorType::Auth,
            ErrorType::Cancel,
            ErrorType::Continue,
            ErrorType::Modify,
            ErrorType::Wait,
        ]
        .into_iter()
        .find(|error_type| error_type.name() == name)
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The defined stanza error conditions, RFC 6120 §8.3.3.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StanzaErrorCondition {
    /// Malformed or unprocessable request. Default type: modify.
    BadRequest,
    /// A resource or session with this name already exists. Default: cancel.
    Conflict,
    /// Not implemented by the recipient or server. Default: cancel.
    FeatureNotImplemented,
    /// The requester lacks permission. Default: auth.
    Forbidden,
    /// The recipient is no longer here; carries a new address (URI), if
    /// known. Default: cancel.
    Gone(Option<String>),
    /// The server failed internally. Default: cancel.
    InternalServerError,
    /// The addressed JID or item does not exist. Default: cancel.
    ItemNotFound,
    /// A JID that does not follow RFC 7622. Default: modify.
    JidMalformed,
    /// The request violates the recipient's criteria. Default: modify.
    NotAcceptable,
    /// No entity may perform this action. Default: cancel.
    NotAllowed,
    /// The sender must authenticate first. Default: auth.
    NotAuthorized,
    /// A local policy was violated. Default: modify.
    PolicyViolation,
    /// The recipient is temporarily unavailable. Default: wait.
    RecipientUnavailable,
    /// Send to another address (URI), if given. Default: modify.
    Redirect(Option<String>),
    /// Registration is required first. Default: auth.
    RegistrationRequired,
    /// The remote domain does not exist or cannot be resolved. Default: cancel.
    RemoteServerNotFound,
    /// The remote domain could not be reached in time. Default: wait.
    RemoteServerTimeout,
    /// The recipient lacks resources. Default: wait.
    ResourceConstraint,
    /// The service is not offered (also the privacy-preserving answer for an
    /// unknown recipient). Default: cancel.
    ServiceUnavailable,
    /// A subscription is required first. Default: auth.
    SubscriptionRequired,
    /// Nothing else fits. Default: cancel.
    UndefinedCondition,
    /// The request was understood but not expected now. Default: wait.
    UnexpectedRequest,
}

impl StanzaErrorCondition {
    /// Every condition (`Gone` and `Redirect` without a URI).
    pub fn all() -> [StanzaErrorCondition; 22] {
        use StanzaErrorCondition::*;
        [
            BadRequest,
            Conflict,
            FeatureNotImplemented,
            Forbidden,
            Gone(None),
            InternalServerError,
            ItemNotFound,
            JidMalformed,
            NotAcceptable,
            NotAllowed,
            NotAuthorized,
            PolicyViolation,
            RecipientUnavailable,
            Redirect(None),
            RegistrationRequired,
            RemoteServerNotFound,
            RemoteServerTimeout,
            ResourceConstraint,
            ServiceUnavailable,
            SubscriptionRequired,
            UndefinedCondition,
            UnexpectedRequest,
        ]
    }

    /// The element name of this condition.
    pub fn name(&self) -> &'static str {
        use StanzaErrorCondition::*;
        match self {
            BadRequest => "bad-request",
            Conflict => "conflict",
            FeatureNotImplemented => "feature-not-implemented",
            Forbidden => "forbidden",
            Gone(_) => "gone",
            InternalServerError => "internal-server-error",
            ItemNotFound => "item-not-found",
            JidMalformed => "jid-malformed",
            NotAcceptable => "not-acceptable",
            NotAllowed => "not-allowed",
            NotAuthorized => "not-authorized",
            PolicyViolation => "policy-violation",
            RecipientUnavailable => "recipient-unavailable",
            Redirect(_) => "redirect",
            RegistrationRequired => "registration-required",
            RemoteServerNotFound => "remote-server-not-found",
            RemoteServerTimeout => "remote-server-timeout",
            ResourceConstraint => "resource-constraint",
            ServiceUnavailable => "service-unavailable",
            SubscriptionRequired => "subscription-required",
            UndefinedCondition => "undefined-condition",
            UnexpectedRequest => "unexpected-request",
        }
    }

    /// The error type RFC 6120 §8.3.3 uses with this condition.
    pub fn default_type(&self) -> ErrorType {
        use StanzaErrorCondition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable | PolicyViolation | Redirect(_) => {
                ErrorType::Modify
            }
            Forbidden | NotAuthorized | RegistrationRequired | SubscriptionRequired => {
                ErrorType::Auth
            }
            RecipientUnavailable | RemoteServerTimeout | ResourceConstraint | UnexpectedRequest => {
                ErrorType::Wait
            }
            Conflict
            | FeatureNotImplemented
            | Gone(_)
            | InternalServerError
            | ItemNotFound
            | NotAllowed
            | RemoteServerNotFound
            | ServiceUnavailable
            | UndefinedCondition => ErrorType::Cancel,
        }
    }

    /// The condition for an element name; `content` is the element's text,
    /// the URI for `gone` and `redirect`.
    pub fn from_name(name: &str, content: &str) -> Option<Self> {
        let uri = (!content.is_empty()).then(|| content.to_owned());
        match name {
            "gone" => Some(StanzaErrorCondition::Gone(uri)),
            "redirect" => Some(StanzaErrorCondition::Redirect(uri)),
            _ => StanzaErrorCondition::all()
                .into_iter()
                .find(|condition| condition.name() == name),
        }
    }

    fn to_element(&self) -> Element {
        let element = Element::new(self.name(), NS_STANZA_ERRORS);
        match self {
            StanzaErrorCondition::Gone(Some(uri)) | StanzaErrorCondition::Redirect(Some(uri)) => {
                element.with_text(uri.as_str())
            }
            _ => element,
        }
    }
}

impl fmt::Display for StanzaErrorCondition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A stanza error: type, condition, and optional text, generator (`by`) and
/// application-specific condition element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    /// What the sender should do.
    pub error_type: ErrorType,
    /// The defined condition.
    pub condition: StanzaErrorCondition,
    /// Descriptive text for humans.
    pub text: Option<String>,
    /// The entity that generated the error, as a JID.
    pub by: Option<String>,
    /// An application-specific condition, in its own namespace.
    pub application_condition: Option<Element>,
}

impl StanzaError {
    /// An error of `condition` with its default type.
    pub fn new(condition: StanzaErrorCondition) -> Self {
        StanzaError {
            error_type: condition.default_type(),
            condition,
            text: None,
            by: None,
            application_condition: None,
        }
    }

    /// Overrides the error type.
    pub fn with_type(mut self, error_type: ErrorType) -> Self {
        self.error_type = error_type;
        self
    }

    /// Adds descriptive text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Names the entity that generated the error.
    pub fn with_by(mut self, by: impl Into<String>) -> Self {
        self.by = Some(by.into());
        self
    }

    /// Adds an application-specific condition element.
    pub fn with_application_condition(mut self, condition: Element) -> Self {
        self.application_condition = Some(condition);
        self
    }

    /// The `<error/>` element in `jabber:client`.
    pub fn to_element(&self) -> Element {
        self.to_element_in(NS_CLIENT)
    }

    /// The `<error/>` element in the content namespace `namespace` (the
    /// stanza's, e.g. `jabber:server` on a server-to-server stream).
    pub fn to_element_in(&self, namespace: &str) -> Element {
        let mut element =
            Element::new("error", namespace).with_attr("type", self.error_type.name());
        if let Some(by) = &self.by {
            element.set_attr("by", by.as_str());
        }
        element.push_child(self.condition.to_element());
        if let Some(text) = &self.text {
            element.push_child(Element::new("text", NS_STANZA_ERRORS).with_text(text.as_str()));
        }
        if let Some(condition) = &self.application_condition {
            element.push_child(condition.clone());
        }
        element
    }

    /// The XML to send inside a client stream.
    pub fn to_xml(&self) -> String {
        self.to_element()
            .to_xml_in(&NamespaceContext::CLIENT_STREAM)
    }

    /// Reads a received `<error/>` element; `None` if it has no valid type or
    /// no known condition.
    pub fn from_element(element: &Element) -> Option<Self> {
        if element.name != "error" {
            return None;
        }
        let error_type = ErrorType::from_name(element.attr("type")?)?;
        let condition = element
            .elements()
            .filter(|child| child.namespace == NS_STANZA_ERRORS && child.name != "text")
            .find_map(|child| StanzaErrorCondition::from_name(&child.name, &child.text()))?;
        Some(StanzaError {
            error_type,
            condition,
            text: element.child("text", NS_STANZA_ERRORS).map(Element::text),
            by: element.attr("by").map(str::to_owned),
            application_condition: element
                .elements()
                .find(|child| child.namespace != NS_STANZA_ERRORS)
                .cloned(),
        })
    }

    /// The error reply to `stanza` (RFC 6120 §8.3.1): the same element with
    /// `to` and `from` swapped, `type='error'`, the original payload kept, and
    /// this error appended.
    pub fn reply_to(&self, stanza: &Element) -> Element {
        let mut reply = stanza.clone();
        let to = reply.remove_attr("to");
        let from = reply.remove_attr("from");
        if let Some(from) = from {
            reply.set_attr("to", from);
        }
        if let Some(to) = to {
            reply.set_attr("from", to);
        }
        reply.set_attr("type", "error");
        reply.push_child(self.to_element_in(&stanza.namespace));
        reply
    }
}

impl From<StanzaErrorCondition> for StanzaError {
    fn from(condition: StanzaErrorCondition) -> Self {
        StanzaError::new(condition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limit, Restriction, StreamEvent, StreamParser};

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
    fn stanza_error_xml() {
        assert_eq!(
            StanzaError::new(StanzaErrorCondition::ServiceUnavailable).to_xml(),
            "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
        );
        let error = StanzaError::new(StanzaErrorCondition::Redirect(Some("xmpp:a@b".into())))
            .with_type(ErrorType::Cancel)
            .with_by("b")
            .with_text("go")
            .with_application_condition(Element::new("too-many", "urn:app"));
        assert_eq!(
            error.to_xml(),
            "<error type='cancel' by='b'><redirect xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>xmpp:a@b</redirect>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>go</text><too-many xmlns='urn:app'/></error>"
        );
    }

    #[test]
    fn every_stream_condition_round_trips_through_its_name() {
        let conditions = StreamErrorCondition::all();
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

    #[test]
    fn every_stanza_condition_round_trips_through_its_name_and_has_a_type() {
        for condition in StanzaErrorCondition::all() {
            assert_eq!(
                StanzaErrorCondition::from_name(condition.name(), "").as_ref(),
                Some(&condition)
            );
            let element = StanzaError::new(condition.clone()).to_element();
            assert_eq!(element.attr("type"), Some(condition.default_type().name()));
        }
        use StanzaErrorCondition::*;
        assert_eq!(BadRequest.default_type(), ErrorType::Modify);
        assert_eq!(Forbidden.default_type(), ErrorType::Auth);
        assert_eq!(ItemNotFound.default_type(), ErrorType::Cancel);
        assert_eq!(ResourceConstraint.default_type(), ErrorType::Wait);
        assert_eq!(ErrorType::from_name("continue"), Some(ErrorType::Continue));
        assert_eq!(ErrorType::from_name("other"), None);
    }

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

    #[test]
    fn error_reply_swaps_addresses_and_keeps_payload() {
        let request = Element::new("iq", NS_CLIENT)
            .with_attr("from", "a@b/c")
            .with_attr("to", "b")
            .with_attr("type", "get")
            .with_attr("id", "1")
            .with_child(Element::new("query", "urn:q"));
        let reply =
            StanzaError::new(StanzaErrorCondition::FeatureNotImplemented).reply_to(&request);
        assert_eq!(reply.attr("to"), Some("a@b/c"));
        assert_eq!(reply.attr("from"), Some("b"));
        assert_eq!(reply.attr("type"), Some("error"));
        assert_eq!(reply.attr("id"), Some("1"));
        assert!(reply.child("query", "urn:q").is_some());
        let error = reply.child("error", NS_CLIENT).expect("error child");
        assert_eq!(
            StanzaError::from_element(error).map(|error| error.condition),
            Some(StanzaErrorCondition::FeatureNotImplemented)
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
