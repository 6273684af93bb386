//! Finding where the next unit of markup ends, across chunk boundaries.
//!
//! Bytes arrive in arbitrary pieces, so the parser first needs to know when it
//! has a whole unit: a tag, an end tag, a CDATA section, a processing
//! instruction, or a run of text (which ends where the next `<` starts). The
//! scanner answers that incrementally: it remembers how far it has looked and
//! in what state (inside a quoted attribute value, say), so feeding a unit one
//! byte at a time costs linear, not quadratic, time. Every byte it looks for
//! (`<`, `>`, quotes, `?`, `]`) is ASCII and so never part of a multi-byte
//! UTF-8 sequence: a unit boundary is never inside a character, and decoding
//! waits for complete units.
//!
//! The scanner refuses comments and DTD markup as soon as their opening is
//! seen, without waiting for their end.

use quick_xml::parser::{ElementParser, Parser};

use super::error::{ParseError, Restriction};

/// What kind of unit was found. Its bytes are `window[..length]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnitKind {
    /// Character data up to (not including) the next `<`.
    Text,
    /// `<name ...>` or, if `empty`, `<name .../>`.
    StartTag { empty: bool },
    /// `</name>`.
    EndTag,
    /// `<![CDATA[...]]>`.
    CData,
    /// `<?target ...?>`.
    ProcessingInstruction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unit {
    pub(crate) kind: UnitKind,
    pub(crate) length: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the first byte of a unit.
    Start,
    Text,
    StartTag(ElementParser),
    EndTag,
    CData,
    ProcessingInstruction,
}

const CDATA_OPEN: &[u8] = b"<![CDATA[";
const COMMENT_OPEN: &[u8] = b"<!--";

/// Incremental state for the unit that starts at the beginning of the window.
#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    state: State,
    /// Bytes of the window already looked at in `state`.
    scanned: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Start,
            scanned: 0,
        }
    }
}

impl Scanner {
    /// Looks for the end of the unit at the start of `window`. `window` must
    /// start where the previous call's window started (it may have grown)
    /// until a unit is returned; then the caller drops the unit's bytes and the
    /// next call starts a new unit. `Ok(None)` means: need more bytes.
    pub(crate) fn scan(&mut self, window: &[u8]) -> Result<Option<Unit>, ParseError> {
        if self.state == State::Start {
            match classify(window)? {
                Some((state, scanned)) => {
                    self.state = state;
                    self.scanned = scanned;
                }
                None => return Ok(None),
            }
        }
        let found = match &mut self.state {
            State::Start => None,
            State::Text => find_byte(window, self.scanned, b'<').map(|end| (UnitKind::Text, end)),
            State::StartTag(parser) => parser.feed(&window[self.scanned..]).map(|offset| {
                let close = self.scanned + offset;
                let empty = window[close - 1] == b'/';
                (UnitKind::StartTag { empty }, close + 1)
            }),
            State::EndTag => {
                find_byte(window, self.scanned, b'>').map(|close| (UnitKind::EndTag, close + 1))
            }
            State::CData => {
                find_terminator(window, self.scanned, b"]]>").map(|end| (UnitKind::CData, end))
            }
            State::ProcessingInstruction => find_terminator(window, self.scanned, b"?>")
                .map(|end| (UnitKind::ProcessingInstruction, end)),
        };
        match found {
            Some((kind, length)) => {
                *self = Scanner::default();
                Ok(Some(Unit { kind, length }))
            }
            None => {
                self.scanned = match self.state {
                    // A terminator may straddle the end of the window: look at
                    // its possible first bytes again next time.
                    State::CData => window.len().saturating_sub(2).max(CDATA_OPEN.len()),
                    State::ProcessingInstruction => window.len().saturating_sub(1).max(2),
                    _ => window.len(),
                };
                Ok(None)
            }
        }
    }
}

/// Decides from the first bytes what unit starts here, returning the state to
/// scan it in and how many bytes are already accounted for.
fn classify(window: &[u8]) -> Result<Option<(State, usize)>, ParseError> {
    let Some(&first) = window.first() else {
        return Ok(None);
    };
    if first != b'<' {
        return Ok(Some((State::Text, 0)));
    }
    let Some(&second) = window.get(1) else {
        return Ok(None);
    };
    match second {
        b'/' => Ok(Some((State::EndTag, 2))),
        b'?' => Ok(Some((State::ProcessingInstruction, 2))),
        b'!' => classify_bang(window),
        _ => Ok(Some((State::StartTag(ElementParser::default()), 1))),
    }
}

/// `<!` starts a comment, a CDATA section, or a markup declaration.
fn classify_bang(window: &[u8]) -> Result<Option<(State, usize)>, ParseError> {
    match prefix_match(window, COMMENT_OPEN) {
        Match::Full => return Err(ParseError::Restricted(Restriction::Comment)),
        Match::Partial => return Ok(None),
        Match::No => {}
    }
    match prefix_match(window, CDATA_OPEN) {
        Match::Full => return Ok(Some((State::CData, CDATA_OPEN.len()))),
        Match::Partial => return Ok(None),
        Match::No => {}
    }
    match window.get(2) {
        None => Ok(None),
        // <!DOCTYPE, <!ENTITY, <!ELEMENT, <!ATTLIST, <!NOTATION
        Some(byte) if byte.is_ascii_uppercase() => Err(ParseError::Restricted(Restriction::Dtd)),
        Some(_) => Err(ParseError::malformed("`<!` starting no known markup")),
    }
}

enum Match {
    Full,
    /// The window is a proper prefix of the pattern.
    Partial,
    No,
}

fn prefix_match(window: &[u8], pattern: &[u8]) -> Match {
    let common = window.len().min(pattern.len());
    if window[..common] != pattern[..common] {
        Match::No
    } else if common == pattern.len() {
        Match::Full
    } else {
        Match::Partial
    }
}

fn find_byte(window: &[u8], from: usize, byte: u8) -> Option<usize> {
    window[from..]
        .iter()
        .position(|candidate| *candidate == byte)
        .map(|offset| from + offset)
}

/// The end (exclusive) of the first `terminator` at or after `from`.
fn find_terminator(window: &[u8], from: usize, terminator: &[u8]) -> Option<usize> {
    window[from..]
        .windows(terminator.len())
        .position(|candidate| candidate == terminator)
        .map(|offset| from + offset + terminator.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `input` fed one byte longer each time, returning the first unit.
    fn scan_growing(input: &[u8]) -> Result<Option<Unit>, ParseError> {
        let mut scanner = Scanner::default();
        for end in 1..=input.len() {
            if let Some(unit) = scanner.scan(&input[..end])? {
                return Ok(Some(unit));
            }
        }
        Ok(None)
    }

    fn check(input: &str, expected: Result<Option<Unit>, ParseError>) {
        let whole = Scanner::default().scan(input.as_bytes());
        assert_eq!(whole, expected, "whole: {input}");
        assert_eq!(scan_growing(input.as_bytes()), expected, "growing: {input}");
    }

    fn unit(kind: UnitKind, length: usize) -> Result<Option<Unit>, ParseError> {
        Ok(Some(Unit { kind, length }))
    }

    #[test]
    fn units() {
        check("hello<", unit(UnitKind::Text, 5));
        check("hello", Ok(None));
        check(
            "<a b='>' c=\">\">x",
            unit(UnitKind::StartTag { empty: false }, 15),
        );
        check("<a/>x", unit(UnitKind::StartTag { empty: true }, 4));
        check("</a >x", unit(UnitKind::EndTag, 5));
        check("<![CDATA[a]]b]>]]]>x", unit(UnitKind::CData, 19));
        check("<![CDATA[]]>", unit(UnitKind::CData, 12));
        check(
            "<?xml version='1.0'?>x",
            unit(UnitKind::ProcessingInstruction, 21),
        );
        check("<?>", Ok(None));
        check("<?a?>", unit(UnitKind::ProcessingInstruction, 5));
        check("<", Ok(None));
        check("<!", Ok(None));
        check("<![CDAT", Ok(None));
    }

    #[test]
    fn restricted_markup_is_refused_at_its_opening() {
        check("<!--", Err(ParseError::Restricted(Restriction::Comment)));
        check(
            "<!DOCTYPE x>",
            Err(ParseError::Restricted(Restriction::Dtd)),
        );
        check("<!ENTITY", Err(ParseError::Restricted(Restriction::Dtd)));
        check(
            "<!x",
            Err(ParseError::malformed("`<!` starting no known markup")),
        );
        check(
            "<!-x",
            Err(ParseError::malformed("`<!` starting no known markup")),
        );
        check(
            "<![CDATX",
            Err(ParseError::malformed("`<!` starting no known markup")),
        );
    }
}
