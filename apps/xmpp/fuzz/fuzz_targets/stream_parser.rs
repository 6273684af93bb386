//! Fuzzes the XMPP stream parser with three oracles:
//! - it never panics, whatever the bytes;
//! - feeding the input in chunks gives the same events and error as feeding
//!   it whole (the first input byte picks the chunk length, 1 to 16);
//! - every stanza it yields, serialized and parsed again, is the same tree.

#![no_main]

use bream_xmpp::xml::serialize::write_stream_open;
use bream_xmpp::xml::{Element, Limits, NamespaceContext, StreamEvent, StreamParser, NS_CLIENT};
use libfuzzer_sys::fuzz_target;

/// Bounds for re-parsing a serialized stanza: escaping and generated prefix
/// declarations may make it larger than the original, never deeper.
const ROUND_TRIP_LIMITS: Limits = Limits {
    stanza_bytes_max: 1 << 24,
    depth_max: Limits::DEFAULT.depth_max,
    attributes_max: 1 << 16,
    attribute_value_bytes_max: 1 << 24,
    text_bytes_max: 1 << 24,
    name_bytes_max: 1 << 16,
};

fn round_trip(stanza: &Element) {
    let mut document = String::new();
    write_stream_open(&mut document, NS_CLIENT, &[]);
    document.push_str(&stanza.to_xml_in(&NamespaceContext::CLIENT_STREAM));
    let outcome = StreamParser::parse_chunks(ROUND_TRIP_LIMITS, &[document.as_bytes()]);
    assert_eq!(
        outcome.error, None,
        "serialized stanza does not parse: {document}"
    );
    assert_eq!(
        outcome.events.get(1),
        Some(&StreamEvent::Stanza(stanza.clone())),
        "{document}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let whole = StreamParser::parse_chunks(Limits::DEFAULT, &[input]);
    let chunk_length = usize::from(seed % 16) + 1;
    let chunks: Vec<&[u8]> = input.chunks(chunk_length).collect();
    assert_eq!(StreamParser::parse_chunks(Limits::DEFAULT, &chunks), whole);
    for event in &whole.events {
        if let StreamEvent::Stanza(stanza) = event {
            round_trip(stanza);
        }
    }
});
