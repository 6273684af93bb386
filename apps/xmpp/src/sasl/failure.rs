//! SASL failure conditions (RFC 6120 §6.5) and the `<failure/>` element.
//!
//! A failure ends one authentication attempt, not the stream: the client may
//! try again (the session decides how many times). The text is for humans and
//! logs. Conditions that tell an attacker something (unknown user versus wrong
//! password) are all `not-authorized`, without text.

use strum::{Display, EnumIter, EnumString, IntoStaticStr};

use super::NS_SASL;
use crate::stanza::error::Described;
use crate::xml::Element;

/// The defined SASL failure conditions, RFC 6120 §6.5; the element name is the variant's
/// name in kebab case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Display, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum SaslCondition {
    /// The client sent `<abort/>`.
    Aborted,
    /// The account is disabled.
    AccountDisabled,
    /// The credentials have expired.
    CredentialsExpired,
    /// The mechanism needs an encrypted stream (PLAIN before STARTTLS).
    EncryptionRequired,
    /// The data was not valid base64.
    IncorrectEncoding,
    /// The authorization identity is not valid or not allowed.
    InvalidAuthzid,
    /// The mechanism is not offered.
    InvalidMechanism,
    /// The request is malformed for the mechanism.
    MalformedRequest,
    /// The mechanism is weaker than policy allows for this account.
    MechanismTooWeak,
    /// The credentials are wrong (or the user unknown).
    NotAuthorized,
    /// A temporary error on the server side; try later.
    TemporaryAuthFailure,
}

impl SaslCondition {
    /// The element name of this condition.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The condition for an element name.
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

/// A failed authentication attempt: the condition and optional text.
pub type SaslFailure = Described<SaslCondition>;

impl SaslFailure {
    /// `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><condition/>[<text>]</failure>`.
    pub fn to_element(&self) -> Element {
        self.element(
            "failure",
            NS_SASL,
            Element::new(self.condition.name(), NS_SASL),
            NS_SASL,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NamespaceContext;
    use strum::IntoEnumIterator;

    #[test]
    fn failure_xml() {
        assert_eq!(
            SaslFailure::new(SaslCondition::NotAuthorized).to_xml_for_test(),
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
        );
        assert_eq!(
            SaslFailure::new(SaslCondition::MalformedRequest)
                .with_text("no")
                .to_xml_for_test(),
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><malformed-request/><text>no</text></failure>"
        );
    }

    #[test]
    fn names_are_rfc_6120s_and_round_trip() {
        let rfc_6120 = [
            "aborted",
            "account-disabled",
            "credentials-expired",
            "encryption-required",
            "incorrect-encoding",
            "invalid-authzid",
            "invalid-mechanism",
            "malformed-request",
            "mechanism-too-weak",
            "not-authorized",
            "temporary-auth-failure",
        ];
        let names: Vec<&str> = SaslCondition::iter().map(SaslCondition::name).collect();
        assert_eq!(names, rfc_6120);
        for condition in SaslCondition::iter() {
            assert_eq!(condition.to_string(), condition.name());
            assert_eq!(SaslCondition::from_name(condition.name()), Some(condition));
        }
        assert_eq!(SaslCondition::from_name("nope"), None);
    }

    impl SaslFailure {
        fn to_xml_for_test(&self) -> String {
            self.to_element()
                .to_xml_in(&NamespaceContext::CLIENT_STREAM)
        }
    }
}
