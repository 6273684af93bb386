//! Stanza errors (RFC 6120 §8.3): the error types, the conditions, the `<error/>` element
//! and the error reply to a stanza.

use strum::{Display, EnumIter, EnumString, IntoStaticStr};

use super::NS_STANZA_ERRORS;
use crate::xml::{Element, NamespaceContext, NS_CLIENT};

/// What the sender of a failed stanza should do (RFC 6120 §8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
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
    /// The `type` attribute value: the variant's name in lower case.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The type for a `type` attribute value.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

/// The defined stanza error conditions, RFC 6120 §8.3.3.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Display, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
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
    /// The element name of this condition: the variant's name in kebab case.
    pub fn name(&self) -> &'static str {
        self.into()
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
        match name.parse::<StanzaErrorCondition>().ok()? {
            StanzaErrorCondition::Gone(_) => Some(StanzaErrorCondition::Gone(uri)),
            StanzaErrorCondition::Redirect(_) => Some(StanzaErrorCondition::Redirect(uri)),
            condition => Some(condition),
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
    use strum::IntoEnumIterator;

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
    fn every_stanza_condition_round_trips_through_its_name_and_has_a_type() {
        for condition in StanzaErrorCondition::iter() {
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
}
