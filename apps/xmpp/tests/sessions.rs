//! What today's clients expect of a session beyond RFC 6120/6121, on one node with the embedded
//! default storage: message carbons (XEP-0280) and stable stanza ids (XEP-0359). The cluster
//! cases are in `cluster.rs`.

use bream_testkit::xmpp::{TestClient, TestServer, PASSWORD};
use bream_xmpp::xml::Element;

const NS_CARBONS: &str = "urn:xmpp:carbons:2";
const NS_FORWARD: &str = "urn:xmpp:forward:0";
const NS_SID: &str = "urn:xmpp:sid:0";

async fn server() -> TestServer {
    TestServer::builder()
        .users(["juliet", "romeo"])
        .start()
        .await
}

/// Enables carbons on `client` and waits for the result.
pub(crate) async fn enable_carbons(client: &mut TestClient) {
    client
        .send("<iq type='set' id='carbons-on'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
        .await;
    let result = client
        .expect("the carbons result", |element| {
            element.name == "iq" && element.attr("id") == Some("carbons-on")
        })
        .await;
    assert_eq!(result.attr("type"), Some("result"), "{result}");
}

/// The message a carbon of `direction` (`sent`/`received`) forwards, if `element` is one.
pub(crate) fn carbon<'e>(element: &'e Element, direction: &str) -> Option<&'e Element> {
    element
        .child(direction, NS_CARBONS)?
        .child("forwarded", NS_FORWARD)?
        .elements()
        .find(|inner| inner.name == "message")
}

fn body(message: &Element) -> String {
    message
        .elements()
        .find(|child| child.name == "body")
        .map(Element::text)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbons_copy_received_and_sent_messages_to_the_other_enabled_resources() {
    let server = server().await;
    let addr = server.c2s_addr();
    let mut phone = TestClient::login_available(addr, "juliet", PASSWORD, "phone").await;
    let mut laptop = TestClient::login_available(addr, "juliet", PASSWORD, "laptop").await;
    let mut tablet = TestClient::login_available(addr, "juliet", PASSWORD, "tablet").await;
    let mut romeo = TestClient::login_available(addr, "romeo", PASSWORD, "garden").await;
    enable_carbons(&mut phone).await;
    enable_carbons(&mut laptop).await;

    // To the phone's full JID: the laptop gets a received copy; the tablet, which did not
    // enable carbons, gets nothing.
    romeo
        .message("juliet@localhost/phone", "to the phone")
        .await;
    phone.expect_body("romeo@localhost", "to the phone").await;
    let copy = laptop
        .expect("a received carbon", |element| {
            carbon(element, "received").is_some_and(|inner| body(inner) == "to the phone")
        })
        .await;
    assert_eq!(copy.attr("from"), Some("juliet@localhost"), "{copy}");
    assert_eq!(copy.attr("to"), Some("juliet@localhost/laptop"), "{copy}");
    let inner = carbon(&copy, "received").expect("forwarded");
    assert_eq!(
        inner.attr("from"),
        Some("romeo@localhost/garden"),
        "{inner}"
    );

    // From the tablet (carbons off there): the enabled phone and laptop get sent copies.
    tablet.message("romeo@localhost", "from the tablet").await;
    romeo
        .expect_body("juliet@localhost", "from the tablet")
        .await;
    for client in [&mut phone, &mut laptop] {
        let copy = client
            .expect("a sent carbon", |element| {
                carbon(element, "sent").is_some_and(|inner| body(inner) == "from the tablet")
            })
            .await;
        let inner = carbon(&copy, "sent").expect("forwarded");
        assert_eq!(
            inner.attr("from"),
            Some("juliet@localhost/tablet"),
            "{inner}"
        );
        assert_eq!(inner.attr("to"), Some("romeo@localhost"), "{inner}");
    }

    // <private/> and <no-copy/> are not copied; a plain message after them is, so the
    // laptop's next carbon proves nothing came before it.
    phone
        .send(
            "<message to='romeo@localhost' type='chat'><body>private</body>\
             <private xmlns='urn:xmpp:carbons:2'/></message>",
        )
        .await;
    phone
        .send(
            "<message to='romeo@localhost' type='chat'><body>no copy</body>\
             <no-copy xmlns='urn:xmpp:hints'/></message>",
        )
        .await;
    phone.message("romeo@localhost", "copied").await;
    romeo.expect_body("juliet@localhost", "copied").await;
    let copy = laptop
        .expect("the next sent carbon", |element| {
            carbon(element, "sent").is_some()
        })
        .await;
    assert_eq!(body(carbon(&copy, "sent").expect("forwarded")), "copied");

    // Disabled: no more copies (a received message after the disable reaches the phone only;
    // a ping answered after it proves the laptop got nothing before).
    laptop
        .send("<iq type='set' id='off'><disable xmlns='urn:xmpp:carbons:2'/></iq>")
        .await;
    laptop
        .expect("the disable result", |element| {
            element.attr("id") == Some("off")
        })
        .await;
    romeo
        .message("juliet@localhost/phone", "after disable")
        .await;
    phone.expect_body("romeo@localhost", "after disable").await;
    laptop
        .send("<iq type='get' id='after-disable' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let next = laptop
        .expect("the ping answer or a carbon", |element| {
            element.attr("id") == Some("after-disable") || carbon(element, "received").is_some()
        })
        .await;
    assert_eq!(next.attr("id"), Some("after-disable"), "{next}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbons_and_stanza_ids_are_in_disco_and_a_bad_carbons_request_is_refused() {
    let server = server().await;
    let mut phone =
        TestClient::login_available(server.c2s_addr(), "juliet", PASSWORD, "phone").await;
    phone
        .send("<iq type='get' id='disco' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        .await;
    let info = phone
        .expect("disco#info", |element| element.attr("id") == Some("disco"))
        .await;
    let query = info.elements().next().expect("query");
    let features: Vec<&str> = query
        .elements()
        .filter(|child| child.name == "feature")
        .filter_map(|feature| feature.attr("var"))
        .collect();
    assert!(features.contains(&NS_CARBONS), "{features:?}");
    assert!(features.contains(&NS_SID), "{features:?}");
    phone
        .send("<iq type='get' id='get'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
        .await;
    let error = phone
        .expect("the error", |element| element.attr("id") == Some("get"))
        .await;
    assert_eq!(error.attr("type"), Some("error"), "{error}");
    assert!(error.to_string().contains("bad-request"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_messages_carry_a_stanza_id_and_a_forged_one_is_stripped() {
    let server = server().await;
    let addr = server.c2s_addr();
    let mut juliet = TestClient::login_available(addr, "juliet", PASSWORD, "phone").await;
    let mut romeo = TestClient::login_available(addr, "romeo", PASSWORD, "garden").await;
    romeo
        .send(
            "<message to='juliet@localhost' type='chat'><body>one</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='juliet@localhost'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='theirs' by='elsewhere.example'/>\
             <origin-id xmlns='urn:xmpp:sid:0' id='mine'/></message>",
        )
        .await;
    romeo.message("juliet@localhost", "two").await;
    let first = juliet.expect_body("romeo@localhost", "one").await;
    let second = juliet.expect_body("romeo@localhost", "two").await;
    let ids = |message: &Element| -> Vec<(String, String)> {
        message
            .elements()
            .filter(|child| child.name == "stanza-id" && child.namespace == NS_SID)
            .map(|child| {
                (
                    child.attr("by").unwrap_or_default().to_owned(),
                    child.attr("id").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let first_ids = ids(&first);
    assert_eq!(first_ids.len(), 2, "{first}");
    assert!(first_ids.contains(&("elsewhere.example".into(), "theirs".into())));
    let own: Vec<&(String, String)> = first_ids
        .iter()
        .filter(|(by, _)| by == "juliet@localhost")
        .collect();
    assert_eq!(own.len(), 1, "{first}");
    assert_ne!(own[0].1, "forged");
    assert_eq!(
        first
            .child("origin-id", NS_SID)
            .and_then(|id| id.attr("id")),
        Some("mine")
    );
    let second_ids = ids(&second);
    assert_eq!(second_ids.len(), 1, "{second}");
    assert_ne!(second_ids[0].1, own[0].1, "ids are unique");

    // Stored offline, a message is stamped when stored, and keeps its id when delivered.
    juliet.close().await;
    let router = server.router();
    let user: bream_xmpp::jid::BareJid = "juliet@localhost".parse().expect("jid");
    bream_testkit::eventually_sync("juliet's session is gone", bream_testkit::DEADLINE, || {
        router
            .sessions()
            .user_sessions(&user)
            .is_ok_and(|sessions| sessions.is_empty())
    })
    .await;
    romeo.message("juliet@localhost", "while away").await;
    let mut juliet = TestClient::login_available(addr, "juliet", PASSWORD, "phone").await;
    let offline = juliet.expect_body("romeo@localhost", "while away").await;
    assert_eq!(ids(&offline).len(), 1, "{offline}");
    server.stop().await;
}

/// The disco#info query of XEP-0115 §5.2's example client, with `extra` features.
pub(crate) fn exodus_info(extra: &[&str]) -> String {
    let mut features = vec![
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
    ];
    features.extend_from_slice(extra);
    let features: String = features
        .iter()
        .map(|var| format!("<feature var='{var}'/>"))
        .collect();
    format!(
        "<query xmlns='http://jabber.org/protocol/disco#info' node='https://exodus.example#{EXODUS_VER}'>\
         <identity category='client' type='pc' name='Exodus 0.9.1'/>{features}</query>"
    )
}

/// The verification string of XEP-0115 §5.2's example.
pub(crate) const EXODUS_VER: &str = "QgayPKawpkPSDYmwT/WM94uAlu0=";

pub(crate) fn caps_presence() -> String {
    format!(
        "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
         node='https://exodus.example' ver='{EXODUS_VER}'/></presence>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_capabilities_are_learnt_once_per_verification_string() {
    let server = server().await;
    let addr = server.c2s_addr();
    let router = server.router();
    let mut first = TestClient::login(addr, "juliet", PASSWORD, "phone").await;
    first.send(&caps_presence()).await;
    let query = first
        .expect("the server's disco#info query", |element| {
            element.name == "iq"
                && element.attr("type") == Some("get")
                && element.attr("from") == Some("localhost")
        })
        .await;
    let inner = query.elements().next().expect("query");
    assert_eq!(
        inner.attr("node"),
        Some(format!("https://exodus.example#{EXODUS_VER}").as_str())
    );
    // A wrong answer first (a feature more than the hash covers) is not learnt...
    let id = query.attr("id").expect("id").to_owned();
    first
        .send(&format!(
            "<iq type='result' to='localhost' id='{id}'>{}</iq>",
            exodus_info(&["urn:not:hashed"])
        ))
        .await;
    // The answer is checked as it is routed, before the ping that follows it.
    first
        .send("<iq type='get' id='after-wrong' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    first
        .expect("the ping answer", |element| {
            element.attr("id") == Some("after-wrong")
        })
        .await;
    assert!(router.caps_cache().get(EXODUS_VER).is_none());

    // ... so the next announcement asks again, and the right answer is.
    let mut second = TestClient::login(addr, "romeo", PASSWORD, "garden").await;
    second.send(&caps_presence()).await;
    let query = second
        .expect("the second query", |element| {
            element.name == "iq" && element.attr("from") == Some("localhost")
        })
        .await;
    let id = query.attr("id").expect("id").to_owned();
    second
        .send(&format!(
            "<iq type='result' to='localhost' id='{id}'>{}</iq>",
            exodus_info(&[])
        ))
        .await;
    second
        .send("<iq type='get' id='after-right' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    second
        .expect("the ping answer", |element| {
            element.attr("id") == Some("after-right")
        })
        .await;
    let features = router.caps_cache().get(EXODUS_VER).expect("learnt");
    assert!(features.contains(&"http://jabber.org/protocol/muc".to_owned()));

    // A third client with the same string is not asked: the next thing it gets is its ping's
    // answer.
    let mut third = TestClient::login(addr, "juliet", PASSWORD, "laptop").await;
    third.send(&caps_presence()).await;
    third
        .send("<iq type='get' id='after-caps' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let next = third
        .expect("the ping answer or a query", |element| {
            element.name == "iq"
                && (element.attr("id") == Some("after-caps")
                    || element.attr("from") == Some("localhost"))
        })
        .await;
    assert_eq!(next.attr("id"), Some("after-caps"), "{next}");
    server.stop().await;
}

async fn registration_server() -> TestServer {
    TestServer::builder()
        .users(["juliet", "romeo"])
        .configure(|config| {
            config.modules.mod_register.enabled = true;
            config.modules.mod_register.password_strength = 40;
        })
        .start()
        .await
}

/// Sends `payload` as an iq set for the own account and returns the answer.
async fn register_iq(client: &mut TestClient, id: &str, kind: &str, payload: &str) -> Element {
    client
        .send(&format!(
            "<iq type='{kind}' id='{id}'><query xmlns='jabber:iq:register'>{payload}</query></iq>"
        ))
        .await;
    client
        .expect("the registration answer", |element| {
            element.attr("id") == Some(id)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_changes_the_password_in_band_and_cancels_the_account() {
    let server = registration_server().await;
    let addr = server.c2s_addr();
    let mut juliet = TestClient::login_available(addr, "juliet", PASSWORD, "phone").await;
    let mut laptop = TestClient::login_available(addr, "juliet", PASSWORD, "laptop").await;

    juliet
        .send("<iq type='get' id='disco' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        .await;
    let disco = juliet
        .expect("disco#info", |element| element.attr("id") == Some("disco"))
        .await;
    assert!(
        disco.to_string().contains("var=\"jabber:iq:register\"")
            || disco.to_string().contains("var='jabber:iq:register'"),
        "{disco}"
    );
    let info = register_iq(&mut juliet, "get", "get", "").await;
    let query = info.elements().next().expect("query");
    assert!(
        query.child("registered", "jabber:iq:register").is_some(),
        "{info}"
    );

    // Too weak for password_strength = 40 (8 lower-case letters are about 37.6 bits).
    let weak = register_iq(
        &mut juliet,
        "weak",
        "set",
        "<username>juliet</username><password>abcdefgh</password>",
    )
    .await;
    assert!(weak.to_string().contains("not-acceptable"), "{weak}");
    let other = register_iq(
        &mut juliet,
        "other",
        "set",
        "<username>romeo</username><password>Strong-Pass-42</password>",
    )
    .await;
    assert!(other.to_string().contains("not-authorized"), "{other}");
    let changed = register_iq(
        &mut juliet,
        "change",
        "set",
        "<username>juliet</username><password>Strong-Pass-42</password>",
    )
    .await;
    assert_eq!(changed.attr("type"), Some("result"), "{changed}");
    let mut again = TestClient::connect(addr).await;
    again.open().await;
    let success = again.auth_plain("juliet", "Strong-Pass-42").await;
    assert_eq!(success.name, "success", "{success}");

    // Cancelling: the result, then every session of the account ends with not-authorized,
    // and the account is gone.
    let cancelled = register_iq(&mut juliet, "cancel", "set", "<remove/>").await;
    assert_eq!(cancelled.attr("type"), Some("result"), "{cancelled}");
    juliet.expect_stream_error("not-authorized").await;
    laptop.expect_stream_error("not-authorized").await;
    let mut gone = TestClient::connect(addr).await;
    gone.open().await;
    let failure = gone.auth_plain("juliet", "Strong-Pass-42").await;
    assert_eq!(failure.name, "failure", "{failure}");
    server.stop().await;
}

/// A connection that has not signed in; the features of its stream.
async fn unauthenticated(server: &TestServer) -> (TestClient, Element) {
    let mut client = TestClient::connect(server.c2s_addr()).await;
    let features = client.open().await;
    (client, features)
}

/// A registration `set` for `username` before sign-in; the answer's error condition, or
/// `"result"`.
async fn sign_up(client: &mut TestClient, id: &str, username: &str, password: &str) -> String {
    let answer = register_iq(
        client,
        id,
        "set",
        &format!("<username>{username}</username><password>{password}</password>"),
    )
    .await;
    match answer.attr("type") {
        Some("result") => "result".into(),
        _ => answer
            .child("error", "jabber:client")
            .and_then(|error| error.elements().next())
            .map(|condition| condition.name.clone())
            .unwrap_or_else(|| panic!("not an answer: {answer}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registers_before_sign_in_and_signs_in_with_the_new_account() {
    let server = registration_server().await;
    let (mut client, features) = unauthenticated(&server).await;
    assert!(
        features
            .child("register", "http://jabber.org/features/iq-register")
            .is_some(),
        "{features}"
    );
    let fields = register_iq(&mut client, "fields", "get", "").await;
    let query = fields.elements().next().expect("query");
    for field in ["username", "password"] {
        assert!(
            query.child(field, "jabber:iq:register").is_some(),
            "{fields}"
        );
    }
    assert_eq!(
        sign_up(&mut client, "weak", "mercutio", "abcdefgh").await,
        "not-acceptable"
    );
    assert_eq!(
        sign_up(&mut client, "taken", "juliet", "Strong-Pass-42").await,
        "conflict"
    );
    assert_eq!(
        sign_up(&mut client, "new", "Mercutio", "Strong-Pass-42").await,
        "result"
    );
    // The account exists (its username prepared), on this same stream.
    let success = client.auth_plain("mercutio", "Strong-Pass-42").await;
    assert_eq!(success.name, "success", "{success}");

    // One registration per address per registration_timeout.
    let (mut again, _) = unauthenticated(&server).await;
    assert_eq!(
        sign_up(&mut again, "soon", "tybalt", "Strong-Pass-42").await,
        "resource-constraint"
    );
    // Cancelling needs an account signed in.
    let remove = register_iq(&mut again, "remove", "set", "<remove/>").await;
    assert!(remove.to_string().contains("not-authorized"), "{remove}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refusals_count_as_failed_attempts() {
    let server = registration_server().await;
    let (mut client, _) = unauthenticated(&server).await;
    for id in ["1", "2", "3"] {
        assert_eq!(
            sign_up(&mut client, id, "juliet", "Strong-Pass-42").await,
            "conflict"
        );
    }
    client.expect_stream_error("policy-violation").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_refused_by_the_access_rule_and_the_ip_list() {
    use bream_xmpp::config::modules::{IpAccess, IpPolicy, RegisterAccess};
    let closed = TestServer::builder()
        .configure(|config| {
            config.modules.mod_register.enabled = true;
            config.modules.mod_register.access = RegisterAccess::None;
        })
        .start()
        .await;
    let (mut client, _) = unauthenticated(&closed).await;
    assert_eq!(
        sign_up(&mut client, "closed", "tybalt", "Strong-Pass-42").await,
        "forbidden"
    );
    closed.stop().await;
    let denied = TestServer::builder()
        .configure(|config| {
            config.modules.mod_register.enabled = true;
            config.modules.mod_register.ip_access = vec![IpAccess {
                address: "127.0.0.0/8".into(),
                policy: IpPolicy::Deny,
            }];
        })
        .start()
        .await;
    let (mut client, _) = unauthenticated(&denied).await;
    assert_eq!(
        sign_up(&mut client, "denied", "tybalt", "Strong-Pass-42").await,
        "forbidden"
    );
    denied.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mod_register_there_is_no_feature_and_the_iq_is_not_authorized() {
    let server = server().await;
    let (mut client, features) = unauthenticated(&server).await;
    assert!(
        features
            .child("register", "http://jabber.org/features/iq-register")
            .is_none(),
        "{features}"
    );
    client
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:register'/></iq>")
        .await;
    client.expect_stream_error("not-authorized").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_features_carry_the_servers_caps_and_roster_versioning() {
    let server = server().await;
    let mut client = TestClient::connect(server.c2s_addr()).await;
    client.open().await;
    let success = client.auth_plain("juliet", PASSWORD).await;
    assert_eq!(success.name, "success", "{success}");
    let features = client.open().await;
    assert!(
        features
            .child("ver", "urn:xmpp:features:rosterver")
            .is_some(),
        "{features}"
    );
    let caps = features
        .child("c", "http://jabber.org/protocol/caps")
        .unwrap_or_else(|| panic!("no <c/> in {features}"));
    assert_eq!(caps.attr("hash"), Some("sha-1"));
    let (node, ver) = (
        caps.attr("node").expect("node").to_owned(),
        caps.attr("ver").expect("ver").to_owned(),
    );
    client.bind("phone").await;
    client
        .send(&format!(
            "<iq type='get' id='caps' to='localhost'>\
             <query xmlns='http://jabber.org/protocol/disco#info' node='{node}#{ver}'/></iq>"
        ))
        .await;
    let answer = client
        .expect("the caps node's disco#info", |element| {
            element.attr("id") == Some("caps")
        })
        .await;
    assert_eq!(answer.attr("type"), Some("result"), "{answer}");
    let query = answer.elements().next().expect("query");
    assert_eq!(query.attr("node"), Some(format!("{node}#{ver}").as_str()));
    assert_eq!(
        bream_xmpp::modules::caps::verification_string(query).as_deref(),
        Some(ver.as_str()),
        "the advertised string is the hash of what disco#info says"
    );
    client
        .send(
            "<iq type='get' id='other' to='localhost'>\
             <query xmlns='http://jabber.org/protocol/disco#info' node='elsewhere#x'/></iq>",
        )
        .await;
    let other = client
        .expect("another node", |element| {
            element.attr("id") == Some("other")
        })
        .await;
    assert_eq!(other.attr("type"), Some("error"), "{other}");
    server.stop().await;
}
