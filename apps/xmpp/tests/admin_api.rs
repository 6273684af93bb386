//! The admin GraphQL API over real sockets: the real server started in this process on free
//! ports, over a temporary SQLite database, with XMPP clients connected; and the real
//! `bream-xmpp` binary's `ctl` commands talking to it.
//!
//! Every request goes through [`Api::query`] (one `check` helper for the boundary), so the
//! transport can change in one place. Nothing waits a fixed time: every wait is for a read or
//! a condition, with a deadline ([`DEADLINE`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bream_testkit::xmpp::{graphql, TestClient, TestServer, ADMIN_CREDENTIALS as ADMIN, DOMAIN};
use bream_testkit::{eventually, free_addr, ChildGuard, DEADLINE};
use bream_xmpp::api::admin::{self, AdminApiSettings, AdminContext, ApiError};
use bream_xmpp::api::client::{AdminClient, ApiResponse};
use bream_xmpp::config::Config;
use bream_xmpp::xml::Element;
use serde_json::{json, Value};

// ---- the node -----------------------------------------------------------------------

/// The real server over a temporary database, the admin API behind [`ADMIN`].
struct Node(TestServer);

impl Node {
    async fn start() -> Node {
        Node::start_with(false).await
    }

    /// With `modules`, the configured modules (roster, offline, ...) run; without, only the
    /// storage-free ones (ping, disco, version, presence without contacts).
    async fn start_with(modules: bool) -> Node {
        let mut builder = TestServer::builder();
        if !modules {
            builder = builder.configure(|config| {
                let modules = &mut config.modules;
                modules.mod_roster.enabled = false;
                modules.mod_offline.enabled = false;
                modules.mod_vcard.enabled = false;
                modules.mod_private.enabled = false;
                modules.mod_last.enabled = false;
                modules.mod_blocking.enabled = false;
            });
        }
        Node(builder.start().await)
    }

    fn api_addr(&self) -> SocketAddr {
        self.0.admin_addr()
    }

    fn c2s_addr(&self) -> SocketAddr {
        self.0.c2s_addr()
    }

    fn client(&self) -> Api {
        Api(self.0.admin())
    }

    async fn stop(self) {
        self.0.stop().await;
    }

    /// Waits until the session table holds `count` sessions.
    async fn wait_for_sessions(&self, count: i64) {
        let api = self.client();
        eventually(&format!("{count} sessions"), DEADLINE, || async {
            let counted = api.data("{ session { countSessions } }").await;
            counted["session"]["countSessions"] == json!(count)
        })
        .await;
    }
}

/// The API, as a script sees it.
struct Api(AdminClient);

impl Api {
    async fn query(&self, query: &str) -> ApiResponse {
        self.0.query(query, Value::Null).await.expect("an answer")
    }

    /// The `data` of a query that must succeed.
    async fn data(&self, query: &str) -> Value {
        graphql::expect_data(query, &self.query(query).await)
    }

    /// The `extensions.code` of a query that must fail with HTTP 200.
    async fn error_code(&self, query: &str) -> String {
        graphql::expect_error_code(query, &self.query(query).await)
    }
}

async fn register(api: &Api, username: &str) {
    let data = api
        .data(&format!(
            "mutation {{ account {{ registerUser(domain: \"{DOMAIN}\", username: \"{username}\", password: \"pw\") {{ jid message }} }} }}"
        ))
        .await;
    assert_eq!(
        data["account"]["registerUser"]["jid"],
        json!(format!("{}@{DOMAIN}", username.to_lowercase()))
    );
}

// ---- tests --------------------------------------------------------------------------

#[tokio::test]
async fn accounts_register_list_check_change_ban_remove() {
    let node = Node::start().await;
    let api = node.client();
    register(&api, "alice").await;
    register(&api, "Bob").await; // normalised to bob

    let duplicate = "mutation { account { registerUser(domain: \"localhost\", username: \"alice\", password: \"x\") { jid } } }";
    assert_eq!(api.error_code(duplicate).await, "user_exists");
    let elsewhere = "mutation { account { registerUser(domain: \"elsewhere.org\", username: \"carol\", password: \"x\") { jid } } }";
    assert_eq!(api.error_code(elsewhere).await, "unknown_domain");
    let bad_name = "mutation { account { registerUser(domain: \"localhost\", username: \"a@b\", password: \"x\") { jid } } }";
    assert_eq!(api.error_code(bad_name).await, "invalid_username");
    let empty = "mutation { account { registerUser(domain: \"localhost\", username: \"carol\", password: \"\") { jid } } }";
    assert_eq!(api.error_code(empty).await, "invalid_password");

    let data = api
        .data("{ account { listUsers(domain: \"localhost\") countUsers(domain: \"localhost\") } }")
        .await;
    assert_eq!(
        data["account"],
        json!({ "listUsers": ["alice@localhost", "bob@localhost"], "countUsers": 2 })
    );
    let data = api
        .data("{ account { listUsers(domain: \"localhost\", limit: 1, index: 1) } }")
        .await;
    assert_eq!(data["account"]["listUsers"], json!(["bob@localhost"]));
    let data = api
        .data("{ account { a: checkUser(user: \"alice@localhost\") { exist message } z: checkUser(user: \"zed@localhost\") { exist } } }")
        .await;
    assert_eq!(
        data["account"],
        json!({ "a": { "exist": true, "message": "User alice@localhost exists" }, "z": { "exist": false } })
    );

    api.data("mutation { account { changeUserPassword(user: \"alice@localhost\", newPassword: \"n3w\") { message } } }")
        .await;
    let details = node
        .0
        .storage
        .pass_details(DOMAIN, "alice")
        .await
        .expect("storage")
        .expect("alice");
    assert!(details.verify_password("n3w"));
    let missing = "mutation { account { changeUserPassword(user: \"zed@localhost\", newPassword: \"x\") { message } } }";
    assert_eq!(api.error_code(missing).await, "user_not_found");

    // A ban kicks the sessions and makes the old password useless.
    let mut bob = TestClient::login_available(node.c2s_addr(), "bob", "pw", "desk").await;
    let banned = api
        .data("mutation { account { banUser(user: \"bob@localhost\", reason: \"spam\") { jid message } } }")
        .await;
    assert_eq!(banned["account"]["banUser"]["jid"], json!("bob@localhost"));
    let error = bob.stream_error().await;
    assert_eq!(error.condition.to_string(), "policy-violation");
    let details = node
        .0
        .storage
        .pass_details(DOMAIN, "bob")
        .await
        .expect("storage")
        .expect("bob");
    assert!(!details.verify_password("pw"));

    let removed = api
        .data("mutation { account { removeUser(user: \"alice@localhost\") { jid message } } }")
        .await;
    assert_eq!(
        removed["account"]["removeUser"]["message"],
        json!("User alice@localhost successfully unregistered")
    );
    let again = "mutation { account { removeUser(user: \"alice@localhost\") { jid } } }";
    assert_eq!(api.error_code(again).await, "user_not_found");
    let no_localpart = "mutation { account { removeUser(user: \"localhost\") { jid } } }";
    assert_eq!(api.error_code(no_localpart).await, "bad_request");
    node.stop().await;
}

#[tokio::test]
async fn http_status_codes_credentials_and_graphiql() {
    let node = Node::start().await;
    let query = "{ server { status { statusCode version } } }";

    let wrong = AdminClient {
        address: node.api_addr(),
        credentials: Some(("admin".to_string(), "wrong".to_string())),
    };
    let refused = wrong.query(query, Value::Null).await.expect("an answer");
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        json!("unauthorized")
    );
    let anonymous = AdminClient {
        address: node.api_addr(),
        credentials: None,
    };
    assert_eq!(
        anonymous
            .query(query, Value::Null)
            .await
            .expect("an answer")
            .status,
        401
    );

    let api = node.client();
    let malformed = api.query("{ server { status { ").await;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(
        malformed.body["errors"][0]["extensions"]["code"],
        json!("parse_error")
    );
    let unknown_field = api.query("{ server { nonsense } }").await;
    assert_eq!(unknown_field.status, 400, "{unknown_field:?}");

    let data = api.data(query).await;
    assert_eq!(data["server"]["status"]["statusCode"], json!("RUNNING"));

    // GET: GraphiQL without a query, the query's result with one.
    let (status, body) = raw_get(node.api_addr(), "/api/graphql").await;
    assert_eq!(status, 200);
    assert!(body.to_lowercase().contains("graphiql"), "{body}");
    let (status, body) = raw_get(
        node.api_addr(),
        "/api/graphql?query=%7Bserver%7Bstatus%7BstatusCode%7D%7D%7D",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("RUNNING"), "{body}");
    node.stop().await;
}

/// `GET path` with the admin credentials; status and body.
async fn raw_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let token = BASE64.encode(format!("{}:{}", ADMIN.0, ADMIN.1));
    bream_testkit::raw_get(addr, path, Some(&format!("Basic {token}"))).await
}

#[tokio::test]
async fn without_credentials_only_loopback() {
    let node = Node::start().await;
    let router = node.0.router();
    let context = AdminContext::new(&Config::default(), node.0.storage.clone(), router);
    let open = admin::serve(
        AdminApiSettings {
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            credentials: None,
        },
        context.clone(),
    )
    .await;
    assert!(
        matches!(open, Err(ApiError::NoCredentials { .. })),
        "{open:?}"
    );
    let loopback = admin::serve(
        AdminApiSettings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: None,
        },
        context,
    )
    .await
    .expect("loopback without credentials is allowed");
    let anonymous = Api(AdminClient {
        address: loopback.local_addr(),
        credentials: None,
    });
    assert_eq!(
        anonymous.data("{ session { countSessions } }").await,
        json!({ "session": { "countSessions": 0 } })
    );
    loopback.shutdown().await;
    node.stop().await;
}

#[tokio::test]
async fn sessions_list_count_and_kick() {
    let node = Node::start().await;
    let api = node.client();
    register(&api, "alice").await;
    register(&api, "bob").await;
    let mut phone = TestClient::login_available(node.c2s_addr(), "alice", "pw", "phone").await;
    let _laptop = TestClient::login_available(node.c2s_addr(), "alice", "pw", "laptop").await;
    let mut desk = TestClient::login_available(node.c2s_addr(), "bob", "pw", "desk").await;
    node.wait_for_sessions(3).await;

    let data = api
        .data("{ session { listSessions { user connection priority node ip } countSessions(domain: \"localhost\") } }")
        .await;
    let users: Vec<&Value> = data["session"]["listSessions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|session| &session["user"])
        .collect();
    assert_eq!(
        users,
        [
            &json!("alice@localhost/laptop"),
            &json!("alice@localhost/phone"),
            &json!("bob@localhost/desk")
        ]
    );
    assert_eq!(
        data["session"]["listSessions"][0]["connection"],
        json!("c2s")
    );
    assert_eq!(data["session"]["listSessions"][0]["ip"], Value::Null);
    assert_eq!(data["session"]["countSessions"], json!(3));
    let data = api
        .data("{ session { listUserSessions(user: \"alice@localhost\") { user } countUserResources(user: \"alice@localhost\") } }")
        .await;
    assert_eq!(data["session"]["countUserResources"], json!(2));
    let unknown = "{ session { countSessions(domain: \"elsewhere.org\") } }";
    assert_eq!(api.error_code(unknown).await, "unknown_domain");

    // A full JID kicks that session only; its client hears why.
    let kicked = api
        .data("mutation { session { kickUser(user: \"alice@localhost/phone\", reason: \"bye\") { jid kicked message } } }")
        .await;
    assert_eq!(
        kicked["session"]["kickUser"],
        json!([{ "jid": "alice@localhost/phone", "kicked": true, "message": "Session kicked" }])
    );
    let error = phone.stream_error().await;
    assert_eq!(error.condition.to_string(), "policy-violation");
    assert_eq!(error.text.as_deref(), Some("bye"));
    node.wait_for_sessions(2).await;

    // A bare JID kicks every session of the account.
    let kicked = api
        .data("mutation { session { kickUser(user: \"bob@localhost\") { jid kicked } } }")
        .await;
    assert_eq!(
        kicked["session"]["kickUser"][0]["jid"],
        json!("bob@localhost/desk")
    );
    desk.stream_error().await;
    node.wait_for_sessions(1).await;
    let none = "mutation { session { kickUserSession(user: \"bob@localhost/desk\") { kicked } } }";
    assert_eq!(api.error_code(none).await, "no_session");
    node.stop().await;
}

#[tokio::test]
async fn messages_and_stanzas_reach_a_connected_session() {
    let node = Node::start().await;
    let api = node.client();
    register(&api, "alice").await;
    register(&api, "bob").await;
    let mut bob = TestClient::login_available(node.c2s_addr(), "bob", "pw", "desk").await;
    node.wait_for_sessions(1).await;

    let sent = api
        .data("mutation { stanza { sendMessage(from: \"alice@localhost\", to: \"bob@localhost/desk\", body: \"Hi\") { id } } }")
        .await;
    let id = sent["stanza"]["sendMessage"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let message = bob.next_named("message").await;
    assert_eq!(message.attr("id"), Some(id.as_str()), "{message}");
    assert_eq!(message.attr("from"), Some("alice@localhost"));
    assert_eq!(message.attr("type"), Some("chat"));
    assert_eq!(
        message
            .child("body", "jabber:client")
            .map(Element::text)
            .as_deref(),
        Some("Hi")
    );

    let sent = api
        .data("mutation { stanza { sendStanza(stanza: \"<message from='alice@localhost' to='bob@localhost/desk' id='raw1'><body>raw</body></message>\") { id } } }")
        .await;
    assert_eq!(sent["stanza"]["sendStanza"]["id"], json!("raw1"));
    let message = bob.next_named("message").await;
    assert_eq!(message.attr("id"), Some("raw1"));

    let ghost = "mutation { stanza { sendMessage(from: \"ghost@localhost\", to: \"bob@localhost\", body: \"x\") { id } } }";
    assert_eq!(api.error_code(ghost).await, "user_not_found");
    let bad_to = "mutation { stanza { sendMessage(from: \"alice@localhost\", to: \"@@\", body: \"x\") { id } } }";
    assert_eq!(api.error_code(bad_to).await, "bad_request");
    let not_xml =
        "mutation { stanza { sendStanza(stanza: \"<message from='alice@localhost'>\") { id } } }";
    assert_eq!(api.error_code(not_xml).await, "bad_request");
    let no_from =
        "mutation { stanza { sendStanza(stanza: \"<message to='bob@localhost'/>\") { id } } }";
    assert_eq!(api.error_code(no_from).await, "bad_request");

    // setPresence speaks for a session: with priority 5 it is still bob's only one.
    let set = api
        .data("mutation { session { setPresence(user: \"bob@localhost/desk\", type: AVAILABLE, show: AWAY, priority: 5) { jid message } } }")
        .await;
    assert_eq!(
        set["session"]["setPresence"]["jid"],
        json!("bob@localhost/desk")
    );
    let listed = api.data("{ session { listSessions { priority } } }").await;
    assert_eq!(
        listed["session"]["listSessions"],
        json!([{ "priority": 5 }])
    );
    node.stop().await;
}

#[tokio::test]
async fn global_stats_and_server() {
    let node = Node::start().await;
    let api = node.client();
    register(&api, "alice").await;
    register(&api, "bob").await;
    let _alice = TestClient::login_available(node.c2s_addr(), "alice", "pw", "phone").await;
    node.wait_for_sessions(1).await;

    let data = api
        .data("{ stat { globalStats { uptimeSeconds registeredUsers onlineUsers onlineUsersNode incomingS2S } domainStats(domain: \"localhost\") { registeredUsers onlineUsers } } }")
        .await;
    let stats = &data["stat"]["globalStats"];
    assert!(
        stats["uptimeSeconds"]
            .as_i64()
            .is_some_and(|uptime| uptime >= 0),
        "{stats}"
    );
    assert_eq!(stats["registeredUsers"], json!(2));
    assert_eq!(stats["onlineUsers"], json!(1));
    assert_eq!(stats["onlineUsersNode"], json!(1));
    assert_eq!(stats["incomingS2S"], json!(0));
    assert_eq!(
        data["stat"]["domainStats"],
        json!({ "registeredUsers": 2, "onlineUsers": 1 })
    );

    let data = api
        .data("{ server { getLoglevel status { statusCode message } } }")
        .await;
    assert_eq!(data["server"]["getLoglevel"], json!("INFO"));
    assert_eq!(data["server"]["status"]["statusCode"], json!("RUNNING"));
    // FIXME: no reloadable log filter is wired into the node yet, so this is refused.
    let set = "mutation { server { setLoglevel(level: DEBUG) } }";
    assert_eq!(api.error_code(set).await, "not_supported");

    let stopped = api.data("mutation { server { stop } }").await;
    assert_eq!(stopped["server"]["stop"], json!("Stop scheduled"));
    tokio::time::timeout(DEADLINE, node.0.inner().stop_requested())
        .await
        .expect("the stop request is seen");
    node.stop().await;
}

#[tokio::test]
async fn roster_add_list_and_mutual_subscription() {
    let node = Node::start_with(true).await;
    let api = node.client();
    register(&api, "alice").await;
    register(&api, "bob").await;
    let mut alice = TestClient::login_available(node.c2s_addr(), "alice", "pw", "phone").await;
    alice
        .send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    loop {
        if alice.element().await.attr("id") == Some("r1") {
            break;
        }
    }

    let add = r#"mutation { roster { addContact(user: "alice@localhost", contact: "bob@localhost", name: "Bob", groups: ["work"]) } }"#;
    assert_eq!(
        api.data(add).await,
        json!({ "roster": { "addContact": "Contact added" } })
    );
    let push = alice.next_named("iq").await;
    assert!(push.to_string().contains("bob@localhost"), "{push}");
    let list = r#"{ roster { listContacts(user: "alice@localhost") { jid name groups subscription ask } } }"#;
    assert_eq!(
        api.data(list).await["roster"]["listContacts"],
        json!([{ "jid": "bob@localhost", "name": "Bob", "groups": ["work"], "subscription": "NONE", "ask": "NONE" }])
    );

    let connect = r#"mutation { roster { setMutualSubscription(userA: "alice@localhost", userB: "bob@localhost", action: CONNECT) } }"#;
    api.data(connect).await;
    let push = alice.next_named("iq").await;
    assert!(
        push.to_string().contains("subscription='both'")
            || push.to_string().contains("subscription=\"both\""),
        "{push}"
    );
    assert_eq!(
        api.data(list).await["roster"]["listContacts"],
        json!([{ "jid": "bob@localhost", "name": "Bob", "groups": ["work"], "subscription": "BOTH", "ask": "NONE" }])
    );
    let bobs = r#"{ roster { getContact(user: "bob@localhost", contact: "alice@localhost") { jid subscription } } }"#;
    assert_eq!(
        api.data(bobs).await["roster"]["getContact"],
        json!({ "jid": "alice@localhost", "subscription": "BOTH" })
    );

    let disconnect = r#"mutation { roster { setMutualSubscription(userA: "alice@localhost", userB: "bob@localhost", action: DISCONNECT) } }"#;
    api.data(disconnect).await;
    assert_eq!(api.data(list).await["roster"]["listContacts"], json!([]));
    assert_eq!(api.data(bobs).await["roster"]["getContact"], Value::Null);

    let unknown = r#"{ roster { listContacts(user: "zed@localhost") { jid } } }"#;
    assert_eq!(api.error_code(unknown).await, "user_not_found");
    let itself = r#"mutation { roster { setMutualSubscription(userA: "alice@localhost", userB: "alice@localhost", action: CONNECT) } }"#;
    assert_eq!(api.error_code(itself).await, "bad_request");
    node.stop().await;
}

// ---- the real binary ----------------------------------------------------------------

/// Writes a config naming the API's address and credentials, for `ctl` to find it.
fn ctl_config(dir: &Path, api: SocketAddr, password: &str) -> PathBuf {
    let config = dir.join(format!("ctl-{password}.toml"));
    std::fs::write(
        &config,
        format!(
            "[general]\nhosts = [\"localhost\"]\ndata_dir = {:?}\n\n\
             [listen.graphql_admin]\nip_address = \"{}\"\nport = {}\nusername = \"{}\"\npassword = \"{password}\"\n",
            dir.join("data").display().to_string(),
            api.ip(),
            api.port(),
            ADMIN.0,
        ),
    )
    .expect("config written");
    config
}

/// Runs `bream-xmpp --config CONFIG ARGS...` off the async threads; exit code, stdout as
/// JSON, stderr's last line as JSON.
async fn ctl(config: PathBuf, args: &[&str]) -> (i32, Value, Value) {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .expect("bream-xmpp runs");
        let parse = |text: &[u8]| {
            let text = String::from_utf8_lossy(text);
            serde_json::from_str(text.trim().lines().last().unwrap_or("null"))
                .unwrap_or(Value::Null)
        };
        (
            output.status.code().unwrap_or(-1),
            parse(&output.stdout),
            parse(&output.stderr),
        )
    })
    .await
    .expect("ctl finished")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_session_and_graphql_commands_talk_to_the_api() {
    let node = Node::start().await;
    let api = node.client();
    register(&api, "alice").await;
    let _alice = TestClient::login_available(node.c2s_addr(), "alice", "pw", "phone").await;
    node.wait_for_sessions(1).await;
    let config = ctl_config(node.0.data_dir(), node.api_addr(), ADMIN.1);

    let (code, out, err) = ctl(config.clone(), &["ctl", "session", "countSessions"]).await;
    assert_eq!((code, &out), (0, &json!(1)), "{err}");
    let (code, out, _) = ctl(
        config.clone(),
        &["ctl", "session", "listSessions", "--domain", "localhost"],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out[0]["user"], json!("alice@localhost/phone"));
    let (code, out, _) = ctl(
        config.clone(),
        &[
            "ctl",
            "graphql",
            "{ stat { globalStats { registeredUsers onlineUsers } } }",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        out,
        json!({ "data": { "stat": { "globalStats": { "registeredUsers": 1, "onlineUsers": 1 } } } })
    );
    let (code, _, err) = ctl(
        config.clone(),
        &["ctl", "graphql", "mutation { account { registerUser(domain: \"localhost\", username: \"alice\", password: \"x\") { jid } } }"],
    )
    .await;
    assert_eq!((code, &err["code"]), (1, &json!("user_exists")));
    let (code, out, _) = ctl(
        config.clone(),
        &[
            "ctl",
            "session",
            "kickUser",
            "--user",
            "alice@localhost/phone",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out[0]["kicked"], json!(true));

    let wrong = ctl_config(node.0.data_dir(), node.api_addr(), "wrong");
    let (code, _, err) = ctl(wrong, &["ctl", "session", "countSessions"]).await;
    assert_eq!((code, &err["code"]), (1, &json!("unauthorized")));

    let address = node.api_addr();
    node.stop().await;
    let (code, _, err) = ctl(
        ctl_config(tempfile::tempdir().expect("tempdir").path(), address, "x"),
        &["ctl", "session", "countSessions"],
    )
    .await;
    assert_eq!(
        (code, &err["code"]),
        (1, &json!("node_not_running")),
        "{err}"
    );
}

/// `bream-xmpp start` serves the admin API on the configured port, and `ctl` reaches it there.
#[test]
fn ctl_reaches_a_started_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = free_addr();
    let config = ctl_config(dir.path(), address, ADMIN.1);
    // No client listener: nothing to compete for ports with other tests.
    let mut config_text = std::fs::read_to_string(&config).expect("config");
    config_text.push_str("\n[listen]\nc2s = []\ngraphql_user.port = 0\nprometheus.port = 0\n");
    std::fs::write(&config, config_text).expect("config written");
    let child = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
        .args(["start", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bream-xmpp starts");
    let mut server = ChildGuard::new("bream-xmpp", child);
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if let Ok(Some(status)) = server.child_mut().try_wait() {
            panic!("bream-xmpp exited before serving the admin API: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no admin API on {address} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime.block_on(async {
        let count = ctl(config.clone(), &["ctl", "session", "countSessions"]).await;
        let status = ctl(
            config.clone(),
            &["ctl", "graphql", "{ server { status { statusCode } } }"],
        )
        .await;
        (count, status)
    });
    server.signal("TERM");
    let stopped = server.wait_for_exit(Duration::from_secs(30));
    let ((code, out, err), (status_code, status, _)) = outcomes;
    assert_eq!((code, &out), (0, &json!(0)), "{err}");
    assert_eq!(status_code, 0);
    assert_eq!(
        status["data"]["server"]["status"]["statusCode"],
        json!("RUNNING")
    );
    assert!(
        stopped.success(),
        "SIGTERM stops the server cleanly: {stopped:?}"
    );
}
