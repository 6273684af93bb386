//! XEP-0388 extensible SASL (`urn:xmpp:sasl:2`) and XEP-0386 Bind 2 (`urn:xmpp:bind:0`) as
//! plain data: the stream feature, the `<authenticate/>` request parsed once, and the
//! elements of the outcome. The exchange itself is the same [`crate::sasl::SaslServer`] as
//! SASL1's; [`super::stream`] runs it and decides.
//!
//! Why it matters: a phone that reconnects signs in, binds, enables stream management and
//! carbons and sets its CSI state in one round trip after the mechanism's own, instead of
//! SASL1's restart, bind, `<enable/>` and carbons iq (four more round trips).
//!
//! Rules kept here:
//! - The feature lists the mechanisms and, inline, Bind 2 with the features it can enable
//!   (`urn:xmpp:sm:3`, `urn:xmpp:carbons:2`, `urn:xmpp:csi:0`, each only if offered).
//!   Stream management resumption inline (`<sm/>` in SASL2's own inline list, and
//!   `<resume/>` in `<authenticate/>`) is offered with stream management: a resumed session
//!   needs no bind, and a failed resumption falls back to the Bind 2 request, if any.
//! - `<user-agent id/>` is the device: with Bind 2 the resource is `tag/` (the client's
//!   `<tag/>`, prepared) followed by a digest of the account and the id, so the same device
//!   always gets the same full JID and a new sign-in replaces its old session (the router's
//!   `conflict` rule) while the id itself is never shown (§3 of XEP-0386 forbids exposing it).
//!   Without an id the resource is random. The id is at most [`USER_AGENT_ID_BYTES_MAX`].
//! - No stream restart: `<success/>` is followed by the features of the authenticated stream.

use sha2::{Digest, Sha256};

use super::csi::NS_CSI;
use super::sm::NS_SM;
use crate::sasl::failure::{SaslCondition, SaslFailure};
use crate::sasl::{decode_response, Mechanism, NS_SASL};
use crate::xml::Element;

/// The SASL2 namespace.
pub const NS_SASL2: &str = "urn:xmpp:sasl:2";
/// The Bind 2 namespace.
pub const NS_BIND2: &str = "urn:xmpp:bind:0";
/// The carbons namespace (for the inline feature and `<enable/>`).
pub const NS_CARBONS: &str = "urn:xmpp:carbons:2";

/// The longest `<user-agent id/>` accepted (a UUID is 36 bytes).
pub const USER_AGENT_ID_BYTES_MAX: usize = 128;

/// Bytes of the device digest in a Bind 2 resource (hex: twice as many characters).
const DEVICE_DIGEST_BYTES: usize = 8;

/// What Bind 2 can enable inline, as this server is configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InlineFeatures {
    /// Stream management (`<enable xmlns='urn:xmpp:sm:3'/>`).
    pub stream_management: bool,
    /// Message carbons.
    pub carbons: bool,
    /// Client state indication.
    pub client_state: bool,
}

/// The `<authentication/>` stream feature; `bind` is what Bind 2 offers inline (`None`: Bind
/// 2 is off).
pub fn feature(mechanisms: &[Mechanism], bind: Option<InlineFeatures>, resume: bool) -> Element {
    let mut feature = Element::new("authentication", NS_SASL2);
    for mechanism in mechanisms {
        feature.push_child(Element::new("mechanism", NS_SASL2).with_text(mechanism.name()));
    }
    let mut inline_list = Element::new("inline", NS_SASL2);
    if let Some(inline) = bind {
        let mut features = Element::new("inline", NS_BIND2);
        for (offered, var) in [
            (inline.carbons, NS_CARBONS),
            (inline.client_state, NS_CSI),
            (inline.stream_management, NS_SM),
        ] {
            if offered {
                features.push_child(Element::new("feature", NS_BIND2).with_attr("var", var));
            }
        }
        inline_list.push_child(Element::new("bind", NS_BIND2).with_child(features));
    }
    if resume {
        inline_list.push_child(Element::new("sm", NS_SM));
    }
    if inline_list.elements().next().is_some() {
        feature.push_child(inline_list);
    }
    feature
}

/// A parsed `<authenticate/>`.
#[derive(Debug, PartialEq)]
pub struct Authenticate {
    /// The mechanism asked for, if it names one this module knows.
    pub mechanism: Option<Mechanism>,
    /// The initial response: absent, or its decoded bytes.
    pub initial_response: Option<Vec<u8>>,
    /// What is asked besides authentication.
    pub request: Sasl2Request,
}

/// What a SASL2 sign-in asks for besides authentication, kept until its success.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sasl2Request {
    /// `<user-agent id/>`: the device.
    pub user_agent_id: Option<String>,
    /// Bind 2, if asked for.
    pub bind: Option<BindRequest>,
    /// XEP-0198 `<resume previd h/>` inline: the id and the client's `h`.
    pub resume: Option<(String, u32)>,
}

/// A Bind 2 request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindRequest {
    /// `<tag/>`: the client's name, the resource's prefix.
    pub tag: Option<String>,
    /// `<enable xmlns='urn:xmpp:sm:3'/>`: `Some(resume)`.
    pub stream_management: Option<bool>,
    /// `<enable xmlns='urn:xmpp:carbons:2'/>`.
    pub carbons: bool,
    /// `<inactive/>` (`Some(true)`) or `<active/>` (`Some(false)`) in `urn:xmpp:csi:0`.
    pub inactive: Option<bool>,
}

/// Parses `<authenticate/>`. Errors: a bad initial response (`incorrect-encoding`), a
/// user-agent id that is empty or too long (`malformed-request`).
pub fn parse_authenticate(element: &Element) -> Result<Authenticate, SaslFailure> {
    let mechanism = element.attr("mechanism").and_then(Mechanism::from_name);
    let initial_response = element
        .child("initial-response", NS_SASL2)
        .map(|response| decode_response(response.text().trim()))
        .transpose()?;
    let user_agent_id = match element
        .child("user-agent", NS_SASL2)
        .and_then(|agent| agent.attr("id"))
    {
        Some(id) if id.is_empty() || id.len() > USER_AGENT_ID_BYTES_MAX => {
            return Err(SaslFailure::new(SaslCondition::MalformedRequest)
                .with_text("the user-agent id is empty or too long"));
        }
        id => id.map(str::to_owned),
    };
    let bind = element.child("bind", NS_BIND2).map(|bind| BindRequest {
        tag: bind
            .child("tag", NS_BIND2)
            .map(Element::text)
            .filter(|tag| !tag.is_empty()),
        stream_management: bind
            .child("enable", NS_SM)
            .map(|enable| matches!(enable.attr("resume"), Some("true" | "1"))),
        carbons: bind.child("enable", NS_CARBONS).is_some(),
        inactive: if bind.child("inactive", NS_CSI).is_some() {
            Some(true)
        } else if bind.child("active", NS_CSI).is_some() {
            Some(false)
        } else {
            None
        },
    });
    let resume = match element.child("resume", NS_SM) {
        Some(resume) => match (resume.attr("previd"), super::sm::h_attr(resume)) {
            (Some(previd), Some(h)) => Some((previd.to_owned(), h)),
            _ => {
                return Err(SaslFailure::new(SaslCondition::MalformedRequest)
                    .with_text("<resume/> needs previd and h"))
            }
        },
        None => None,
    };
    Ok(Authenticate {
        mechanism,
        initial_response,
        request: Sasl2Request {
            user_agent_id,
            bind,
            resume,
        },
    })
}

/// The resource Bind 2 gives: `tag/digest` with a device id (stable per account and
/// device), `tag/random` without, or just the digest or random part without a tag. `tag` is
/// prepared by the caller; `random_hex` is the random part's text.
pub fn resource(
    tag: Option<&str>,
    account: &str,
    user_agent_id: Option<&str>,
    random_hex: &str,
) -> String {
    let device = match user_agent_id {
        Some(id) => {
            let mut digest = Sha256::new();
            digest.update(account.as_bytes());
            digest.update([0]);
            digest.update(id.as_bytes());
            let digest = digest.finalize();
            digest[..DEVICE_DIGEST_BYTES]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        }
        None => random_hex.to_owned(),
    };
    match tag {
        Some(tag) => format!("{tag}/{device}"),
        None => device,
    }
}

/// `<challenge/>` with `data`.
pub fn challenge(data: &[u8]) -> Element {
    with_data(Element::new("challenge", NS_SASL2), data)
}

/// `<failure/>`: the RFC 6120 condition (in the SASL1 namespace, as §2.6.2 says) and text.
pub fn failure(failure: &SaslFailure) -> Element {
    let mut element = Element::new("failure", NS_SASL2)
        .with_child(Element::new(failure.condition.name(), NS_SASL));
    if let Some(text) = &failure.text {
        element.push_child(Element::new("text", NS_SASL2).with_text(text.as_str()));
    }
    element
}

/// `<success/>`: the mechanism's additional data, the authorization identifier (the bare
/// JID, or the full one after Bind 2), and `<bound/>` when a resource was bound.
pub fn success(
    additional_data: Option<&[u8]>,
    identifier: &str,
    bound: Option<Element>,
) -> Element {
    let mut success = Element::new("success", NS_SASL2);
    if let Some(data) = additional_data {
        success.push_child(with_data(Element::new("additional-data", NS_SASL2), data));
    }
    success.push_child(Element::new("authorization-identifier", NS_SASL2).with_text(identifier));
    if let Some(bound) = bound {
        success.push_child(bound);
    }
    success
}

fn with_data(element: Element, data: &[u8]) -> Element {
    use base64::Engine as _;
    if data.is_empty() {
        element
    } else {
        element.with_text(base64::engine::general_purpose::STANDARD.encode(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::xml::stanza_for_test as element;

    #[test]
    fn the_feature_lists_mechanisms_and_what_bind_2_enables() {
        let inline = InlineFeatures {
            stream_management: true,
            carbons: false,
            client_state: true,
        };
        let feature = feature(&[Mechanism::Plain], Some(inline), true);
        assert_eq!(
            feature.child("mechanism", NS_SASL2).map(Element::text),
            Some("PLAIN".into())
        );
        let bind = feature
            .child("inline", NS_SASL2)
            .and_then(|inline| inline.child("bind", NS_BIND2))
            .and_then(|bind| bind.child("inline", NS_BIND2))
            .expect("bind 2 inline");
        let vars: Vec<_> = bind.elements().filter_map(|f| f.attr("var")).collect();
        assert_eq!(vars, [NS_CSI, NS_SM]);
        let resume = feature
            .child("inline", NS_SASL2)
            .and_then(|inline| inline.child("sm", NS_SM));
        assert!(resume.is_some(), "inline resumption");
        assert!(self::feature(&[Mechanism::Plain], None, false)
            .child("inline", NS_SASL2)
            .is_none());
    }

    #[test]
    fn authenticate_is_parsed_once() {
        let parsed = parse_authenticate(&element(
            "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
             <initial-response>AGFsaWNlAHNlY3JldA==</initial-response>\
             <user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>X</software></user-agent>\
             <bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>\
             <enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/>\
             <inactive xmlns='urn:xmpp:csi:0'/></bind></authenticate>",
        ))
        .expect("valid");
        assert_eq!(parsed.mechanism, Some(Mechanism::Plain));
        assert_eq!(
            parsed.initial_response.as_deref(),
            Some(&b"\0alice\0secret"[..])
        );
        let bind = parsed.request.bind.expect("bind");
        assert_eq!(bind.tag.as_deref(), Some("Phone"));
        assert_eq!(
            (bind.stream_management, bind.carbons, bind.inactive),
            (Some(true), true, Some(true))
        );
        assert_eq!(
            parsed.request.user_agent_id.as_deref(),
            Some("d4565fa7-4d72-4749-b3d3-740edbf87770")
        );
        let bad = element(
            "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>!!</initial-response></authenticate>",
        );
        assert_eq!(
            parse_authenticate(&bad).map(|_| ()),
            Err(SaslFailure::new(SaslCondition::IncorrectEncoding))
        );
        let long = format!(
            "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><user-agent id='{}'/></authenticate>",
            "x".repeat(USER_AGENT_ID_BYTES_MAX + 1)
        );
        assert!(parse_authenticate(&element(&long)).is_err());
    }

    #[test]
    fn a_device_keeps_its_resource_and_does_not_show_its_id() {
        let one = resource(Some("Phone"), "alice@localhost", Some("device-1"), "r1");
        assert_eq!(
            one,
            resource(Some("Phone"), "alice@localhost", Some("device-1"), "r2")
        );
        assert!(
            one.starts_with("Phone/") && !one.contains("device-1"),
            "{one}"
        );
        assert_ne!(
            one,
            resource(Some("Phone"), "bob@localhost", Some("device-1"), "r1")
        );
        assert_eq!(resource(None, "alice@localhost", None, "abcd"), "abcd");
        assert_eq!(
            resource(Some("T"), "alice@localhost", None, "abcd"),
            "T/abcd"
        );
    }

    #[test]
    fn outcome_elements() {
        let failure = failure(&SaslFailure::new(SaslCondition::NotAuthorized).with_text("wrong"));
        assert!(failure.child("not-authorized", NS_SASL).is_some());
        assert_eq!(
            failure.child("text", NS_SASL2).map(Element::text),
            Some("wrong".into())
        );
        let success = success(Some(b"v=1"), "alice@localhost", None);
        assert_eq!(
            success
                .child("additional-data", NS_SASL2)
                .map(Element::text),
            Some("dj0x".into())
        );
        assert_eq!(
            success
                .child("authorization-identifier", NS_SASL2)
                .map(Element::text),
            Some("alice@localhost".into())
        );
        assert_eq!(challenge(b"").text(), "");
    }
}
