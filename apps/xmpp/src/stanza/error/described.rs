//! A defined condition with optional text: the shape of a stream error and of a SASL failure.
//!
//! Each kind ([`StreamError`](super::StreamError), [`SaslFailure`](crate::sasl::SaslFailure))
//! is this type for its condition enum, and adds its own element in its own namespace.

use std::fmt;

use crate::xml::Element;

/// A `condition` and an optional human-readable `text` (for logs and people, never for
/// program logic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described<C> {
    /// The defined condition.
    pub condition: C,
    /// Descriptive text.
    pub text: Option<String>,
}

impl<C> Described<C> {
    /// The condition without text.
    pub fn new(condition: C) -> Self {
        Described {
            condition,
            text: None,
        }
    }

    /// Adds descriptive text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// `<name xmlns=namespace>condition[<text xmlns=text_namespace>text</text>]</name>`.
    pub(crate) fn element(
        &self,
        name: &str,
        namespace: &str,
        condition: Element,
        text_namespace: &str,
    ) -> Element {
        let mut element = Element::new(name, namespace).with_child(condition);
        if let Some(text) = &self.text {
            element.push_child(Element::new("text", text_namespace).with_text(text.as_str()));
        }
        element
    }
}

impl<C> From<C> for Described<C> {
    fn from(condition: C) -> Self {
        Described::new(condition)
    }
}

/// `condition` or `condition: text`.
impl<C: fmt::Display> fmt::Display for Described<C> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(text) => write!(formatter, "{}: {text}", self.condition),
            None => write!(formatter, "{}", self.condition),
        }
    }
}
