//! The storage-backed modules (roster and subscriptions, presence with
//! contacts, offline messages, vCard, private XML, last activity, blocking)
//! through the router, wired as `server::run` wires them, on a SQLite
//! database in a temporary directory, with recording sessions instead of
//! sockets.
//!
//! Every check goes through [`World`] (`connect`, `online`) and the
//! [`Client`]s it binds (`send`, `iq`, `close`, and each one's recorder).

use std::sync::Arc;

use bream_runtime::ractor::ActorRef;
use bream_xmpp::config::modules::Modules;
use bream_xmpp::jid::Jid;
use bream_xmpp::router::{
    ClientSession, DeliverError, LocalSessionTable, Router, SessionControl, SessionEntry,
    SessionHandle, SessionId,
};
use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
use bream_xmpp::stanza::error::{StanzaError, StreamError};
use bream_xmpp::storage::{Storage, Subscription};
use bream_xmpp::xml::{Element, StreamEvent, StreamParser, NS_CLIENT};
use parking_lot::Mutex;

const NS_ROSTER: &str = "jabber:iq:roster";

// ---- the world -------------------------------------------------------------------

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Element>>>);

impl SessionControl for Recorder {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        self.0.lock().push(stanza);
        Ok(())
    }

    fn close(&self, _error: StreamError) {}
}

/// One bound session of a [`World`]: it sends through the world's router and
/// records what it receives.
struct Client<'w> {
    world: &'w World,
    session: ClientSession,
    recorder: Recorder,
}

impl Client<'_> {
    /// Everything received since the last call.
    fn take(&self) -> Vec<Element> {
        std::mem::take(&mut *self.recorder.0.lock())
    }

    /// Received stanzas as `name type from` lines (errors with their
    /// condition), since the last call.
    fn lines(&self) -> Vec<String> {
        self.take().iter().map(describe).collect()
    }
}

fn describe(stanza: &Element) -> String {
    let stanza_type = stanza.attr("type").unwrap_or("-");
    let from = stanza.attr("from").unwrap_or("-");
    let mut line = format!("{} {stanza_type} from={from}", stanza.name);
    if let Some(error) = stanza
        .child("error", NS_CLIENT)
        .and_then(StanzaError::from_element)
    {
        line.push_str(&format!(" {}", error.condition));
    }
    line
}

struct World {
    router: Router,
    storage: Storage,
    owner: ActorRef<bream_testkit::actor::IdleMsg>,
    _dir: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        self.owner.stop(None);
    }
}

async fn world() -> World {
    world_with(Modules::default()).await
}

async fn world_with(config: Modules) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::connect(&format!(
        "sqlite://{}",
        dir.path().join("bream.db").display()
    ))
    .await
    .expect("storage");
    let details = PassDetails::derive("secret", &[ScramHash::Sha256], 1).expect("valid");
    for user in ["alice", "bob", "carol"] {
        storage
            .register_user("localhost", user, &details)
            .await
            .expect("register");
    }
    let owner = bream_testkit::actor::spawn_idle().await;
    let table = LocalSessionTable::new(&owner.get_cell()).expect("table");
    let (modules, offline) = bream_xmpp::server::modules(&config, &storage);
    let router = Router::new(
        &["localhost".to_owned()],
        Arc::new(table),
        Arc::new(storage.clone()),
        offline,
        &modules,
    )
    .expect("router");
    World {
        router,
        storage,
        owner,
        _dir: dir,
    }
}

fn parse(xml: &str) -> Element {
    let mut parser = StreamParser::new();
    parser.feed(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    parser.feed(xml.as_bytes());
    let _header = parser.next_event().expect("header");
    match parser.next_event() {
        Ok(Some(StreamEvent::Stanza(stanza))) => stanza,
        other => panic!("expected a stanza, got {other:?}"),
    }
}

impl World {
    /// Binds the full JID `jid`; the client acts through this world's router.
    async fn connect(&self, jid: &str) -> Client<'_> {
        let recorder = Recorder::default();
        let jid: Jid = jid.parse().expect("jid");
        let entry = SessionEntry::new(jid, SessionId::next(), SessionHandle::new(recorder.clone()));
        let session = entry.client();
        self.router.open_session(entry).await.expect("table");
        Client {
            world: self,
            session,
            recorder,
        }
    }

    /// Binds `jid` and sends initial presence; forgets what that brought.
    async fn online(&self, jid: &str) -> Client<'_> {
        let client = self.connect(jid).await;
        client.send("<presence/>").await;
        client.take();
        client
    }

    /// Asserts the stored subscription alice has to bob and the one bob has to
    /// alice: a handshake changes both rows, and each check looks at the pair.
    async fn assert_subscriptions(
        &self,
        alice_to_bob: Option<Subscription>,
        bob_to_alice: Option<Subscription>,
    ) {
        assert_eq!(
            (
                self.subscription("alice", "bob@localhost").await,
                self.subscription("bob", "alice@localhost").await
            ),
            (alice_to_bob, bob_to_alice),
            "(alice's subscription to bob, bob's to alice)"
        );
    }

    async fn subscription(&self, user: &str, contact: &str) -> Option<Subscription> {
        self.storage
            .roster_item("localhost", user, contact)
            .await
            .expect("storage")
            .map(|item| item.subscription)
    }
}

impl Client<'_> {
    /// Sends `xml`, `from` stamped.
    async fn send(&self, xml: &str) {
        let mut stanza = parse(xml);
        stanza.set_attr("from", self.session.jid.to_string());
        self.world
            .router
            .route_from_client(&self.session, stanza)
            .await;
    }

    /// Sends the iq `xml` (with an `id`) and gets its answer; other stanzas
    /// received meanwhile stay with the recorder.
    async fn iq(&self, xml: &str) -> Element {
        let id = parse(xml).attr("id").expect("an id").to_owned();
        self.send(xml).await;
        let mut received = self.recorder.0.lock();
        let position = received
            .iter()
            .position(|stanza| {
                stanza.name == "iq"
                    && stanza.attr("id") == Some(id.as_str())
                    && matches!(stanza.attr("type"), Some("result" | "error"))
            })
            .unwrap_or_else(|| panic!("no answer to {xml}: got {received:?}"));
        received.remove(position)
    }

    async fn close(&self) {
        self.world.router.close_session(&self.session).await;
    }
}

fn condition(reply: &Element) -> String {
    describe(reply)
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts that `line` is among the received `lines`, whatever else came
/// with it.
fn assert_has(lines: &[String], line: &str) {
    assert!(
        lines.iter().any(|got| got == line),
        "{line} not in {lines:?}"
    );
}

fn roster_jids(reply: &Element) -> Vec<String> {
    reply
        .child("query", NS_ROSTER)
        .map(|query| {
            query
                .elements()
                .map(|item| {
                    format!(
                        "{} {}",
                        item.attr("jid").unwrap_or_default(),
                        item.attr("subscription").unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Brings alice and bob to a `both` subscription through the handshake.
async fn befriend(alice: &Client<'_>, bob: &Client<'_>) {
    alice
        .send("<presence to='bob@localhost' type='subscribe'/>")
        .await;
    bob.send("<presence to='alice@localhost' type='subscribed'/>")
        .await;
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    alice
        .send("<presence to='bob@localhost' type='subscribed'/>")
        .await;
}

// ---- roster ---------------------------------------------------------------------

#[tokio::test]
async fn roster_set_pushes_to_interested_resources_and_versions_the_roster() {
    let world = world().await;
    let phone = world.connect("alice@localhost/phone").await;
    let desk = world.connect("alice@localhost/desk").await;
    let quiet = world.connect("alice@localhost/quiet").await;
    let empty = phone
        .iq("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(
        empty.child("query", NS_ROSTER).and_then(|q| q.attr("ver")),
        Some("0")
    );
    desk.iq("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let set = phone
        .iq("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>\
             <item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>")
        .await;
    assert_eq!(set.attr("type"), Some("result"));
    for client in [&phone, &desk] {
        let pushes = client.take();
        assert_eq!(pushes.len(), 1, "one push each");
        let query = pushes[0].child("query", NS_ROSTER).expect("push");
        assert_eq!(query.attr("ver"), Some("1"));
        let item = query.elements().next().expect("item");
        assert_eq!(item.attr("name"), Some("Bob"));
        assert_eq!(item.attr("subscription"), Some("none"));
    }
    assert!(quiet.take().is_empty(), "no push without a roster get");
    // The current version gets an empty result; an old one the roster.
    let current = phone
        .iq("<iq type='get' id='r3'><query xmlns='jabber:iq:roster' ver='1'/></iq>")
        .await;
    assert_eq!(current.attr("type"), Some("result"));
    assert!(current.elements().next().is_none());
    let old = phone
        .iq("<iq type='get' id='r4'><query xmlns='jabber:iq:roster' ver='0'/></iq>")
        .await;
    assert_eq!(roster_jids(&old), ["bob@localhost none"]);
}

#[tokio::test]
async fn an_old_roster_version_gets_an_empty_result_then_the_changes_since_in_order() {
    let world = world().await;
    let phone = world.connect("alice@localhost/phone").await;
    let desk = world.connect("alice@localhost/desk").await;
    for (id, item) in [
        ("s1", "<item jid='bob@localhost' name='Bob'/>"),
        ("s2", "<item jid='carol@localhost'/>"),
        ("s3", "<item jid='dave@localhost'/>"),
        ("s4", "<item jid='bob@localhost' subscription='remove'/>"),
        ("s5", "<item jid='dave@localhost' name='Dave'/>"),
    ] {
        let xml =
            format!("<iq type='set' id='{id}'><query xmlns='jabber:iq:roster'>{item}</query></iq>");
        assert_eq!(phone.iq(&xml).await.attr("type"), Some("result"), "{xml}");
    }
    desk.take();
    // The desk saw version 1 last: the empty result first, then one push per change since,
    // oldest first, each with its own version, to the desk alone.
    desk.send("<iq type='get' id='since'><query xmlns='jabber:iq:roster' ver='1'/></iq>")
        .await;
    let got = desk.take();
    assert_eq!(got[0].attr("id"), Some("since"), "{got:?}");
    assert_eq!(got[0].attr("type"), Some("result"));
    assert!(got[0].elements().next().is_none(), "an empty result");
    let pushes: Vec<String> = got[1..]
        .iter()
        .map(|push| {
            assert_eq!(push.attr("type"), Some("set"), "{push}");
            assert_eq!(push.attr("to"), Some("alice@localhost/desk"), "{push}");
            let query = push.child("query", NS_ROSTER).expect("a push");
            format!(
                "{} {}",
                query.attr("ver").unwrap_or_default(),
                roster_jids(push).join(",")
            )
        })
        .collect();
    assert_eq!(
        pushes,
        [
            "2 carol@localhost none",
            "4 bob@localhost remove",
            "5 dave@localhost none"
        ]
    );
    assert!(phone.take().is_empty(), "no pushes to the phone");
    // A version the server never issued gets the whole roster.
    let future = desk
        .iq("<iq type='get' id='future'><query xmlns='jabber:iq:roster' ver='99'/></iq>")
        .await;
    assert_eq!(
        roster_jids(&future),
        ["carol@localhost none", "dave@localhost none"]
    );
}

#[tokio::test]
async fn roster_errors() {
    let world = world().await;
    let alice = world.connect("alice@localhost/phone").await;
    let cases = [
        ("<iq type='set' id='e1'><query xmlns='jabber:iq:roster'><item jid='a@localhost'/><item jid='b@localhost'/></query></iq>", "bad-request"),
        ("<iq type='set' id='e2'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'><group>g</group><group>g</group></item></query></iq>", "bad-request"),
        ("<iq type='set' id='e3'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'><group></group></item></query></iq>", "not-acceptable"),
        ("<iq type='set' id='e4'><query xmlns='jabber:iq:roster'><item jid='bob@localhost/res'/></query></iq>", "not-acceptable"),
        ("<iq type='set' id='e5'><query xmlns='jabber:iq:roster'><item jid='nobody@localhost' subscription='remove'/></query></iq>", "item-not-found"),
        ("<iq type='get' id='e6' to='bob@localhost'><query xmlns='jabber:iq:roster'/></iq>", "forbidden"),
    ];
    for (xml, expected) in cases {
        let reply = alice.iq(xml).await;
        assert_eq!(condition(&reply), expected, "{xml}");
    }
}

// ---- subscriptions and presence ------------------------------------------------

#[tokio::test]
async fn the_subscription_handshake_ends_in_both_with_presence_flowing() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    let bob = world.online("bob@localhost/b").await;
    alice
        .iq("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    alice
        .send("<presence to='bob@localhost' type='subscribe'/>")
        .await;
    assert_eq!(bob.lines(), ["presence subscribe from=alice@localhost"]);
    let push = alice.take();
    assert_eq!(
        push[0]
            .child("query", NS_ROSTER)
            .and_then(|q| q.elements().next())
            .and_then(|item| item.attr("ask")),
        Some("subscribe")
    );
    bob.send("<presence to='alice@localhost' type='subscribed'/>")
        .await;
    // alice: a push (to), the subscribed, and bob's presence.
    assert_eq!(
        alice.lines(),
        [
            "iq set from=alice@localhost",
            "presence subscribed from=bob@localhost",
            "presence - from=bob@localhost/b"
        ]
    );
    world
        .assert_subscriptions(Some(Subscription::To), Some(Subscription::From))
        .await;
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    alice
        .send("<presence to='bob@localhost' type='subscribed'/>")
        .await;
    world
        .assert_subscriptions(Some(Subscription::Both), Some(Subscription::Both))
        .await;
    alice.take();
    bob.take();
    // Broadcasts now reach the contact; a disconnect sends unavailable.
    alice.send("<presence><show>away</show></presence>").await;
    assert_eq!(bob.lines(), ["presence - from=alice@localhost/a"]);
    alice.close().await;
    assert_eq!(bob.lines(), ["presence unavailable from=alice@localhost/a"]);
    // A new session's initial presence probes: bob's presence comes back.
    let alice = world.connect("alice@localhost/again").await;
    alice.send("<presence/>").await;
    let lines = alice.lines();
    assert_has(&lines, "presence - from=bob@localhost/b");
}

#[tokio::test]
async fn a_request_to_an_offline_user_waits_for_initial_presence() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    alice
        .send("<presence to='bob@localhost' type='subscribe'><status>hi</status></presence>")
        .await;
    let bob = world.connect("bob@localhost/b").await;
    let roster = bob
        .iq("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert!(roster_jids(&roster).is_empty(), "pending rows are hidden");
    bob.send("<presence/>").await;
    let received = bob.take();
    let request = received
        .iter()
        .find(|stanza| stanza.attr("type") == Some("subscribe"))
        .expect("the pending request");
    assert_eq!(request.attr("from"), Some("alice@localhost"));
    assert_eq!(
        request.child("status", NS_CLIENT).map(Element::text),
        Some("hi".to_owned())
    );
    // Denied: alice's request is cancelled.
    bob.send("<presence to='alice@localhost' type='unsubscribed'/>")
        .await;
    world
        .assert_subscriptions(Some(Subscription::None), None)
        .await;
}

#[tokio::test]
async fn removing_a_contact_cancels_both_subscriptions() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    let bob = world.online("bob@localhost/b").await;
    befriend(&alice, &bob).await;
    bob.take();
    let removed = alice
        .iq("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'>\
             <item jid='bob@localhost' subscription='remove'/></query></iq>")
        .await;
    assert_eq!(removed.attr("type"), Some("result"));
    world
        .assert_subscriptions(None, Some(Subscription::None))
        .await;
    let lines = bob.lines();
    assert_has(&lines, "presence unsubscribe from=alice@localhost");
    assert_has(&lines, "presence unsubscribed from=alice@localhost");
}

// ---- offline messages -------------------------------------------------------------

#[tokio::test]
async fn offline_messages_are_delivered_with_a_delay_at_initial_presence() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    alice
        .send("<message to='bob@localhost' type='chat'><body>one</body></message>")
        .await;
    alice
        .send("<message to='bob@localhost' type='chat'><body>two</body></message>")
        .await;
    assert!(alice.take().is_empty());
    assert_eq!(
        world
            .storage
            .count_offline("localhost", "bob")
            .await
            .expect("count"),
        2
    );
    let bob = world.connect("bob@localhost/b").await;
    assert!(bob.take().is_empty(), "nothing before presence");
    bob.send("<presence/>").await;
    let messages: Vec<Element> = bob
        .take()
        .into_iter()
        .filter(|stanza| stanza.name == "message")
        .collect();
    let bodies: Vec<String> = messages
        .iter()
        .filter_map(|message| message.child("body", NS_CLIENT).map(Element::text))
        .collect();
    assert_eq!(bodies, ["one", "two"]);
    let delay = messages[0].child("delay", "urn:xmpp:delay").expect("delay");
    assert_eq!(delay.attr("from"), Some("localhost"));
    assert!(delay
        .attr("stamp")
        .is_some_and(|stamp| stamp.ends_with('Z')));
    assert_eq!(messages[0].attr("from"), Some("alice@localhost/a"));
    assert_eq!(
        world
            .storage
            .count_offline("localhost", "bob")
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn a_full_offline_store_answers_resource_constraint() {
    let mut config = Modules::default();
    config.mod_offline.max_messages = 1;
    let world = world_with(config).await;
    let alice = world.online("alice@localhost/a").await;
    for body in ["one", "two"] {
        alice
            .send(&format!(
                "<message to='bob@localhost' type='chat'><body>{body}</body></message>"
            ))
            .await;
    }
    let lines = alice.lines();
    assert_eq!(
        lines,
        ["message error from=bob@localhost resource-constraint"]
    );
    // Without mod_offline, messages are bounced.
    let mut config = Modules::default();
    config.mod_offline.enabled = false;
    let world = world_with(config).await;
    let alice = world.online("alice@localhost/a").await;
    alice
        .send("<message to='bob@localhost' type='chat'><body>x</body></message>")
        .await;
    assert_eq!(
        alice.lines(),
        ["message error from=bob@localhost service-unavailable"]
    );
}

// ---- vCard, private XML, last activity ---------------------------------------------

#[tokio::test]
async fn vcards_are_set_by_their_owner_and_read_by_anyone() {
    let world = world().await;
    let alice = world.connect("alice@localhost/a").await;
    let bob = world.connect("bob@localhost/b").await;
    let none = bob
        .iq("<iq type='get' id='v0' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>")
        .await;
    assert!(none.child("vCard", "vcard-temp").is_some());
    let set = alice
        .iq("<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>")
        .await;
    assert_eq!(set.attr("type"), Some("result"));
    let got = bob
        .iq("<iq type='get' id='v2' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>")
        .await;
    let name = got
        .child("vCard", "vcard-temp")
        .and_then(|vcard| vcard.child("FN", "vcard-temp"))
        .map(Element::text);
    assert_eq!(name.as_deref(), Some("Alice"));
    let refused = bob
        .iq("<iq type='set' id='v3' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>")
        .await;
    assert_eq!(condition(&refused), "not-allowed");
}

#[tokio::test]
async fn private_xml_is_kept_per_namespace_for_its_owner_only() {
    let world = world().await;
    let alice = world.connect("alice@localhost/a").await;
    let bob = world.connect("bob@localhost/b").await;
    let set = alice.iq("<iq type='set' id='p1'><query xmlns='jabber:iq:private'>\
             <storage xmlns='storage:bookmarks'><conference jid='room@muc'/></storage></query></iq>",
        )
        .await;
    assert_eq!(set.attr("type"), Some("result"));
    let got = alice.iq("<iq type='get' id='p2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>",
        )
        .await;
    let storage = got
        .child("query", "jabber:iq:private")
        .and_then(|query| query.child("storage", "storage:bookmarks"))
        .expect("stored");
    assert!(storage.child("conference", "storage:bookmarks").is_some());
    let empty = alice.iq("<iq type='get' id='p3'><query xmlns='jabber:iq:private'><prefs xmlns='x:prefs'/></query></iq>",
        )
        .await;
    assert!(empty
        .child("query", "jabber:iq:private")
        .and_then(|query| query.child("prefs", "x:prefs"))
        .is_some());
    let reserved = alice.iq("<iq type='set' id='p4'><query xmlns='jabber:iq:private'><x xmlns='jabber:iq:roster'/></query></iq>",
        )
        .await;
    assert_eq!(condition(&reserved), "not-acceptable");
    let other = bob.iq("<iq type='get' id='p5' to='alice@localhost'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>",
        )
        .await;
    assert_eq!(condition(&other), "forbidden");
}

#[tokio::test]
async fn last_activity_of_the_server_and_of_users() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    let bob = world.online("bob@localhost/b").await;
    let carol = world.online("carol@localhost/c").await;
    let uptime = alice
        .iq("<iq type='get' id='l0' to='localhost'><query xmlns='jabber:iq:last'/></iq>")
        .await;
    assert!(uptime
        .child("query", "jabber:iq:last")
        .and_then(|query| query.attr("seconds"))
        .is_some());
    befriend(&alice, &bob).await;
    bob.send("<presence type='unavailable'><status>gone fishing</status></presence>")
        .await;
    bob.close().await;
    let last = alice
        .iq("<iq type='get' id='l1' to='bob@localhost'><query xmlns='jabber:iq:last'/></iq>")
        .await;
    let query = last.child("query", "jabber:iq:last").expect("query");
    assert_eq!(query.text(), "gone fishing");
    assert!(query
        .attr("seconds")
        .is_some_and(|s| s.parse::<u64>().is_ok()));
    let stranger = carol
        .iq("<iq type='get' id='l2' to='bob@localhost'><query xmlns='jabber:iq:last'/></iq>")
        .await;
    assert_eq!(condition(&stranger), "forbidden");
    let never = carol
        .iq("<iq type='get' id='l3'><query xmlns='jabber:iq:last'/></iq>")
        .await;
    assert_eq!(
        never
            .child("query", "jabber:iq:last")
            .and_then(|query| query.attr("seconds")),
        Some("0"),
        "an online user is active now"
    );
}

// ---- blocking -----------------------------------------------------------------------

#[tokio::test]
async fn blocking_drops_stanzas_both_ways_and_pushes_changes() {
    let world = world().await;
    let alice = world.online("alice@localhost/a").await;
    let bob = world.online("bob@localhost/b").await;
    let list = alice
        .iq("<iq type='get' id='b0'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
        .await;
    assert!(list.child("blocklist", "urn:xmpp:blocking").is_some());
    let blocked = alice.iq("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>",
        )
        .await;
    assert_eq!(blocked.attr("type"), Some("result"));
    assert_eq!(alice.lines(), ["iq set from=alice@localhost"], "the push");
    // From bob: messages dropped, iqs refused as if alice were not there.
    bob.send("<message to='alice@localhost/a' type='chat'><body>hi</body></message>")
        .await;
    assert!(alice.take().is_empty());
    let refused = bob
        .iq("<iq type='get' id='b2' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>")
        .await;
    assert_eq!(condition(&refused), "service-unavailable");
    // To bob: not-acceptable with the blocked condition.
    alice
        .send("<message to='bob@localhost' type='chat'><body>hi</body></message>")
        .await;
    let errors = alice.take();
    assert_eq!(errors.len(), 1);
    let error = errors[0].child("error", NS_CLIENT).expect("error");
    assert!(error
        .child("not-acceptable", "urn:ietf:params:xml:ns:xmpp-stanzas")
        .is_some());
    assert!(error.child("blocked", "urn:xmpp:blocking:errors").is_some());
    assert!(bob.take().is_empty());
    // Unblock everyone: messages flow again.
    alice
        .iq("<iq type='set' id='b3'><unblock xmlns='urn:xmpp:blocking'/></iq>")
        .await;
    assert_eq!(alice.lines(), ["iq set from=alice@localhost"], "the push");
    bob.send("<message to='alice@localhost/a' type='chat'><body>hi</body></message>")
        .await;
    assert_eq!(alice.lines(), ["message chat from=bob@localhost/b"]);
}

// ---- disco -------------------------------------------------------------------------

#[tokio::test]
async fn each_module_advertises_its_feature() {
    let world = world().await;
    let alice = world.connect("alice@localhost/a").await;
    let features = |reply: &Element| -> Vec<String> {
        reply
            .child("query", "http://jabber.org/protocol/disco#info")
            .map(|query| {
                query
                    .elements()
                    .filter_map(|child| child.attr("var").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let server = alice.iq("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        .await;
    let server = features(&server);
    for feature in ["msgoffline", "jabber:iq:last", "urn:xmpp:ping"] {
        assert!(
            server.iter().any(|f| f == feature),
            "server lacks {feature}: {server:?}"
        );
    }
    let user = alice
        .iq("<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        .await;
    let user = features(&user);
    for feature in [
        "jabber:iq:roster",
        "vcard-temp",
        "jabber:iq:private",
        "jabber:iq:last",
        "urn:xmpp:blocking",
    ] {
        assert!(
            user.iter().any(|f| f == feature),
            "account lacks {feature}: {user:?}"
        );
    }
}
