//! Bounds on what one peer can make the stream parser hold.
//!
//! A client controls how much memory and work its connection costs the server
//! only through what it sends, so every dimension of a stanza has a named bound
//! with a documented default. A bound that is hit is a
//! [`ParseError::LimitExceeded`](super::ParseError::LimitExceeded) naming the
//! [`Limit`] and its value; the stream error for it is `policy-violation`.
//!
//! The parser buffers at most one unfinished stanza (the stream header counts
//! as one), so its memory per connection is about `stanza_bytes_max` plus the
//! chunk being fed, plus the element tree built so far.

use std::fmt;

/// The parser's bounds. [`Limits::default`] is [`Limits::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one top-level stanza, from its `<` to its last `>`, and of the
    /// stream header. Whitespace between stanzas is not counted. Default
    /// 65536, MongooseIM's `max_stanza_size` in its examples.
    pub stanza_bytes_max: usize,
    /// Nesting of elements in a stanza; the stanza itself is depth 1. Default 32.
    pub depth_max: usize,
    /// Attributes on one element, namespace declarations included. Default 64.
    pub attributes_max: usize,
    /// Bytes of one attribute value as sent (before references are expanded).
    /// Default 16384.
    pub attribute_value_bytes_max: usize,
    /// Bytes of one text node after references are expanded (adjacent text and
    /// CDATA sections count as one node). Default 65536: no bound beyond the
    /// stanza's own unless lowered.
    pub text_bytes_max: usize,
    /// Bytes of an element or attribute name, prefix included. Default 256.
    pub name_bytes_max: usize,
}

impl Limits {
    /// The documented defaults.
    pub const DEFAULT: Limits = Limits {
        stanza_bytes_max: 65_536,
        depth_max: 32,
        attributes_max: 64,
        attribute_value_bytes_max: 16_384,
        text_bytes_max: 65_536,
        name_bytes_max: 256,
    };

    /// The value of `limit` in these limits.
    pub fn get(&self, limit: Limit) -> usize {
        match limit {
            Limit::StanzaBytes => self.stanza_bytes_max,
            Limit::Depth => self.depth_max,
            Limit::Attributes => self.attributes_max,
            Limit::AttributeValueBytes => self.attribute_value_bytes_max,
            Limit::TextBytes => self.text_bytes_max,
            Limit::NameBytes => self.name_bytes_max,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

// The per-part bounds cannot usefully exceed the stanza bound.
const _: () =
    assert!(Limits::DEFAULT.attribute_value_bytes_max <= Limits::DEFAULT.stanza_bytes_max);
const _: () = assert!(Limits::DEFAULT.text_bytes_max <= Limits::DEFAULT.stanza_bytes_max);
const _: () = assert!(Limits::DEFAULT.name_bytes_max <= Limits::DEFAULT.stanza_bytes_max);

/// Which bound of [`Limits`] was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`Limits::stanza_bytes_max`].
    StanzaBytes,
    /// [`Limits::depth_max`].
    Depth,
    /// [`Limits::attributes_max`].
    Attributes,
    /// [`Limits::attribute_value_bytes_max`].
    AttributeValueBytes,
    /// [`Limits::text_bytes_max`].
    TextBytes,
    /// [`Limits::name_bytes_max`].
    NameBytes,
}

impl fmt::Display for Limit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Limit::StanzaBytes => "stanza_bytes_max",
            Limit::Depth => "depth_max",
            Limit::Attributes => "attributes_max",
            Limit::AttributeValueBytes => "attribute_value_bytes_max",
            Limit::TextBytes => "text_bytes_max",
            Limit::NameBytes => "name_bytes_max",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_matches_fields_and_names_match_fields() {
        let limits = Limits::DEFAULT;
        assert_eq!(limits.get(Limit::StanzaBytes), 65_536);
        assert_eq!(limits.get(Limit::Depth), 32);
        assert_eq!(limits.get(Limit::Attributes), 64);
        assert_eq!(limits.get(Limit::AttributeValueBytes), 16_384);
        assert_eq!(limits.get(Limit::TextBytes), 65_536);
        assert_eq!(limits.get(Limit::NameBytes), 256);
        assert_eq!(Limit::StanzaBytes.to_string(), "stanza_bytes_max");
        assert_eq!(Limits::default(), Limits::DEFAULT);
    }
}
