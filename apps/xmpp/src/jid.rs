//! XMPP addresses (JIDs): `localpart@domainpart/resourcepart`, RFC 7622.
//!
//! A JID names a user's account (`juliet@example.com`, a [`BareJid`]), one of
//! its connected clients (`juliet@example.com/balcony`, a [`Jid`] with a
//! resource), or a server or service (`example.com`). Routing, rosters and
//! sessions compare JIDs, so every JID is stored in its normalised form: two
//! spellings of one address compare equal after parsing.
//!
//! ```
//! use bream_xmpp::jid::Jid;
//!
//! let jid: Jid = "Juliet@Example.COM/Balcony".parse().expect("valid");
//! assert_eq!(jid.to_string(), "juliet@example.com/Balcony");
//! assert_eq!(jid.to_bare().to_string(), "juliet@example.com");
//! assert!("juliet@@example.com".parse::<Jid>().is_err());
//! ```
//!
//! Rules (RFC 7622 §3):
//! - The resourcepart is everything after the first `/`; the localpart is what
//!   precedes the first `@` before that. Each part present must be non-empty,
//!   and at most 1023 bytes after preparation ([`PART_BYTES_MAX`]).
//! - Localpart: the PRECIS `UsernameCaseMapped` profile (RFC 8265: width
//!   mapping, case folding to lower case, NFC, and only letters, digits and
//!   most symbols allowed), then none of `"&'/:<>@` ([`LOCALPART_FORBIDDEN`]).
//! - Resourcepart: the PRECIS `OpaqueString` profile (RFC 8265): case is kept,
//!   spaces are allowed, controls are not.
//! - Domainpart (RFC 7622 §3.2): one trailing `.` removed; an IP literal
//!   (`[::1]`) is kept, lower-cased; anything else is prepared with IDNA2008
//!   as UTS #46 does it (the `idna` crate, nontransitional): width mapping,
//!   case folding, NFC, the UTS #46 validity checks (disallowed code points,
//!   leading combining marks, the bidi and CONTEXTJ rules), and A-labels
//!   (`xn--...`) decoded, so the stored form has U-labels and
//!   `xn--bcher-kva.example` equals `Bücher.example`. Each label, in its
//!   A-label form, is non-empty and at most 63 bytes ([`DOMAIN_LABEL_BYTES_MAX`]).
//!   Before that, characters no domain holds are refused by name, so the error
//!   says which (whitespace, controls, and `@ / \ " & ' < > : [ ]`).
//!
//! Leniencies, where UTS #46 leaves the choice to the caller: ASCII outside
//! letters, digits and `-` (such as `_`) is allowed (no STD3 rules), and so are
//! hyphens in any position (`CheckHyphens=false`), as domains already in use
//! are; neither can hide one name behind another.

use std::fmt;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};

/// Bytes of one prepared part of a JID (RFC 7622 §3.1: 1023).
pub const PART_BYTES_MAX: usize = 1023;

/// Bytes of one dot-separated label of a domainpart (the DNS bound).
pub const DOMAIN_LABEL_BYTES_MAX: usize = 63;

/// Characters a localpart must not contain after preparation (RFC 7622 §3.3.1).
pub const LOCALPART_FORBIDDEN: &[char] = &['"', '&', '\'', '/', ':', '<', '>', '@'];

/// Which part of a JID an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The part before `@`.
    Localpart,
    /// The part between `@` and `/`.
    Domainpart,
    /// The part after `/`.
    Resourcepart,
}

impl fmt::Display for Part {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Part::Localpart => "localpart",
            Part::Domainpart => "domainpart",
            Part::Resourcepart => "resourcepart",
        })
    }
}

/// Why a string is not a valid JID (or JID part).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    /// A part is present (its separator is) but empty; or the domain is missing.
    #[error("{0} is empty")]
    Empty(Part),
    /// A part is longer than [`PART_BYTES_MAX`] after preparation.
    #[error("{part} is {length} bytes, more than {PART_BYTES_MAX}")]
    TooLong {
        /// Which part.
        part: Part,
        /// Its prepared length in bytes.
        length: usize,
    },
    /// A part contains a character its rules forbid.
    #[error("{part} contains forbidden character {character:?}")]
    ForbiddenCharacter {
        /// Which part.
        part: Part,
        /// The character.
        character: char,
    },
    /// A part is refused by its PRECIS profile (disallowed code point,
    /// bidirectional rule, ...).
    #[error("{part} is refused by its PRECIS profile: {reason}")]
    Precis {
        /// Which part.
        part: Part,
        /// The profile's explanation.
        reason: String,
    },
    /// A domain label is empty (`a..b`) or longer than
    /// [`DOMAIN_LABEL_BYTES_MAX`].
    #[error("domainpart has an empty or over-long label")]
    InvalidDomainLabel,
    /// The domainpart is refused by IDNA2008 / UTS #46 processing (a
    /// disallowed code point, a label starting with a combining mark, a bidi
    /// or CONTEXTJ rule, an undecodable `xn--` label).
    #[error("domainpart is not a valid internationalised domain name")]
    Idna,
    /// A resource where only a bare JID is allowed.
    #[error("a bare JID has no resource")]
    ResourceNotAllowed,
}

/// An address without a resource: an account (`user@domain`) or a server or
/// service (`domain`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BareJid {
    local: Option<String>,
    domain: String,
}

/// Any address: a [`BareJid`] with an optional resource. A JID with a
/// resource is what RFC 6120 calls a full JID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    bare: BareJid,
    resource: Option<String>,
}

/// Prepares and checks a localpart; the result is what a [`Jid`] stores.
pub fn normalize_localpart(localpart: &str) -> Result<String, JidError> {
    if localpart.is_empty() {
        return Err(JidError::Empty(Part::Localpart));
    }
    let prepared = UsernameCaseMapped::enforce(localpart).map_err(|error| JidError::Precis {
        part: Part::Localpart,
        reason: error.to_string(),
    })?;
    if let Some(character) = prepared
        .chars()
        .find(|character| LOCALPART_FORBIDDEN.contains(character))
    {
        return Err(JidError::ForbiddenCharacter {
            part: Part::Localpart,
            character,
        });
    }
    check_length(Part::Localpart, prepared.into_owned())
}

/// Why a list of domains to serve is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainsError {
    /// No domain to serve.
    #[error("no domain configured")]
    NoDomain,
    /// A domain that is not a valid JID domainpart.
    #[error("invalid domain {domain:?}: {reason}")]
    InvalidDomain {
        /// As configured.
        domain: String,
        /// Why it is invalid.
        reason: String,
    },
}

/// The domains a server serves, normalised ([`normalize_domain`]), in the order given, each
/// once; at least one.
pub fn served_domains(domains: &[String]) -> Result<Vec<String>, DomainsError> {
    if domains.is_empty() {
        return Err(DomainsError::NoDomain);
    }
    let mut prepared = Vec::with_capacity(domains.len());
    for domain in domains {
        let normalized = normalize_domain(domain).map_err(|error| DomainsError::InvalidDomain {
            domain: domain.clone(),
            reason: error.to_string(),
        })?;
        if !prepared.contains(&normalized) {
            prepared.push(normalized);
        }
    }
    Ok(prepared)
}

/// Prepares and checks a domainpart: IDNA2008 / UTS #46 to U-labels (see the
/// module docs).
pub fn normalize_domain(domain: &str) -> Result<String, JidError> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err(JidError::Empty(Part::Domainpart));
    }
    if let Some(address) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        // An IPv6 literal: hex digits, colons and dots (for an embedded IPv4).
        if let Some(character) = address
            .chars()
            .find(|character| !(character.is_ascii_hexdigit() || matches!(character, ':' | '.')))
        {
            return Err(JidError::ForbiddenCharacter {
                part: Part::Domainpart,
                character,
            });
        }
        return check_length(Part::Domainpart, domain.to_ascii_lowercase());
    }
    let forbidden = |character: &char| {
        character.is_whitespace()
            || character.is_control()
            || matches!(
                character,
                '@' | '/' | '\\' | '"' | '&' | '\'' | '<' | '>' | ':' | '[' | ']'
            )
    };
    if let Some(character) = domain.chars().find(forbidden) {
        return Err(JidError::ForbiddenCharacter {
            part: Part::Domainpart,
            character,
        });
    }
    let uts46 = Uts46::new();
    // ToASCII first: it validates, and the DNS bound on a label applies to its A-label form.
    let ascii = uts46
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::EMPTY,
            Hyphens::Allow,
            DnsLength::Ignore,
        )
        .map_err(|_| JidError::Idna)?;
    if ascii
        .split('.')
        .any(|label| label.is_empty() || label.len() > DOMAIN_LABEL_BYTES_MAX)
    {
        return Err(JidError::InvalidDomainLabel);
    }
    // Then ToUnicode: RFC 7622 stores and compares U-labels.
    let (unicode, result) =
        uts46.to_unicode(ascii.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow);
    result.map_err(|_| JidError::Idna)?;
    check_length(Part::Domainpart, unicode.into_owned())
}

/// Prepares and checks a resourcepart.
pub fn normalize_resource(resource: &str) -> Result<String, JidError> {
    if resource.is_empty() {
        return Err(JidError::Empty(Part::Resourcepart));
    }
    let prepared = OpaqueString::enforce(resource).map_err(|error| JidError::Precis {
        part: Part::Resourcepart,
        reason: error.to_string(),
    })?;
    check_length(Part::Resourcepart, prepared.into_owned())
}

fn check_length(part: Part, prepared: String) -> Result<String, JidError> {
    if prepared.len() > PART_BYTES_MAX {
        return Err(JidError::TooLong {
            part,
            length: prepared.len(),
        });
    }
    Ok(prepared)
}

impl BareJid {
    /// Builds a bare JID from its parts, preparing each.
    pub fn new(local: Option<&str>, domain: &str) -> Result<Self, JidError> {
        Ok(BareJid {
            local: local.map(normalize_localpart).transpose()?,
            domain: normalize_domain(domain)?,
        })
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        self.local.as_deref()
    }

    /// The domainpart.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// This address with `resource` added (prepared).
    pub fn with_resource(&self, resource: &str) -> Result<Jid, JidError> {
        Ok(Jid {
            bare: self.clone(),
            resource: Some(normalize_resource(resource)?),
        })
    }
}

impl Jid {
    /// Builds a JID from its parts, preparing each.
    pub fn new(
        local: Option<&str>,
        domain: &str,
        resource: Option<&str>,
    ) -> Result<Self, JidError> {
        Ok(Jid {
            bare: BareJid::new(local, domain)?,
            resource: resource.map(normalize_resource).transpose()?,
        })
    }

    /// The localpart, if any.
    pub fn local(&self) -> Option<&str> {
        self.bare.local()
    }

    /// The domainpart.
    pub fn domain(&self) -> &str {
        self.bare.domain()
    }

    /// The resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// Whether this JID has no resource.
    pub fn is_bare(&self) -> bool {
        self.resource.is_none()
    }

    /// The address without its resource.
    pub fn bare(&self) -> &BareJid {
        &self.bare
    }

    /// The address without its resource, owned.
    pub fn to_bare(&self) -> BareJid {
        self.bare.clone()
    }

    /// Splits into the bare address and the resource.
    pub fn into_parts(self) -> (BareJid, Option<String>) {
        (self.bare, self.resource)
    }
}

impl From<BareJid> for Jid {
    fn from(bare: BareJid) -> Self {
        Jid {
            bare,
            resource: None,
        }
    }
}

impl FromStr for Jid {
    type Err = JidError;

    /// Parses per RFC 7622 §3.2: resource after the first `/`, then localpart
    /// before the first `@`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, resource) = match text.split_once('/') {
            Some((address, resource)) => (address, Some(resource)),
            None => (text, None),
        };
        let (local, domain) = match address.split_once('@') {
            Some((local, domain)) => (Some(local), domain),
            None => (None, address),
        };
        Jid::new(local, domain, resource)
    }
}

impl FromStr for BareJid {
    type Err = JidError;

    /// Parses a JID and refuses one with a resource
    /// ([`JidError::ResourceNotAllowed`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let jid: Jid = text.parse()?;
        if jid.resource.is_some() {
            return Err(JidError::ResourceNotAllowed);
        }
        Ok(jid.bare)
    }
}

impl fmt::Display for BareJid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(local) = &self.local {
            write!(formatter, "{local}@")?;
        }
        formatter.write_str(&self.domain)
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.bare)?;
        if let Some(resource) = &self.resource {
            write!(formatter, "/{resource}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(text: &str) -> Jid {
        match text.parse() {
            Ok(jid) => jid,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    fn error(text: &str) -> JidError {
        match text.parse::<Jid>() {
            Ok(jid) => panic!("{text} parsed as {jid}"),
            Err(error) => error,
        }
    }

    #[test]
    fn parts_are_split_as_rfc_7622_says() {
        let full = jid("juliet@example.com/balcony");
        assert_eq!(full.local(), Some("juliet"));
        assert_eq!(full.domain(), "example.com");
        assert_eq!(full.resource(), Some("balcony"));
        assert!(!full.is_bare());
        let domain = jid("example.com");
        assert_eq!((domain.local(), domain.resource()), (None, None));
        // The resource is split off first, so it may contain `@` and `/`.
        let odd = jid("a@example.com/b@c/d");
        assert_eq!(odd.resource(), Some("b@c/d"));
        let service = jid("example.com/res@x");
        assert_eq!(service.local(), None);
        assert_eq!(service.resource(), Some("res@x"));
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            jid("JULIET@Example.COM/Balcony").to_string(),
            "juliet@example.com/Balcony"
        );
        assert_eq!(jid("juliet@example.com.").domain(), "example.com");
        assert_eq!(jid("ＪＵＬＩＥＴ@example.com").local(), Some("juliet"));
        assert_eq!(jid("Σ@ΕΛ.example").to_string(), "σ@ελ.example");
        assert_eq!(jid("a@[::1]/r").domain(), "[::1]");
        assert_eq!(jid("a@example.com/ x y ").resource(), Some(" x y "));
        assert_eq!(jid("a@b"), jid("A@B."));
    }

    #[test]
    fn domains_are_prepared_with_idna2008() {
        // A-labels are decoded: both spellings are one domain, stored with U-labels.
        assert_eq!(jid("a@xn--bcher-kva.example").domain(), "bücher.example");
        assert_eq!(jid("a@Bücher.EXAMPLE"), jid("a@xn--bcher-kva.example"));
        // UTS #46 mapping: full-width letters and the ideographic full stop.
        assert_eq!(jid("ＥＸＡＭＰＬＥ。com").domain(), "example.com");
        // Nontransitional: ß stays ß.
        assert_eq!(jid("straße.example").domain(), "straße.example");
        // Leniencies kept: underscores and hyphens anywhere.
        assert_eq!(
            jid("muc_service.-x-.example").domain(),
            "muc_service.-x-.example"
        );
        // A label may not start with a combining mark; a bad `xn--` label is refused.
        assert_eq!(error("a@\u{301}a.example"), JidError::Idna);
        assert_eq!(error("a@xn--ab-.example"), JidError::Idna);
        // The label bound applies to the A-label: 40 × "ü" is 80 bytes in UTF-8 but under 63
        // as `xn--...`; 60 × "ü" is over 63 either way.
        let fits = "ü".repeat(40);
        assert_eq!(
            jid(&format!("a@{fits}.example")).domain(),
            format!("{fits}.example")
        );
        let long = "ü".repeat(60);
        assert_eq!(
            error(&format!("a@{long}.example")),
            JidError::InvalidDomainLabel
        );
    }

    #[test]
    fn empty_parts() {
        assert_eq!(error(""), JidError::Empty(Part::Domainpart));
        assert_eq!(error("@example.com"), JidError::Empty(Part::Localpart));
        assert_eq!(error("a@example.com/"), JidError::Empty(Part::Resourcepart));
        assert_eq!(error("a@"), JidError::Empty(Part::Domainpart));
        assert_eq!(error("a@."), JidError::Empty(Part::Domainpart));
        assert_eq!(error("/r"), JidError::Empty(Part::Domainpart));
    }

    #[test]
    fn forbidden_characters() {
        for localpart in ["a\"b", "a&b", "a'b", "a:b", "a<b", "a>b"] {
            assert!(
                matches!(
                    error(&format!("{localpart}@example.com")),
                    JidError::ForbiddenCharacter {
                        part: Part::Localpart,
                        ..
                    }
                ),
                "{localpart}"
            );
        }
        assert_eq!(
            error("a@b@example.com"),
            JidError::ForbiddenCharacter {
                part: Part::Domainpart,
                character: '@'
            }
        );
        assert!(matches!(
            error("a b@example.com"),
            JidError::Precis {
                part: Part::Localpart,
                ..
            }
        ));
        assert!(matches!(
            error("a@exa mple.com"),
            JidError::ForbiddenCharacter { .. }
        ));
        assert!(matches!(
            error("a@[::g]"),
            JidError::ForbiddenCharacter { .. }
        ));
        assert!(matches!(
            error("a@example.com/\u{7}"),
            JidError::Precis {
                part: Part::Resourcepart,
                ..
            }
        ));
        assert_eq!(error("a@a..b"), JidError::InvalidDomainLabel);
    }

    #[test]
    fn length_limits_at_the_edge() {
        let local = "a".repeat(PART_BYTES_MAX);
        assert!(format!("{local}@example.com").parse::<Jid>().is_ok());
        assert_eq!(
            error(&format!("{local}a@example.com")),
            JidError::TooLong {
                part: Part::Localpart,
                length: PART_BYTES_MAX + 1
            }
        );
        let resource = "r".repeat(PART_BYTES_MAX);
        assert!(format!("a@b/{resource}").parse::<Jid>().is_ok());
        assert_eq!(
            error(&format!("a@b/{resource}r")),
            JidError::TooLong {
                part: Part::Resourcepart,
                length: PART_BYTES_MAX + 1
            }
        );
        let label = "d".repeat(DOMAIN_LABEL_BYTES_MAX);
        let domain = [label.as_str(); 16].join(".");
        assert_eq!(domain.len(), 1023);
        assert!(domain.parse::<Jid>().is_ok());
        assert!(matches!(
            error(&format!("{domain}x")),
            JidError::InvalidDomainLabel
        ));
        assert!(matches!(
            error(&format!("a.{domain}")),
            JidError::TooLong {
                part: Part::Domainpart,
                ..
            }
        ));
    }

    #[test]
    fn bare_jids() {
        let bare: BareJid = "Juliet@Example.com".parse().expect("valid");
        assert_eq!(bare.to_string(), "juliet@example.com");
        assert_eq!(
            "juliet@example.com/r".parse::<BareJid>(),
            Err(JidError::ResourceNotAllowed)
        );
        let full = bare.with_resource("phone").expect("valid");
        assert_eq!(full.to_string(), "juliet@example.com/phone");
        assert_eq!(full.bare(), &bare);
        assert_eq!(Jid::from(bare.clone()).to_string(), "juliet@example.com");
        let (bare_part, resource) = full.into_parts();
        assert_eq!((bare_part, resource), (bare, Some("phone".to_owned())));
        assert_eq!(
            BareJid::new(None, "Example.com").map(|jid| jid.to_string()),
            Ok("example.com".into())
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["a@b/c", "b", "b/c", "a@b", "é@ü.example/ü ü"] {
            let parsed = jid(text);
            assert_eq!(jid(&parsed.to_string()), parsed, "{text}");
        }
    }
}
