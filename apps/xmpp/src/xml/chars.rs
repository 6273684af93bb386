//! Character-level rules of XML 1.0 that quick-xml leaves to its caller: which
//! names are names, which characters may appear, and how references and line
//! ends are expanded.
//!
//! quick-xml finds markup and splits attributes but accepts any bytes as a
//! name and resolves references leniently; an XMPP server must refuse what
//! XML refuses, and must tell a reference to a custom entity (`restricted-xml`)
//! from a stray `&` (`not-well-formed`). Both are decided here.

use super::error::{ParseError, Restriction};
use super::serialize::is_xml_char;

fn is_name_start_char(character: char) -> bool {
    matches!(character,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(character: char) -> bool {
    is_name_start_char(character)
        || matches!(character,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `name` is an `NCName` (an XML name without a colon).
pub(crate) fn is_ncname(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(is_name_start_char) && characters.all(is_name_char)
}

/// Splits a qualified name into `(prefix, local name)`, checking both parts.
pub(crate) fn split_qname(qname: &str) -> Result<(Option<&str>, &str), ParseError> {
    match qname.split_once(':') {
        None if is_ncname(qname) => Ok((None, qname)),
        Some((prefix, local)) if is_ncname(prefix) && is_ncname(local) => Ok((Some(prefix), local)),
        _ => Err(ParseError::malformed("invalid name")),
    }
}

/// Where a run of character data comes from; the rules differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    /// Text between tags: references expanded, `]]>` forbidden.
    Text,
    /// A CDATA section's content: taken literally.
    CData,
    /// An attribute value: references expanded, `<` forbidden, whitespace
    /// normalised to spaces.
    Attribute,
}

/// Appends `raw` to `out` with references expanded, line ends normalised
/// (`\r\n` and `\r` become `\n`), and, for attributes, literal tab and line
/// ends turned into spaces (XML 1.0 §3.3.3; a character reference is kept).
pub(crate) fn decode_into(raw: &str, context: Context, out: &mut String) -> Result<(), ParseError> {
    let bytes = raw.as_bytes();
    let mut clean_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let needs_work = match byte {
            b'&' | b'\r' => context != Context::CData || byte == b'\r',
            b'<' => context == Context::Attribute,
            b'\t' | b'\n' => context == Context::Attribute,
            b']' => context == Context::Text && bytes[index..].starts_with(b"]]>"),
            // Controls other than tab, line feed and carriage return; and the
            // first byte of U+FFFE / U+FFFF (EF BF BE / EF BF BF).
            0x00..=0x1F | 0xEF => true,
            _ => false,
        };
        if !needs_work {
            index += 1;
            continue;
        }
        out.push_str(&raw[clean_start..index]);
        match byte {
            b'&' => {
                let rest = &raw[index + 1..];
                let end = rest
                    .find(';')
                    .ok_or(ParseError::malformed("unterminated reference"))?;
                out.push(expand_reference(&rest[..end])?);
                index += end + 2;
            }
            b'\r' => {
                out.push(if context == Context::Attribute {
                    ' '
                } else {
                    '\n'
                });
                index += if bytes.get(index + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'<' => return Err(ParseError::malformed("`<` in attribute value")),
            b'\t' | b'\n' => {
                out.push(' ');
                index += 1;
            }
            b']' => return Err(ParseError::malformed("`]]>` in text")),
            0xEF => {
                // Only U+FFFE and U+FFFF are refused; other characters starting
                // with this byte are copied.
                let character = raw[index..]
                    .chars()
                    .next()
                    .ok_or(ParseError::malformed("truncated character"))?;
                if !is_xml_char(character) {
                    return Err(ParseError::malformed("character not allowed in XML"));
                }
                out.push(character);
                index += character.len_utf8();
            }
            // The remaining controls: tab and line feed outside attributes were
            // not flagged, so these are the forbidden ones.
            _ => return Err(ParseError::malformed("character not allowed in XML")),
        }
        clean_start = index;
    }
    out.push_str(&raw[clean_start..]);
    Ok(())
}

/// The character `&name;` stands for: one of the five predefined entities or a
/// character reference. Any other entity is restricted in XMPP.
fn expand_reference(name: &str) -> Result<char, ParseError> {
    match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "apos" => return Ok('\''),
        "quot" => return Ok('"'),
        _ => {}
    }
    if let Some(number) = name.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        // from_str_radix would accept a sign; a reference has digits only.
        let all_digits = !digits.is_empty() && digits.chars().all(|digit| digit.is_digit(radix));
        return u32::from_str_radix(digits, radix)
            .ok()
            .filter(|_| all_digits)
            .and_then(char::from_u32)
            .filter(|character| is_xml_char(*character))
            .ok_or(ParseError::malformed("invalid character reference"));
    }
    if split_qname(name).is_ok() {
        Err(ParseError::Restricted(Restriction::EntityReference(
            name.to_owned(),
        )))
    } else {
        Err(ParseError::malformed("`&` not starting a reference"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str, context: Context) -> Result<String, ParseError> {
        let mut out = String::new();
        decode_into(raw, context, &mut out).map(|()| out)
    }

    #[test]
    fn names() {
        assert!(is_ncname("message"));
        assert!(is_ncname("_a-b.c9"));
        assert!(is_ncname("été"));
        assert!(!is_ncname(""));
        assert!(!is_ncname("9a"));
        assert!(!is_ncname("-a"));
        assert!(!is_ncname("a b"));
        assert!(!is_ncname("a:b"));
        assert_eq!(split_qname("stream:stream"), Ok((Some("stream"), "stream")));
        assert_eq!(split_qname("body"), Ok((None, "body")));
        assert!(split_qname(":a").is_err());
        assert!(split_qname("a:").is_err());
        assert!(split_qname("a:b:c").is_err());
    }

    #[test]
    fn predefined_and_numeric_references() {
        assert_eq!(
            decode(
                "&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;",
                Context::Text
            ),
            Ok("<>&'\"AB😀".into())
        );
    }

    #[test]
    fn custom_entity_is_restricted_and_stray_ampersand_malformed() {
        assert_eq!(
            decode("a &foo; b", Context::Text),
            Err(ParseError::Restricted(Restriction::EntityReference(
                "foo".into()
            )))
        );
        assert_eq!(
            decode("a & b", Context::Text),
            Err(ParseError::malformed("unterminated reference"))
        );
        assert_eq!(
            decode("a & b;", Context::Text),
            Err(ParseError::malformed("`&` not starting a reference"))
        );
    }

    #[test]
    fn bad_character_references() {
        for raw in [
            "&#0;",
            "&#x1;",
            "&#xD800;",
            "&#x110000;",
            "&#;",
            "&#x;",
            "&#+65;",
            "&#x-41;",
            "&#xFFFE;",
            "&#99999999999;",
        ] {
            assert_eq!(
                decode(raw, Context::Text),
                Err(ParseError::malformed("invalid character reference")),
                "{raw}"
            );
        }
        assert_eq!(
            decode("&#9;&#xA;&#13;", Context::Attribute),
            Ok("\t\n\r".into())
        );
    }

    #[test]
    fn line_ends_and_attribute_whitespace() {
        assert_eq!(
            decode("a\r\nb\rc\nd\te", Context::Text),
            Ok("a\nb\nc\nd\te".into())
        );
        assert_eq!(
            decode("a\r\nb\rc\nd\te", Context::Attribute),
            Ok("a b c d e".into())
        );
        assert_eq!(decode("a\r\n&amp;", Context::CData), Ok("a\n&amp;".into()));
    }

    #[test]
    fn forbidden_characters_and_sequences() {
        assert!(decode("a\u{0}b", Context::Text).is_err());
        assert!(decode("a\u{1B}b", Context::CData).is_err());
        assert!(decode("\u{FFFF}", Context::Text).is_err());
        assert!(decode("\u{FFFE}", Context::Attribute).is_err());
        assert_eq!(
            decode("\u{FFFD}\u{E000}", Context::Text),
            Ok("\u{FFFD}\u{E000}".into())
        );
        assert!(decode("a]]>b", Context::Text).is_err());
        assert_eq!(decode("a]]b>", Context::Text), Ok("a]]b>".into()));
        assert!(decode("a<b", Context::Attribute).is_err());
    }
}
