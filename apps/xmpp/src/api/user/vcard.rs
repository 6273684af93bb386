//! The GraphQL `Vcard` (MongooseIM's `priv/graphql/schemas/global/vcard.gql`, the common
//! fields) and its `vcard-temp` XML (XEP-0054), both ways. One Rust type serves as the output
//! type and the input type (`VcardInput`, ...), so the two cannot drift apart.

use async_graphql::{Enum, InputObject, SimpleObject};

use crate::modules::vcard::NS_VCARD;
use crate::xml::Element;

/// A vCard (XEP-0054), the fields Bream shows.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Eq)]
#[graphql(input_name = "VcardInput")]
pub(crate) struct Vcard {
    /// Formatted name from Vcard
    pub formatted_name: Option<String>,
    /// Person's name details
    pub name_components: Option<NameComponents>,
    /// User's nickname
    pub nickname: Option<Vec<String>>,
    /// Birthday date
    pub birthday: Option<Vec<String>>,
    /// Email addresses
    pub email: Option<Vec<Email>>,
    /// Telephone numbers
    pub telephone: Option<Vec<Telephone>>,
    /// Jabber IDs
    pub jabber_id: Option<Vec<String>>,
    /// Time zones
    pub time_zone: Option<Vec<String>>,
    /// Titles
    pub title: Option<Vec<String>>,
    /// Roles
    pub role: Option<Vec<String>>,
    /// Organization
    pub org: Option<Vec<Organization>>,
    /// Notes
    pub note: Option<Vec<String>>,
    /// Directory URL property
    pub url: Option<Vec<String>>,
    /// Free-form descriptive text
    pub desc: Option<Vec<String>>,
}

/// The parts of a name.
#[derive(SimpleObject, InputObject, Clone, Debug, Default, PartialEq, Eq)]
#[graphql(input_name = "NameComponentsInput")]
pub(crate) struct NameComponents {
    /// Family name
    pub family: Option<String>,
    /// Given name
    pub given_name: Option<String>,
    /// Middle name
    pub middle_name: Option<String>,
    /// Prefix
    pub prefix: Option<String>,
    /// Suffix
    pub suffix: Option<String>,
}

/// An email address.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Eq)]
#[graphql(input_name = "EmailInput")]
pub(crate) struct Email {
    /// Email tags
    pub tags: Option<Vec<EmailTags>>,
    /// Email address
    pub user_id: String,
}

/// A telephone number.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Eq)]
#[graphql(input_name = "TelephoneInput")]
pub(crate) struct Telephone {
    /// Telephone tags
    pub tags: Option<Vec<TelephoneTags>>,
    /// The number
    pub number: String,
}

/// An organization.
#[derive(SimpleObject, InputObject, Clone, Debug, PartialEq, Eq)]
#[graphql(input_name = "OrganizationInput")]
pub(crate) struct Organization {
    /// Organization name
    pub orgname: String,
    /// Organization unit
    pub orgunit: Option<Vec<String>>,
}

/// What an email address is for (an empty element of that name in XML).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum EmailTags {
    Home,
    Work,
    Internet,
    Pref,
    X400,
}

/// What a number is for (an empty element of that name in XML).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TelephoneTags {
    Home,
    Work,
    Voice,
    Fax,
    Pager,
    Msg,
    Cell,
    Video,
    Bbs,
    Modem,
    Isdn,
    Pcs,
    Pref,
}

const EMAIL_TAGS: [(EmailTags, &str); 5] = [
    (EmailTags::Home, "HOME"),
    (EmailTags::Work, "WORK"),
    (EmailTags::Internet, "INTERNET"),
    (EmailTags::Pref, "PREF"),
    (EmailTags::X400, "X400"),
];

const TELEPHONE_TAGS: [(TelephoneTags, &str); 13] = [
    (TelephoneTags::Home, "HOME"),
    (TelephoneTags::Work, "WORK"),
    (TelephoneTags::Voice, "VOICE"),
    (TelephoneTags::Fax, "FAX"),
    (TelephoneTags::Pager, "PAGER"),
    (TelephoneTags::Msg, "MSG"),
    (TelephoneTags::Cell, "CELL"),
    (TelephoneTags::Video, "VIDEO"),
    (TelephoneTags::Bbs, "BBS"),
    (TelephoneTags::Modem, "MODEM"),
    (TelephoneTags::Isdn, "ISDN"),
    (TelephoneTags::Pcs, "PCS"),
    (TelephoneTags::Pref, "PREF"),
];

/// The simple repeated text fields: `(XML name, accessor)`.
type TextList = fn(&Vcard) -> &Option<Vec<String>>;
type TextListMut = fn(&mut Vcard) -> &mut Option<Vec<String>>;
const TEXT_LISTS: [(&str, TextList, TextListMut); 9] = [
    ("NICKNAME", |v| &v.nickname, |v| &mut v.nickname),
    ("BDAY", |v| &v.birthday, |v| &mut v.birthday),
    ("JABBERID", |v| &v.jabber_id, |v| &mut v.jabber_id),
    ("TZ", |v| &v.time_zone, |v| &mut v.time_zone),
    ("TITLE", |v| &v.title, |v| &mut v.title),
    ("ROLE", |v| &v.role, |v| &mut v.role),
    ("NOTE", |v| &v.note, |v| &mut v.note),
    ("URL", |v| &v.url, |v| &mut v.url),
    ("DESC", |v| &v.desc, |v| &mut v.desc),
];

fn text(name: &str, value: &str) -> Element {
    Element::new(name, NS_VCARD).with_text(value)
}

fn child_text(element: &Element, name: &str) -> Option<String> {
    element
        .elements()
        .find(|child| child.name == name)
        .map(Element::text)
}

fn push(list: &mut Option<Vec<String>>, value: String) {
    list.get_or_insert_with(Vec::new).push(value);
}

impl Vcard {
    /// The `<vCard xmlns='vcard-temp'/>` element.
    pub(crate) fn to_element(&self) -> Element {
        let mut vcard = Element::new("vCard", NS_VCARD);
        if let Some(name) = &self.formatted_name {
            vcard.push_child(text("FN", name));
        }
        if let Some(parts) = &self.name_components {
            let mut n = Element::new("N", NS_VCARD);
            for (name, value) in [
                ("FAMILY", &parts.family),
                ("GIVEN", &parts.given_name),
                ("MIDDLE", &parts.middle_name),
                ("PREFIX", &parts.prefix),
                ("SUFFIX", &parts.suffix),
            ] {
                if let Some(value) = value {
                    n.push_child(text(name, value));
                }
            }
            vcard.push_child(n);
        }
        for (name, get, _) in &TEXT_LISTS {
            for value in get(self).iter().flatten() {
                vcard.push_child(text(name, value));
            }
        }
        for email in self.email.iter().flatten() {
            let mut element = Element::new("EMAIL", NS_VCARD);
            for tag in email.tags.iter().flatten() {
                if let Some((_, name)) = EMAIL_TAGS.iter().find(|(known, _)| known == tag) {
                    element.push_child(Element::new(*name, NS_VCARD));
                }
            }
            element.push_child(text("USERID", &email.user_id));
            vcard.push_child(element);
        }
        for telephone in self.telephone.iter().flatten() {
            let mut element = Element::new("TEL", NS_VCARD);
            for tag in telephone.tags.iter().flatten() {
                if let Some((_, name)) = TELEPHONE_TAGS.iter().find(|(known, _)| known == tag) {
                    element.push_child(Element::new(*name, NS_VCARD));
                }
            }
            element.push_child(text("NUMBER", &telephone.number));
            vcard.push_child(element);
        }
        for org in self.org.iter().flatten() {
            let mut element =
                Element::new("ORG", NS_VCARD).with_child(text("ORGNAME", &org.orgname));
            for unit in org.orgunit.iter().flatten() {
                element.push_child(text("ORGUNIT", unit));
            }
            vcard.push_child(element);
        }
        vcard
    }

    /// The fields of a stored `<vCard/>`; elements it does not know are skipped.
    pub(crate) fn from_element(vcard: &Element) -> Vcard {
        let mut result = Vcard::default();
        for child in vcard.elements() {
            match child.name.as_str() {
                "FN" => result.formatted_name = Some(child.text()),
                "N" => {
                    result.name_components = Some(NameComponents {
                        family: child_text(child, "FAMILY"),
                        given_name: child_text(child, "GIVEN"),
                        middle_name: child_text(child, "MIDDLE"),
                        prefix: child_text(child, "PREFIX"),
                        suffix: child_text(child, "SUFFIX"),
                    })
                }
                "EMAIL" => {
                    let tags = EMAIL_TAGS
                        .iter()
                        .filter(|(_, name)| child.elements().any(|tag| tag.name == *name))
                        .map(|(tag, _)| *tag)
                        .collect();
                    result.email.get_or_insert_with(Vec::new).push(Email {
                        tags: Some(tags),
                        user_id: child_text(child, "USERID").unwrap_or_default(),
                    });
                }
                "TEL" => {
                    let tags = TELEPHONE_TAGS
                        .iter()
                        .filter(|(_, name)| child.elements().any(|tag| tag.name == *name))
                        .map(|(tag, _)| *tag)
                        .collect();
                    result
                        .telephone
                        .get_or_insert_with(Vec::new)
                        .push(Telephone {
                            tags: Some(tags),
                            number: child_text(child, "NUMBER").unwrap_or_default(),
                        });
                }
                "ORG" => result.org.get_or_insert_with(Vec::new).push(Organization {
                    orgname: child_text(child, "ORGNAME").unwrap_or_default(),
                    orgunit: Some(
                        child
                            .elements()
                            .filter(|unit| unit.name == "ORGUNIT")
                            .map(Element::text)
                            .collect(),
                    ),
                }),
                other => {
                    if let Some((_, _, get_mut)) =
                        TEXT_LISTS.iter().find(|(name, ..)| *name == other)
                    {
                        push(get_mut(&mut result), child.text());
                    }
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vcard_survives_the_round_trip_through_xml() {
        let vcard = Vcard {
            formatted_name: Some("Alice Liddell".to_string()),
            name_components: Some(NameComponents {
                family: Some("Liddell".to_string()),
                given_name: Some("Alice".to_string()),
                ..NameComponents::default()
            }),
            nickname: Some(vec!["al".to_string(), "ally".to_string()]),
            email: Some(vec![Email {
                tags: Some(vec![EmailTags::Home, EmailTags::Internet]),
                user_id: "alice@example.org".to_string(),
            }]),
            telephone: Some(vec![Telephone {
                tags: Some(vec![TelephoneTags::Cell]),
                number: "+1 555 0100".to_string(),
            }]),
            org: Some(vec![Organization {
                orgname: "Wonderland".to_string(),
                orgunit: Some(vec!["Tea".to_string()]),
            }]),
            url: Some(vec!["https://example.org".to_string()]),
            ..Vcard::default()
        };
        let element = vcard.to_element();
        assert!(element.is("vCard", NS_VCARD));
        assert_eq!(Vcard::from_element(&element), vcard);
    }
}
