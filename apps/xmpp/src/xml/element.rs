//! The element tree: what a stanza is once parsed, and what code builds to send.
//!
//! Names are stored resolved: an [`Element`] has a local `name` and the
//! `namespace` URI it is qualified by, never a prefix. Two elements are equal
//! when their names, namespaces, attributes (in order) and children are, however
//! the XML that produced them spelled its prefixes. The serializer
//! ([`crate::xml::serialize`]) chooses prefixes again when writing.
//!
//! Attributes without a prefix have no namespace (`namespace: None`), as in XML
//! Namespaces; `xml:lang` is the attribute `lang` in [`NS_XML`]. Namespace
//! declarations (`xmlns`, `xmlns:p`) are not attributes here: the parser
//! consumes them to resolve names.
//!
//! ```
//! use bream_xmpp::xml::{Element, NS_CLIENT};
//!
//! let message = Element::new("message", NS_CLIENT)
//!     .with_attr("to", "juliet@example.com")
//!     .with_attr("type", "chat")
//!     .with_child(Element::new("body", NS_CLIENT).with_text("Wherefore art thou?"));
//! assert_eq!(message.attr("type"), Some("chat"));
//! assert_eq!(message.child("body", NS_CLIENT).map(|body| body.text()), Some("Wherefore art thou?".into()));
//! ```

use super::NS_XML;

/// An XML element with resolved names. Serde encodes the tree as it is (no XML text), so a
/// stanza crosses to another node without being serialized and parsed again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Element {
    /// Local name, without any prefix.
    pub name: String,
    /// Namespace URI; empty for an element in no namespace.
    pub namespace: String,
    /// Attributes in document order, namespace declarations excluded.
    pub attrs: Vec<Attribute>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
}

/// One attribute of an [`Element`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribute {
    /// Local name, without any prefix.
    pub name: String,
    /// Namespace URI for a prefixed attribute (`xml:lang` is in [`NS_XML`]);
    /// `None` for an unprefixed one.
    pub namespace: Option<String>,
    /// Value with references expanded and whitespace normalised.
    pub value: String,
}

/// A child of an [`Element`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (text and CDATA sections, references expanded).
    Text(String),
}

impl Element {
    /// An element with no attributes and no children.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            namespace: namespace.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Whether this element is `name` in `namespace`.
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        self.name == name && self.namespace == namespace
    }

    /// Builder form of [`Element::set_attr`].
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of [`Element::set_ns_attr`].
    pub fn with_ns_attr(
        mut self,
        namespace: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.set_ns_attr(namespace, name, value);
        self
    }

    /// Builder form of [`Element::push_child`].
    pub fn with_child(mut self, child: Element) -> Self {
        self.push_child(child);
        self
    }

    /// Builder form of [`Element::push_text`].
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// The value of the unprefixed attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.namespace.is_none() && attr.name == name)
            .map(|attr| attr.value.as_str())
    }

    /// The value of attribute `name` in `namespace`, if present.
    pub fn ns_attr(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.namespace.as_deref() == Some(namespace) && attr.name == name)
            .map(|attr| attr.value.as_str())
    }

    /// The `xml:lang` attribute, if present.
    pub fn lang(&self) -> Option<&str> {
        self.ns_attr(NS_XML, "lang")
    }

    /// Sets the unprefixed attribute `name`, replacing its value if present.
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set_attribute(None, name.into(), value.into());
    }

    /// Sets attribute `name` in `namespace`, replacing its value if present.
    pub fn set_ns_attr(
        &mut self,
        namespace: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.set_attribute(Some(namespace.into()), name.into(), value.into());
    }

    fn set_attribute(&mut self, namespace: Option<String>, name: String, value: String) {
        match self
            .attrs
            .iter_mut()
            .find(|attr| attr.namespace == namespace && attr.name == name)
        {
            Some(attr) => attr.value = value,
            None => self.attrs.push(Attribute {
                name,
                namespace,
                value,
            }),
        }
    }

    /// Removes the unprefixed attribute `name`, returning its value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let index = self
            .attrs
            .iter()
            .position(|attr| attr.namespace.is_none() && attr.name == name)?;
        Some(self.attrs.remove(index).value)
    }

    /// Appends a child element.
    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends text, merged into a preceding text node so that adjacent text
    /// stays one node (as the parser produces it). Empty text adds nothing.
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(&text),
            _ => self.children.push(Node::Text(text)),
        }
    }

    /// Child elements, in order, text skipped.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element `name` in `namespace`.
    pub fn child(&self, name: &str, namespace: &str) -> Option<&Element> {
        self.elements().find(|child| child.is(name, namespace))
    }

    /// The first child element `name` in `namespace`, mutably.
    pub fn child_mut(&mut self, name: &str, namespace: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|node| match node {
            Node::Element(child) if child.is(name, namespace) => Some(child),
            _ => None,
        })
    }

    /// The concatenation of this element's direct text children.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.children {
            if let Node::Text(part) = node {
                text.push_str(part);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NS_CLIENT;

    #[test]
    fn attributes_are_set_replaced_and_removed() {
        let mut element = Element::new("iq", NS_CLIENT)
            .with_attr("type", "get")
            .with_attr("id", "1");
        element.set_attr("type", "result");
        assert_eq!(element.attr("type"), Some("result"));
        assert_eq!(element.attrs.len(), 2);
        assert_eq!(element.remove_attr("id"), Some("1".to_owned()));
        assert_eq!(element.attr("id"), None);
        assert_eq!(element.remove_attr("id"), None);
    }

    #[test]
    fn namespaced_attributes_are_distinct_from_plain_ones() {
        let element = Element::new("body", NS_CLIENT)
            .with_attr("lang", "plain")
            .with_ns_attr(NS_XML, "lang", "en");
        assert_eq!(element.attr("lang"), Some("plain"));
        assert_eq!(element.lang(), Some("en"));
        assert_eq!(element.ns_attr("urn:other", "lang"), None);
    }

    #[test]
    fn text_merges_and_ignores_empty() {
        let element = Element::new("body", NS_CLIENT)
            .with_text("a")
            .with_text("")
            .with_text("b")
            .with_child(Element::new("x", "urn:x"))
            .with_text("c");
        assert_eq!(element.children.len(), 3);
        assert_eq!(element.text(), "abc");
    }

    #[test]
    fn children_are_found_by_name_and_namespace() {
        let mut element = Element::new("message", NS_CLIENT)
            .with_child(Element::new("body", "urn:other"))
            .with_child(Element::new("body", NS_CLIENT).with_text("hi"));
        assert_eq!(element.elements().count(), 2);
        assert_eq!(
            element.child("body", NS_CLIENT).map(Element::text),
            Some("hi".into())
        );
        assert!(element.child("subject", NS_CLIENT).is_none());
        if let Some(body) = element.child_mut("body", "urn:other") {
            body.push_text("changed");
        }
        assert_eq!(
            element.child("body", "urn:other").map(Element::text),
            Some("changed".into())
        );
    }
}
