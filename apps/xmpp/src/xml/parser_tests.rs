//! Tests of [`StreamParser`]: scenarios, limits at zero and at the edge, and
//! properties (chunking does not matter, serialized trees parse back, no input
//! panics).

use proptest::prelude::*;

use super::*;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

fn parse(input: &str) -> ParseOutcome {
    StreamParser::parse_chunks(Limits::DEFAULT, &[input.as_bytes()])
}

/// Parses `input` whole, then byte by byte, checks both agree, and returns the
/// outcome.
fn check(input: &str) -> ParseOutcome {
    check_with(Limits::DEFAULT, input)
}

fn check_with(limits: Limits, input: &str) -> ParseOutcome {
    let whole = StreamParser::parse_chunks(limits, &[input.as_bytes()]);
    let bytes: Vec<&[u8]> = input.as_bytes().chunks(1).collect();
    let byte_by_byte = StreamParser::parse_chunks(limits, &bytes);
    assert_eq!(whole, byte_by_byte, "input: {input}");
    whole
}

fn stanzas(outcome: &ParseOutcome) -> Vec<&Element> {
    outcome
        .events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Stanza(element) => Some(element),
            _ => None,
        })
        .collect()
}

fn only_stanza(body: &str) -> Element {
    let outcome = check(&format!("{HEADER}{body}"));
    assert_eq!(outcome.error, None, "{body}");
    let stanzas = stanzas(&outcome);
    assert_eq!(stanzas.len(), 1, "{body}");
    stanzas[0].clone()
}

fn error_of(input: &str) -> ParseError {
    match check(input).error {
        Some(error) => error,
        None => panic!("no error for {input}"),
    }
}

fn error_in_stream(body: &str) -> ParseError {
    error_of(&format!("{HEADER}{body}"))
}

#[test]
fn stream_header_stanzas_and_end() {
    let outcome = check(&format!(
        "{HEADER}<message to='juliet@example.com' type='chat'><body>hi</body></message>\
         <presence/></stream:stream>"
    ));
    assert_eq!(outcome.error, None);
    let [StreamEvent::StreamStart(header), StreamEvent::Stanza(message), StreamEvent::Stanza(presence), StreamEvent::StreamEnd] =
        &outcome.events[..]
    else {
        panic!("unexpected events {:?}", outcome.events);
    };
    assert_eq!(header.default_namespace, NS_CLIENT);
    assert_eq!(header.to(), Some("example.com"));
    assert_eq!(header.version(), Some("1.0"));
    assert_eq!(header.from(), None);
    assert_eq!(header.id(), None);
    let expected = Element::new("message", NS_CLIENT)
        .with_attr("to", "juliet@example.com")
        .with_attr("type", "chat")
        .with_child(Element::new("body", NS_CLIENT).with_text("hi"));
    assert_eq!(message, &expected);
    assert_eq!(presence, &Element::new("presence", NS_CLIENT));
}

#[test]
fn header_without_declaration_with_lang_and_other_prefix() {
    let outcome = check(
        "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server' \
         xml:lang='en'><s:features/><db:result xmlns:db='jabber:server:dialback'/>",
    );
    assert_eq!(outcome.error, None);
    let StreamEvent::StreamStart(header) = &outcome.events[0] else {
        panic!("{:?}", outcome.events);
    };
    assert_eq!(header.lang(), Some("en"));
    assert_eq!(header.default_namespace, NS_SERVER);
    let stanzas = stanzas(&outcome);
    assert!(stanzas[0].is("features", NS_STREAMS));
    assert!(stanzas[1].is("result", "jabber:server:dialback"));
}

#[test]
fn empty_stream_header_is_start_then_end() {
    let outcome = check("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    assert_eq!(outcome.error, None);
    assert!(matches!(
        outcome.events[..],
        [StreamEvent::StreamStart(_), StreamEvent::StreamEnd]
    ));
}

#[test]
fn namespaces_are_resolved() {
    let stanza = only_stanza(
        "<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query>\
         <p:x xmlns:p='urn:p' p:attr='1' xml:lang='fr'><p:y/><z/></p:x>\
         <stream:error/><w xmlns=''/></iq>",
    );
    assert!(stanza.is("iq", NS_CLIENT));
    let query = stanza.child("query", "jabber:iq:roster").expect("query");
    assert!(query.child("item", "jabber:iq:roster").is_some());
    let x = stanza.child("x", "urn:p").expect("x");
    assert_eq!(x.ns_attr("urn:p", "attr"), Some("1"));
    assert_eq!(x.attr("attr"), None);
    assert_eq!(x.lang(), Some("fr"));
    assert!(x.child("y", "urn:p").is_some());
    // An unprefixed child of a prefixed element keeps the default namespace.
    assert!(x.child("z", NS_CLIENT).is_some());
    assert!(stanza.child("error", NS_STREAMS).is_some());
    assert!(stanza.child("w", "").is_some());
}

#[test]
fn prefix_declared_on_stream_is_inherited() {
    let outcome = check(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
         xmlns:x='urn:x'><x:a/>",
    );
    assert_eq!(outcome.error, None);
    assert!(stanzas(&outcome)[0].is("a", "urn:x"));
}

#[test]
fn namespace_errors() {
    assert_eq!(
        error_in_stream("<a><q:b/></a>"),
        ParseError::UndeclaredPrefix { prefix: "q".into() }
    );
    assert_eq!(
        error_in_stream("<a q:b='1'/>"),
        ParseError::UndeclaredPrefix { prefix: "q".into() }
    );
    // Declarations on a finished element do not leak to its siblings.
    assert_eq!(
        error_in_stream("<a><b xmlns:q='urn:q'/><q:c/></a>"),
        ParseError::UndeclaredPrefix { prefix: "q".into() }
    );
    for body in [
        "<a xmlns:q=''/>",
        "<a xmlns:xmlns='urn:x'/>",
        "<a xmlns:xml='urn:x'/>",
        "<a xmlns:q='http://www.w3.org/XML/1998/namespace'/>",
        "<a xmlns='http://www.w3.org/2000/xmlns/'/>",
        "<xmlns:a/>",
        "<a xmlns:p='urn:x' xmlns:q='urn:x' p:b='1' q:b='2'/>",
    ] {
        assert!(
            matches!(error_in_stream(body), ParseError::NotWellFormed { .. }),
            "{body}"
        );
    }
    // Binding `xml` to its own namespace is allowed and changes nothing.
    assert!(
        only_stanza("<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>")
            .lang()
            .is_some()
    );
}

#[test]
fn whitespace_between_stanzas_is_skipped() {
    let outcome = check(&format!("\n  {HEADER} \r\n\t <presence/>  \n <presence/> "));
    assert_eq!(outcome.error, None);
    assert_eq!(stanzas(&outcome).len(), 2);
}

#[test]
fn keepalive_whitespace_is_not_buffered() {
    let mut parser = StreamParser::new();
    parser.feed(HEADER.as_bytes());
    assert!(matches!(
        parser.next_event(),
        Ok(Some(StreamEvent::StreamStart(_)))
    ));
    for _ in 0..10_000 {
        parser.feed(b" ");
        assert_eq!(parser.next_event(), Ok(None));
    }
    assert_eq!(parser.buffered_bytes(), 0);
}

#[test]
fn text_outside_stanza() {
    assert_eq!(error_in_stream("hello"), ParseError::TextOutsideStanza);
    assert_eq!(
        error_in_stream("<![CDATA[x]]>"),
        ParseError::TextOutsideStanza
    );
    assert!(matches!(
        error_of("hello<stream:stream/>"),
        ParseError::NotWellFormed { .. }
    ));
}

#[test]
fn whitespace_inside_stanzas_is_kept() {
    let stanza = only_stanza("<message>\n  <body> a  b </body>\n</message>");
    assert_eq!(stanza.children.len(), 3);
    assert_eq!(stanza.text(), "\n  \n");
    assert_eq!(
        stanza.child("body", NS_CLIENT).map(Element::text),
        Some(" a  b ".into())
    );
}

#[test]
fn text_references_and_cdata_merge_into_one_node() {
    let stanza = only_stanza("<body>a &lt;&#x263A;<![CDATA[<&>]]>&amp;b\r\nc</body>");
    assert_eq!(stanza.children, vec![Node::Text("a <☺<&>&b\nc".into())]);
    let stanza = only_stanza("<body><![CDATA[]]></body>");
    assert!(stanza.children.is_empty());
}

#[test]
fn attribute_values_are_decoded_and_normalised() {
    let stanza = only_stanza("<a b=\"it's\" c='&quot;x&quot;' d='1\n2\t3&#10;4'/>");
    assert_eq!(stanza.attr("b"), Some("it's"));
    assert_eq!(stanza.attr("c"), Some("\"x\""));
    assert_eq!(stanza.attr("d"), Some("1 2 3\n4"));
}

#[test]
fn restricted_xml() {
    let restricted = |input: &str| match error_of(input) {
        ParseError::Restricted(restriction) => restriction,
        other => panic!("{input}: {other:?}"),
    };
    assert_eq!(
        restricted("<!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream/>"),
        Restriction::Dtd
    );
    assert_eq!(
        restricted("<?xml version='1.0'?><!ENTITY x 'y'>"),
        Restriction::Dtd
    );
    assert_eq!(
        restricted("<!-- hello --><stream:stream/>"),
        Restriction::Comment
    );
    assert_eq!(
        restricted(&format!("{HEADER}<!-- keepalive -->")),
        Restriction::Comment
    );
    assert_eq!(
        restricted(&format!("{HEADER}<a><!--x--></a>")),
        Restriction::Comment
    );
    assert_eq!(
        restricted("<?xml-stylesheet href='a'?><stream:stream/>"),
        Restriction::ProcessingInstruction
    );
    assert_eq!(
        restricted(&format!("{HEADER}<a><?php x?></a>")),
        Restriction::ProcessingInstruction
    );
    assert_eq!(
        restricted(&format!("{HEADER}<a>&lol;</a>")),
        Restriction::EntityReference("lol".into())
    );
    assert_eq!(
        restricted(&format!("{HEADER}<a b='&lol;'/>")),
        Restriction::EntityReference("lol".into())
    );
}

#[test]
fn xml_declaration_rules() {
    assert_eq!(check("<?xml version='1.0' encoding='utf-8'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>").error, None);
    assert_eq!(
        error_of("<?xml version='1.0' encoding='ISO-8859-1'?>"),
        ParseError::UnsupportedEncoding("ISO-8859-1".into())
    );
    for input in [
        "<?xml version='1.0'?><?xml version='1.0'?>",
        "<?xml encoding='UTF-8'?>",
        "<?xml version='2.0'?>",
        "<?XML version='1.0'?>",
    ] {
        assert!(
            matches!(
                error_of(input),
                ParseError::NotWellFormed { .. } | ParseError::Restricted(_)
            ),
            "{input}"
        );
    }
    assert!(matches!(
        error_in_stream("<?xml version='1.0'?>"),
        ParseError::NotWellFormed { .. }
    ));
}

#[test]
fn wrong_stream_header() {
    assert_eq!(
        error_of("<stream xmlns='jabber:client'>"),
        ParseError::InvalidStreamHeader {
            name: "stream".into(),
            namespace: NS_CLIENT.into()
        }
    );
    assert_eq!(
        error_of("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"),
        ParseError::InvalidStreamHeader {
            name: "features".into(),
            namespace: NS_STREAMS.into()
        }
    );
    assert_eq!(
        error_of("<stream:stream xmlns='jabber:client'>"),
        ParseError::UndeclaredPrefix {
            prefix: "stream".into()
        }
    );
    assert!(matches!(
        error_of("</stream:stream>"),
        ParseError::NotWellFormed { .. }
    ));
}

#[test]
fn malformed_markup() {
    for body in [
        "<a></b>",
        "<a><b></a></b>",
        "</stream>",
        "<a b='1' b='2'/>",
        "<a b/>",
        "<a b=1/>",
        "<a b='1'c='2'/>",
        "<a b='<'/>",
        "<1a/>",
        "< a/>",
        "<>",
        "<a:b:c/>",
        "<a>]]></a>",
        "<a>&</a>",
        "<a>&#0;</a>",
        "<a>\u{1}</a>",
        "<a></ a>",
        "<!x>",
    ] {
        let error = error_in_stream(body);
        assert!(
            matches!(error, ParseError::NotWellFormed { .. }),
            "{body}: {error:?}"
        );
    }
}

#[test]
fn stream_end_tag_may_carry_whitespace_and_input_after_end_is_ignored() {
    let outcome = check(&format!("{HEADER}</stream:stream\n>garbage<"));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.events.last(), Some(&StreamEvent::StreamEnd));
}

#[test]
fn invalid_utf8_is_not_well_formed() {
    let mut input = format!("{HEADER}<body>").into_bytes();
    input.extend_from_slice(&[0xC3, 0x28]);
    input.extend_from_slice(b"</body>");
    let outcome = StreamParser::parse_chunks(Limits::DEFAULT, &[&input]);
    assert_eq!(outcome.error, Some(ParseError::malformed("invalid UTF-8")));
}

#[test]
fn multibyte_characters_split_across_chunks() {
    let input = format!("{HEADER}<body a='é😀'>日本語 é😀</body>");
    let bytes = input.as_bytes();
    for split in 0..bytes.len() {
        let outcome =
            StreamParser::parse_chunks(Limits::DEFAULT, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(outcome.error, None, "split at {split}");
        let body = stanzas(&outcome)[0].clone();
        assert_eq!(body.text(), "日本語 é😀");
        assert_eq!(body.attr("a"), Some("é😀"));
    }
}

#[test]
fn errors_are_sticky_and_input_after_them_dropped() {
    let mut parser = StreamParser::new();
    parser.feed(b"<!DOCTYPE x>");
    let error = parser.next_event();
    assert!(error.is_err());
    parser.feed(HEADER.as_bytes());
    assert_eq!(parser.next_event(), error);
}

#[test]
fn reset_restarts_the_stream_and_keeps_pending_input() {
    let mut parser = StreamParser::new();
    parser.feed(HEADER.as_bytes());
    parser
        .feed(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
    assert!(matches!(
        parser.next_event(),
        Ok(Some(StreamEvent::StreamStart(_)))
    ));
    let Ok(Some(StreamEvent::Stanza(auth))) = parser.next_event() else {
        panic!("expected auth");
    };
    assert!(auth.is("auth", "urn:ietf:params:xml:ns:xmpp-sasl"));
    assert_eq!(auth.text(), "AGEAYg==");
    // SASL success: the client restarts the stream, and pipelines a stanza.
    parser.reset();
    parser.feed(HEADER.as_bytes());
    parser.feed(b"<iq type='set' id='bind'/>");
    assert!(matches!(
        parser.next_event(),
        Ok(Some(StreamEvent::StreamStart(_)))
    ));
    assert!(
        matches!(parser.next_event(), Ok(Some(StreamEvent::Stanza(iq))) if iq.is("iq", NS_CLIENT))
    );
    assert_eq!(parser.next_event(), Ok(None));
}

#[test]
fn reset_clears_an_error_and_a_half_stanza() {
    let mut parser = StreamParser::new();
    parser.feed(HEADER.as_bytes());
    parser.feed(b"<message><body>half");
    assert!(matches!(
        parser.next_event(),
        Ok(Some(StreamEvent::StreamStart(_)))
    ));
    assert_eq!(parser.next_event(), Ok(None));
    parser.reset();
    // The unparsed half stanza is still there and is not a stream header.
    assert!(parser.next_event().is_err());
}

// Limits, each at the edge and at zero.

fn limits(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::DEFAULT;
    change(&mut limits);
    limits
}

fn limit_error(limit: Limit, max: usize) -> Option<ParseError> {
    Some(ParseError::LimitExceeded { limit, max })
}

/// A header with one attribute, whose longest name is 13 bytes and longest
/// value 32 bytes, so that limits can be tested below those sizes.
const SHORT_HEADER: &str = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";

#[test]
fn stanza_bytes_limit_at_the_edge() {
    let stanza = format!("<message><body>{}</body></message>", "x".repeat(100));
    let fits = limits(|limits| limits.stanza_bytes_max = stanza.len());
    let outcome = check_with(fits, &format!("{SHORT_HEADER}{stanza}  {stanza}"));
    assert_eq!(outcome.error, None);
    assert_eq!(stanzas(&outcome).len(), 2);
    let too_small = limits(|limits| limits.stanza_bytes_max = stanza.len() - 1);
    assert_eq!(
        check_with(too_small, &format!("{SHORT_HEADER}{stanza}")).error,
        limit_error(Limit::StanzaBytes, stanza.len() - 1)
    );
    let zero = limits(|limits| limits.stanza_bytes_max = 0);
    assert_eq!(
        check_with(zero, SHORT_HEADER).error,
        limit_error(Limit::StanzaBytes, 0)
    );
}

#[test]
fn stanza_bytes_limit_applies_before_the_stanza_ends() {
    let mut parser = StreamParser::new();
    parser.feed(HEADER.as_bytes());
    assert!(matches!(
        parser.next_event(),
        Ok(Some(StreamEvent::StreamStart(_)))
    ));
    parser.feed(b"<message><body>");
    assert_eq!(parser.next_event(), Ok(None));
    let filler = vec![b'a'; Limits::DEFAULT.stanza_bytes_max];
    parser.feed(&filler);
    assert_eq!(
        parser.next_event(),
        Err(ParseError::LimitExceeded {
            limit: Limit::StanzaBytes,
            max: 65_536
        })
    );
}

#[test]
fn stream_header_counts_against_the_stanza_bound() {
    let fits = limits(|limits| limits.stanza_bytes_max = SHORT_HEADER.len());
    assert_eq!(check_with(fits, SHORT_HEADER).error, None);
    let too_small = limits(|limits| limits.stanza_bytes_max = SHORT_HEADER.len() - 1);
    assert_eq!(
        check_with(too_small, SHORT_HEADER).error,
        limit_error(Limit::StanzaBytes, SHORT_HEADER.len() - 1)
    );
}

#[test]
fn depth_limit() {
    let nested = "<a><b><c/></b></a>";
    let fits = limits(|limits| limits.depth_max = 3);
    assert_eq!(check_with(fits, &format!("{HEADER}{nested}")).error, None);
    let too_small = limits(|limits| limits.depth_max = 2);
    assert_eq!(
        check_with(too_small, &format!("{HEADER}{nested}")).error,
        limit_error(Limit::Depth, 2)
    );
    let zero = limits(|limits| limits.depth_max = 0);
    assert_eq!(check_with(zero, HEADER).error, None);
    assert_eq!(
        check_with(zero, &format!("{HEADER}<a/>")).error,
        limit_error(Limit::Depth, 0)
    );
}

#[test]
fn attributes_limit() {
    let stanza = "<a xmlns:p='urn:p' b='1' p:c='2'/>";
    let fits = limits(|limits| limits.attributes_max = 3);
    assert_eq!(
        check_with(fits, &format!("{SHORT_HEADER}{stanza}")).error,
        None
    );
    let too_small = limits(|limits| limits.attributes_max = 2);
    assert_eq!(
        check_with(too_small, &format!("{SHORT_HEADER}{stanza}")).error,
        limit_error(Limit::Attributes, 2)
    );
    let zero = limits(|limits| limits.attributes_max = 0);
    assert_eq!(
        check_with(zero, SHORT_HEADER).error,
        limit_error(Limit::Attributes, 0)
    );
}

#[test]
fn attribute_value_limit_counts_bytes_as_sent() {
    let fits = limits(|limits| limits.attribute_value_bytes_max = 32);
    let value = format!("{}&amp;", "x".repeat(27));
    assert_eq!(
        check_with(fits, &format!("{SHORT_HEADER}<a b='{value}'/>")).error,
        None
    );
    assert_eq!(
        check_with(fits, &format!("{SHORT_HEADER}<a b='{value}x'/>")).error,
        limit_error(Limit::AttributeValueBytes, 32)
    );
    let zero = limits(|limits| limits.attribute_value_bytes_max = 0);
    assert_eq!(
        check_with(zero, SHORT_HEADER).error,
        limit_error(Limit::AttributeValueBytes, 0)
    );
}

#[test]
fn text_limit_counts_a_merged_node_after_decoding() {
    let three = limits(|limits| limits.text_bytes_max = 3);
    assert_eq!(
        check_with(
            three,
            &format!("{HEADER}<a>a&amp;<![CDATA[b]]><b>1234</b></a>")
        )
        .error,
        limit_error(Limit::TextBytes, 3)
    );
    assert_eq!(
        check_with(
            three,
            &format!("{HEADER}<a>a&amp;<![CDATA[b]]><b>123</b></a>")
        )
        .error,
        None
    );
    assert_eq!(
        check_with(three, &format!("{HEADER}<a>a&amp;<![CDATA[bc]]></a>")).error,
        limit_error(Limit::TextBytes, 3)
    );
    let zero = limits(|limits| limits.text_bytes_max = 0);
    assert_eq!(
        check_with(zero, &format!("{HEADER}<a>\n</a>")).error,
        limit_error(Limit::TextBytes, 0)
    );
    assert_eq!(
        check_with(zero, &format!("{HEADER}<a><![CDATA[]]></a>")).error,
        None
    );
}

#[test]
fn name_limit() {
    let fits = limits(|limits| limits.name_bytes_max = 13);
    assert_eq!(check_with(fits, SHORT_HEADER).error, None);
    let too_small = limits(|limits| limits.name_bytes_max = 12);
    assert_eq!(
        check_with(too_small, SHORT_HEADER).error,
        limit_error(Limit::NameBytes, 12)
    );
    assert_eq!(
        check_with(fits, &format!("{SHORT_HEADER}<a b2345678901234='1'/>")).error,
        limit_error(Limit::NameBytes, 13)
    );
    assert_eq!(
        check_with(fits, &format!("{SHORT_HEADER}<a2345678901234/>")).error,
        limit_error(Limit::NameBytes, 13)
    );
    let zero = limits(|limits| limits.name_bytes_max = 0);
    assert_eq!(
        check_with(zero, SHORT_HEADER).error,
        limit_error(Limit::NameBytes, 0)
    );
}

#[test]
fn byte_at_a_time_feeding_of_a_large_stanza_is_linear() {
    // 64 KiB fed one byte at a time: quadratic rescanning would take minutes.
    let text = "x".repeat(Limits::DEFAULT.stanza_bytes_max - 100);
    let input = format!("{HEADER}<message><body>{text}</body></message>");
    let mut parser = StreamParser::new();
    let mut stanza_count = 0;
    for byte in input.as_bytes() {
        parser.feed(std::slice::from_ref(byte));
        while let Some(event) = parser.next_event().expect("valid") {
            stanza_count += usize::from(matches!(event, StreamEvent::Stanza(_)));
        }
    }
    assert_eq!(stanza_count, 1);
}

// Properties.

/// Documents that exercise every kind of unit, valid and not.
const SAMPLES: &[&str] = &[
    "<message to='a@b/c' type='chat'><body>x &amp; y</body><x xmlns='urn:x'/></message>",
    "<iq><q:query xmlns:q='urn:q' q:a='&#x41;' xml:lang='en'>t<![CDATA[<c>]]>u</q:query></iq>",
    "  <presence/>\n<presence><status>é😀\r\n</status></presence></stream:stream>",
    "<a>&lol;</a>",
    "<a><!-- c --></a>",
    "<a b='1' b='2'/>",
    "<a><b></a>",
    "text",
    "<a><?pi?></a>",
    "<a>\u{0}</a>",
    "<![CDATA[x]]>",
];

fn split_into_chunks(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (input.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points {
        chunks.push(input[start..point].to_vec());
        start = point;
    }
    chunks.push(input[start..].to_vec());
    chunks
}

fn attribute_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_owned()),
            Just("é".to_owned()),
            Just("😀".to_owned()),
            Just("&".to_owned()),
            Just("<".to_owned()),
            Just(">".to_owned()),
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("\t".to_owned()),
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            Just("]]>".to_owned()),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("body"), Just("x-y.z"), Just("é")]
        .prop_map(str::to_owned)
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(NS_CLIENT),
        Just("urn:x"),
        Just("urn:y"),
        Just(""),
        Just(NS_STREAMS)
    ]
    .prop_map(str::to_owned)
}

fn element() -> impl Strategy<Value = Element> {
    let leaf = (name(), namespace()).prop_map(|(name, namespace)| Element::new(name, namespace));
    leaf.prop_recursive(4, 24, 4, move |inner| {
        let attributes = prop::collection::vec(
            (
                name(),
                prop::option::of(prop_oneof![Just(NS_XML), Just("urn:x"), Just("urn:z")]),
                attribute_value(),
            ),
            0..3,
        );
        (
            name(),
            namespace(),
            attributes,
            prop::collection::vec(
                prop_oneof![
                    inner.prop_map(Node::Element),
                    attribute_value().prop_map(Node::Text)
                ],
                0..4,
            ),
        )
            .prop_map(|(name, namespace, attrs, children)| {
                let mut element = Element::new(name, namespace);
                for (name, attr_namespace, value) in attrs {
                    match attr_namespace {
                        Some(attr_namespace) => element.set_ns_attr(attr_namespace, name, value),
                        None => element.set_attr(name, value),
                    }
                }
                for child in children {
                    match child {
                        Node::Element(child) => element.push_child(child),
                        Node::Text(text) => element.push_text(text),
                    }
                }
                element
            })
    })
}

/// What a parser makes of text: `\r\n` and `\r` in text become `\n` unless
/// escaped, which the serializer does, so the tree comes back unchanged.
fn serialized_stream(stanzas: &[Element]) -> String {
    let mut out = String::new();
    serialize::write_stream_open(
        &mut out,
        NS_CLIENT,
        &[("to", "example.com"), ("version", "1.0")],
    );
    for stanza in stanzas {
        out.push_str(&stanza.to_xml_in(&NamespaceContext::CLIENT_STREAM));
        out.push_str(" \n");
    }
    out.push_str(STREAM_CLOSE);
    out
}

proptest! {
    #[test]
    fn chunking_does_not_change_the_outcome(
        sample in prop::sample::select(SAMPLES),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = format!("{HEADER}{sample}");
        let whole = parse(&input);
        let chunks = split_into_chunks(input.as_bytes(), &cuts);
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(StreamParser::parse_chunks(Limits::DEFAULT, &chunk_refs), whole);
    }

    #[test]
    fn serialized_elements_parse_back(
        stanzas in prop::collection::vec(element(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let input = serialized_stream(&stanzas);
        let chunks = split_into_chunks(input.as_bytes(), &cuts);
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let outcome = StreamParser::parse_chunks(Limits::DEFAULT, &chunk_refs);
        prop_assert_eq!(&outcome.error, &None, "{}", input);
        let parsed: Vec<Element> = self::stanzas(&outcome).into_iter().cloned().collect();
        prop_assert_eq!(parsed, stanzas);
        prop_assert_eq!(outcome.events.last(), Some(&StreamEvent::StreamEnd));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in prop::sample::select(&["", HEADER][..]),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut input = prefix.as_bytes().to_vec();
        input.extend_from_slice(&bytes);
        let chunks = split_into_chunks(&input, &cuts);
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let small = limits(|limits| { limits.stanza_bytes_max = 64; limits.depth_max = 3; });
        let _ = StreamParser::parse_chunks(small, &chunk_refs);
        let _ = StreamParser::parse_chunks(Limits::DEFAULT, &chunk_refs);
    }

    #[test]
    fn markup_soup_never_panics_and_chunking_agrees(
        pieces in prop::collection::vec(
            prop::sample::select(&[
                "<", ">", "/", "'", "\"", "=", "a", "b:c", " ", "&", ";", "#x41", "amp", "![CDATA[",
                "]]>", "?", "!--", "xmlns", "xmlns:b", "é", "\r", "\n", "<a>", "</a>", "<a/>",
            ][..]),
            0..40,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let input = format!("{HEADER}{}", pieces.concat());
        let whole = parse(&input);
        let chunks = split_into_chunks(input.as_bytes(), &cuts);
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(StreamParser::parse_chunks(Limits::DEFAULT, &chunk_refs), whole.clone());
        // Whatever the parser accepted serializes to XML that parses back to
        // the same trees (the fuzz target's third oracle).
        let accepted: Vec<Element> = stanzas(&whole).into_iter().cloned().collect();
        let reparsed = parse(&serialized_stream(&accepted));
        prop_assert_eq!(&reparsed.error, &None);
        let reparsed: Vec<Element> = stanzas(&reparsed).into_iter().cloned().collect();
        prop_assert_eq!(reparsed, accepted);
    }
}
