//! The incremental XMPP stream parser: bytes in, one stanza at a time out.
//!
//! An XMPP connection is one long XML document, `<stream:stream>` ...
//! `</stream:stream>`, whose first-level children are the stanzas. The server
//! must act on each stanza as soon as its end tag arrives, and never on part of
//! one (RFC 6120 §8). So the parser is fed whatever bytes the socket gave,
//! split anywhere (inside a tag, an entity, a UTF-8 character), and hands back
//! [`StreamEvent`]s: the stream header, then each complete stanza as an
//! [`Element`], then the end of the stream.
//!
//! ```
//! use bream_xmpp::xml::{StreamEvent, StreamParser, NS_CLIENT};
//!
//! let mut parser = StreamParser::new();
//! let mut events = Vec::new();
//! for chunk in [
//!     &b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://e"[..],
//!     b"therx.jabber.org/streams' to='example.com' version='1.0'> <message><bo",
//!     b"dy>hi</body></message></stream:stream>",
//! ] {
//!     parser.feed(chunk);
//!     while let Some(event) = parser.next_event().expect("well-formed") {
//!         events.push(event);
//!     }
//! }
//! assert!(matches!(&events[0], StreamEvent::StreamStart(header) if header.to() == Some("example.com")));
//! assert!(matches!(&events[1], StreamEvent::Stanza(message) if message.is("message", NS_CLIENT)));
//! assert_eq!(events[2], StreamEvent::StreamEnd);
//! ```
//!
//! What it accepts: XML 1.0 in UTF-8 with namespaces, an optional XML
//! declaration before the stream header (encoding UTF-8 if named), the
//! five predefined entities and character references, CDATA sections, and
//! whitespace between stanzas (keepalives), which is skipped without being
//! buffered. What it refuses, as a [`ParseError`]:
//! - comments, processing instructions, DTDs and entity declarations, and
//!   references to any other entity: [`ParseError::Restricted`]
//!   (`restricted-xml`, RFC 6120 §11.1);
//! - anything not well-formed, including invalid UTF-8 and characters XML
//!   forbids: [`ParseError::NotWellFormed`], [`ParseError::UndeclaredPrefix`];
//! - a stanza over [`Limits::stanza_bytes_max`], or past any other bound in
//!   [`Limits`]: [`ParseError::LimitExceeded`] (`policy-violation`). The stanza
//!   bound is enforced as bytes arrive: an unfinished stanza never holds more
//!   than that many bytes;
//! - a root element other than `stream` in the stream namespace:
//!   [`ParseError::InvalidStreamHeader`] (`invalid-namespace`);
//! - text directly inside the stream element: [`ParseError::TextOutsideStanza`].
//!
//! The outcome does not depend on how the input was split: every decision is
//! taken on complete units of markup, and the stanza bound is checked against
//! a window of exactly the bytes the stanza may still use. Feeding a document
//! whole or byte by byte gives the same events and the same error (a property
//! tested below).
//!
//! Edges:
//! - After an error the parser is stuck: [`StreamParser::next_event`] returns
//!   the same error again, and [`StreamParser::feed`] drops its input. The
//!   connection is to be closed with the mapped stream error.
//! - After [`StreamEvent::StreamEnd`] the parser returns `Ok(None)` and drops
//!   further input.
//! - A stream restart (after STARTTLS or SASL success the client sends a new
//!   header) is [`StreamParser::reset`]: the next event must be a stream header
//!   again. Bytes already fed and not yet parsed are kept for the new stream.
//! - The parser buffers only what it was fed and has not parsed; a caller
//!   that feeds a chunk then takes events until `Ok(None)` holds at most one
//!   unfinished stanza plus one chunk.
//! - No element of a stanza is handed out before the whole stanza is parsed;
//!   the tree built so far is bounded by the stanza bound (and depth bound).

use std::str;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::chars::{decode_into, split_qname, Context};
use super::element::{Attribute, Element, Node};
use super::error::{ParseError, Restriction};
use super::limits::{Limit, Limits};
use super::scan::{Scanner, UnitKind};
use super::{NS_STREAMS, NS_XML, NS_XMLNS};

/// What the parser yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream header `<stream:stream ...>` was received.
    StreamStart(StreamHeader),
    /// A complete first-level element: a stanza (`message`, `presence`, `iq`)
    /// or a negotiation element (`starttls`, `auth`, ...).
    Stanza(Element),
    /// `</stream:stream>` was received.
    StreamEnd,
}

/// The attributes of a received stream header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The content namespace: the default namespace the header declares
    /// (`jabber:client` for a client), or `""` if it declares none.
    pub default_namespace: String,
    /// Attributes other than namespace declarations, in order.
    pub attrs: Vec<Attribute>,
}

impl StreamHeader {
    /// The value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.namespace.is_none() && attr.name == name)
            .map(|attr| attr.value.as_str())
    }

    /// `to`: the domain the client wants to talk to.
    pub fn to(&self) -> Option<&str> {
        self.attr("to")
    }

    /// `from`: who the initiating entity says it is.
    pub fn from(&self) -> Option<&str> {
        self.attr("from")
    }

    /// `id`: the stream id (only in a responding entity's header).
    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }

    /// `version`: `1.0` for RFC 6120 streams.
    pub fn version(&self) -> Option<&str> {
        self.attr("version")
    }

    /// `xml:lang`: the default language of the stream.
    pub fn lang(&self) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.namespace.as_deref() == Some(NS_XML) && attr.name == "lang")
            .map(|attr| attr.value.as_str())
    }
}

/// The incremental stream parser. See the [module documentation](self).
#[derive(Debug)]
pub struct StreamParser {
    input: Input,
    tree: TreeBuilder,
    failure: Option<ParseError>,
}

/// Bytes fed and not yet parsed, and the scan of the unit they start with.
#[derive(Debug, Default)]
struct Input {
    buffer: Vec<u8>,
    /// Bytes of `buffer` already parsed.
    position: usize,
    scanner: Scanner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the stream header.
    Prolog { declaration_seen: bool },
    /// Inside the stream element.
    Stream,
    /// After the stream end tag.
    Closed,
}

/// Namespace declarations made by one element.
#[derive(Debug, Default)]
struct Scope {
    /// `Some("")` undeclares the default namespace.
    default_namespace: Option<String>,
    /// `(prefix, namespace)`.
    prefixes: Vec<(String, String)>,
}

#[derive(Debug)]
struct OpenElement {
    element: Element,
    /// The name as written, which the end tag must repeat.
    qualified_name: String,
    scope: Scope,
}

/// Turns complete units into elements and events.
#[derive(Debug)]
struct TreeBuilder {
    limits: Limits,
    phase: Phase,
    /// Bytes of the stanza (or stream header) in progress, up to the unit
    /// being handled.
    stanza_bytes: usize,
    /// The stream element's name as written and its declarations.
    stream: Option<OpenElement>,
    /// The elements of the stanza in progress, outermost first.
    open: Vec<OpenElement>,
    /// The stream header was an empty element: the end follows at once.
    end_pending: bool,
}

fn is_xml_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// All a parser made of a byte stream: its events in order and the error it stopped at. Checks
/// that compare two ways of feeding the same bytes (the parser tests, the fuzz target) compare
/// these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOutcome {
    /// The events, in order, up to the error if there was one.
    pub events: Vec<StreamEvent>,
    /// The error that stopped the stream, if it stopped.
    pub error: Option<ParseError>,
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser::new()
    }
}

impl StreamParser {
    /// A parser with [`Limits::DEFAULT`].
    pub fn new() -> Self {
        StreamParser::with_limits(Limits::DEFAULT)
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        StreamParser {
            input: Input::default(),
            tree: TreeBuilder::new(limits),
            failure: None,
        }
    }

    /// Feeds `chunks` one after the other to a new parser with `limits`, taking every event
    /// each one completes.
    pub fn parse_chunks(limits: Limits, chunks: &[&[u8]]) -> ParseOutcome {
        let mut parser = StreamParser::with_limits(limits);
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk);
            loop {
                match parser.next_event() {
                    Ok(Some(event)) => events.push(event),
                    Ok(None) => break,
                    Err(error) => {
                        return ParseOutcome {
                            events,
                            error: Some(error),
                        }
                    }
                }
            }
        }
        ParseOutcome {
            events,
            error: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.tree.limits
    }

    /// Appends bytes received from the peer. Parsing happens in
    /// [`StreamParser::next_event`]. Input is dropped after an error or the
    /// end of the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failure.is_some() || self.tree.phase == Phase::Closed {
            return;
        }
        // Compact only once the parsed prefix is at least half the buffer, so
        // that each byte is moved a bounded number of times however the input
        // is split.
        if self.input.position > 0 && self.input.position * 2 >= self.input.buffer.len() {
            self.input.buffer.drain(..self.input.position);
            self.input.position = 0;
        }
        self.input.buffer.extend_from_slice(bytes);
    }

    /// The next event, `Ok(None)` if more input is needed (or the stream has
    /// ended), or the error that stops the stream.
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, ParseError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let result = self.advance();
        if let Err(error) = &result {
            self.failure = Some(error.clone());
        }
        result
    }

    /// Starts a new stream (RFC 6120 §4.3.3, after STARTTLS or SASL success):
    /// the next event must be a new stream header. Keeps the limits and the
    /// input not yet parsed; forgets everything else, including an error.
    pub fn reset(&mut self) {
        self.input.scanner = Scanner::default();
        self.tree = TreeBuilder::new(self.tree.limits);
        self.failure = None;
    }

    /// Bytes fed but not yet parsed into events (a partial stanza, or input
    /// behind a pending event).
    pub fn buffered_bytes(&self) -> usize {
        self.input.buffer.len() - self.input.position
    }

    fn advance(&mut self) -> Result<Option<StreamEvent>, ParseError> {
        loop {
            if self.tree.end_pending {
                self.tree.end_pending = false;
                self.tree.phase = Phase::Closed;
                return Ok(Some(StreamEvent::StreamEnd));
            }
            if self.tree.phase == Phase::Closed {
                return Ok(None);
            }
            let input = &mut self.input;
            if self.tree.open.is_empty() {
                // Outside any stanza: whitespace is skipped, never buffered.
                let rest = &input.buffer[input.position..];
                let skipped = rest
                    .iter()
                    .take_while(|byte| is_xml_whitespace(**byte))
                    .count();
                input.position += skipped;
                match input.buffer.get(input.position) {
                    None => return Ok(None),
                    Some(b'<') => {}
                    Some(_) if self.tree.phase == Phase::Stream => {
                        return Err(ParseError::TextOutsideStanza)
                    }
                    Some(_) => return Err(ParseError::malformed("text before the stream header")),
                }
            }
            let stanza_bytes_max = self.tree.limits.stanza_bytes_max;
            let allowance = stanza_bytes_max.saturating_sub(self.tree.stanza_bytes);
            let available = input.buffer.len() - input.position;
            let window = &input.buffer[input.position..input.position + available.min(allowance)];
            let Some(unit) = input.scanner.scan(window)? else {
                if available >= allowance {
                    return Err(ParseError::LimitExceeded {
                        limit: Limit::StanzaBytes,
                        max: stanza_bytes_max,
                    });
                }
                return Ok(None);
            };
            let text = str::from_utf8(&window[..unit.length])
                .map_err(|_| ParseError::malformed("invalid UTF-8"))?;
            let event = self.tree.handle(unit.kind, text)?;
            input.position += unit.length;
            if let Some(event) = event {
                return Ok(Some(event));
            }
        }
    }
}

impl TreeBuilder {
    fn new(limits: Limits) -> Self {
        TreeBuilder {
            limits,
            phase: Phase::Prolog {
                declaration_seen: false,
            },
            stanza_bytes: 0,
            stream: None,
            open: Vec::new(),
            end_pending: false,
        }
    }

    fn handle(&mut self, kind: UnitKind, text: &str) -> Result<Option<StreamEvent>, ParseError> {
        self.stanza_bytes += text.len();
        match kind {
            UnitKind::ProcessingInstruction => self.declaration(text).map(|()| None),
            UnitKind::StartTag { empty } => self.start_tag(text, empty),
            UnitKind::EndTag => self.end_tag(text),
            UnitKind::Text => self.text(text, Context::Text).map(|()| None),
            UnitKind::CData => {
                let content = &text["<![CDATA[".len()..text.len() - "]]>".len()];
                self.text(content, Context::CData).map(|()| None)
            }
        }
    }

    /// `<?xml version='1.0' encoding='UTF-8'?>`, once, before the header; any
    /// other processing instruction is restricted.
    fn declaration(&mut self, text: &str) -> Result<(), ParseError> {
        let content = &text[2..text.len() - 2];
        let target = content
            .split(|character: char| character.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        if target != "xml" {
            return Err(ParseError::Restricted(Restriction::ProcessingInstruction));
        }
        if self.phase
            != (Phase::Prolog {
                declaration_seen: false,
            })
        {
            return Err(ParseError::malformed("XML declaration not at the start"));
        }
        let mut reader = Reader::from_str(text);
        let Ok(Event::Decl(declaration)) = reader.read_event() else {
            return Err(ParseError::malformed("XML declaration syntax"));
        };
        match declaration.version() {
            Ok(version) if version.starts_with(b"1.") => {}
            _ => return Err(ParseError::malformed("XML declaration version")),
        }
        match declaration.encoding() {
            None => {}
            Some(Ok(encoding)) if encoding.eq_ignore_ascii_case(b"UTF-8") => {}
            Some(Ok(encoding)) => {
                return Err(ParseError::UnsupportedEncoding(
                    String::from_utf8_lossy(&encoding).into_owned(),
                ))
            }
            Some(Err(_)) => return Err(ParseError::malformed("XML declaration encoding")),
        }
        self.phase = Phase::Prolog {
            declaration_seen: true,
        };
        self.stanza_bytes = 0;
        Ok(())
    }

    fn start_tag(&mut self, text: &str, empty: bool) -> Result<Option<StreamEvent>, ParseError> {
        if matches!(self.phase, Phase::Stream) && self.open.len() >= self.limits.depth_max {
            return Err(self.limit(Limit::Depth));
        }
        let opened = self.parse_start_tag(text)?;
        if let Phase::Prolog { .. } = self.phase {
            return self.stream_header(opened, empty).map(Some);
        }
        if empty {
            return Ok(self.close(opened.element));
        }
        self.open.push(opened);
        Ok(None)
    }

    fn stream_header(
        &mut self,
        opened: OpenElement,
        empty: bool,
    ) -> Result<StreamEvent, ParseError> {
        let element = &opened.element;
        if !element.is("stream", NS_STREAMS) {
            return Err(ParseError::InvalidStreamHeader {
                name: element.name.clone(),
                namespace: element.namespace.clone(),
            });
        }
        let header = StreamHeader {
            default_namespace: opened.scope.default_namespace.clone().unwrap_or_default(),
            attrs: opened.element.attrs.clone(),
        };
        self.stream = Some(opened);
        self.phase = Phase::Stream;
        self.stanza_bytes = 0;
        self.end_pending = empty;
        Ok(StreamEvent::StreamStart(header))
    }

    /// An element is complete: it becomes a child of its parent, or, at the
    /// top, the stanza handed out.
    fn close(&mut self, element: Element) -> Option<StreamEvent> {
        match self.open.last_mut() {
            Some(parent) => {
                parent.element.children.push(Node::Element(element));
                None
            }
            None => {
                self.stanza_bytes = 0;
                Some(StreamEvent::Stanza(element))
            }
        }
    }

    fn end_tag(&mut self, text: &str) -> Result<Option<StreamEvent>, ParseError> {
        let name = text[2..text.len() - 1].trim_end_matches(|character: char| {
            character.is_ascii() && is_xml_whitespace(character as u8)
        });
        if self.phase != Phase::Stream {
            return Err(ParseError::malformed("end tag before the stream header"));
        }
        let Some(open) = self.open.pop() else {
            let matches = self
                .stream
                .as_ref()
                .is_some_and(|stream| stream.qualified_name == name);
            if !matches {
                return Err(ParseError::malformed(
                    "end tag does not match the stream header",
                ));
            }
            self.phase = Phase::Closed;
            return Ok(Some(StreamEvent::StreamEnd));
        };
        if open.qualified_name != name {
            return Err(ParseError::malformed(
                "end tag does not match the start tag",
            ));
        }
        Ok(self.close(open.element))
    }

    fn text(&mut self, raw: &str, context: Context) -> Result<(), ParseError> {
        let text_bytes_max = self.limits.text_bytes_max;
        let Some(open) = self.open.last_mut() else {
            return Err(match self.phase {
                Phase::Stream => ParseError::TextOutsideStanza,
                _ => ParseError::malformed("text before the stream header"),
            });
        };
        let children = &mut open.element.children;
        if !matches!(children.last(), Some(Node::Text(_))) {
            children.push(Node::Text(String::new()));
        }
        if let Some(Node::Text(node)) = children.last_mut() {
            decode_into(raw, context, node)?;
            if node.len() > text_bytes_max {
                return Err(self.limit(Limit::TextBytes));
            }
            if node.is_empty() {
                children.pop();
            }
        }
        Ok(())
    }

    fn limit(&self, limit: Limit) -> ParseError {
        ParseError::LimitExceeded {
            limit,
            max: self.limits.get(limit),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), ParseError> {
        if name.len() > self.limits.name_bytes_max {
            return Err(self.limit(Limit::NameBytes));
        }
        Ok(())
    }

    /// Parses `<name attr='value' ...>` (or `.../>`) and resolves its names.
    fn parse_start_tag(&self, text: &str) -> Result<OpenElement, ParseError> {
        let mut reader = Reader::from_str(text);
        let start = match reader.read_event() {
            Ok(Event::Start(start)) | Ok(Event::Empty(start)) => start,
            _ => return Err(ParseError::malformed("start tag syntax")),
        };
        let qualified_name = str::from_utf8(start.name().into_inner())
            .map_err(|_| ParseError::malformed("invalid UTF-8"))?
            .to_owned();
        self.check_name(&qualified_name)?;
        let (prefix, local_name) = split_qname(&qualified_name)?;
        if prefix == Some("xmlns") {
            return Err(ParseError::malformed("element with the xmlns prefix"));
        }
        check_attribute_separation(text)?;
        let mut scope = Scope::default();
        // (prefix, local name, value) of ordinary attributes.
        let mut raw_attrs: Vec<(Option<String>, String, String)> = Vec::new();
        for (count, attr) in start.attributes().with_checks(true).enumerate() {
            if count >= self.limits.attributes_max {
                return Err(self.limit(Limit::Attributes));
            }
            let attr = attr.map_err(|_| ParseError::malformed("attribute syntax"))?;
            let key = str::from_utf8(attr.key.into_inner())
                .map_err(|_| ParseError::malformed("invalid UTF-8"))?;
            self.check_name(key)?;
            if attr.value.len() > self.limits.attribute_value_bytes_max {
                return Err(self.limit(Limit::AttributeValueBytes));
            }
            let raw_value =
                str::from_utf8(&attr.value).map_err(|_| ParseError::malformed("invalid UTF-8"))?;
            let mut value = String::with_capacity(raw_value.len());
            decode_into(raw_value, Context::Attribute, &mut value)?;
            match split_qname(key)? {
                (None, "xmlns") => {
                    if value == NS_XML || value == NS_XMLNS {
                        return Err(ParseError::malformed("reserved namespace as default"));
                    }
                    scope.default_namespace = Some(value);
                }
                (Some("xmlns"), declared) => declare_prefix(&mut scope, declared, value)?,
                (attr_prefix, attr_name) => {
                    raw_attrs.push((attr_prefix.map(str::to_owned), attr_name.to_owned(), value))
                }
            }
        }
        let namespace = match prefix {
            Some(prefix) => self.resolve_prefix(prefix, &scope)?,
            None => self.default_namespace(&scope).to_owned(),
        };
        let mut attrs: Vec<Attribute> = Vec::with_capacity(raw_attrs.len());
        for (attr_prefix, name, value) in raw_attrs {
            let attr_namespace = match attr_prefix {
                Some(attr_prefix) => Some(self.resolve_prefix(&attr_prefix, &scope)?),
                None => None,
            };
            if attrs
                .iter()
                .any(|other| other.name == name && other.namespace == attr_namespace)
            {
                return Err(ParseError::malformed("duplicate attribute"));
            }
            attrs.push(Attribute {
                name,
                namespace: attr_namespace,
                value,
            });
        }
        let element = Element {
            name: local_name.to_owned(),
            namespace,
            attrs,
            children: Vec::new(),
        };
        Ok(OpenElement {
            element,
            qualified_name,
            scope,
        })
    }

    /// Scopes from the innermost out: the element being opened, the open
    /// elements of the stanza, the stream element.
    fn scopes<'a>(&'a self, own: &'a Scope) -> impl Iterator<Item = &'a Scope> {
        std::iter::once(own)
            .chain(self.open.iter().rev().map(|open| &open.scope))
            .chain(self.stream.iter().map(|stream| &stream.scope))
    }

    fn resolve_prefix(&self, prefix: &str, own: &Scope) -> Result<String, ParseError> {
        if prefix == "xml" {
            return Ok(NS_XML.to_owned());
        }
        self.scopes(own)
            .find_map(|scope| {
                scope
                    .prefixes
                    .iter()
                    .find(|(declared, _)| declared == prefix)
                    .map(|(_, namespace)| namespace.clone())
            })
            .ok_or_else(|| ParseError::UndeclaredPrefix {
                prefix: prefix.to_owned(),
            })
    }

    fn default_namespace<'a>(&'a self, own: &'a Scope) -> &'a str {
        self.scopes(own)
            .find_map(|scope| scope.default_namespace.as_deref())
            .unwrap_or_default()
    }
}

/// XML requires whitespace between attributes (`<a b='1'c='2'>` is not
/// well-formed); quick-xml does not check it. After each closing quote, the
/// next byte must be whitespace or the end of the tag.
fn check_attribute_separation(tag: &str) -> Result<(), ParseError> {
    let bytes = tag.as_bytes();
    let mut open_quote: Option<u8> = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match open_quote {
            None if byte == b'\'' || byte == b'"' => open_quote = Some(byte),
            Some(quote) if byte == quote => {
                open_quote = None;
                let next = bytes.get(index + 1).copied().unwrap_or(b'>');
                if !(is_xml_whitespace(next) || next == b'/' || next == b'>') {
                    return Err(ParseError::malformed("no whitespace between attributes"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `xmlns:prefix='namespace'`, with the rules of XML Namespaces 1.0 §3.
fn declare_prefix(scope: &mut Scope, prefix: &str, namespace: String) -> Result<(), ParseError> {
    match prefix {
        "xml" if namespace == NS_XML => return Ok(()),
        "xml" | "xmlns" => return Err(ParseError::malformed("reserved prefix declared")),
        _ => {}
    }
    if namespace.is_empty() {
        return Err(ParseError::malformed("prefix bound to no namespace"));
    }
    if namespace == NS_XML || namespace == NS_XMLNS {
        return Err(ParseError::malformed(
            "reserved namespace bound to a prefix",
        ));
    }
    if scope
        .prefixes
        .iter()
        .any(|(declared, _)| declared == prefix)
    {
        return Err(ParseError::malformed("duplicate attribute"));
    }
    scope.prefixes.push((prefix.to_owned(), namespace));
    Ok(())
}
