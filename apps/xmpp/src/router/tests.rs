//! The RFC 6121 routing rules and the storage-free modules, with recording
//! sessions instead of actors and sockets.

use std::sync::Arc;

use bream_runtime::ractor::ActorRef;
use parking_lot::Mutex;

use super::*;
use crate::c2s::MemoryAccounts;
use crate::modules;
use crate::modules::disco::{NS_DISCO_INFO, NS_DISCO_ITEMS};
use crate::modules::ping::NS_PING;
use crate::modules::version::NS_VERSION;
use crate::xml::NS_CLIENT;

/// What a recording session received.
#[derive(Clone, Debug, PartialEq)]
enum Received {
    Stanza(Element),
    Closed(StreamErrorCondition),
}

#[derive(Clone, Default)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    gone: Arc<Mutex<bool>>,
}

impl SessionControl for Recorder {
    fn deliver(&self, stanza: Element) -> Result<(), DeliverError> {
        if *self.gone.lock() {
            return Err(DeliverError::Gone(Some(stanza)));
        }
        self.received.lock().push(Received::Stanza(stanza));
        Ok(())
    }

    fn close(&self, error: StreamError) {
        self.received.lock().push(Received::Closed(error.condition));
    }
}

impl Recorder {
    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock())
    }

    /// Received stanzas as `name type from` lines, errors with their condition.
    fn lines(&self) -> Vec<String> {
        self.take().iter().map(describe).collect()
    }
}

fn describe(received: &Received) -> String {
    match received {
        Received::Closed(condition) => format!("closed {condition}"),
        Received::Stanza(stanza) => {
            let stanza_type = stanza.attr("type").unwrap_or("-");
            let from = stanza.attr("from").unwrap_or("-");
            let mut line = format!("{} {stanza_type} from={from}", stanza.name);
            if stanza_type == "error" {
                if let Some(error) = StanzaError::from_element(
                    stanza
                        .child("error", NS_CLIENT)
                        .unwrap_or(&Element::new("", "")),
                ) {
                    line.push_str(&format!(" {}", error.condition));
                }
            }
            line
        }
    }
}

#[derive(Default)]
struct RecordingOffline {
    stored: Mutex<Vec<(String, Element)>>,
    refuse: Mutex<bool>,
}

impl OfflineSink for RecordingOffline {
    fn store<'a>(
        &'a self,
        user: &'a BareJid,
        message: &'a Element,
    ) -> BoxFuture<'a, Result<(), OfflineError>> {
        let result = if *self.refuse.lock() {
            Err(OfflineError::Full {
                user: user.to_string(),
                max: 0,
            })
        } else {
            self.stored.lock().push((user.to_string(), message.clone()));
            Ok(())
        };
        Box::pin(async move { result })
    }
}

struct World {
    router: Router,
    offline: Arc<RecordingOffline>,
    owner: ActorRef<bream_testkit::actor::IdleMsg>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.owner.stop(None);
    }
}

async fn world() -> World {
    let owner = bream_testkit::actor::spawn_idle().await;
    let table = LocalSessionTable::new(&owner.get_cell()).expect("table");
    let accounts = Arc::new(MemoryAccounts::new());
    let details = crate::sasl::secret::PassDetails::derive(
        "secret",
        &[crate::sasl::secret::ScramHash::Sha256],
        1,
    )
    .expect("valid");
    for user in ["alice", "bob", "carol"] {
        accounts.insert("localhost", user, details.clone());
    }
    let offline = Arc::new(RecordingOffline::default());
    let router = Router::new(
        &["localhost".to_owned()],
        Arc::new(table),
        accounts,
        offline.clone(),
        &modules::defaults(),
    )
    .expect("router");
    World {
        router,
        offline,
        owner,
    }
}

impl World {
    /// Binds `jid` (a full JID) and returns its session and recorder.
    async fn connect(&self, jid: &str) -> (ClientSession, Recorder) {
        let recorder = Recorder::default();
        let jid: Jid = jid.parse().expect("jid");
        let entry = SessionEntry::new(jid, SessionId::next(), SessionHandle::new(recorder.clone()));
        let client = entry.client();
        self.router.open_session(entry).await.expect("table");
        (client, recorder)
    }

    /// `session` sends `xml` (parsed inside a client stream), `from` stamped.
    async fn send(&self, session: &ClientSession, xml: &str) {
        let mut stanza = parse(xml);
        stanza.set_attr("from", session.jid.to_string());
        self.router.route_from_client(session, stanza).await;
    }

    async fn available(&self, session: &ClientSession, priority: i8) {
        self.send(
            session,
            &format!("<presence><priority>{priority}</priority></presence>"),
        )
        .await;
    }
}

fn parse(xml: &str) -> Element {
    let mut parser = crate::xml::StreamParser::new();
    parser.feed(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    parser.feed(xml.as_bytes());
    let _header = parser.next_event().expect("header");
    match parser.next_event() {
        Ok(Some(crate::xml::StreamEvent::Stanza(stanza))) => stanza,
        other => panic!("expected a stanza, got {other:?}"),
    }
}

// ---- messages -------------------------------------------------------------------

#[tokio::test]
async fn message_to_a_full_jid_reaches_that_resource_only() {
    let world = world().await;
    let (alice, _) = world.connect("alice@localhost/phone").await;
    let (_, bob_phone) = world.connect("bob@localhost/phone").await;
    let (_, bob_desk) = world.connect("bob@localhost/desk").await;
    world
        .send(
            &alice,
            "<message to='bob@localhost/desk' type='chat'><body>hi</body></message>",
        )
        .await;
    assert_eq!(
        bob_desk.lines(),
        ["message chat from=alice@localhost/phone"]
    );
    assert!(bob_phone.lines().is_empty());
}

#[tokio::test]
async fn message_to_a_bare_jid_goes_to_the_highest_non_negative_priority() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    let (bob1, bob1_rec) = world.connect("bob@localhost/one").await;
    let (bob2, bob2_rec) = world.connect("bob@localhost/two").await;
    let (bob3, bob3_rec) = world.connect("bob@localhost/three").await;
    let (_, bob4_rec) = world.connect("bob@localhost/unavailable").await;
    world.available(&bob1, 5).await;
    world.available(&bob2, 5).await;
    world.available(&bob3, 1).await;
    for recorder in [&bob1_rec, &bob2_rec, &bob3_rec, &bob4_rec] {
        recorder.take();
    }
    world
        .send(
            &alice,
            "<message to='bob@localhost' type='chat'><body>hi</body></message>",
        )
        .await;
    assert_eq!(
        bob1_rec.lines(),
        ["message chat from=alice@localhost/phone"]
    );
    assert_eq!(
        bob2_rec.lines(),
        ["message chat from=alice@localhost/phone"]
    );
    assert!(bob3_rec.lines().is_empty());
    assert!(bob4_rec.lines().is_empty());
    // Headlines go to every non-negative available resource.
    world
        .send(
            &alice,
            "<message to='bob@localhost' type='headline'><body>news</body></message>",
        )
        .await;
    assert_eq!(bob1_rec.lines().len(), 1);
    assert_eq!(bob2_rec.lines().len(), 1);
    assert_eq!(bob3_rec.lines().len(), 1);
    assert!(bob4_rec.lines().is_empty());
    assert!(alice_rec.lines().is_empty());
}

#[tokio::test]
async fn negative_priority_resources_get_no_bare_messages() {
    let world = world().await;
    let (alice, _) = world.connect("alice@localhost/phone").await;
    let (bob, bob_rec) = world.connect("bob@localhost/bot").await;
    world.available(&bob, -1).await;
    bob_rec.take();
    world
        .send(
            &alice,
            "<message to='bob@localhost'><body>hi</body></message>",
        )
        .await;
    assert!(bob_rec.lines().is_empty());
    let stored = world.offline.stored.lock().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "bob@localhost");
}

#[tokio::test]
async fn message_for_an_offline_user_goes_to_the_offline_sink() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            "<message to='bob@localhost' type='chat'><body>later</body></message>",
        )
        .await;
    let stored = world.offline.stored.lock().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.attr("from"), Some("alice@localhost/phone"));
    assert!(alice_rec.lines().is_empty());
    // A message refused because the storage is full is bounced with
    // resource-constraint, as MongooseIM's mod_offline does.
    *world.offline.refuse.lock() = true;
    world
        .send(
            &alice,
            "<message to='bob@localhost' type='chat'><body>later</body></message>",
        )
        .await;
    assert_eq!(
        alice_rec.lines(),
        ["message error from=bob@localhost resource-constraint"]
    );
}

#[tokio::test]
async fn message_for_a_gone_resource_follows_the_bare_jid_rules() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    let (bob, bob_rec) = world.connect("bob@localhost/desk").await;
    world.available(&bob, 0).await;
    bob_rec.take();
    world
        .send(
            &alice,
            "<message to='bob@localhost/gone' type='chat'><body>hi</body></message>",
        )
        .await;
    assert_eq!(bob_rec.lines(), ["message chat from=alice@localhost/phone"]);
    world
        .send(&alice, "<message to='bob@localhost/gone' type='headline'/>")
        .await;
    assert!(bob_rec.lines().is_empty());
    world
        .send(
            &alice,
            "<message to='bob@localhost/gone' type='groupchat'/>",
        )
        .await;
    assert_eq!(
        alice_rec.lines(),
        ["message error from=bob@localhost/gone service-unavailable"]
    );
}

#[tokio::test]
async fn unknown_user_gets_service_unavailable_and_errors_are_not_answered() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            "<message to='nobody@localhost' type='chat'><body>hi</body></message>",
        )
        .await;
    assert_eq!(
        alice_rec.lines(),
        ["message error from=nobody@localhost service-unavailable"]
    );
    world
        .send(&alice, "<message to='nobody@localhost' type='error'/>")
        .await;
    world
        .send(&alice, "<presence to='nobody@localhost'/>")
        .await;
    assert!(alice_rec.lines().is_empty());
    assert!(world.offline.stored.lock().is_empty());
}

#[tokio::test]
async fn remote_domains_are_unreachable() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            "<message to='juliet@capulet.example'><body>hi</body></message>",
        )
        .await;
    world
        .send(&alice, "<presence to='juliet@capulet.example'/>")
        .await;
    assert_eq!(
        alice_rec.lines(),
        ["message error from=juliet@capulet.example remote-server-not-found"]
    );
}

#[tokio::test]
async fn a_gone_session_is_removed_and_skipped() {
    let world = world().await;
    let (alice, _) = world.connect("alice@localhost/phone").await;
    let (bob, bob_rec) = world.connect("bob@localhost/desk").await;
    world.available(&bob, 0).await;
    *bob_rec.gone.lock() = true;
    world
        .send(
            &alice,
            "<message to='bob@localhost' type='chat'><body>hi</body></message>",
        )
        .await;
    assert_eq!(world.router.sessions().count().expect("table"), 1);
    assert_eq!(world.offline.stored.lock().len(), 1);
}

// ---- iq ---------------------------------------------------------------------------

#[tokio::test]
async fn server_iqs_are_answered_or_refused() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            &format!("<iq to='localhost' type='get' id='1'><ping xmlns='{NS_PING}'/></iq>"),
        )
        .await;
    world
        .send(
            &alice,
            "<iq to='localhost' type='get' id='2'><query xmlns='urn:unknown'/></iq>",
        )
        .await;
    world
        .send(
            &alice,
            &format!("<iq to='localhost' type='set' id='3'><ping xmlns='{NS_PING}'/></iq>"),
        )
        .await;
    world
        .send(
            &alice,
            &format!("<iq to='localhost/x' type='get' id='4'><ping xmlns='{NS_PING}'/></iq>"),
        )
        .await;
    // Results to the server are not answered.
    world
        .send(&alice, "<iq to='localhost' type='result' id='5'/>")
        .await;
    assert_eq!(
        alice_rec.lines(),
        [
            "iq result from=localhost",
            "iq error from=localhost service-unavailable",
            "iq error from=localhost feature-not-implemented",
            "iq error from=localhost/x service-unavailable",
        ]
    );
}

#[tokio::test]
async fn iq_to_the_own_account_without_to_is_answered_on_its_behalf() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            &format!("<iq type='get' id='1'><ping xmlns='{NS_PING}'/></iq>"),
        )
        .await;
    let received = alice_rec.take();
    let [Received::Stanza(result)] = &received[..] else {
        panic!("expected one result: {received:?}");
    };
    assert_eq!(result.attr("type"), Some("result"));
    assert_eq!(result.attr("from"), None);
    assert_eq!(result.attr("to"), Some("alice@localhost/phone"));
    assert_eq!(result.attr("id"), Some("1"));
}

#[tokio::test]
async fn user_iqs_follow_the_rules() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    let (_, bob_rec) = world.connect("bob@localhost/desk").await;
    let ping = |to: &str, id: &str| {
        format!("<iq to='{to}' type='get' id='{id}'><ping xmlns='{NS_PING}'/></iq>")
    };
    world.send(&alice, &ping("bob@localhost/desk", "1")).await;
    assert_eq!(bob_rec.lines(), ["iq get from=alice@localhost/phone"]);
    world.send(&alice, &ping("bob@localhost/gone", "2")).await;
    world.send(&alice, &ping("bob@localhost", "3")).await;
    world.send(&alice, &ping("carol@localhost", "4")).await;
    world.send(&alice, &ping("nobody@localhost", "5")).await;
    world
        .send(
            &alice,
            "<iq to='bob@localhost' type='get' id='6'><query xmlns='urn:unknown'/></iq>",
        )
        .await;
    world
        .send(&alice, "<iq to='bob@localhost' type='result' id='7'/>")
        .await;
    assert_eq!(
        alice_rec.lines(),
        [
            "iq error from=bob@localhost/gone service-unavailable",
            "iq result from=bob@localhost",
            "iq result from=carol@localhost",
            "iq error from=nobody@localhost service-unavailable",
            "iq error from=bob@localhost service-unavailable",
        ]
    );
    // A result for a full JID goes to that client.
    world
        .send(&alice, "<iq to='bob@localhost/desk' type='result' id='1'/>")
        .await;
    assert_eq!(bob_rec.lines(), ["iq result from=alice@localhost/phone"]);
}

fn query_result(recorder: &Recorder) -> Element {
    let received = recorder.take();
    let [Received::Stanza(result)] = &received[..] else {
        panic!("expected one result: {received:?}");
    };
    assert_eq!(result.attr("type"), Some("result"), "{result}");
    let query = result.elements().next().cloned();
    query.expect("a query")
}

#[tokio::test]
async fn disco_lists_identities_and_the_features_modules_registered() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            &format!("<iq to='localhost' type='get' id='1'><query xmlns='{NS_DISCO_INFO}'/></iq>"),
        )
        .await;
    let query = query_result(&alice_rec);
    let identity = query.child("identity", NS_DISCO_INFO).expect("identity");
    assert_eq!(identity.attr("category"), Some("server"));
    assert_eq!(identity.attr("type"), Some("im"));
    let features: Vec<_> = query
        .elements()
        .filter(|child| child.name == "feature")
        .filter_map(|feature| feature.attr("var"))
        .collect();
    assert_eq!(
        features,
        [
            NS_DISCO_INFO,
            NS_DISCO_ITEMS,
            NS_VERSION,
            crate::modules::carbons::NS_CARBONS,
            NS_PING,
            crate::router::stanza_id::NS_SID,
        ]
    );

    world
        .send(
            &alice,
            &format!("<iq to='localhost' type='get' id='2'><query xmlns='{NS_DISCO_ITEMS}'/></iq>"),
        )
        .await;
    assert_eq!(query_result(&alice_rec).elements().count(), 0);

    world
        .send(&alice, &format!("<iq to='localhost' type='get' id='3'><query xmlns='{NS_DISCO_INFO}' node='x'/></iq>"))
        .await;
    assert_eq!(
        alice_rec.lines(),
        ["iq error from=localhost item-not-found"]
    );
}

#[tokio::test]
async fn disco_of_a_user_shows_resources_only_to_the_user() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    let (_, _) = world.connect("alice@localhost/desk").await;
    let (bob, bob_rec) = world.connect("bob@localhost/desk").await;
    let items = format!(
        "<iq to='alice@localhost' type='get' id='1'><query xmlns='{NS_DISCO_ITEMS}'/></iq>"
    );
    world.send(&alice, &items).await;
    let jids: Vec<_> = query_result(&alice_rec)
        .elements()
        .filter_map(|item| item.attr("jid").map(str::to_owned))
        .collect();
    assert_eq!(jids, ["alice@localhost/desk", "alice@localhost/phone"]);
    world.send(&bob, &items).await;
    assert_eq!(query_result(&bob_rec).elements().count(), 0);

    world
        .send(
            &bob,
            &format!(
                "<iq to='alice@localhost' type='get' id='2'><query xmlns='{NS_DISCO_INFO}'/></iq>"
            ),
        )
        .await;
    let query = query_result(&bob_rec);
    let identity = query.child("identity", NS_DISCO_INFO).expect("identity");
    assert_eq!(identity.attr("category"), Some("account"));
    assert_eq!(identity.attr("type"), Some("registered"));
}

#[tokio::test]
async fn version_names_the_server() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    world
        .send(
            &alice,
            &format!("<iq to='localhost' type='get' id='1'><query xmlns='{NS_VERSION}'/></iq>"),
        )
        .await;
    let query = query_result(&alice_rec);
    assert_eq!(
        query.child("name", NS_VERSION).map(Element::text),
        Some("Bream".into())
    );
    assert_eq!(
        query.child("version", NS_VERSION).map(Element::text),
        Some(env!("CARGO_PKG_VERSION").into())
    );
}

// ---- sessions -------------------------------------------------------------------

#[tokio::test]
async fn a_newer_bind_replaces_the_older_session_with_conflict() {
    let world = world().await;
    let (_, old) = world.connect("alice@localhost/phone").await;
    let (_, new) = world.connect("alice@localhost/phone").await;
    assert_eq!(old.lines(), ["closed conflict"]);
    assert!(new.lines().is_empty());
    let (bob, _) = world.connect("bob@localhost/desk").await;
    world
        .send(&bob, "<message to='alice@localhost/phone' type='chat'/>")
        .await;
    assert!(old.lines().is_empty());
    assert_eq!(new.lines(), ["message chat from=bob@localhost/desk"]);
}

#[tokio::test]
async fn a_bind_that_lost_the_race_is_the_one_closed() {
    let world = world().await;
    let recorder = Recorder::default();
    let jid: Jid = "alice@localhost/phone".parse().expect("jid");
    let older = SessionId::next();
    let (_, newer) = world.connect("alice@localhost/phone").await;
    // The older id registers last.
    let entry = SessionEntry::new(jid, older, SessionHandle::new(recorder.clone()));
    world.router.open_session(entry).await.expect("table");
    assert_eq!(recorder.lines(), ["closed conflict"]);
    assert!(newer.lines().is_empty());
}

// ---- presence -------------------------------------------------------------------

#[tokio::test]
async fn broadcast_presence_reaches_the_users_available_resources() {
    let world = world().await;
    let (phone, phone_rec) = world.connect("alice@localhost/phone").await;
    let (desk, desk_rec) = world.connect("alice@localhost/desk").await;
    let (_, silent_rec) = world.connect("alice@localhost/silent").await;
    world.available(&phone, 1).await;
    assert_eq!(phone_rec.lines(), ["presence - from=alice@localhost/phone"]);
    world.available(&desk, 1).await;
    assert_eq!(phone_rec.lines(), ["presence - from=alice@localhost/desk"]);
    assert_eq!(desk_rec.lines(), ["presence - from=alice@localhost/desk"]);
    world.send(&desk, "<presence type='unavailable'/>").await;
    assert_eq!(
        phone_rec.lines(),
        ["presence unavailable from=alice@localhost/desk"]
    );
    assert!(desk_rec.lines().is_empty());
    assert!(silent_rec.lines().is_empty());
    let sessions = world
        .router
        .sessions()
        .user_sessions(&"alice@localhost".parse().expect("jid"))
        .expect("table");
    let available: Vec<_> = sessions
        .iter()
        .map(|entry| {
            (
                entry.jid.resource().unwrap_or_default().to_owned(),
                entry.available,
                entry.priority,
            )
        })
        .collect();
    assert_eq!(
        available,
        [
            ("desk".to_owned(), false, 0),
            ("phone".to_owned(), true, 1),
            ("silent".to_owned(), false, 0)
        ]
    );
}

#[tokio::test]
async fn directed_presence_recipients_learn_of_a_disconnect() {
    let world = world().await;
    let (alice, _) = world.connect("alice@localhost/phone").await;
    let (bob, bob_rec) = world.connect("bob@localhost/desk").await;
    world.available(&bob, 0).await;
    bob_rec.take();
    world.send(&alice, "<presence to='bob@localhost'/>").await;
    assert_eq!(bob_rec.lines(), ["presence - from=alice@localhost/phone"]);
    world.router.close_session(&alice).await;
    assert_eq!(
        bob_rec.lines(),
        ["presence unavailable from=alice@localhost/phone"]
    );
    // Closing twice runs the hooks once.
    world.router.close_session(&alice).await;
    assert!(bob_rec.lines().is_empty());
}

#[tokio::test]
async fn an_available_session_going_away_tells_the_users_other_resources() {
    let world = world().await;
    let (phone, phone_rec) = world.connect("alice@localhost/phone").await;
    let (desk, _) = world.connect("alice@localhost/desk").await;
    world.available(&phone, 0).await;
    world.available(&desk, 0).await;
    phone_rec.take();
    world.router.close_session(&desk).await;
    assert_eq!(
        phone_rec.lines(),
        ["presence unavailable from=alice@localhost/desk"]
    );
}

#[tokio::test]
async fn presence_to_a_bare_jid_reaches_available_resources_and_probes_need_a_contact() {
    let world = world().await;
    let (alice, alice_rec) = world.connect("alice@localhost/phone").await;
    let (bob, bob_rec) = world.connect("bob@localhost/desk").await;
    let (_, bob_silent) = world.connect("bob@localhost/silent").await;
    world.available(&bob, 0).await;
    bob_rec.take();
    world.send(&alice, "<presence to='bob@localhost'/>").await;
    assert_eq!(bob_rec.lines(), ["presence - from=alice@localhost/phone"]);
    assert!(bob_silent.lines().is_empty());
    world
        .send(&alice, "<presence to='bob@localhost' type='subscribe'/>")
        .await;
    assert_eq!(
        bob_rec.lines(),
        ["presence subscribe from=alice@localhost/phone"]
    );
    // Without a roster alice is nobody's contact: her probe is not answered.
    world
        .send(&alice, "<presence to='bob@localhost' type='probe'/>")
        .await;
    assert!(bob_rec.lines().is_empty());
    assert!(alice_rec.lines().is_empty());
    // A user's own probe is.
    let (bob_phone, bob_phone_rec) = world.connect("bob@localhost/phone").await;
    world
        .send(&bob_phone, "<presence to='bob@localhost' type='probe'/>")
        .await;
    assert_eq!(
        bob_phone_rec.lines(),
        ["presence - from=bob@localhost/desk"]
    );
}

// ---- building -------------------------------------------------------------------

#[tokio::test]
async fn two_handlers_for_one_namespace_are_refused() {
    let owner = bream_testkit::actor::spawn_idle().await;
    let table = LocalSessionTable::new(&owner.get_cell()).expect("table");
    let mut modules = modules::defaults();
    modules.push(Arc::new(modules::ping::Ping));
    let error = Router::new(
        &["localhost".to_owned()],
        Arc::new(table),
        Arc::new(MemoryAccounts::new()),
        Arc::new(NoOfflineStorage),
        &modules,
    )
    .err();
    assert_eq!(
        error,
        Some(RouterError::DuplicateIqHandler {
            scope: IqScope::Server,
            namespace: NS_PING.to_owned()
        })
    );
    owner.stop(None);
}

#[tokio::test]
async fn the_table_finds_sessions_by_resource_and_by_user() {
    let world = world().await;
    world.connect("alice@localhost/a").await;
    world.connect("alice@localhost/a b").await;
    world.connect("alice@localhost/ab").await;
    world.connect("alicex@localhost/a").await;
    world.connect("alic@localhost/a").await;
    let sessions = world.router.sessions();
    let user: BareJid = "alice@localhost".parse().expect("jid");
    assert_eq!(sessions.user_sessions(&user).expect("table").len(), 3);
    let resource: Jid = "alice@localhost/a".parse().expect("jid");
    assert_eq!(
        sessions.resource_sessions(&resource).expect("table").len(),
        1
    );
    assert_eq!(sessions.count().expect("table"), 5);
    assert_eq!(sessions.all().expect("table").len(), 5);
}
