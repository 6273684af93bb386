//! Just enough XML for a load generator: cut an XMPP stream into its header and top-level
//! stanzas, and read a few things from a stanza (its name, a root attribute, a child's text).
//!
//! This is not a general parser, on purpose: the load generator must cost the machine as
//! little as possible, and it only reads what servers write in reply to its own requests. It
//! frames by tracking tags, quoted attribute values, comments, CDATA and processing
//! instructions; it does not check well-formedness or resolve namespaces (names are matched
//! by local part, prefixes ignored).
//!
//! ```
//! use bream_load::xml::{Framer, Event, root_name, attribute, child_text};
//!
//! let mut framer = Framer::new(65_536);
//! framer.feed(b"<?xml version='1.0'?><stream:stream from='localhost' version='1.0'>");
//! framer.feed(b"<message from='a@localhost/r' type='chat'><body>hi &amp; bye</body></mess");
//! assert!(matches!(framer.next_event(), Ok(Some(Event::StreamStart(_)))));
//! assert_eq!(framer.next_event(), Ok(None)); // the message is not complete yet
//! framer.feed(b"age> </stream:stream>");
//! let Ok(Some(Event::Stanza(stanza))) = framer.next_event() else { panic!() };
//! assert_eq!(root_name(&stanza), "message");
//! assert_eq!(attribute(&stanza, "type").as_deref(), Some("chat"));
//! assert_eq!(child_text(&stanza, "body").as_deref(), Some("hi & bye"));
//! assert_eq!(framer.next_event(), Ok(Some(Event::StreamEnd)));
//! ```

use std::borrow::Cow;
use std::fmt;

/// One thing read from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `<stream:stream ...>`: the start tag's text.
    StreamStart(String),
    /// One complete top-level element, as text.
    Stanza(String),
    /// `</stream:stream>`.
    StreamEnd,
}

/// The stream could not be framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// An element grew past the framer's limit (bytes) before it ended.
    TooLarge(usize),
    /// Bytes that are not UTF-8 inside a complete element.
    NotUtf8,
    /// A close tag with no element open, other than the stream's.
    UnexpectedClose,
}

impl fmt::Display for FrameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge(limit) => write!(formatter, "element larger than {limit} bytes"),
            FrameError::NotUtf8 => formatter.write_str("element is not UTF-8"),
            FrameError::UnexpectedClose => formatter.write_str("close tag without open element"),
        }
    }
}

impl std::error::Error for FrameError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Open,
    SelfClosing,
    Close,
    /// `<?...?>`, `<!--...-->`, `<![CDATA[...]]>`, `<!DOCTYPE ...>`.
    Other,
}

/// Cuts bytes into [`Event`]s. Feed bytes as they arrive, then take events until `Ok(None)`.
pub struct Framer {
    buffer: Vec<u8>,
    /// Bytes of `buffer` already returned as events.
    start: usize,
    bytes_max: usize,
}

impl Framer {
    /// A framer that refuses an element longer than `bytes_max`.
    pub fn new(bytes_max: usize) -> Self {
        Framer {
            buffer: Vec::with_capacity(1024),
            start: 0,
            bytes_max,
        }
    }

    /// Appends bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Drops everything buffered (after STARTTLS or SASL success, the stream restarts).
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.start = 0;
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Event>, FrameError> {
        loop {
            let data = &self.buffer[self.start..];
            // Text between stanzas (whitespace keepalives) is skipped.
            let Some(open) = data.iter().position(|&byte| byte == b'<') else {
                self.start = self.buffer.len();
                self.compact();
                return Ok(None);
            };
            let data = &data[open..];
            let Some((tag_end, tag)) = scan_tag(data) else {
                return self.need_more(open);
            };
            match tag {
                Tag::Other => {
                    self.start += open + tag_end;
                }
                Tag::Close => {
                    self.start += open + tag_end;
                    if local_name(&data[2..]) == b"stream" {
                        return Ok(Some(Event::StreamEnd));
                    }
                    return Err(FrameError::UnexpectedClose);
                }
                Tag::Open if local_name(&data[1..]) == b"stream" => {
                    let text = utf8(&data[..tag_end])?;
                    self.start += open + tag_end;
                    return Ok(Some(Event::StreamStart(text)));
                }
                Tag::SelfClosing => {
                    let text = utf8(&data[..tag_end])?;
                    self.start += open + tag_end;
                    return Ok(Some(Event::Stanza(text)));
                }
                Tag::Open => match element_end(data, tag_end) {
                    Some(end) => {
                        let text = utf8(&data[..end])?;
                        self.start += open + end;
                        return Ok(Some(Event::Stanza(text)));
                    }
                    None => return self.need_more(open),
                },
            }
        }
    }

    fn need_more(&mut self, open: usize) -> Result<Option<Event>, FrameError> {
        self.start += open;
        if self.buffer.len() - self.start > self.bytes_max {
            return Err(FrameError::TooLarge(self.bytes_max));
        }
        self.compact();
        Ok(None)
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, FrameError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::NotUtf8)
}

/// `data` starts with `<`: the length of the tag (through its `>`) and its kind, or `None` if
/// the tag is not complete.
fn scan_tag(data: &[u8]) -> Option<(usize, Tag)> {
    let find = |needle: &[u8], from: usize| {
        data.get(from..)?
            .windows(needle.len())
            .position(|window| window == needle)
            .map(|at| from + at + needle.len())
    };
    if data.starts_with(b"<?") {
        return find(b"?>", 2).map(|end| (end, Tag::Other));
    }
    if data.starts_with(b"<!--") {
        return find(b"-->", 4).map(|end| (end, Tag::Other));
    }
    if data.starts_with(b"<![CDATA[") {
        return find(b"]]>", 9).map(|end| (end, Tag::Other));
    }
    if data.len() < 2 {
        return None;
    }
    let mut quote = None;
    for (index, &byte) in data.iter().enumerate().skip(1) {
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(byte),
            (None, b'>') => {
                let tag = if data[1] == b'/' {
                    Tag::Close
                } else if data[1] == b'!' {
                    Tag::Other
                } else if data[index - 1] == b'/' {
                    Tag::SelfClosing
                } else {
                    Tag::Open
                };
                return Some((index + 1, tag));
            }
            (None, _) => {}
        }
    }
    None
}

/// `data` starts with an open tag `tag_end` bytes long: where the element ends, or `None`.
fn element_end(data: &[u8], tag_end: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut position = tag_end;
    while depth > 0 {
        let open = data[position..].iter().position(|&byte| byte == b'<')?;
        position += open;
        let (length, tag) = scan_tag(&data[position..])?;
        position += length;
        match tag {
            Tag::Open => depth += 1,
            Tag::Close => depth -= 1,
            Tag::SelfClosing | Tag::Other => {}
        }
    }
    Some(position)
}

/// The local part of the name that `data` starts with (`stream:stream` → `stream`).
fn local_name(data: &[u8]) -> &[u8] {
    let end = data
        .iter()
        .position(|&byte| byte.is_ascii_whitespace() || byte == b'>' || byte == b'/')
        .unwrap_or(data.len());
    let name = &data[..end];
    match name.iter().rposition(|&byte| byte == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

/// The local name of the root element of `stanza`.
pub fn root_name(stanza: &str) -> &str {
    let rest = stanza.strip_prefix('<').unwrap_or(stanza);
    let name = local_name(rest.as_bytes());
    // `local_name` cuts at ASCII bytes, so the slice is on a character boundary.
    std::str::from_utf8(name).unwrap_or("")
}

/// The start tag of `stanza`'s root (through its `>`).
fn start_tag(stanza: &str) -> &str {
    match scan_tag(stanza.as_bytes()) {
        Some((end, _)) => &stanza[..end],
        None => stanza,
    }
}

/// The unescaped value of the root element's attribute `name`.
pub fn attribute(stanza: &str, name: &str) -> Option<String> {
    let tag = start_tag(stanza);
    let mut search_from = 0;
    while let Some(found) = tag[search_from..].find(name) {
        let at = search_from + found;
        search_from = at + name.len();
        let preceded_by_space = tag[..at]
            .chars()
            .next_back()
            .is_some_and(|character| character.is_ascii_whitespace());
        if !preceded_by_space {
            continue;
        }
        let rest = tag[at + name.len()..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let value_end = rest[1..].find(quote)?;
        return Some(unescape(&rest[1..1 + value_end]));
    }
    None
}

/// Where the first element named `local` (any prefix) starts in `stanza`, past the root.
fn find_element(stanza: &str, local: &str) -> Option<usize> {
    let bytes = stanza.as_bytes();
    let mut position = 1;
    while let Some(open) = stanza.get(position..)?.find('<') {
        let at = position + open;
        position = at + 1;
        if matches!(bytes.get(at + 1), Some(b'/' | b'!' | b'?')) {
            continue;
        }
        if local_name(&bytes[at + 1..]) == local.as_bytes() {
            return Some(at);
        }
    }
    None
}

/// Whether `stanza` holds an element named `local` below its root.
pub fn has_child(stanza: &str, local: &str) -> bool {
    find_element(stanza, local).is_some()
}

/// The unescaped text of the first element named `local` below the root (its direct text; an
/// empty element gives `Some("")`).
pub fn child_text(stanza: &str, local: &str) -> Option<String> {
    let at = find_element(stanza, local)?;
    let (tag_length, tag) = scan_tag(&stanza.as_bytes()[at..])?;
    if tag == Tag::SelfClosing {
        return Some(String::new());
    }
    let text_start = at + tag_length;
    let text_end = text_start + stanza[text_start..].find('<')?;
    Some(unescape(&stanza[text_start..text_end]))
}

/// The texts of every element named `local` (SASL `<mechanism>`s).
pub fn children_texts(stanza: &str, local: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = stanza;
    while let Some(at) = find_element(rest, local) {
        if let Some(text) = child_text(&rest[at - 1..], local) {
            texts.push(text);
        }
        rest = &rest[at..];
    }
    texts
}

/// Replaces the five predefined entities and character references.
pub fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        output.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semicolon) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..semicolon];
        let replacement = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match replacement {
            Some(character) => {
                output.push(character);
                rest = &rest[semicolon + 1..];
            }
            None => {
                output.push('&');
                rest = &rest[1..];
            }
        }
    }
    output.push_str(rest);
    output
}

/// Escapes text for an attribute value (quoted with `'` or `"`) or element content: `&`, `<`,
/// `>`, `'` and `"` become entity references. Borrows `text` when nothing needs escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(framer: &mut Framer) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(event) = framer.next_event().unwrap() {
            events.push(event);
        }
        events
    }

    #[test]
    fn frames_byte_by_byte() {
        let stream = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'>\
            <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
            <mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-256</mechanism></mechanisms>\
            </stream:features> <!-- hi --><iq type='result' id='a>b'/>\
            <message><body><![CDATA[x]]>y</body></message></stream:stream>";
        let mut framer = Framer::new(1024);
        let mut all = Vec::new();
        for byte in stream.as_bytes() {
            framer.feed(std::slice::from_ref(byte));
            all.extend(events(&mut framer));
        }
        assert_eq!(all.len(), 5, "{all:?}");
        let Event::Stanza(features) = &all[1] else {
            panic!("{all:?}")
        };
        assert_eq!(root_name(features), "features");
        assert_eq!(
            children_texts(features, "mechanism"),
            ["PLAIN", "SCRAM-SHA-256"]
        );
        assert!(has_child(features, "mechanisms"));
        assert_eq!(all[2], Event::Stanza("<iq type='result' id='a>b'/>".into()));
        assert_eq!(
            attribute("<iq type='result' id='a>b'/>", "id").as_deref(),
            Some("a>b")
        );
        assert_eq!(all[4], Event::StreamEnd);
    }

    #[test]
    fn limits_and_bad_input_are_errors() {
        let mut framer = Framer::new(16);
        framer.feed(b"<stream:stream><message><body>aaaaaaaaaaaaaaaaaaaaaaaa");
        assert!(matches!(
            framer.next_event(),
            Ok(Some(Event::StreamStart(_)))
        ));
        assert_eq!(framer.next_event(), Err(FrameError::TooLarge(16)));
        let mut framer = Framer::new(16);
        framer.feed(b"</iq>");
        assert_eq!(framer.next_event(), Err(FrameError::UnexpectedClose));
        let mut framer = Framer::new(16);
        framer.feed(b"<a>\xff</a>");
        assert_eq!(framer.next_event(), Err(FrameError::NotUtf8));
    }

    #[test]
    fn attributes_and_texts() {
        let stanza = "<message xml:lang='en' to=\"b@x\" from='a&amp;b@x' type='chat'>\
            <thread/><body>1 &lt; 2 &#x263A;&#65;</body></message>";
        assert_eq!(attribute(stanza, "to").as_deref(), Some("b@x"));
        assert_eq!(attribute(stanza, "from").as_deref(), Some("a&b@x"));
        assert_eq!(attribute(stanza, "lang"), None);
        assert_eq!(attribute(stanza, "id"), None);
        assert_eq!(
            child_text(stanza, "body").as_deref(),
            Some("1 < 2 \u{263A}A")
        );
        assert_eq!(child_text(stanza, "thread").as_deref(), Some(""));
        assert_eq!(child_text(stanza, "subject"), None);
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &apos;b&apos;&gt;");
        assert_eq!(unescape("a &bogus; b &"), "a &bogus; b &");
    }
}
