//! The XMPP server as a cluster, for real: every node is a `bream-xmpp start` process with its
//! own config file, all finding each other through the `discovery_nodes` table of one
//! PostgreSQL database (`DATABASE_URL`, default the local test database), each test with its
//! own `cluster_name` so tests never see each other's nodes. Clients are real XMPP connections
//! (the test kit's client over bream-load's: TCP, SCRAM, bind, presence); administration is the nodes' own admin
//! GraphQL API. Nodes are stopped with SIGTERM, killed with SIGKILL and frozen with SIGSTOP.
//!
//! Nothing waits a fixed time for something to happen: every wait is for a stanza, a process
//! exit or an admin API answer, polled until a deadline.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_load::client::{Account, LoginSettings, Mechanism};
use bream_load::scram::{SaltedPasswordCache, ScramHash as ClientScramHash};
use bream_testkit::database::postgres_url;
use bream_testkit::xmpp::{befriend, TestClient};
use bream_testkit::{eventually, free_port, init_tracing};
use bream_xmpp::api::client::AdminClient;
use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
use bream_xmpp::storage::Storage;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::process::{Child, Command};

mod resume;

const PASSWORD: &str = "secret";
/// How long any one wait may take.
const DEADLINE: Duration = Duration::from_secs(40);
/// The heartbeat deadline the test nodes run with: short, so node-down tests are quick.
const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(2);

// ---- nodes ----------------------------------------------------------------------------

/// One `bream-xmpp start` process.
struct NodeProcess {
    name: String,
    c2s: SocketAddr,
    admin: SocketAddr,
    child: Child,
}

impl NodeProcess {
    /// Sends `signal` (`TERM`, `STOP`, `CONT`, ...) to the node's process.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("a running child");
        bream_testkit::process::signal_process(pid, signal);
    }

    fn admin(&self) -> AdminClient {
        AdminClient {
            address: self.admin,
            credentials: None,
        }
    }

    /// Waits for the process to exit after `cause`, and asserts it exited with status 0.
    async fn exits_cleanly(mut self, cause: &str) {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} does not exit after {cause}", self.name))
            .expect("wait");
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// Nodes of one cluster (one `cluster_name`), over one database.
struct TestCluster {
    label: String,
    cluster_name: String,
    /// The XMPP domain, unique to the test run: accounts, rosters and offline messages in
    /// the shared database never leak from one run into the next.
    domain: String,
    cookie: String,
    dir: TempDir,
    storage: Storage,
    nodes: Vec<Option<NodeProcess>>,
    /// The ports each node index keeps across restarts (c2s, admin, distribution).
    ports: Vec<(u16, u16, u16)>,
    scram_cache: Arc<SaltedPasswordCache>,
    /// `access.max_user_sessions` of the nodes started from now on.
    max_user_sessions: usize,
    /// TOML appended to the config of the nodes started from now on.
    extra_config: String,
}

impl TestCluster {
    async fn new(label: &str) -> TestCluster {
        init_tracing();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let storage = Storage::connect(&postgres_url())
            .await
            .expect("the test database (DATABASE_URL) is reachable");
        let cluster_name = format!("{label}-{}-{nanos}", std::process::id());
        TestCluster {
            label: format!("{label}{nanos}"),
            domain: format!("{cluster_name}.example"),
            cluster_name,
            cookie: "cluster-test-cookie".to_string(),
            dir: tempfile::tempdir().expect("tempdir"),
            storage,
            nodes: Vec::new(),
            ports: Vec::new(),
            scram_cache: Arc::new(SaltedPasswordCache::new(10_000)),
            max_user_sessions: 10,
            extra_config: String::new(),
        }
    }

    /// `user`'s bare JID.
    fn jid(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }

    /// Unique to the test run too: the registry keys its rows by node name alone.
    fn node_name(&self, index: usize) -> String {
        format!("{}-{index}@127.0.0.1", self.label)
    }

    fn config_text(&self, index: usize, cookie: &str, cluster_name: &str) -> String {
        let (c2s, admin, dist) = self.ports[index];
        format!(
            r#"
[general]
hosts = ["{domain}"]
node_name = "{name}"
dist_port = {dist}
cookie = "{cookie}"
data_dir = "{data}"
shutdown_timeout = 5

[[listen.c2s]]
ip_address = "127.0.0.1"
port = {c2s}

[listen.graphql_admin]
port = {admin}

[listen.graphql_user]
port = 0

[listen.prometheus]
port = 0

[auth.password]
scram_iterations = 64

[access]
max_user_sessions = [{{acl = "all", value = {max_user_sessions}}}]

[outgoing_pools.rdbms.default]
workers = 4
connection.url = "{url}"

[internal_databases.cets]
backend = "rdbms"
cluster_name = "{cluster_name}"
heartbeat_deadline = {deadline}

[debug]
fault_injection = true

{extra}
"#,
            name = self.node_name(index),
            domain = self.domain,
            data = self.dir.path().join(format!("data{index}")).display(),
            url = postgres_url(),
            deadline = HEARTBEAT_DEADLINE.as_millis(),
            max_user_sessions = self.max_user_sessions,
            extra = self.extra_config,
        )
    }

    /// Starts node `index` (a new one, or the same name and ports again).
    async fn start(&mut self, index: usize) {
        let (cookie, cluster_name) = (self.cookie.clone(), self.cluster_name.clone());
        self.start_with(index, &cookie, &cluster_name).await;
    }

    async fn start_with(&mut self, index: usize, cookie: &str, cluster_name: &str) {
        while self.ports.len() <= index {
            self.ports.push((free_port(), free_port(), free_port()));
            self.nodes.push(None);
        }
        let path: PathBuf = self.dir.path().join(format!("node{index}.toml"));
        std::fs::write(&path, self.config_text(index, cookie, cluster_name)).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
            .arg("start")
            .arg("--config")
            .arg(&path)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("bream-xmpp starts");
        let (c2s, admin, _) = self.ports[index];
        let node = NodeProcess {
            name: self.node_name(index),
            c2s: SocketAddr::from(([127, 0, 0, 1], c2s)),
            admin: SocketAddr::from(([127, 0, 0, 1], admin)),
            child,
        };
        self.nodes[index] = Some(node);
    }

    fn node(&self, index: usize) -> &NodeProcess {
        self.nodes[index].as_ref().expect("node running")
    }

    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|index| self.nodes[*index].is_some())
            .collect()
    }

    /// Starts the nodes `indices` and waits until all running nodes have joined them: how a
    /// test forms (or grows) its cluster before it logs anyone in.
    async fn start_joined(&mut self, indices: std::ops::Range<usize>) {
        for index in indices {
            self.start(index).await;
        }
        self.wait_joined().await;
    }

    /// Waits until every running node reports every running node joined, and ready.
    async fn wait_joined(&self) {
        let expected: BTreeSet<String> = self
            .running()
            .into_iter()
            .map(|index| self.node_name(index))
            .collect();
        for index in self.running() {
            let node = self.node(index);
            let started = Instant::now();
            loop {
                let info = system_info(node).await;
                let joined: BTreeSet<String> = strings(&info, "joinedNodes");
                let discovered: BTreeSet<String> = strings(&info, "discoveredNodes");
                if joined == expected && discovered == expected && info["ready"] == true {
                    break;
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "{} never saw {expected:?} joined: {info}",
                    node.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Stops node `index` with SIGTERM and waits for it to exit.
    async fn stop(&mut self, index: usize) {
        let node = self.nodes[index].take().expect("node running");
        node.signal("TERM");
        node.exits_cleanly("SIGTERM").await;
    }

    /// Asks node `index` to leave with `ctl server leaveCluster` and waits for it to exit.
    async fn leave_with_ctl(&mut self, index: usize) {
        let (ok, stdout, stderr) = self.ctl(index, &["ctl", "server", "leaveCluster"]).await;
        assert!(ok && stdout.contains("leaving"), "{stdout} {stderr}");
        let node = self.nodes[index].take().expect("node running");
        node.exits_cleanly("leaveCluster").await;
    }

    /// Kills node `index` with SIGKILL.
    async fn kill9(&mut self, index: usize) {
        let mut node = self.nodes[index].take().expect("node running");
        node.signal("KILL");
        let _ = node.child.wait().await;
    }

    /// Runs `bream-xmpp --config <node index's config> ARGS`: exit success, stdout, stderr.
    async fn ctl(&self, index: usize, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
            .arg("--config")
            .arg(self.dir.path().join(format!("node{index}.toml")))
            .args(args)
            .output()
            .await
            .expect("bream-xmpp runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn register(&self, username: &str) {
        let details = PassDetails::derive(PASSWORD, &ScramHash::DEFAULT_SET, 64).expect("derive");
        self.storage
            .register_user(&self.domain, username, &details)
            .await
            .expect("registered");
    }

    /// Registers each of `usernames` (with the shared test password).
    async fn register_all(&self, usernames: &[&str]) {
        for username in usernames {
            self.register(username).await;
        }
    }

    async fn login(&self, index: usize, username: &str, resource: &str) -> Client {
        let settings = LoginSettings {
            server: self.node(index).c2s,
            domain: self.domain.clone(),
            starttls: false,
            mechanism: Mechanism::Scram(ClientScramHash::Sha256),
            connector: None,
            scram_cache: Arc::clone(&self.scram_cache),
            stream_management: false,
            carbons: false,
        };
        let account = Account {
            username,
            password: PASSWORD,
            resource,
            source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let started = Instant::now();
        // A node that has just started may not listen yet: retry until the deadline.
        loop {
            let deadline = tokio::time::Instant::now() + DEADLINE;
            match TestClient::login_as_load(&settings, &account, deadline).await {
                Ok(mut client) => {
                    client.wait_available().await;
                    return client;
                }
                Err(error) if started.elapsed() < DEADLINE => {
                    tracing::debug!(%error, "login retried");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("{username} cannot log in on node {index}: {error}"),
            }
        }
    }
}

/// The admin API's answer to `query` on `node`, its `data` once it has no errors.
async fn admin(node: &NodeProcess, query: &str, variables: Value) -> Value {
    let started = Instant::now();
    loop {
        match node.admin().query(query, variables.clone()).await {
            Ok(response) if response.body["errors"].is_null() => {
                return response.body["data"].clone()
            }
            Ok(response) => panic!("{} answered {query} with {}", node.name, response.body),
            Err(error) => {
                assert!(
                    started.elapsed() < DEADLINE,
                    "{}'s admin API never answered: {error}",
                    node.name
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn system_info(node: &NodeProcess) -> Value {
    admin(
        node,
        "{ cets { systemInfo { availableNodes unavailableNodes joinedNodes discoveredNodes \
         conflictTables discoveryWorks ready } } }",
        json!({}),
    )
    .await["cets"]["systemInfo"]
        .clone()
}

/// The full JIDs of every session `node` knows of, cluster-wide.
async fn sessions(node: &NodeProcess) -> Vec<String> {
    let data = admin(node, "{ session { listSessions { user } } }", json!({})).await;
    let mut users: Vec<String> = data["session"]["listSessions"]
        .as_array()
        .map(|sessions| {
            sessions
                .iter()
                .filter_map(|session| session["user"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    users.sort();
    users
}

fn strings(value: &Value, field: &str) -> BTreeSet<String> {
    value[field]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ---- clients ----------------------------------------------------------------------------

/// A logged-in XMPP client (the test kit's).
type Client = TestClient;

// ---- tests ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_carry_subscriptions_presence_and_chat_between_them() {
    let mut cluster = TestCluster::new("three").await;
    cluster.start_joined(0..3).await;
    cluster.register_all(&["alice", "bob", "carol"]).await;
    let mut alice = cluster.login(0, "alice", "phone").await;
    let mut bob = cluster.login(2, "bob", "desk").await;
    let mut carol = cluster.login(1, "carol", "web").await;

    befriend(&mut alice, &mut bob).await;
    alice
        .message(&cluster.jid("bob"), "hello from node 0")
        .await;
    bob.expect_body(&cluster.jid("alice"), "hello from node 0")
        .await;
    bob.message(&alice.jid.clone(), "hello from node 2").await;
    alice
        .expect_body(&cluster.jid("bob"), "hello from node 2")
        .await;
    carol
        .message(&cluster.jid("alice"), "hello from node 1")
        .await;
    alice
        .expect_body(&cluster.jid("carol"), "hello from node 1")
        .await;

    // The admin API of node 1 sends through node 1's router to alice on node 0.
    let sent = admin(
        cluster.node(1),
        "mutation($from: JID!, $to: JID!) { stanza { sendMessage(from: $from, to: $to, \
         body: \"via graphql\") { id } } }",
        json!({ "from": cluster.jid("carol"), "to": cluster.jid("alice") }),
    )
    .await;
    assert!(sent["stanza"]["sendMessage"]["id"].is_string(), "{sent}");
    alice
        .expect_body(&cluster.jid("carol"), "via graphql")
        .await;

    // Every node lists the same three sessions.
    let expected = vec![alice.jid.clone(), bob.jid.clone(), carol.jid.clone()];
    let mut expected = expected;
    expected.sort();
    for index in 0..3 {
        assert_eq!(sessions(cluster.node(index)).await, expected);
    }

    // Bob goes offline: alice, on another node, sees it.
    bob.send("<presence type='unavailable'/>").await;
    alice
        .expect_presence(&cluster.jid("bob"), Some("unavailable"))
        .await;

    // The CLI reports the cluster as the admin API does.
    let (ok, stdout, stderr) = cluster.ctl(2, &["ctl", "cets", "systemInfo"]).await;
    assert!(ok, "{stderr}");
    let info: Value = serde_json::from_str(stdout.trim()).expect("one line of JSON");
    let expected: BTreeSet<String> = (0..3).map(|index| cluster.node_name(index)).collect();
    assert_eq!(strings(&info, "joinedNodes"), expected, "{info}");
    assert_eq!(info["discoveryWorks"], true, "{info}");
    let (ok, stdout, stderr) = cluster.ctl(0, &["ctl", "cets", "tableInfo"]).await;
    assert!(ok, "{stderr}");
    let tables: Value = serde_json::from_str(stdout.trim()).expect("one line of JSON");
    let sessions_table = tables
        .as_array()
        .and_then(|tables| {
            tables
                .iter()
                .find(|table| table["tableName"] == "c2s_sessions")
        })
        .unwrap_or_else(|| panic!("no session table in {tables}"));
    assert_eq!(strings(sessions_table, "nodes"), expected, "{tables}");
    let (ok, stdout, stderr) = cluster.ctl(1, &["ctl", "server", "status"]).await;
    assert!(ok && stdout.contains("RUNNING"), "{stdout} {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_conflicts_and_max_user_sessions_are_enforced_across_nodes() {
    let mut cluster = TestCluster::new("conflict").await;
    cluster.max_user_sessions = 2;
    cluster.start_joined(0..3).await;
    cluster.register("dave").await;
    // The same full JID on two nodes: the newer session wins, the older gets conflict.
    let mut older = cluster.login(0, "dave", "laptop").await;
    let mut newer = cluster.login(1, "dave", "laptop").await;
    assert_eq!(older.stream_error_condition().await, "conflict");
    let node0 = cluster.node(0);
    eventually("node 0 lists only the newer session", DEADLINE, || async {
        sessions(node0).await == vec![newer.jid.clone()]
    })
    .await;
    cluster.register("erin").await;
    let mut erin = cluster.login(0, "erin", "x").await;
    erin.message(&newer.jid.clone(), "to the newer one").await;
    newer
        .expect_body(&cluster.jid("erin"), "to the newer one")
        .await;

    // Two sessions allowed per account, counted over the cluster: a third, on another
    // node, closes the oldest.
    let second = cluster.login(2, "dave", "phone").await;
    let _third = cluster.login(0, "dave", "tablet").await;
    assert_eq!(newer.stream_error_condition().await, "policy-violation");
    let node2 = cluster.node(2);
    eventually(
        "dave has his two newest sessions everywhere",
        DEADLINE,
        || async {
            sessions(node2)
                .await
                .iter()
                .filter(|jid| jid.starts_with("dave@"))
                .count()
                == 2
        },
    )
    .await;
    drop(second);
}

/// Logs `count` users (`prefix0`...) in on `index`, `CONCURRENT` at a time.
async fn crowd(cluster: &TestCluster, index: usize, prefix: &str, count: usize) -> Vec<Client> {
    const CONCURRENT: usize = 32;
    use futures::StreamExt;
    for chunk in (0..count).collect::<Vec<_>>().chunks(CONCURRENT) {
        futures::future::join_all(
            chunk
                .iter()
                .map(|user| cluster.register_owned(format!("{prefix}{user}"))),
        )
        .await;
    }
    futures::stream::iter(0..count)
        .map(|user| {
            let username = format!("{prefix}{user}");
            async move { cluster.login(index, &username, "r").await }
        })
        .buffer_unordered(CONCURRENT)
        .collect()
        .await
}

impl TestCluster {
    async fn register_owned(&self, username: String) {
        self.register(&username).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_thousand_sessions_are_cleaned_up_everywhere() {
    let mut cluster = TestCluster::new("kill").await;
    cluster.start_joined(0..3).await;
    cluster.register_all(&["frank", "grace"]).await;
    let mut frank = cluster.login(0, "frank", "home").await;
    let mut grace = cluster.login(2, "grace", "doomed").await;
    befriend(&mut frank, &mut grace).await;
    let crowd = crowd(&cluster, 2, "crowd", 999).await;
    let before = sessions(cluster.node(0)).await.len();
    assert_eq!(before, 1001, "frank, grace and 999 more");

    cluster.kill9(2).await;
    // Frank, on a surviving node, hears that grace went away.
    frank
        .expect_presence(&cluster.jid("grace"), Some("unavailable"))
        .await;
    for index in [0, 1] {
        let node = cluster.node(index);
        eventually("the dead node's sessions are gone", DEADLINE, || async {
            sessions(node).await == vec![frank.jid.clone()]
        })
        .await;
    }
    drop(crowd);
    drop(grace);
    // Grace is offline now: a message to her is stored, and she gets it on her next login.
    frank
        .message(&cluster.jid("grace"), "while you were gone")
        .await;
    let mut grace = cluster.login(1, "grace", "back").await;
    grace
        .expect_body(&cluster.jid("frank"), "while you were gone")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_comes_back_without_duplicated_sessions() {
    let mut cluster = TestCluster::new("freeze").await;
    cluster.start_joined(0..3).await;
    cluster.register_all(&["heidi", "ivan"]).await;
    let heidi = cluster.login(0, "heidi", "h").await;
    let mut ivan = cluster.login(1, "ivan", "i").await;
    cluster.node(1).signal("STOP");
    let stopped_at = Instant::now();
    let node0 = cluster.node(0);
    eventually(
        "node 0 drops the frozen node's sessions",
        DEADLINE,
        || async { sessions(node0).await == vec![heidi.jid.clone()] },
    )
    .await;
    // The scenario is a freeze longer than the deadline, counted from the stop itself (the
    // others count from the last heartbeat they got, which may be a second earlier).
    let frozen_for = HEARTBEAT_DEADLINE + Duration::from_secs(1);
    tokio::time::sleep(frozen_for.saturating_sub(stopped_at.elapsed())).await;
    cluster.node(1).signal("CONT");
    // The thawed node closes its stale session rather than bringing it back.
    assert_eq!(ivan.stream_error_condition().await, "system-shutdown");
    cluster.wait_joined().await;
    let ivan = cluster.login(2, "ivan", "i").await;
    for index in 0..3 {
        let node = cluster.node(index);
        let mut expected = vec![heidi.jid.clone(), ivan.jid.clone()];
        expected.sort();
        eventually("every node lists each session once", DEADLINE, || async {
            sessions(node).await == expected
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_cookie_or_cluster_name_never_joins() {
    let mut cluster = TestCluster::new("outsider").await;
    cluster.start_joined(0..2).await;
    let cluster_name = cluster.cluster_name.clone();
    cluster.start_with(2, "another-cookie", &cluster_name).await;
    let other_cluster = format!("{cluster_name}-other");
    let cookie = cluster.cookie.clone();
    cluster.start_with(3, &cookie, &other_cluster).await;
    let outsider = cluster.node_name(2);
    // The members discover the node with the wrong cookie (it is in their registry) but
    // never connect to it; the node of another cluster is not even discovered.
    for index in 0..2 {
        let node = cluster.node(index);
        eventually(
            "the outsider is discovered and unavailable",
            DEADLINE,
            || async {
                let info = system_info(node).await;
                strings(&info, "unavailableNodes").contains(&outsider)
            },
        )
        .await;
        let info = system_info(node).await;
        assert!(!strings(&info, "joinedNodes").contains(&outsider), "{info}");
        assert!(
            !strings(&info, "discoveredNodes").contains(&cluster.node_name(3)),
            "{info}"
        );
    }
    for index in [2, 3] {
        let info = system_info(cluster.node(index)).await;
        assert_eq!(
            strings(&info, "joinedNodes"),
            BTreeSet::from([cluster.node_name(index)]),
            "{info}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_out_and_a_rolling_restart_lose_no_message() {
    let mut cluster = TestCluster::new("rolling").await;
    cluster.start_joined(0..3).await;
    cluster.register_all(&["judy", "mallory", "oscar"]).await;
    let mut judy = cluster.login(0, "judy", "j").await;
    let mut mallory = cluster.login(2, "mallory", "m").await;
    mallory
        .message(&cluster.jid("judy"), "before scaling")
        .await;
    judy.expect_body(&cluster.jid("mallory"), "before scaling")
        .await;

    // Scale out to six while they chat.
    cluster.start_joined(3..6).await;
    let mut oscar = cluster.login(5, "oscar", "o").await;
    oscar.message(&cluster.jid("judy"), "from a new node").await;
    judy.expect_body(&cluster.jid("oscar"), "from a new node")
        .await;
    judy.message(&cluster.jid("oscar"), "to a new node").await;
    oscar
        .expect_body(&cluster.jid("judy"), "to a new node")
        .await;

    // Restart every node in turn; clients of the stopped node reconnect to the next one.
    let mut clients = vec![(0, judy), (2, mallory), (5, oscar)];
    for restarted in 0..6 {
        if restarted == 5 {
            // The last one leaves through the CLI, as an operator would.
            cluster.leave_with_ctl(restarted).await;
        } else {
            cluster.stop(restarted).await;
        }
        let mut moved = Vec::new();
        for (index, mut client) in clients {
            if index == restarted {
                assert_eq!(client.stream_error_condition().await, "system-shutdown");
                let username = client
                    .bare()
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let target = (restarted + 1) % 6;
                moved.push((target, cluster.login(target, &username, "again").await));
            } else {
                moved.push((index, client));
            }
        }
        clients = moved;
        cluster.start(restarted).await;
        cluster.wait_joined().await;
        // Every client still reaches every other, wherever each now is.
        let count = clients.len();
        for from in 0..count {
            for to in 0..count {
                if from == to {
                    continue;
                }
                let to_bare = clients[to].1.bare().to_string();
                let from_bare = clients[from].1.bare().to_string();
                let body = format!("after restarting node {restarted}: {from_bare} to {to_bare}");
                clients[from].1.message(&to_bare, &body).await;
                clients[to].1.expect_body(&from_bare, &body).await;
            }
        }
    }
}

/// A pod of the Helm chart's StatefulSet, as a local process: the chart's environment
/// (`BREAM_NODE_NAME=bream@$(POD_NAME)`, `BREAM_NODE_IP=$(POD_IP)`, the cookie and the database
/// URL from the Secret, the cluster name), one loopback address per pod standing in for the
/// pod IP, and the same ports on every pod, as in Kubernetes.
struct Pods {
    cluster: TestCluster,
    /// c2s, admin and distribution ports, the same for every pod.
    ports: (u16, u16, u16),
    /// User GraphQL and metrics/health ports, the same for every pod.
    http_ports: (u16, u16),
    pods: Vec<Option<NodeProcess>>,
}

impl Pods {
    async fn new() -> Pods {
        let cluster = TestCluster::new("sts").await;
        // Free on 127.0.0.1 is free on the other loopback addresses in practice; a clash
        // shows as a node that fails to start.
        Pods {
            cluster,
            ports: (free_port(), free_port(), free_port()),
            http_ports: (free_port(), free_port()),
            pods: Vec::new(),
        }
    }

    fn pod_ip(ordinal: usize) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 1, u8::try_from(ordinal + 1).expect("few pods"))
    }

    /// What the chart's ConfigMap holds, with the pod's address for the listeners (pods
    /// listen on every address of their own network namespace; processes on one box cannot).
    fn config_text(&self, ordinal: usize) -> String {
        let (c2s, admin, _) = self.ports;
        format!(
            r#"
[general]
hosts = ["{domain}"]
shutdown_timeout = 5

[[listen.c2s]]
ip_address = "{ip}"
port = {c2s}

[listen.graphql_admin]
ip_address = "{ip}"
port = {admin}

[listen.graphql_user]
ip_address = "{ip}"
port = {user}

[listen.prometheus]
ip_address = "{ip}"
port = {metrics}

[auth.password]
scram_iterations = 64

[internal_databases.cets]
backend = "rdbms"
heartbeat_deadline = {deadline}
"#,
            ip = Self::pod_ip(ordinal),
            domain = self.cluster.domain,
            user = self.http_ports.0,
            metrics = self.http_ports.1,
            deadline = HEARTBEAT_DEADLINE.as_millis(),
        )
    }

    /// Starts pod `ordinal` as the StatefulSet controller would.
    fn start(&mut self, ordinal: usize) {
        while self.pods.len() <= ordinal {
            self.pods.push(None);
        }
        let path = self.cluster.dir.path().join(format!("pod{ordinal}.toml"));
        std::fs::write(&path, self.config_text(ordinal)).expect("config");
        let pod_name = format!("bream-{ordinal}");
        let child = Command::new(env!("CARGO_BIN_EXE_bream-xmpp"))
            .arg("start")
            .arg("--config")
            .arg(&path)
            .env("POD_NAME", &pod_name)
            .env("BREAM_NODE_NAME", format!("bream@{pod_name}"))
            .env("BREAM_NODE_IP", Self::pod_ip(ordinal).to_string())
            .env("BREAM_DIST_PORT", self.ports.2.to_string())
            .env("BREAM_COOKIE", "from-the-secret")
            .env("BREAM_DATABASE_URL", postgres_url())
            .env("BREAM_CLUSTER_NAME", &self.cluster.cluster_name)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("bream-xmpp starts");
        let ip = IpAddr::V4(Self::pod_ip(ordinal));
        self.pods[ordinal] = Some(NodeProcess {
            name: format!("bream@{pod_name}"),
            c2s: SocketAddr::new(ip, self.ports.0),
            admin: SocketAddr::new(ip, self.ports.1),
            child,
        });
    }

    /// Scales down by one, as the controller does: the highest ordinal, with SIGTERM.
    async fn scale_down(&mut self) {
        let ordinal = self
            .pods
            .iter()
            .rposition(Option::is_some)
            .expect("a pod to remove");
        let mut pod = self.pods[ordinal].take().expect("running");
        pod.signal("TERM");
        let status = tokio::time::timeout(DEADLINE, pod.child.wait())
            .await
            .expect("the pod exits within its grace period")
            .expect("wait");
        assert!(status.success(), "{} exited with {status}", pod.name);
    }

    /// The HTTP status of the chart's probe `path` on `pod` (`None`: nothing answers).
    async fn probe(&self, pod: &NodeProcess, path: &str) -> Option<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = SocketAddr::new(pod.c2s.ip(), self.http_ports.1);
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
            .await
            .ok()?
            .ok()?;
        let response = String::from_utf8_lossy(&response);
        response.split_whitespace().nth(1)?.parse().ok()
    }

    /// Waits until every pod reports exactly the running pods joined and is ready, on the
    /// admin API and on the readiness probe.
    async fn wait_formed(&self) {
        let expected: BTreeSet<String> = self
            .pods
            .iter()
            .flatten()
            .map(|pod| pod.name.clone())
            .collect();
        for pod in self.pods.iter().flatten() {
            eventually(
                &format!("{} sees {expected:?} joined", pod.name),
                DEADLINE,
                || async {
                    let info = system_info(pod).await;
                    strings(&info, "joinedNodes") == expected
                        && strings(&info, "discoveredNodes") == expected
                        && info["ready"] == true
                        && self.probe(pod, "/health/ready").await == Some(200)
                },
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_with_the_chart_s_environment_form_the_cluster_and_follow_scaling() {
    let mut pods = Pods::new().await;
    for ordinal in 0..3 {
        pods.start(ordinal);
    }
    pods.wait_formed().await;
    // kubectl scale --replicas=5: ordinals 3 and 4 are added.
    for ordinal in 3..5 {
        pods.start(ordinal);
    }
    pods.wait_formed().await;
    // A client on the newest pod reaches one on the oldest.
    pods.cluster.register("peggy").await;
    pods.cluster.register("victor").await;
    let login = |ordinal: usize, user: &'static str| {
        let settings = LoginSettings {
            server: pods.pods[ordinal].as_ref().expect("running").c2s,
            domain: pods.cluster.domain.clone(),
            starttls: false,
            mechanism: Mechanism::Scram(ClientScramHash::Sha256),
            connector: None,
            scram_cache: Arc::clone(&pods.cluster.scram_cache),
            stream_management: false,
            carbons: false,
        };
        async move {
            let account = Account {
                username: user,
                password: PASSWORD,
                resource: "pod",
                source: IpAddr::V4(Ipv4Addr::LOCALHOST),
            };
            let deadline = tokio::time::Instant::now() + DEADLINE;
            let mut client = TestClient::login_as_load(&settings, &account, deadline)
                .await
                .expect("login");
            client.wait_available().await;
            client
        }
    };
    let mut peggy = login(0, "peggy").await;
    let mut victor = login(4, "victor").await;
    victor
        .message(&pods.cluster.jid("peggy"), "from bream-4")
        .await;
    peggy
        .expect_body(&pods.cluster.jid("victor"), "from bream-4")
        .await;
    // The seed's GraphQL loop, posted to bream-2's user API as victor, reaches peggy on bream-0.
    let user_api = AdminClient {
        address: SocketAddr::new(IpAddr::V4(Pods::pod_ip(2)), pods.http_ports.0),
        credentials: Some((pods.cluster.jid("victor"), PASSWORD.to_string())),
    };
    let query = format!(
        "mutation {{stanza {{sendMessage(to: \"{}\", body: \"Hi\") {{id}}}}}}",
        pods.cluster.jid("peggy")
    );
    let response = user_api.get(&query).await.expect("the user API answers");
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response.body["data"]["stanza"]["sendMessage"]["id"].is_string(),
        "{}",
        response.body
    );
    peggy.expect_body(&pods.cluster.jid("victor"), "Hi").await;
    assert_eq!(
        pods.probe(pods.pods[0].as_ref().expect("running"), "/health/live")
            .await,
        Some(200)
    );
    // kubectl scale --replicas=2: the highest ordinals go first, one at a time.
    for _ in 0..3 {
        pods.scale_down().await;
        pods.wait_formed().await;
    }
    let remaining: Vec<String> = pods
        .pods
        .iter()
        .flatten()
        .map(|pod| pod.name.clone())
        .collect();
    assert_eq!(remaining, ["bream@bream-0", "bream@bream-1"]);
}

fn tree_entry<'a>(tree: &'a Value, name: &str) -> Option<&'a Value> {
    if tree["name"] == name {
        return Some(tree);
    }
    tree["children"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|child| tree_entry(child, name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_part_rejoins_and_cut_links_heal_through_ctl_debug() {
    let mut cluster = TestCluster::new("debug").await;
    cluster.start_joined(0..2).await;
    cluster.register_all(&["alice", "bob"]).await;
    let mut bob = cluster.login(1, "bob", "b").await;

    let (ok, stdout, stderr) = cluster.ctl(0, &["ctl", "debug", "supervisionTree"]).await;
    assert!(ok, "{stderr}");
    let tree: Value = serde_json::from_str(stdout.trim()).expect("one line of JSON");
    let part = tree_entry(&tree, "bream_xmpp/cluster").unwrap_or_else(|| panic!("{tree}"));
    assert_eq!(part["restarts"], 0, "{part}");

    // Node 0's cluster part dies: it leaves, starts again under the same name and rejoins;
    // the parts after it (c2s, the APIs) restart with it.
    let kill = [
        "ctl",
        "debug",
        "killProcess",
        "--name",
        "bream_xmpp/cluster",
    ];
    let (ok, stdout, stderr) = cluster.ctl(0, &kill).await;
    assert!(ok, "{stdout} {stderr}");
    let started = Instant::now();
    cluster.wait_joined().await;
    let rejoined_in = started.elapsed();
    let (ok, stdout, stderr) = cluster.ctl(0, &["ctl", "debug", "supervisionTree"]).await;
    assert!(ok, "{stderr}");
    let tree: Value = serde_json::from_str(stdout.trim()).expect("one line of JSON");
    assert_eq!(
        tree_entry(&tree, "bream_xmpp/cluster").expect("the cluster part")["restarts"],
        1,
        "{tree}"
    );
    let mut alice = cluster.login(0, "alice", "a").await;
    alice.message(&bob.jid.clone(), "after the restart").await;
    bob.expect_body(&cluster.jid("alice"), "after the restart")
        .await;
    eprintln!("the cluster part rejoined in {rejoined_in:?}");

    // A cut link is a partition: each side drops the other's sessions; heal merges them back.
    let peer = cluster.node_name(1);
    let (ok, stdout, stderr) = cluster
        .ctl(0, &["ctl", "debug", "cutLink", "--node", &peer])
        .await;
    assert!(ok, "{stdout} {stderr}");
    let node0 = cluster.node(0);
    eventually("node 0 drops bob's session", DEADLINE, || async {
        sessions(node0).await == vec![alice.jid.clone()]
    })
    .await;
    let node1 = cluster.node(1);
    eventually("node 1 drops alice's session", DEADLINE, || async {
        sessions(node1).await == vec![bob.jid.clone()]
    })
    .await;
    let (ok, stdout, stderr) = cluster
        .ctl(0, &["ctl", "debug", "healLink", "--node", &peer])
        .await;
    assert!(ok, "{stdout} {stderr}");
    cluster.wait_joined().await;
    let mut both = vec![alice.jid.clone(), bob.jid.clone()];
    both.sort();
    for index in 0..2 {
        let node = cluster.node(index);
        eventually(
            "both sessions listed once after the heal",
            DEADLINE,
            || async { sessions(node).await == both },
        )
        .await;
    }
    let (ok, _, stderr) = cluster
        .ctl(0, &["ctl", "debug", "healLink", "--node", &peer])
        .await;
    assert!(!ok && stderr.contains("not_found"), "{stderr}");
}

/// The longest a node may take to be healthy again after one injected fault.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

/// The seed of the chaos test's random sequence (printed, so a failure can be replayed).
const CHAOS_SEED: u64 = 0x0b12_ea11;

/// Steps of the chaos test's random sequence.
const CHAOS_STEPS: usize = 50;

/// A name of node 0's tree, found again in the tree as it is now (the c2s subtree's name
/// changes with every restart of the c2s part).
fn resolve(tree: &Value, target: &str) -> Option<String> {
    let mut names = Vec::new();
    collect_names(tree, &mut names);
    match target {
        "c2s subtree" => names
            .into_iter()
            .find(|name| name.starts_with("bream_xmpp/c2s/") && name.matches('/').count() == 2),
        "listener" | "sessions" => names.into_iter().find(|name| {
            name.starts_with("bream_xmpp/c2s/")
                && name.matches('/').count() == 3
                && name
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.starts_with(target))
        }),
        part => Some(format!("bream_xmpp/{part}")),
    }
}

fn collect_names(tree: &Value, names: &mut Vec<String>) {
    if let Some(name) = tree["name"].as_str() {
        names.push(name.to_string());
    }
    for child in tree["children"].as_array().into_iter().flatten() {
        collect_names(child, names);
    }
}

/// The entries one of whose restart counts a kill of `name` raises: its own, or its part's
/// when the kill escalated. The c2s subtree is linked to the part's owner, and its own
/// supervisor allows OTP's default of one restart in five seconds; everything under the
/// cluster part ends with it (its supervisors never restart a child).
fn restarted_entries(name: &str) -> Vec<String> {
    if name.starts_with("bream_xmpp/c2s/") {
        vec![name.to_string(), "bream_xmpp/c2s".to_string()]
    } else if name.starts_with("bream_xmpp/cluster/") {
        vec!["bream_xmpp/cluster".to_string()]
    } else {
        vec![name.to_string()]
    }
}

fn restarts(tree: &Value, name: &str) -> u64 {
    tree_entry(tree, name)
        .and_then(|entry| entry["restarts"].as_u64())
        .unwrap_or(0)
}

async fn debug_tree(cluster: &TestCluster, index: usize) -> Option<Value> {
    let (ok, stdout, _) = cluster
        .ctl(index, &["ctl", "debug", "supervisionTree"])
        .await;
    if !ok {
        return None;
    }
    serde_json::from_str(stdout.trim()).ok()
}

/// Kills `target` on node 0 (or makes it panic on its next message, for `panic:` targets),
/// then checks what the chaos test promises: the killed child came back (its restart count, or
/// its part's, went up), the cluster is healthy again within [`RECOVERY_BOUND`],
/// no session is listed twice on any node, and bob and carol (on nodes 1 and 2) kept chatting.
/// How long the recovery took.
async fn chaos_step(
    cluster: &TestCluster,
    target: &str,
    bob: &mut Client,
    carol: &mut Client,
    round: usize,
) -> Duration {
    let before = debug_tree(cluster, 0).await.expect("node 0 answers");
    let (fault, target) = match target.strip_prefix("panic:") {
        Some(target) => ("panicProcess", target),
        None => ("killProcess", target),
    };
    let name = resolve(&before, target).unwrap_or_else(|| panic!("no {target} in {before}"));
    let watched = restarted_entries(&name);
    let counts_before: Vec<u64> = watched
        .iter()
        .map(|entry| restarts(&before, entry))
        .collect();
    let (ok, stdout, stderr) = cluster
        .ctl(0, &["ctl", "debug", fault, "--name", &name])
        .await;
    assert!(ok, "{fault} {name}: {stdout} {stderr}");
    let started = Instant::now();
    eventually(&format!("{name} restarted"), RECOVERY_BOUND, || async {
        match debug_tree(cluster, 0).await {
            Some(tree) => watched
                .iter()
                .zip(&counts_before)
                .any(|(entry, before)| restarts(&tree, entry) > *before),
            None => false,
        }
    })
    .await;
    cluster.wait_joined().await;
    let recovered = started.elapsed();
    assert!(
        recovered < RECOVERY_BOUND,
        "{name}: healthy again only after {recovered:?}"
    );
    for index in 0..3 {
        let listed = sessions(cluster.node(index)).await;
        let unique: BTreeSet<&String> = listed.iter().collect();
        assert_eq!(
            unique.len(),
            listed.len(),
            "a session listed twice: {listed:?}"
        );
    }
    let text = format!("round {round} after {name}");
    bob.message(&carol.jid.clone(), &text).await;
    carol.expect_body(&cluster.jid("bob"), &text).await;
    carol.message(&bob.jid.clone(), &text).await;
    bob.expect_body(&cluster.jid("carol"), &text).await;
    recovered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_part_of_a_node_killed_in_turn_then_a_seeded_random_sequence() {
    use rand::{Rng, SeedableRng};

    let mut cluster = TestCluster::new("chaos").await;
    cluster.start_joined(0..3).await;
    cluster.register_all(&["bob", "carol"]).await;
    let mut bob = cluster.login(1, "bob", "b").await;
    let mut carol = cluster.login(2, "carol", "c").await;
    let targets = [
        "metrics",
        "cluster",
        "cluster/cluster_sup",
        "cluster/cluster_sup/node",
        "cluster/cluster_sup/node/server",
        "cluster/cluster_sup/node/agent",
        "cluster/cluster_sup/node/discovery",
        "cluster/cluster_sup/session_table",
        "cluster/cluster_sup/session_table/shard_0",
        "cluster/cluster_sup/caps_table/shard_0",
        "cluster/cluster_sup/sm_table/shard_0",
        "cluster/cluster_sup/relay",
        // Panics, in processes that get messages of their own accord: the agent's heartbeat
        // ticks, the table server's status requests (the readiness part asks twice a second).
        "panic:cluster/cluster_sup/node/agent",
        "panic:cluster/cluster_sup/session_table/shard_0",
        "c2s",
        "c2s subtree",
        "sessions",
        "listener",
        "graphql_admin",
        "graphql_user",
        "readiness",
    ];
    // Every step restarts at most one child of the root (an escalation from the c2s subtree
    // is one restart of the c2s part): at most RESTARTS_MAX steps in any RESTART_PERIOD keep
    // the root from giving up, which a test of its own covers.
    let mut pacer = Pacer::default();
    let mut slowest: Vec<(String, Duration)> = Vec::new();
    for (round, target) in targets.iter().enumerate() {
        pacer.wait_for_room().await;
        let took = chaos_step(&cluster, target, &mut bob, &mut carol, round).await;
        slowest.push((target.to_string(), took));
    }
    eprintln!("chaos: recovery per child of node 0's tree: {slowest:?}");
    let mut random = rand::rngs::StdRng::seed_from_u64(CHAOS_SEED);
    let mut longest = Duration::ZERO;
    for round in 0..CHAOS_STEPS {
        let target = targets[random.random_range(0..targets.len())];
        pacer.wait_for_room().await;
        let took = chaos_step(
            &cluster,
            target,
            &mut bob,
            &mut carol,
            targets.len() + round,
        )
        .await;
        longest = longest.max(took);
    }
    eprintln!(
        "chaos: {CHAOS_STEPS} random kills (seed {CHAOS_SEED:#x}), longest recovery {longest:?}"
    );
}

/// Spaces the chaos test's kills so the root's restart intensity is never reached.
#[derive(Default)]
struct Pacer {
    steps: std::collections::VecDeque<Instant>,
}

impl Pacer {
    /// Waits until one more step keeps at most `RESTARTS_MAX` in any `RESTART_PERIOD` (with a
    /// margin for the time between the kill and the restart the root counts), and records it.
    async fn wait_for_room(&mut self) {
        use bream_xmpp::server::tree::{RESTARTS_MAX, RESTART_PERIOD};
        let window = RESTART_PERIOD + Duration::from_secs(1);
        let allowed = usize::try_from(RESTARTS_MAX)
            .unwrap_or(1)
            .saturating_sub(1)
            .max(1);
        while self.steps.len() >= allowed {
            let Some(oldest) = self.steps.front().copied() else {
                break;
            };
            let free_at = oldest + window;
            if Instant::now() >= free_at {
                self.steps.pop_front();
            } else {
                // Pacing to a rate, not waiting for an event: the window has to pass.
                tokio::time::sleep_until(free_at.into()).await;
            }
        }
        self.steps.push_back(Instant::now());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbons_reach_the_accounts_resources_on_other_nodes() {
    use super::sessions::{carbon, enable_carbons};

    let mut cluster = TestCluster::new("carbons").await;
    cluster.start_joined(0..2).await;
    cluster.register_all(&["alice", "bob"]).await;
    let mut phone = cluster.login(0, "alice", "phone").await;
    let mut laptop = cluster.login(1, "alice", "laptop").await;
    let mut bob = cluster.login(0, "bob", "desk").await;
    enable_carbons(&mut laptop).await;
    let alice = cluster.jid("alice");

    // The laptop (node 1) enabled carbons; node 0 sees that in the replicated session table.
    bob.message(&format!("{alice}/phone"), "to the phone").await;
    phone.expect_body(&cluster.jid("bob"), "to the phone").await;
    laptop
        .expect("a received carbon from node 0", |element| {
            carbon(element, "received").is_some_and(|inner| {
                inner
                    .child("body", "jabber:client")
                    .is_some_and(|body| body.text() == "to the phone")
            })
        })
        .await;
    phone.message(&cluster.jid("bob"), "from the phone").await;
    bob.expect_body(&alice, "from the phone").await;
    laptop
        .expect("a sent carbon from node 0", |element| {
            carbon(element, "sent").is_some_and(|inner| {
                inner
                    .child("body", "jabber:client")
                    .is_some_and(|body| body.text() == "from the phone")
            })
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_learnt_on_one_node_are_known_on_the_others() {
    use super::sessions::{caps_presence, exodus_info};

    let mut cluster = TestCluster::new("caps").await;
    cluster.start_joined(0..2).await;
    cluster.register_all(&["alice", "bob"]).await;
    let is_query = |element: &bream_xmpp::xml::Element| {
        element.name == "iq"
            && element.attr("type") == Some("get")
            && element.attr("from") == Some(cluster.domain.as_str())
    };
    let mut alice = cluster.login(0, "alice", "phone").await;
    alice.send(&caps_presence()).await;
    let query = alice.expect("node 0's caps query", is_query).await;
    let id = query.attr("id").expect("id").to_owned();
    alice
        .send(&format!(
            "<iq type='result' to='{}' id='{id}'>{}</iq>",
            cluster.domain,
            exodus_info(&[])
        ))
        .await;
    // A client on node 1 with the same string is not asked once the table has the entry.
    // Node 1 must not learn it by itself: a query it sends gets a wrong answer.
    let mut round = 0;
    eventually("node 1 knows the string", DEADLINE, || {
        round += 1;
        let resource = format!("laptop{round}");
        let cluster = &cluster;
        async move {
            let mut bob = cluster.login(1, "bob", &resource).await;
            bob.send(&caps_presence()).await;
            bob.send("<iq type='get' id='after-caps'><ping xmlns='urn:xmpp:ping'/></iq>")
                .await;
            let next = bob
                .expect("the ping answer or a query", |element| {
                    element.attr("id") == Some("after-caps") || is_query(element)
                })
                .await;
            if next.attr("id") == Some("after-caps") {
                return true;
            }
            let id = next.attr("id").unwrap_or_default().to_owned();
            bob.send(&format!(
                "<iq type='result' to='{}' id='{id}'>{}</iq>",
                cluster.domain,
                exodus_info(&["urn:not:hashed"])
            ))
            .await;
            false
        }
    })
    .await;
}
