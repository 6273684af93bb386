//! Discovery backends: the SQL registry against SQLite (a temporary file) and PostgreSQL
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`), the static list and the
//! file.
//!
//! Every SQL scenario runs on both databases (see `on_both_databases!`). Each gets its own
//! random cluster name and node names (node names are the table's primary key, so they must not
//! collide between tests sharing PostgreSQL) and deletes its rows at the end. Staleness is made
//! by moving timestamps back with SQL, never by sleeping.

use std::time::{Duration, Instant};

use bream_testkit::database::Backend;
use bream_testkit::{DatabaseFixture, TestDatabase};

use bream_runtime::discovery::file::FILE_BYTES_MAX;
use bream_runtime::discovery::sql::{ADVISORY_LOCK_CLASS, EXPIRY_DEFAULT};
use bream_runtime::discovery::{
    ConnectError, DiscoveredNode, Discovery, DiscoveryError, FileDiscovery, SqlRegistry,
    SqlRegistryConfig, StaticList,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

// ---------------------------------------------------------------------------------------------
// Harness: one scenario's database, cluster and nodes.

/// One scenario's database and its unique cluster and node names.
struct TestDb {
    url: String,
    /// Unique per scenario: part of the cluster name and of every node name.
    id: String,
    admin: Admin,
    _database: TestDatabase,
}

/// The test's own pool, to look at and tamper with the table.
enum Admin {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl DatabaseFixture for TestDb {
    async fn open(database: TestDatabase) -> Self {
        let url = database.url.clone();
        let admin = match database.backend {
            Backend::Sqlite => Admin::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                    .unwrap(),
            ),
            Backend::Postgres => Admin::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&url)
                    .await
                    .unwrap_or_else(|error| {
                        panic!(
                            "PostgreSQL at {url} is unreachable ({error}): start it, or point \
                             DATABASE_URL at one"
                        )
                    }),
            ),
        };
        Self {
            url,
            id: database.unique_id().to_string(),
            admin,
            _database: database,
        }
    }

    /// Deletes this scenario's rows (its clusters and names are its own).
    async fn clean_up(self) {
        const SQL: &str = "DELETE FROM discovery_nodes WHERE cluster_name IN ($1, $2)";
        let (cluster, other) = (self.cluster(), self.other_cluster());
        match &self.admin {
            Admin::Sqlite(pool) => {
                let query = sqlx::query(SQL).bind(cluster).bind(other);
                query.execute(pool).await.map(drop)
            }
            Admin::Postgres(pool) => {
                let query = sqlx::query(SQL).bind(cluster).bind(other);
                query.execute(pool).await.map(drop)
            }
        }
        .unwrap();
    }
}

impl TestDb {
    fn backend(&self) -> &'static str {
        match self.admin {
            Admin::Sqlite(_) => "sqlite",
            Admin::Postgres(_) => "postgres",
        }
    }

    /// This scenario's cluster; `other_cluster` is a second one.
    fn cluster(&self) -> String {
        format!("test-{}", self.id)
    }

    fn other_cluster(&self) -> String {
        format!("other-{}", self.id)
    }

    /// `a` → `a-ID@test`.
    fn name(&self, short: &str) -> String {
        format!("{short}-{}@test", self.id)
    }

    /// `a-ID@test` → `a`.
    fn short(&self, name: &str) -> String {
        let suffix = format!("-{}@test", self.id);
        name.strip_suffix(&suffix).unwrap_or(name).to_string()
    }

    fn config(&self, short: &str) -> SqlRegistryConfig {
        SqlRegistryConfig::new(
            self.url.clone(),
            self.cluster(),
            self.name(short),
            format!("{short}.test:4370"),
        )
    }

    async fn node(&self, short: &str) -> SqlRegistry {
        SqlRegistry::connect(self.config(short)).await.unwrap()
    }

    /// Polls; returns this node's number and the others as `"b=2 c=3"`.
    async fn poll(&self, registry: &SqlRegistry) -> (u32, String) {
        let poll = registry.poll().await.unwrap();
        let others: Vec<String> = poll
            .others
            .iter()
            .map(|node| format!("{}={}", self.short(&node.name), node.node_num.unwrap()))
            .collect();
        (poll.own_node_num.unwrap(), others.join(" "))
    }

    /// The nodes of `cluster` in the table, as `"a=1 b=2"`.
    async fn rows(&self, cluster: &str) -> String {
        const SQL: &str = "SELECT node_name, node_num FROM discovery_nodes \
                           WHERE cluster_name = $1 ORDER BY node_num";
        let rows: Vec<(String, i32)> = match &self.admin {
            Admin::Sqlite(pool) => sqlx::query_as(SQL).bind(cluster).fetch_all(pool).await,
            Admin::Postgres(pool) => sqlx::query_as(SQL).bind(cluster).fetch_all(pool).await,
        }
        .unwrap();
        let rows: Vec<String> = rows
            .iter()
            .map(|(name, num)| format!("{}={num}", self.short(name)))
            .collect();
        rows.join(" ")
    }

    /// Moves node `short`'s timestamp back by `age`, as if it had stopped polling then.
    async fn age(&self, short: &str, age: Duration) {
        const SQL: &str = "UPDATE discovery_nodes SET updated_timestamp = updated_timestamp - $1 \
                           WHERE node_name = $2";
        let seconds = i64::try_from(age.as_secs()).unwrap();
        let name = self.name(short);
        let updated = match &self.admin {
            Admin::Sqlite(pool) => sqlx::query(SQL)
                .bind(seconds)
                .bind(name)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
            Admin::Postgres(pool) => sqlx::query(SQL)
                .bind(seconds)
                .bind(name)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
        };
        assert_eq!(updated.unwrap(), 1, "no row for {short}");
    }
}

bream_testkit::on_both_databases!(
    TestDb;
    register_and_list,
    refresh_keeps_node_num,
    six_nodes_starting_at_once_get_one_to_six,
    freed_node_num_is_reused,
    stale_rows_are_removed_by_another_nodes_poll,
    clusters_do_not_see_each_other,
    a_node_moving_cluster_leaves_the_old_one,
    changed_address_is_updated,
    poll_stuck_behind_the_cluster_lock_times_out,
);

// ---------------------------------------------------------------------------------------------
// SQL registry scenarios.

async fn register_and_list(db: &TestDb) {
    let a = db.node("a").await;
    let b = db.node("b").await;
    assert_eq!(a.describe(), format!("rdbms {}", db.backend()));
    assert_eq!(db.poll(&a).await, (1, "".into()));
    assert_eq!(db.poll(&b).await, (2, "a=1".into()));
    let listed = a.poll().await.unwrap().others;
    let expected = DiscoveredNode {
        name: db.name("b"),
        address: "b.test:4370".into(),
        node_num: Some(2),
    };
    assert_eq!(listed, vec![expected]);
}

async fn refresh_keeps_node_num(db: &TestDb) {
    let (a, b, c) = (db.node("a").await, db.node("b").await, db.node("c").await);
    assert_eq!(db.poll(&a).await.0, 1);
    assert_eq!(db.poll(&b).await.0, 2);
    assert_eq!(db.poll(&c).await.0, 3);
    for _ in 0..3 {
        assert_eq!(db.poll(&b).await, (2, "a=1 c=3".into()));
    }
    // A restarted node (a new registry, same name) keeps its number too.
    drop(a);
    let a_again = db.node("a").await;
    assert_eq!(db.poll(&a_again).await, (1, "b=2 c=3".into()));
    assert_eq!(db.rows(&db.cluster()).await, "a=1 b=2 c=3");
}

async fn six_nodes_starting_at_once_get_one_to_six(db: &TestDb) {
    // Connect (migrations included, on a fresh SQLite file) and first poll, all at once.
    let starts: Vec<_> = ["a", "b", "c", "d", "e", "f"]
        .into_iter()
        .map(|short| {
            let config = db.config(short);
            tokio::spawn(async move {
                let registry = SqlRegistry::connect(config).await?;
                let poll = registry.poll().await?;
                Ok::<_, DiscoveryError>((registry, poll))
            })
        })
        .collect();
    let mut registries = Vec::new();
    let mut nums = Vec::new();
    for start in starts {
        let (registry, poll) = start.await.unwrap().unwrap();
        nums.push(poll.own_node_num.unwrap());
        registries.push(registry);
    }
    nums.sort_unstable();
    assert_eq!(nums, vec![1, 2, 3, 4, 5, 6]);
    // Settled: everyone sees the five others.
    for registry in &registries {
        assert_eq!(registry.poll().await.unwrap().others.len(), 5);
    }
}

async fn freed_node_num_is_reused(db: &TestDb) {
    let (a, b, c) = (db.node("a").await, db.node("b").await, db.node("c").await);
    for registry in [&a, &b, &c] {
        registry.poll().await.unwrap();
    }
    b.leave().await.unwrap();
    b.leave().await.unwrap(); // Leaving twice is not an error.
    assert_eq!(db.poll(&a).await, (1, "c=3".into()));
    let d = db.node("d").await;
    assert_eq!(db.poll(&d).await, (2, "a=1 c=3".into()));
    let e = db.node("e").await;
    assert_eq!(db.poll(&e).await, (4, "a=1 d=2 c=3".into()));
    // b comes back: a new node as far as numbering goes.
    assert_eq!(db.poll(&b).await, (5, "a=1 d=2 c=3 e=4".into()));
}

async fn stale_rows_are_removed_by_another_nodes_poll(db: &TestDb) {
    let (a, b, c) = (db.node("a").await, db.node("b").await, db.node("c").await);
    for registry in [&a, &b, &c] {
        registry.poll().await.unwrap();
    }
    let minute = Duration::from_secs(60);
    db.age("b", EXPIRY_DEFAULT + minute).await; // expired
    db.age("c", EXPIRY_DEFAULT - minute).await; // old, not expired
    assert_eq!(db.poll(&a).await, (1, "c=3".into()));
    assert_eq!(db.rows(&db.cluster()).await, "a=1 c=3");
    // A node's own poll never removes its own row, however old: it is alive, polling.
    db.age("a", EXPIRY_DEFAULT * 2).await;
    assert_eq!(db.poll(&a).await, (1, "c=3".into()));
    assert_eq!(db.poll(&c).await, (3, "a=1".into()));
}

async fn clusters_do_not_see_each_other(db: &TestDb) {
    let a = db.node("a").await;
    let b = db.node("b").await;
    let mut x_config = db.config("x");
    x_config.cluster_name = db.other_cluster();
    let x = SqlRegistry::connect(x_config).await.unwrap();
    assert_eq!(db.poll(&a).await, (1, "".into()));
    assert_eq!(db.poll(&x).await, (1, "".into()));
    assert_eq!(db.poll(&b).await, (2, "a=1".into()));
    assert_eq!(db.poll(&x).await, (1, "".into()));
    // Expiry is per cluster too: a stale row elsewhere is not this cluster's to remove.
    db.age("x", EXPIRY_DEFAULT * 2).await;
    db.poll(&a).await;
    assert_eq!(db.rows(&db.other_cluster()).await, "x=1");
}

async fn a_node_moving_cluster_leaves_the_old_one(db: &TestDb) {
    let a = db.node("a").await;
    let b = db.node("b").await;
    db.poll(&a).await;
    db.poll(&b).await;
    let mut a_moved_config = db.config("a");
    a_moved_config.cluster_name = db.other_cluster();
    let a_moved = SqlRegistry::connect(a_moved_config).await.unwrap();
    assert_eq!(db.poll(&a_moved).await, (1, "".into()));
    assert_eq!(db.poll(&b).await, (2, "".into()));
    assert_eq!(db.rows(&db.cluster()).await, "b=2");
}

async fn changed_address_is_updated(db: &TestDb) {
    let a = db.node("a").await;
    let b = db.node("b").await;
    db.poll(&a).await;
    db.poll(&b).await;
    // a restarts on another port.
    let mut config = db.config("a");
    config.address = "a.test:5555".into();
    let a_again = SqlRegistry::connect(config).await.unwrap();
    assert_eq!(db.poll(&a_again).await, (1, "b=2".into()));
    let seen_by_b = b.poll().await.unwrap().others;
    assert_eq!(seen_by_b[0].address, "a.test:5555");
    assert_eq!(seen_by_b[0].node_num, Some(1));
}

/// Another node holding the cluster's lock (PostgreSQL's advisory lock, SQLite's write lock)
/// makes a poll fail at its deadline, not hang; once the lock is released the same registry
/// works again.
async fn poll_stuck_behind_the_cluster_lock_times_out(db: &TestDb) {
    let query_timeout = Duration::from_millis(500);
    let mut config = db.config("a");
    config.query_timeout = query_timeout;
    let a = SqlRegistry::connect(config).await.unwrap();
    let started = Instant::now();
    let result = match &db.admin {
        Admin::Sqlite(pool) => {
            let holder = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let result = a.poll().await;
            holder.rollback().await.unwrap();
            result
        }
        Admin::Postgres(pool) => {
            let mut holder = pool.begin().await.unwrap();
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(ADVISORY_LOCK_CLASS)
                .bind(db.cluster())
                .execute(&mut *holder)
                .await
                .unwrap();
            let result = a.poll().await;
            holder.rollback().await.unwrap();
            result
        }
    };
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            DiscoveryError::Timeout {
                operation: "poll",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < query_timeout * 4,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(db.poll(&a).await, (1, "".into()));
}

// ---------------------------------------------------------------------------------------------
// SQL registry: connecting and configuration.

/// Connects `config`, expecting a failure, and returns it with how long it took.
async fn connect_error(config: SqlRegistryConfig) -> (DiscoveryError, Duration) {
    let started = Instant::now();
    // The test's own deadline, so a hang fails the test instead of stalling the run.
    let connecting = tokio::time::timeout(Duration::from_secs(30), SqlRegistry::connect(config));
    let result = connecting.await.expect("connect hung past 30 s");
    (result.unwrap_err(), started.elapsed())
}

#[tokio::test]
async fn unreachable_postgres_fails_within_the_connect_timeout() {
    let mut config = SqlRegistryConfig::new(
        "postgres://postgres:secret@127.0.0.1:1/test",
        "c",
        "a@test",
        "a.test:4370",
    );
    config.connect_timeout = Duration::from_secs(1);
    let (error, took) = connect_error(config).await;
    assert!(
        matches!(error, DiscoveryError::Connect(ConnectError::Connect { .. })),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("secret"), "password shown: {message}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn unreachable_sqlite_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no such directory").join("discovery.db");
    let url = format!("sqlite://{}?mode=rwc", missing.display());
    let config = SqlRegistryConfig::new(url, "c", "a@test", "a.test:4370");
    let (error, took) = connect_error(config).await;
    assert!(
        matches!(error, DiscoveryError::Connect(ConnectError::Connect { .. })),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let cases = [
        ("mysql://root@localhost/db", "unsupported scheme \"mysql\""),
        ("discovery.db", "no scheme"),
        ("sqlite::memory:", "in-memory SQLite"),
        ("postgres://u@h/db?sslmode=bogus", "not usable"),
    ];
    for (url, expected) in cases {
        let config = SqlRegistryConfig::new(url, "c", "a@test", "a.test:4370");
        let (error, _) = connect_error(config).await;
        assert!(
            matches!(
                error,
                DiscoveryError::Connect(ConnectError::InvalidUrl { .. })
            ),
            "{url}: {error}"
        );
        assert!(error.to_string().contains(expected), "{url}: {error}");
    }
}

#[tokio::test]
async fn bad_settings_are_clear_errors() {
    let good = || SqlRegistryConfig::new("sqlite://x.db", "c", "a@test", "a.test:4370");
    let with = |change: fn(&mut SqlRegistryConfig)| {
        let mut config = good();
        change(&mut config);
        config
    };
    let cases = [
        ("node_name", with(|config| config.node_name = "a".into())),
        ("address", with(|config| config.address = "a.test".into())),
        (
            "cluster_name",
            with(|config| config.cluster_name = "".into()),
        ),
        ("expiry", with(|config| config.expiry = Duration::ZERO)),
        (
            "expiry",
            with(|config| config.expiry = Duration::from_millis(999)),
        ),
        (
            "connect_timeout",
            with(|config| config.connect_timeout = Duration::ZERO),
        ),
        (
            "query_timeout",
            with(|config| config.query_timeout = Duration::ZERO),
        ),
    ];
    for (expected, config) in cases {
        let (error, _) = connect_error(config).await;
        match error {
            DiscoveryError::InvalidConfig { setting, .. } => assert_eq!(setting, expected),
            other => panic!("{expected}: {other}"),
        }
    }
}

#[test]
fn config_debug_hides_the_password() {
    let config = SqlRegistryConfig::new("postgres://u:secret@h/db", "c", "a@test", "a.test:1");
    let shown = format!("{config:?}");
    assert!(
        shown.contains("u:***@h") && !shown.contains("secret"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// Static list.

#[tokio::test]
async fn static_list_lists_the_others() {
    let nodes = [
        ("a@h1", "h1:4370"),
        ("b@h2", "h2:4370"),
        ("c@h3", "[::1]:4370"),
    ];
    let discovery = StaticList::new("b@h2", nodes).unwrap();
    assert_eq!(discovery.describe(), "static");
    let poll = discovery.poll().await.unwrap();
    let names: Vec<&str> = poll.others.iter().map(|node| node.name.as_str()).collect();
    assert_eq!(names, ["a@h1", "c@h3"]);
    assert_eq!(poll.own_node_num, None);
    assert!(poll.others.iter().all(|node| node.node_num.is_none()));
    discovery.leave().await.unwrap();
    assert_eq!(discovery.poll().await.unwrap(), poll);
}

#[test]
fn static_list_rejects_bad_entries() {
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("a", &[]),
        ("a@h", &[("b", "h:1")]),
        ("a@h", &[("b@h", "h:0")]),
        ("a@h", &[("b@h", "h:1"), ("b@h", "h:2")]),
    ];
    for (own, nodes) in cases {
        let error = StaticList::new(own, nodes.iter().copied()).unwrap_err();
        assert!(
            matches!(error, DiscoveryError::InvalidConfig { .. }),
            "{error}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// File.

#[tokio::test]
async fn file_is_read_on_every_poll() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.txt");
    std::fs::write(&path, "# cluster\na@h1 h1:4370\n\nb@h2 h2:4370 # me\n").unwrap();
    let discovery = FileDiscovery::new(&path, "b@h2").unwrap();
    assert_eq!(discovery.describe(), format!("file {}", path.display()));
    let names = |poll: bream_runtime::discovery::DiscoveryPoll| -> Vec<String> {
        poll.others.into_iter().map(|node| node.name).collect()
    };
    assert_eq!(names(discovery.poll().await.unwrap()), ["a@h1"]);
    std::fs::write(&path, "a@h1 h1:4370\nb@h2 h2:4370\nc@h3 h3:4370\n").unwrap();
    assert_eq!(names(discovery.poll().await.unwrap()), ["a@h1", "c@h3"]);
    discovery.leave().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn file_malformed_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.txt");
    std::fs::write(&path, "a@h1 h1:4370\n# comment\nb@h2\n").unwrap();
    let discovery = FileDiscovery::new(&path, "a@h1").unwrap();
    let error = discovery.poll().await.unwrap_err();
    match &error {
        DiscoveryError::FileSyntax { path: at, line, .. } => {
            assert_eq!((at, *line), (&path, 3));
        }
        other => panic!("{other}"),
    }
    let expected = format!("{}:3: expected `name@host host:port`", path.display());
    assert!(error.to_string().starts_with(&expected), "{error}");
}

#[tokio::test]
async fn file_missing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.txt");
    let discovery = FileDiscovery::new(&path, "a@h1").unwrap();
    let error = discovery.poll().await.unwrap_err();
    assert!(matches!(error, DiscoveryError::FileRead { .. }), "{error}");
    assert!(error.to_string().contains("absent.txt"), "{error}");
}

#[tokio::test]
async fn file_size_limit_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.txt");
    let discovery = FileDiscovery::new(&path, "a@h1").unwrap();
    let limit = usize::try_from(FILE_BYTES_MAX).unwrap();
    std::fs::write(&path, "#".repeat(limit)).unwrap();
    assert_eq!(discovery.poll().await.unwrap().others, []);
    std::fs::write(&path, "#".repeat(limit + 1)).unwrap();
    let error = discovery.poll().await.unwrap_err();
    assert!(
        matches!(error, DiscoveryError::FileTooLarge { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("FILE_BYTES_MAX = 1048576"),
        "{error}"
    );
    std::fs::write(&path, "").unwrap();
    assert_eq!(discovery.poll().await.unwrap().others, []);
}
