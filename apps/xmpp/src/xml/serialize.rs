//! Writing elements as XML text, with escaping and namespace prefixes.
//!
//! An element is written inside a [`NamespaceContext`]: the default namespace
//! and prefixes already bound where it goes. A stanza written into a client
//! stream uses [`NamespaceContext::CLIENT_STREAM`], so `<message/>` in
//! `jabber:client` needs no `xmlns`, and `<error/>` in the stream namespace is
//! written `<stream:error>` as every client expects. Any other namespace is
//! declared as the default namespace on the element that needs it; namespaced
//! attributes other than `xml:*` get a generated prefix (`ns0`, `ns1`, ...).
//!
//! Escaping makes the output parse back to the same tree
//! ([`crate::xml::StreamParser`] round-trips it, tested below):
//! - text: `&`, `<`, `>` become references; `\r` becomes `&#xD;` so that line-end
//!   normalisation does not eat it;
//! - attribute values (always quoted with `'`): also `'`, `"`, and `\t`, `\n`,
//!   `\r` as character references, which attribute normalisation keeps;
//! - characters XML 1.0 cannot carry at all (controls other than tab, line feed
//!   and carriage return; U+FFFE, U+FFFF) become U+FFFD REPLACEMENT CHARACTER:
//!   the serializer cannot fail, and a peer would reject the stream otherwise.
//!
//! Names are written as they are: code that builds elements must use valid XML
//! names (the parser only produces valid ones).
//!
//! ```
//! use bream_xmpp::xml::{Element, NamespaceContext, NS_CLIENT};
//!
//! let body = Element::new("message", NS_CLIENT)
//!     .with_attr("to", "o'brien@example.com")
//!     .with_child(Element::new("body", NS_CLIENT).with_text("1 < 2 & 3"));
//! assert_eq!(
//!     body.to_xml_in(&NamespaceContext::CLIENT_STREAM),
//!     "<message to='o&apos;brien@example.com'><body>1 &lt; 2 &amp; 3</body></message>"
//! );
//! ```

use std::borrow::Cow;
use std::fmt;

use super::element::{Element, Node};
use super::{NS_CLIENT, NS_STREAMS, NS_XML};

/// The namespace bindings in force where an element is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceContext<'a> {
    /// The default namespace in scope; `""` for none.
    pub default_namespace: &'a str,
    /// Prefixes in scope, as `(prefix, namespace)`, innermost last.
    pub prefixes: &'a [(&'a str, &'a str)],
}

impl NamespaceContext<'static> {
    /// Nothing bound: a standalone document. Every namespace is declared.
    pub const NONE: NamespaceContext<'static> = NamespaceContext {
        default_namespace: "",
        prefixes: &[],
    };

    /// Inside a client-to-server stream opened by [`write_stream_open`] with
    /// `jabber:client`: the default namespace is `jabber:client` and `stream`
    /// is bound to the stream namespace.
    pub const CLIENT_STREAM: NamespaceContext<'static> = NamespaceContext {
        default_namespace: NS_CLIENT,
        prefixes: &[("stream", NS_STREAMS)],
    };
}

/// What [`Element`]'s `Display` writes: a standalone element.
impl fmt::Display for Element {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_xml_in(&NamespaceContext::NONE))
    }
}

impl Element {
    /// This element as XML inside `context`.
    pub fn to_xml_in(&self, context: &NamespaceContext<'_>) -> String {
        let mut out = String::new();
        write_element(&mut out, self, context);
        out
    }
}

/// Appends `element` as XML inside `context` to `out`.
pub fn write_element(out: &mut String, element: &Element, context: &NamespaceContext<'_>) {
    let mut prefixes: Vec<(Cow<'_, str>, &str)> = context
        .prefixes
        .iter()
        .map(|(prefix, namespace)| (Cow::Borrowed(*prefix), *namespace))
        .collect();
    write_recursive(out, element, context.default_namespace, &mut prefixes);
}

/// Appends a stream header (`<stream:stream ...>`, preceded by the XML
/// declaration) with `default_namespace` as the content namespace, `stream`
/// bound to the stream namespace, and `attrs` (such as `from`, `id`,
/// `version`, `xml:lang`) escaped as attribute values. Names in `attrs` are
/// written as given.
pub fn write_stream_open(out: &mut String, default_namespace: &str, attrs: &[(&str, &str)]) {
    out.push_str("<?xml version='1.0'?><stream:stream xmlns='");
    escape_attribute(default_namespace, out);
    out.push_str("' xmlns:stream='");
    out.push_str(NS_STREAMS);
    out.push('\'');
    for (name, value) in attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("='");
        escape_attribute(value, out);
        out.push('\'');
    }
    out.push('>');
}

/// Closes a stream opened by [`write_stream_open`].
pub const STREAM_CLOSE: &str = "</stream:stream>";

type Prefixes<'a> = Vec<(Cow<'a, str>, &'a str)>;

fn write_recursive<'a>(
    out: &mut String,
    element: &'a Element,
    default_namespace: &'a str,
    prefixes: &mut Prefixes<'a>,
) {
    let scope_start = prefixes.len();
    let mut child_default = default_namespace;
    out.push('<');
    let element_prefix = if element.namespace == default_namespace {
        None
    } else if element.namespace.is_empty() {
        // No prefix can stand for "no namespace": the default is undeclared below.
        None
    } else {
        find_prefix(prefixes, &element.namespace)
    };
    write_qualified_name(out, element, element_prefix, prefixes);
    if element.namespace != default_namespace && element_prefix.is_none() {
        child_default = &element.namespace;
        out.push_str(" xmlns='");
        escape_attribute(&element.namespace, out);
        out.push('\'');
    }
    for attr in &element.attrs {
        out.push(' ');
        match attr.namespace.as_deref() {
            None | Some("") => {}
            Some(NS_XML) => out.push_str("xml:"),
            Some(namespace) => {
                let index = match find_prefix(prefixes, namespace) {
                    Some(index) => index,
                    None => {
                        let prefix = generate_prefix(prefixes);
                        out.push_str("xmlns:");
                        out.push_str(&prefix);
                        out.push_str("='");
                        escape_attribute(namespace, out);
                        out.push_str("' ");
                        prefixes.push((Cow::Owned(prefix), namespace));
                        prefixes.len() - 1
                    }
                };
                out.push_str(&prefixes[index].0);
                out.push(':');
            }
        }
        out.push_str(&attr.name);
        out.push_str("='");
        escape_attribute(&attr.value, out);
        out.push('\'');
    }
    if element.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for child in &element.children {
            match child {
                Node::Element(child) => write_recursive(out, child, child_default, prefixes),
                Node::Text(text) => escape_text(text, out),
            }
        }
        out.push_str("</");
        // The element's prefix was bound before its attributes' prefixes, so
        // its index is still valid here.
        write_qualified_name(out, element, element_prefix, prefixes);
        out.push('>');
    }
    prefixes.truncate(scope_start);
}

fn write_qualified_name(
    out: &mut String,
    element: &Element,
    prefix: Option<usize>,
    prefixes: &Prefixes<'_>,
) {
    if let Some(index) = prefix {
        out.push_str(&prefixes[index].0);
        out.push(':');
    }
    out.push_str(&element.name);
}

/// The index of the innermost binding of a prefix to `namespace` that no
/// inner binding of the same prefix shadows.
fn find_prefix(prefixes: &Prefixes<'_>, namespace: &str) -> Option<usize> {
    (0..prefixes.len()).rev().find(|&index| {
        prefixes[index].1 == namespace
            && !prefixes[index + 1..]
                .iter()
                .any(|(prefix, _)| *prefix == prefixes[index].0)
    })
}

fn generate_prefix(prefixes: &Prefixes<'_>) -> String {
    let mut number = 0usize;
    loop {
        let candidate = format!("ns{number}");
        if !prefixes.iter().any(|(prefix, _)| *prefix == candidate) {
            return candidate;
        }
        number += 1;
    }
}

/// Whether XML 1.0 can carry `character` at all (the `Char` production; Rust
/// strings already exclude surrogates).
pub(crate) fn is_xml_char(character: char) -> bool {
    matches!(character, '\t' | '\n' | '\r')
        || (character >= ' ' && character != '\u{FFFE}' && character != '\u{FFFF}')
}

/// Appends `text` escaped as character data.
pub fn escape_text(text: &str, out: &mut String) {
    escape(text, out, false);
}

/// Appends `value` escaped for an attribute value quoted with `'` or `"`.
pub fn escape_attribute(value: &str, out: &mut String) {
    escape(value, out, true);
}

fn escape(text: &str, out: &mut String, attribute: bool) {
    let mut clean_start = 0;
    for (index, character) in text.char_indices() {
        let replacement = match character {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\r' => "&#xD;",
            '\'' if attribute => "&apos;",
            '"' if attribute => "&quot;",
            '\t' if attribute => "&#x9;",
            '\n' if attribute => "&#xA;",
            other if !is_xml_char(other) => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&text[clean_start..index]);
        out.push_str(replacement);
        clean_start = index + character.len_utf8();
    }
    out.push_str(&text[clean_start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped_text(text: &str) -> String {
        let mut out = String::new();
        escape_text(text, &mut out);
        out
    }

    fn escaped_attribute(text: &str) -> String {
        let mut out = String::new();
        escape_attribute(text, &mut out);
        out
    }

    #[test]
    fn text_escaping() {
        assert_eq!(escaped_text("plain é"), "plain é");
        assert_eq!(escaped_text("a<b>&c]]>"), "a&lt;b&gt;&amp;c]]&gt;");
        assert_eq!(escaped_text("'\"\t\n"), "'\"\t\n");
        assert_eq!(escaped_text("a\r\nb"), "a&#xD;\nb");
        assert_eq!(escaped_text("bell\u{7}\u{FFFF}"), "bell\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn attribute_escaping() {
        assert_eq!(
            escaped_attribute("o'b \"x\" <&>"),
            "o&apos;b &quot;x&quot; &lt;&amp;&gt;"
        );
        assert_eq!(escaped_attribute("\t\n\r"), "&#x9;&#xA;&#xD;");
        assert_eq!(escaped_attribute("\u{0}"), "\u{FFFD}");
    }

    #[test]
    fn standalone_element_declares_its_namespace() {
        let element = Element::new("query", "jabber:iq:roster")
            .with_child(Element::new("item", "jabber:iq:roster").with_attr("jid", "a@b"));
        assert_eq!(
            element.to_string(),
            "<query xmlns='jabber:iq:roster'><item jid='a@b'/></query>"
        );
    }

    #[test]
    fn stream_context_uses_default_namespace_and_stream_prefix() {
        let context = NamespaceContext::CLIENT_STREAM;
        let error = Element::new("error", NS_STREAMS).with_child(Element::new(
            "not-well-formed",
            "urn:ietf:params:xml:ns:xmpp-streams",
        ));
        assert_eq!(
            error.to_xml_in(&context),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        );
        let presence = Element::new("presence", NS_CLIENT);
        assert_eq!(presence.to_xml_in(&context), "<presence/>");
    }

    #[test]
    fn empty_namespace_under_a_default_is_undeclared() {
        let element = Element::new("a", "urn:a").with_child(Element::new("b", ""));
        assert_eq!(element.to_string(), "<a xmlns='urn:a'><b xmlns=''/></a>");
    }

    #[test]
    fn namespaced_attributes_get_prefixes() {
        let element = Element::new("body", NS_CLIENT)
            .with_ns_attr(NS_XML, "lang", "en")
            .with_ns_attr("urn:x", "a", "1")
            .with_ns_attr("urn:y", "b", "2")
            .with_child(Element::new("c", NS_CLIENT).with_ns_attr("urn:x", "d", "3"));
        assert_eq!(
            element.to_xml_in(&NamespaceContext::CLIENT_STREAM),
            "<body xml:lang='en' xmlns:ns0='urn:x' ns0:a='1' xmlns:ns1='urn:y' ns1:b='2'>\
             <c ns0:d='3'/></body>"
        );
    }

    #[test]
    fn shadowed_prefix_is_not_reused() {
        let context = NamespaceContext {
            default_namespace: "",
            prefixes: &[("p", "urn:outer"), ("p", "urn:inner")],
        };
        let element = Element::new("e", "urn:outer");
        assert_eq!(element.to_xml_in(&context), "<e xmlns='urn:outer'/>");
        let element = Element::new("e", "urn:inner");
        assert_eq!(element.to_xml_in(&context), "<p:e/>");
    }

    #[test]
    fn stream_open_and_close() {
        let mut out = String::new();
        write_stream_open(
            &mut out,
            NS_CLIENT,
            &[("from", "example.com"), ("id", "a'b"), ("version", "1.0")],
        );
        out.push_str(STREAM_CLOSE);
        assert_eq!(
            out,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='a&apos;b' \
             version='1.0'></stream:stream>"
        );
    }
}
