//! The user GraphQL API over real sockets: the real server started in this process on free
//! ports, over a temporary SQLite database, with XMPP clients connected.
//!
//! Requests go through [`User::get`] / [`User::data`] (the one `check` helper per boundary);
//! they are sent as `curl --get --data-urlencode` sends them, the shape the seed's loop uses.
//! Nothing waits a fixed time: every wait is for a read or a condition, with a deadline.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bream_testkit::xmpp::{graphql, TestClient, TestServer, DOMAIN, NS_ROSTER};
use bream_testkit::{eventually_sync, raw_get, DEADLINE};
use bream_xmpp::api::client::{AdminClient, ApiResponse};
use bream_xmpp::router::Router;
use bream_xmpp::storage::Storage;
use bream_xmpp::xml::Element;
use serde_json::{json, Value};

// ---- the node -----------------------------------------------------------------------

/// The real server with the default modules (roster, offline, vCard, private, last, ...) and
/// the user API over a temporary database.
struct Node(TestServer);

impl Node {
    async fn start() -> Node {
        Node(TestServer::start().await)
    }

    async fn register(&self, username: &str, password: &str) {
        self.0.register(username, password).await;
    }

    fn api_addr(&self) -> SocketAddr {
        self.0.user_addr()
    }

    fn c2s_addr(&self) -> SocketAddr {
        self.0.c2s_addr()
    }

    fn router(&self) -> Arc<Router> {
        self.0.router()
    }

    fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// The API as `user@localhost` with `password`.
    fn user(&self, user: &str, password: &str) -> User {
        User(self.0.user_api(user, password))
    }

    /// Waits until `user` has `count` sessions.
    async fn wait_for_sessions(&self, user: &str, count: usize) {
        let bare = format!("{user}@{DOMAIN}").parse().expect("jid");
        eventually_sync(&format!("{user} has {count} sessions"), DEADLINE, || {
            self.router()
                .sessions()
                .user_sessions(&bare)
                .expect("session table")
                .len()
                == count
        })
        .await;
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

/// The API as one user sees it.
struct User(AdminClient);

impl User {
    /// `GET /api/graphql?query=...`, as the seed's curl loop sends it.
    async fn get(&self, query: &str) -> ApiResponse {
        self.0.get(query).await.expect("an answer")
    }

    /// The `data` of a query that must succeed.
    async fn data(&self, query: &str) -> Value {
        graphql::expect_data(query, &self.get(query).await)
    }

    /// The `extensions.code` of a query that must fail with HTTP 200.
    async fn error_code(&self, query: &str) -> String {
        graphql::expect_error_code(query, &self.get(query).await)
    }
}

// ---- tests --------------------------------------------------------------------------

/// The seed's loop, as written: `curl --get` with the mutation in the `query` parameter and
/// Basic `alice@localhost:secret`. Online, alice's client gets the message; offline, it is
/// stored and delivered at her next login.
#[tokio::test]
async fn seed_loop_message_reaches_alice_online_and_offline() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    let alice_api = node.user("alice", "secret");
    let seed = r#"mutation {stanza {sendMessage(to: "alice@localhost", body: "Hi") {id}}}"#;

    let mut alice = TestClient::login_available(node.c2s_addr(), "alice", "secret", "phone").await;
    // Available, not only bound: a message to a bound but not yet available session is stored
    // offline, and could miss the flush that the initial presence starts.
    alice.wait_available().await;
    let data = alice_api.data(seed).await;
    let id = data["stanza"]["sendMessage"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    assert_eq!(id.len(), 32, "{id}");
    let message = alice.next_where(|element| element.name == "message").await;
    assert_eq!(message.attr("id"), Some(id.as_str()));
    assert_eq!(message.attr("type"), Some("chat"));
    assert_eq!(message.attr("from"), Some("alice@localhost"));
    assert_eq!(message.attr("to"), Some("alice@localhost"));
    let body = message.elements().find(|child| child.name == "body");
    assert_eq!(body.map(Element::text).as_deref(), Some("Hi"));

    drop(alice);
    node.wait_for_sessions("alice", 0).await;
    let offline_id = alice_api.data(seed).await["stanza"]["sendMessage"]["id"].clone();
    assert_ne!(offline_id, json!(id));
    assert_eq!(
        node.storage()
            .count_offline(DOMAIN, "alice")
            .await
            .expect("count"),
        1
    );
    let mut alice = TestClient::login_available(node.c2s_addr(), "alice", "secret", "laptop").await;
    let stored = alice.next_where(|element| element.name == "message").await;
    assert_eq!(stored.attr("id"), offline_id.as_str());
    node.stop().await;
}

#[tokio::test]
async fn credentials_are_checked_against_the_accounts() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    let query = "{ checkAuth { username authStatus } }";
    assert_eq!(
        node.user("alice", "secret").data(query).await,
        json!({ "checkAuth": { "username": "alice@localhost", "authStatus": "AUTHORIZED" } })
    );
    for (user, password) in [("alice", "wrong"), ("zed", "secret"), ("", "secret")] {
        let refused = node.user(user, password).get(query).await;
        assert_eq!(refused.status, 401, "{user}: {refused:?}");
        assert_eq!(
            refused.body["errors"][0]["extensions"]["code"],
            json!("unauthorized")
        );
    }
    let elsewhere = User(AdminClient {
        address: node.api_addr(),
        credentials: Some(("alice@elsewhere.org".to_string(), "secret".to_string())),
    });
    assert_eq!(elsewhere.get(query).await.status, 401);
    let (status, response) = raw_get(node.api_addr(), "/api/graphql", None).await;
    assert_eq!(status, 401);
    assert!(
        response
            .to_lowercase()
            .contains("www-authenticate: basic realm=\"bream user\""),
        "{response}"
    );
    let token = BASE64.encode("alice@localhost:secret");
    let (status, page) = raw_get(
        node.api_addr(),
        "/api/graphql",
        Some(&format!("Basic {token}")),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("graphiql"), "{page}");
    node.stop().await;
}

#[tokio::test]
async fn a_user_sends_only_as_themselves() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    node.register("bob", "pw").await;
    let alice = node.user("alice", "secret");
    let mut bob = TestClient::login_available(node.c2s_addr(), "bob", "pw", "desk").await;
    node.wait_for_sessions("bob", 1).await;

    let forged = r#"mutation { stanza { sendMessage(from: "bob@localhost", to: "bob@localhost", body: "x") { id } } }"#;
    assert_eq!(alice.error_code(forged).await, "invalid_sender");
    let forged_stanza = r#"mutation { stanza { sendStanza(stanza: "<message from='bob@localhost' to='bob@localhost'/>") { id } } }"#;
    assert_eq!(alice.error_code(forged_stanza).await, "invalid_sender");
    let bad_to = r#"mutation { stanza { sendMessage(to: "@@", body: "x") { id } } }"#;
    assert_eq!(alice.error_code(bad_to).await, "bad_request");

    let from_resource = r#"mutation { stanza { sendMessage(from: "alice@localhost/api", to: "bob@localhost", body: "one") { id } } }"#;
    alice.data(from_resource).await;
    let message = bob.next_where(|element| element.name == "message").await;
    assert_eq!(message.attr("from"), Some("alice@localhost/api"));

    let stanza = r#"mutation { stanza { sendStanza(stanza: "<message to='bob@localhost' type='chat' id='s1'><body>two</body></message>") { id } } }"#;
    assert_eq!(
        alice.data(stanza).await["stanza"]["sendStanza"]["id"],
        json!("s1")
    );
    let message = bob.next_where(|element| element.name == "message").await;
    assert_eq!(message.attr("from"), Some("alice@localhost"));
    assert_eq!(message.attr("id"), Some("s1"));
    node.stop().await;
}

#[tokio::test]
async fn roster_changes_push_to_the_users_sessions() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    node.register("bob", "pw").await;
    let alice_api = node.user("alice", "secret");
    let mut alice = TestClient::login_available(node.c2s_addr(), "alice", "secret", "phone").await;
    alice
        .send(&format!(
            "<iq type='get' id='r1'><query xmlns='{NS_ROSTER}'/></iq>"
        ))
        .await;
    alice
        .next_where(|element| element.attr("id") == Some("r1"))
        .await;

    let add = r#"mutation { roster { addContact(contact: "bob@localhost", name: "Bob", groups: ["friends"]) } }"#;
    assert_eq!(
        alice_api.data(add).await,
        json!({ "roster": { "addContact": "Contact added" } })
    );
    let push = alice
        .next_where(|element| element.name == "iq" && element.attr("type") == Some("set"))
        .await;
    let item = push
        .elements()
        .next()
        .and_then(|query| query.elements().next())
        .expect("an item");
    assert_eq!(item.attr("jid"), Some("bob@localhost"));
    assert_eq!(item.attr("name"), Some("Bob"));

    let contacts = alice_api
        .data("{ roster { listContacts { jid name groups subscription ask } } }")
        .await;
    assert_eq!(
        contacts["roster"]["listContacts"],
        json!([{ "jid": "bob@localhost", "name": "Bob", "groups": ["friends"], "subscription": "NONE", "ask": "NONE" }])
    );
    let full_jid = r#"mutation { roster { addContact(contact: "bob@localhost/x") } }"#;
    assert_eq!(alice_api.error_code(full_jid).await, "bad_request");

    let delete = r#"mutation { roster { deleteContact(contact: "bob@localhost") } }"#;
    alice_api.data(delete).await;
    let removed = alice
        .next_where(|element| element.name == "iq" && element.attr("type") == Some("set"))
        .await;
    assert!(removed.to_string().contains("remove"), "{removed}");
    assert_eq!(
        alice_api.data("{ roster { listContacts { jid } } }").await,
        json!({ "roster": { "listContacts": [] } })
    );
    assert_eq!(alice_api.error_code(delete).await, "not_found");
    node.stop().await;
}

#[tokio::test]
async fn sessions_account_password_and_unregister() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    let alice_api = node.user("alice", "secret");
    let mut phone = TestClient::login_available(node.c2s_addr(), "alice", "secret", "phone").await;
    let _laptop = TestClient::login_available(node.c2s_addr(), "alice", "secret", "laptop").await;
    node.wait_for_sessions("alice", 2).await;
    assert_eq!(
        alice_api
            .data("{ session { listResources countResources } }")
            .await,
        json!({ "session": { "listResources": ["laptop", "phone"], "countResources": 2 } })
    );

    let change = r#"mutation { account { changePassword(newPassword: "n3w") } }"#;
    assert_eq!(
        alice_api.data(change).await,
        json!({ "account": { "changePassword": "Password changed" } })
    );
    assert_eq!(
        alice_api.get("{ checkAuth { authStatus } }").await.status,
        401
    );
    let alice_api = node.user("alice", "n3w");
    let empty = r#"mutation { account { changePassword(newPassword: "") } }"#;
    assert_eq!(alice_api.error_code(empty).await, "invalid_password");

    alice_api.data("mutation { account { unregister } }").await;
    assert_eq!(phone.stream_error_condition().await, "not-authorized");
    assert!(!node
        .storage()
        .user_exists(DOMAIN, "alice")
        .await
        .expect("storage"));
    assert_eq!(
        alice_api.get("{ checkAuth { authStatus } }").await.status,
        401
    );
    node.stop().await;
}

#[tokio::test]
async fn vcard_private_and_last_go_through_the_modules() {
    let node = Node::start().await;
    node.register("alice", "secret").await;
    node.register("bob", "pw").await;
    let alice = node.user("alice", "secret");
    let bob = node.user("bob", "pw");

    let set = r#"mutation { vcard { setVcard(vcard: { formattedName: "Alice L", nameComponents: { givenName: "Alice" }, email: [{ tags: [HOME], userId: "a@example.org" }] }) { formattedName } } }"#;
    alice.data(set).await;
    let get = "{ vcard { getVcard { formattedName nameComponents { givenName } email { tags userId } } } }";
    assert_eq!(
        alice.data(get).await["vcard"]["getVcard"],
        json!({ "formattedName": "Alice L", "nameComponents": { "givenName": "Alice" }, "email": [{ "tags": ["HOME"], "userId": "a@example.org" }] })
    );
    let someone_elses = r#"{ vcard { getVcard(user: "alice@localhost") { formattedName } } }"#;
    assert_eq!(
        bob.data(someone_elses).await["vcard"]["getVcard"]["formattedName"],
        json!("Alice L")
    );
    let nobody = r#"{ vcard { getVcard(user: "zed@localhost") { formattedName } } }"#;
    assert_eq!(bob.error_code(nobody).await, "user_not_found");

    let set_private = r#"mutation { private { setPrivate(elementString: "<notes xmlns='storage:notes'><note>hi</note></notes>") } }"#;
    alice.data(set_private).await;
    let get_private = r#"{ private { getPrivate(element: "notes", nameSpace: "storage:notes") } }"#;
    let stored = alice.data(get_private).await["private"]["getPrivate"].clone();
    assert!(
        stored
            .as_str()
            .is_some_and(|xml| xml.contains("<note>hi</note>")),
        "{stored}"
    );
    assert_eq!(
        bob.data(get_private).await["private"]["getPrivate"],
        json!("<notes xmlns='storage:notes'/>")
    );
    let reserved = r#"mutation { private { setPrivate(elementString: "<query xmlns='jabber:iq:roster'/>") } }"#;
    assert_eq!(alice.error_code(reserved).await, "bad_request");

    let set_last = r#"mutation { last { setLast(timestamp: "2024-05-01T10:00:00Z", status: "gone fishing") { user timestamp status } } }"#;
    assert_eq!(
        alice.data(set_last).await["last"]["setLast"],
        json!({ "user": "alice@localhost", "timestamp": "2024-05-01T10:00:00Z", "status": "gone fishing" })
    );
    assert_eq!(
        alice
            .data("{ last { getLast { timestamp status } } }")
            .await["last"]["getLast"],
        json!({ "timestamp": "2024-05-01T10:00:00Z", "status": "gone fishing" })
    );
    // Bob does not share alice's presence: her last activity is not his to read.
    let others = r#"{ last { getLast(user: "alice@localhost") { timestamp } } }"#;
    assert_eq!(bob.error_code(others).await, "forbidden");
    let bad_time =
        r#"mutation { last { setLast(timestamp: "yesterday", status: "x") { status } } }"#;
    let refused = alice.get(bad_time).await;
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("2024-05-01T10:00:00Z")),
        "{refused:?}"
    );
    node.stop().await;
}
