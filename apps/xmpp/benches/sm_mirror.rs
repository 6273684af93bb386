//! What a stream management mirror (`buffer_replicas = 1`, `bream_xmpp::cluster::sm_mirror`)
//! costs per stanza, beside what the stanza costs anyway when it crosses nodes.
//!
//! - `deliver_encode`: the baseline, a stanza for a session on another node encoded for the
//!   relay (`SessionCommand::Deliver`, postcard), as every cross-node delivery is;
//! - `mirror_owner`: what the owner adds per stanza kept: the up nodes copied and the buddy
//!   picked (as `Node::nodes` and `pick_buddy` do for three nodes), the stanza cloned, the
//!   update built and encoded (`SessionCommand::Mirror(Update)`);
//! - `mirror_buddy`: what the buddy adds: the update decoded and applied to its
//!   `MirrorStore` (an acknowledgement every ten stanzas trims it).
//!
//! The node link itself (the cast through the agent, the TCP write) is not here: it costs
//! what one more cross-node message costs (DESIGN.md: about 250 k remote casts per second per
//! peer session on this kind of machine). `cargo bench -p bream-xmpp --bench sm_mirror`
//! prints the figures; `cargo test --benches` runs each once, so the bench never rots. Each
//! group prints a checksum (bytes encoded, stanzas mirrored) so that a speed-up cannot
//! silently change what is measured.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::time::Duration;

use bream_xmpp::c2s::sm::{ResumableState, SmId};
use bream_xmpp::cluster::relay::SessionCommand;
use bream_xmpp::cluster::sm_mirror::{pick_buddy, MirrorCommand, MirrorStore};
use bream_xmpp::router::{SessionFeatures, SessionId};
use bream_xmpp::xml::{Element, NS_CLIENT};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};

/// A chat message of a typical size (about 300 bytes of XML).
fn stanza(n: u64) -> Element {
    Element::new("message", NS_CLIENT)
        .with_attr("from", "bob@example.com/desk")
        .with_attr("to", "alice@example.com/phone")
        .with_attr("type", "chat")
        .with_attr("id", format!("message-{n}"))
        .with_child(
            Element::new("body", NS_CLIENT).with_text(
                "A message of a typical length, a sentence or two long, as people send.",
            ),
        )
        .with_child(
            Element::new("stanza-id", "urn:xmpp:sid:0")
                .with_attr("by", "alice@example.com")
                .with_attr("id", "01J9Z7Q4M2XKCV8R3T5W6Y7A8B"),
        )
}

fn encode(command: &SessionCommand) -> Vec<u8> {
    postcard::to_allocvec(command).unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let message = stanza(1);
    let id = SmId::random();
    let nodes: Vec<String> = ["n1@127.0.0.1", "n2@127.0.0.1", "n3@127.0.0.1"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut group = c.benchmark_group("sm_mirror");

    let mut bytes = 0usize;
    group.bench_function("deliver_encode", |b| {
        b.iter(|| {
            let command = SessionCommand::Deliver {
                sid: SessionId::from_raw(1),
                stanza: black_box(&message).clone(),
            };
            bytes = encode(&command).len();
        })
    });
    println!("checksum deliver_encode: {bytes} bytes per stanza");

    let mut sent = 0u32;
    group.bench_function("mirror_owner", |b| {
        b.iter(|| {
            let up = black_box(&nodes).clone();
            let buddy = pick_buddy("n1@127.0.0.1", up.iter().map(String::as_str));
            sent = sent.wrapping_add(1);
            let command = SessionCommand::Mirror(MirrorCommand::Update {
                owner: "n1@127.0.0.1".to_owned(),
                id: id.clone(),
                handled_in: 0,
                sent_out: sent,
                acked_out: 0,
                stanzas: vec![black_box(&message).clone()],
            });
            bytes = encode(&command).len() + usize::from(buddy.is_some());
        })
    });
    println!("checksum mirror_owner: {bytes} bytes per update (+1 for a buddy found)");

    let mut store = MirrorStore::new(100, 10, Duration::from_secs(600));
    let fresh = ResumableState {
        id: id.clone(),
        jid: "alice@example.com/phone".into(),
        sid: 1,
        handled_in: 0,
        sent_out: 0,
        acked_out: 0,
        buffer: Vec::new(),
        priority: 0,
        presence: None,
        features: SessionFeatures::default(),
    };
    store.snapshot("n1@127.0.0.1", fresh);
    let (mut sent, mut applied) = (0u32, 0u64);
    group.bench_function("mirror_buddy", |b| {
        b.iter_batched(
            || {
                sent = sent.wrapping_add(1);
                encode(&SessionCommand::Mirror(MirrorCommand::Update {
                    owner: "n1@127.0.0.1".to_owned(),
                    id: id.clone(),
                    handled_in: 0,
                    sent_out: sent,
                    // The client acknowledges in tens.
                    acked_out: sent - sent % 10,
                    stanzas: vec![message.clone()],
                }))
            },
            |wire| {
                let decoded: Result<SessionCommand, _> = postcard::from_bytes(black_box(&wire));
                if let Ok(SessionCommand::Mirror(MirrorCommand::Update {
                    owner,
                    id,
                    handled_in,
                    sent_out,
                    acked_out,
                    stanzas,
                })) = decoded
                {
                    if store.update(&owner, &id, (handled_in, sent_out, acked_out), stanzas) {
                        applied += 1;
                    }
                }
            },
            BatchSize::SmallInput,
        )
    });
    println!("checksum mirror_buddy: {applied} updates applied");
    group.finish();
}

criterion_group!(sm_mirror, benches);
criterion_main!(sm_mirror);
