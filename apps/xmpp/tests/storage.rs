//! Storage against SQLite (a temporary file) and PostgreSQL (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Every scenario runs on both databases (`on_both_databases!`). Each gets its own domain
//! (`d<unique>.test`), so scenarios sharing PostgreSQL never see each other's rows, and removes
//! its users at the end. A PostgreSQL that cannot be reached fails the test with a message
//! saying so.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bream_testkit::{DatabaseFixture, TestDatabase};

use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
use bream_xmpp::storage::{
    Ask, ConnectError, RosterChange, RosterItem, Storage, StorageError, StorageOptions,
    Subscription, NAME_BYTES_MAX, ROSTER_REMOVALS_KEPT,
};

// ---------------------------------------------------------------------------------------------
// Harness

/// One scenario's storage and its own domain.
struct Db {
    storage: Storage,
    url: String,
    domain: String,
    _database: TestDatabase,
}

impl DatabaseFixture for Db {
    async fn open(database: TestDatabase) -> Db {
        let url = database.url.clone();
        let storage = Storage::connect(&url).await.unwrap_or_else(|error| {
            if url.starts_with("postgres") {
                panic!(
                    "PostgreSQL at {url} is unreachable or unusable ({error}): start it, or point \
                     DATABASE_URL at one"
                )
            }
            panic!("{url}: {error}")
        });
        Db {
            storage,
            url,
            domain: format!("d{}.test", database.unique_id()),
            _database: database,
        }
    }

    /// Removes every user of this scenario's domain (and so all their data).
    async fn clean_up(self) {
        self.cleanup().await;
    }
}

impl Db {
    async fn postgres() -> Db {
        Db::open(TestDatabase::postgres()).await
    }

    /// Registers `username` with password `secret` (a cheap iteration count: tests hash often).
    async fn user(&self, username: &str) {
        self.storage
            .register_user(&self.domain, username, &cheap_pass_details("secret"))
            .await
            .unwrap();
    }

    async fn cleanup(&self) {
        for username in self.storage.list_users(&self.domain).await.unwrap() {
            self.storage
                .remove_user(&self.domain, &username)
                .await
                .unwrap();
        }
    }
}

fn cheap_pass_details(password: &str) -> PassDetails {
    PassDetails::derive(password, &ScramHash::DEFAULT_SET, 64).unwrap()
}

bream_testkit::on_both_databases!(
    Db;
    accounts,
    passwords,
    roster_items_and_versions,
    roster_pending_requests,
    roster_changes_since_a_version,
    roster_removals_are_kept_up_to_a_bound,
    roster_writes_need_the_user,
    offline_limit_at_the_edge,
    offline_limit_zero,
    offline_limit_holds_under_concurrency,
    vcard_private_last,
    blocking,
    remove_user_deletes_everything,
    migrations_run_twice,
);

// ---------------------------------------------------------------------------------------------
// Accounts

async fn accounts(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    assert_eq!(storage.count_users(domain).await.unwrap(), 0);
    assert!(storage.list_users(domain).await.unwrap().is_empty());

    db.user("bob").await;
    db.user("alice").await;
    match storage
        .register_user(domain, "alice", &cheap_pass_details("other"))
        .await
    {
        Err(StorageError::UserExists {
            domain: error_domain,
            username,
        }) => assert_eq!(
            (error_domain.as_str(), username.as_str()),
            (domain, "alice")
        ),
        other => panic!("expected UserExists, got {other:?}"),
    }
    // The duplicate did not overwrite the first password.
    let details = storage
        .pass_details(domain, "alice")
        .await
        .unwrap()
        .unwrap();
    assert!(details.verify_password("secret"));

    assert!(storage.user_exists(domain, "alice").await.unwrap());
    assert!(!storage.user_exists(domain, "carol").await.unwrap());
    assert!(!storage.user_exists("other.test", "alice").await.unwrap());
    assert_eq!(storage.list_users(domain).await.unwrap(), ["alice", "bob"]);
    assert_eq!(storage.count_users(domain).await.unwrap(), 2);

    assert!(storage.remove_user(domain, "alice").await.unwrap());
    assert!(!storage.remove_user(domain, "alice").await.unwrap());
    assert_eq!(storage.list_users(domain).await.unwrap(), ["bob"]);
    assert_eq!(storage.count_users(domain).await.unwrap(), 1);

    let long = "a".repeat(NAME_BYTES_MAX + 1);
    match storage
        .register_user(domain, &long, &cheap_pass_details("x"))
        .await
    {
        Err(StorageError::TooLong { field, bytes, max }) => {
            assert_eq!(
                (field, bytes, max),
                ("username", NAME_BYTES_MAX + 1, NAME_BYTES_MAX)
            )
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    let longest = "a".repeat(NAME_BYTES_MAX);
    db.user(&longest).await;
    assert!(storage.user_exists(domain, &longest).await.unwrap());
}

async fn passwords(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    assert_eq!(storage.pass_details(domain, "alice").await.unwrap(), None);
    db.user("alice").await;
    let stored = storage
        .pass_details(domain, "alice")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.verify_password("secret"));
    assert_eq!(stored.iteration_count(), 64);

    let changed = cheap_pass_details("new secret");
    assert!(storage
        .set_pass_details(domain, "alice", &changed)
        .await
        .unwrap());
    assert_eq!(
        storage.pass_details(domain, "alice").await.unwrap(),
        Some(changed.clone())
    );
    assert!(!storage
        .set_pass_details(domain, "nobody", &changed)
        .await
        .unwrap());
    assert!(!storage.user_exists(domain, "nobody").await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Rosters

async fn roster_items_and_versions(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    assert_eq!(storage.roster_version(domain, "alice").await.unwrap(), 0);
    assert!(storage
        .roster_items(domain, "alice")
        .await
        .unwrap()
        .is_empty());

    let carol = RosterItem {
        name: Some("Carol".into()),
        subscription: Subscription::Both,
        groups: vec!["Work".into(), "Friends".into(), "Work".into()],
        ..RosterItem::new("carol@example.com")
    };
    let bob = RosterItem {
        subscription: Subscription::To,
        ask: Ask::None,
        ..RosterItem::new("bob@example.com")
    };
    assert_eq!(
        storage
            .upsert_roster_item(domain, "alice", &carol)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        storage
            .upsert_roster_item(domain, "alice", &bob)
            .await
            .unwrap(),
        2
    );
    assert_eq!(storage.roster_version(domain, "alice").await.unwrap(), 2);

    let carol_read = RosterItem {
        groups: vec!["Friends".into(), "Work".into()],
        ..carol.clone()
    };
    assert_eq!(
        storage.roster_items(domain, "alice").await.unwrap(),
        [bob.clone(), carol_read.clone()]
    );
    assert_eq!(
        storage
            .roster_item(domain, "alice", "carol@example.com")
            .await
            .unwrap(),
        Some(carol_read)
    );
    assert_eq!(
        storage
            .roster_item(domain, "alice", "nobody@example.com")
            .await
            .unwrap(),
        None
    );

    // Replacing an item replaces its groups; an empty name reads back as none.
    let carol_renamed = RosterItem {
        name: Some(String::new()),
        subscription: Subscription::From,
        groups: vec!["Family".into()],
        ..RosterItem::new("carol@example.com")
    };
    assert_eq!(
        storage
            .upsert_roster_item(domain, "alice", &carol_renamed)
            .await
            .unwrap(),
        3
    );
    let read = storage
        .roster_item(domain, "alice", "carol@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.name, None);
    assert_eq!(read.subscription, Subscription::From);
    assert_eq!(read.groups, ["Family"]);

    assert_eq!(
        storage
            .delete_roster_item(domain, "alice", "carol@example.com")
            .await
            .unwrap(),
        Some(4)
    );
    assert_eq!(
        storage
            .delete_roster_item(domain, "alice", "carol@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(storage.roster_version(domain, "alice").await.unwrap(), 4);
    assert_eq!(storage.roster_items(domain, "alice").await.unwrap(), [bob]);

    // Another user's roster is separate.
    db.user("dave").await;
    assert!(storage
        .roster_items(domain, "dave")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(storage.roster_version(domain, "dave").await.unwrap(), 0);
}

/// The versions of `changes`, each as `+jid@v` (an item) or `-jid@v` (a removal).
fn described(changes: &[RosterChange]) -> Vec<String> {
    changes
        .iter()
        .map(|change| match change {
            RosterChange::Item { item, version } => format!("+{}@{version}", item.jid),
            RosterChange::Removed { jid, version } => format!("-{jid}@{version}"),
        })
        .collect()
}

async fn roster_changes_since_a_version(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    for contact in ["a@x", "b@x"] {
        storage
            .upsert_roster_item(domain, "alice", &RosterItem::new(contact))
            .await
            .unwrap();
    }
    storage
        .delete_roster_item(domain, "alice", "a@x")
        .await
        .unwrap();
    let named = RosterItem {
        name: Some("C".into()),
        ..RosterItem::new("c@x")
    };
    storage
        .upsert_roster_item(domain, "alice", &named)
        .await
        .unwrap();
    let since = |version| storage.roster_changes_since(domain, "alice", version);
    let changes = since(1).await.unwrap().expect("within the horizon");
    assert_eq!(described(&changes), ["+b@x@2", "-a@x@3", "+c@x@4"]);
    assert!(matches!(&changes[2], RosterChange::Item { item, .. } if *item == named));
    assert_eq!(described(&since(0).await.unwrap().unwrap()).len(), 3);
    assert!(since(4).await.unwrap().unwrap().is_empty());
    // Added again: the removal is gone, the item carries its new version.
    storage
        .upsert_roster_item(domain, "alice", &RosterItem::new("a@x"))
        .await
        .unwrap();
    assert_eq!(
        described(&since(2).await.unwrap().unwrap()),
        ["+c@x@4", "+a@x@5"]
    );
    assert!(matches!(
        storage.roster_changes_since(domain, "nobody", 1).await,
        Err(StorageError::UserNotFound { .. })
    ));
}

async fn roster_removals_are_kept_up_to_a_bound(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    let kept = usize::try_from(ROSTER_REMOVALS_KEPT).unwrap();
    // Versions 1..=2n: item k added at 2k-1 and removed at 2k; one removal more than kept.
    for k in 1..=kept + 1 {
        let contact = format!("c{k}@x");
        storage
            .upsert_roster_item(domain, "alice", &RosterItem::new(contact.as_str()))
            .await
            .unwrap();
        storage
            .delete_roster_item(domain, "alice", &contact)
            .await
            .unwrap();
    }
    // The oldest removal (version 2) was pruned: from before it, only the whole roster.
    assert_eq!(
        storage
            .roster_changes_since(domain, "alice", 1)
            .await
            .unwrap(),
        None
    );
    let changes = storage
        .roster_changes_since(domain, "alice", 2)
        .await
        .unwrap()
        .expect("at the horizon");
    assert_eq!(changes.len(), kept);
    assert_eq!(described(&changes[..1]), ["-c2@x@4"]);
}

async fn roster_pending_requests(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    let cases = [
        (Ask::Subscribe, None),
        (Ask::None, Some(String::new())),
        (Ask::None, Some("let me in".to_string())),
        (Ask::Subscribe, Some("both ways".to_string())),
        (Ask::None, None),
    ];
    for (ask, pending_in) in cases {
        let item = RosterItem {
            ask,
            pending_in: pending_in.clone(),
            ..RosterItem::new("bob@example.com")
        };
        storage
            .upsert_roster_item(domain, "alice", &item)
            .await
            .unwrap();
        let read = storage
            .roster_item(domain, "alice", "bob@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((read.ask, read.pending_in), (ask, pending_in));
    }
}

async fn roster_writes_need_the_user(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    let item = RosterItem::new("bob@example.com");
    match storage.upsert_roster_item(domain, "ghost", &item).await {
        Err(StorageError::UserNotFound { username, .. }) => assert_eq!(username, "ghost"),
        other => panic!("expected UserNotFound, got {other:?}"),
    }
    assert!(matches!(
        storage
            .delete_roster_item(domain, "ghost", "bob@example.com")
            .await,
        Err(StorageError::UserNotFound { .. })
    ));
    assert!(storage
        .roster_items(domain, "ghost")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(storage.roster_version(domain, "ghost").await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// Offline messages

fn message(n: usize) -> String {
    format!("<message to='alice@x' from='bob@y/r' type='chat'><body>{n}</body></message>")
}

async fn offline_limit_at_the_edge(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    let limit = 3;
    let before = now_micros();
    for n in 0..limit {
        storage
            .store_offline(domain, "alice", "bob@y/r", &message(n), limit)
            .await
            .unwrap();
    }
    match storage
        .store_offline(domain, "alice", "bob@y/r", &message(limit), limit)
        .await
    {
        Err(StorageError::OfflineFull {
            limit: error_limit,
            username,
            ..
        }) => assert_eq!((error_limit, username.as_str()), (limit, "alice")),
        other => panic!("expected OfflineFull, got {other:?}"),
    }
    assert_eq!(storage.count_offline(domain, "alice").await.unwrap(), 3);
    // A larger limit lets one more in.
    storage
        .store_offline(domain, "alice", "carol@z", &message(limit), limit + 1)
        .await
        .unwrap();

    let taken = storage.take_offline(domain, "alice").await.unwrap();
    let after = now_micros();
    let bodies: Vec<&str> = taken.iter().map(|m| m.packet_xml.as_str()).collect();
    let expected: Vec<String> = (0..=limit).map(message).collect();
    assert_eq!(bodies, expected);
    assert_eq!(taken[3].from, "carol@z");
    assert!(taken
        .iter()
        .all(|m| (before..=after).contains(&m.stored_at)));
    assert_eq!(storage.count_offline(domain, "alice").await.unwrap(), 0);
    assert!(storage
        .take_offline(domain, "alice")
        .await
        .unwrap()
        .is_empty());

    match storage
        .store_offline(domain, "ghost", "bob@y", &message(0), limit)
        .await
    {
        Err(StorageError::UserNotFound { .. }) => {}
        other => panic!("expected UserNotFound, got {other:?}"),
    }
}

async fn offline_limit_zero(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    assert!(matches!(
        storage
            .store_offline(domain, "alice", "bob@y", &message(0), 0)
            .await,
        Err(StorageError::OfflineFull { limit: 0, .. })
    ));
    assert_eq!(storage.count_offline(domain, "alice").await.unwrap(), 0);
}

async fn offline_limit_holds_under_concurrency(db: &Db) {
    let domain = db.domain.clone();
    db.user("alice").await;
    let limit = 5;
    let stores: Vec<_> = (0..12)
        .map(|n| {
            let (storage, domain) = (db.storage.clone(), domain.clone());
            tokio::spawn(async move {
                storage
                    .store_offline(&domain, "alice", "bob@y", &message(n), limit)
                    .await
            })
        })
        .collect();
    let mut stored = 0;
    for store in stores {
        match store.await.unwrap() {
            Ok(()) => stored += 1,
            Err(StorageError::OfflineFull { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, limit);
    assert_eq!(
        db.storage.count_offline(&domain, "alice").await.unwrap(),
        limit as u64
    );
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

// ---------------------------------------------------------------------------------------------
// vCard, private XML, last activity, blocking

async fn vcard_private_last(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;

    assert_eq!(storage.vcard(domain, "alice").await.unwrap(), None);
    let vcard = "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>";
    // Each write replaces the one before.
    for written in [vcard, "<vCard xmlns='vcard-temp'><FN>Alice B.</FN></vCard>"] {
        storage.set_vcard(domain, "alice", written).await.unwrap();
        assert_eq!(
            storage.vcard(domain, "alice").await.unwrap().as_deref(),
            Some(written)
        );
    }

    let namespace = "storage:bookmarks";
    let stored_bookmarks = || async {
        storage
            .private_xml(domain, "alice", namespace)
            .await
            .unwrap()
    };
    assert_eq!(stored_bookmarks().await, None);
    let bookmarks = "<storage xmlns='storage:bookmarks'/>";
    storage
        .set_private_xml(domain, "alice", namespace, bookmarks)
        .await
        .unwrap();
    storage
        .set_private_xml(domain, "alice", "other:ns", "<x xmlns='other:ns'/>")
        .await
        .unwrap();
    assert_eq!(stored_bookmarks().await.as_deref(), Some(bookmarks));
    let replaced = "<storage xmlns='storage:bookmarks'><url/></storage>";
    storage
        .set_private_xml(domain, "alice", namespace, replaced)
        .await
        .unwrap();
    assert_eq!(stored_bookmarks().await.as_deref(), Some(replaced));

    assert_eq!(storage.last_activity(domain, "alice").await.unwrap(), None);
    // Past 2038: the column is 64-bit. Each write replaces the one before.
    let seconds = 4_102_444_800;
    for (written, status) in [(seconds, "gone fishing"), (seconds + 1, "")] {
        storage
            .set_last_activity(domain, "alice", written, status)
            .await
            .unwrap();
        assert_eq!(
            storage.last_activity(domain, "alice").await.unwrap(),
            Some((written, status.to_string()))
        );
    }

    for result in [
        storage.set_vcard(domain, "ghost", vcard).await,
        storage
            .set_private_xml(domain, "ghost", namespace, bookmarks)
            .await,
        storage.set_last_activity(domain, "ghost", 1, "").await,
    ] {
        assert!(
            matches!(result, Err(StorageError::UserNotFound { .. })),
            "{result:?}"
        );
    }
    assert_eq!(storage.vcard(domain, "ghost").await.unwrap(), None);
}

async fn blocking(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    let jids = |list: &[&str]| list.iter().map(|jid| jid.to_string()).collect::<Vec<_>>();

    assert!(storage.blocklist(domain, "alice").await.unwrap().is_empty());
    storage
        .block(domain, "alice", &jids(&["spam@x", "eve@y"]))
        .await
        .unwrap();
    storage
        .block(domain, "alice", &jids(&["eve@y", "mallory@z", "eve@y"]))
        .await
        .unwrap();
    assert_eq!(
        storage.blocklist(domain, "alice").await.unwrap(),
        ["eve@y", "mallory@z", "spam@x"]
    );
    storage
        .unblock(domain, "alice", &jids(&["eve@y", "unknown@q"]))
        .await
        .unwrap();
    assert_eq!(
        storage.blocklist(domain, "alice").await.unwrap(),
        ["mallory@z", "spam@x"]
    );
    storage.unblock(domain, "alice", &[]).await.unwrap();
    assert!(storage.blocklist(domain, "alice").await.unwrap().is_empty());

    assert!(matches!(
        storage.block(domain, "ghost", &jids(&["a@b"])).await,
        Err(StorageError::UserNotFound { .. })
    ));
    assert!(matches!(
        storage.unblock(domain, "ghost", &[]).await,
        Err(StorageError::UserNotFound { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Removal and migrations

/// Gives `username` one of everything a user can own.
async fn fill(db: &Db, username: &str) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    let item = RosterItem {
        name: Some("Bob".into()),
        subscription: Subscription::Both,
        groups: vec!["G".into()],
        ..RosterItem::new("bob@example.com")
    };
    storage
        .upsert_roster_item(domain, username, &item)
        .await
        .unwrap();
    storage
        .store_offline(domain, username, "bob@example.com", &message(1), 10)
        .await
        .unwrap();
    storage
        .set_vcard(domain, username, "<vCard/>")
        .await
        .unwrap();
    storage
        .set_private_xml(domain, username, "a:b", "<x xmlns='a:b'/>")
        .await
        .unwrap();
    storage
        .set_last_activity(domain, username, 1, "bye")
        .await
        .unwrap();
    storage
        .block(domain, username, &["eve@example.com".to_string()])
        .await
        .unwrap();
    // A removal leaves a row behind for roster versioning.
    storage
        .upsert_roster_item(domain, username, &RosterItem::new("gone@example.com"))
        .await
        .unwrap();
    storage
        .delete_roster_item(domain, username, "gone@example.com")
        .await
        .unwrap();
}

/// Checks that `username` owns nothing.
async fn assert_owns_nothing(db: &Db, username: &str) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    assert!(storage
        .roster_items(domain, username)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(storage.roster_version(domain, username).await.unwrap(), 0);
    if storage.user_exists(domain, username).await.unwrap() {
        let changes = storage.roster_changes_since(domain, username, 0).await;
        assert_eq!(changes.unwrap(), Some(Vec::new()), "no removal left behind");
    }
    assert_eq!(storage.count_offline(domain, username).await.unwrap(), 0);
    assert_eq!(storage.vcard(domain, username).await.unwrap(), None);
    assert_eq!(
        storage.private_xml(domain, username, "a:b").await.unwrap(),
        None
    );
    assert_eq!(storage.last_activity(domain, username).await.unwrap(), None);
    assert!(storage
        .blocklist(domain, username)
        .await
        .unwrap()
        .is_empty());
}

async fn remove_user_deletes_everything(db: &Db) {
    let (storage, domain) = (&db.storage, db.domain.as_str());
    db.user("alice").await;
    db.user("carol").await;
    fill(db, "alice").await;
    fill(db, "carol").await;

    assert!(storage.remove_user(domain, "alice").await.unwrap());
    assert!(!storage.user_exists(domain, "alice").await.unwrap());
    assert_owns_nothing(db, "alice").await;

    // A new account of the same name starts empty.
    db.user("alice").await;
    assert_owns_nothing(db, "alice").await;

    // Carol keeps hers.
    assert_eq!(
        storage.roster_items(domain, "carol").await.unwrap().len(),
        1
    );
    assert_eq!(storage.roster_version(domain, "carol").await.unwrap(), 3);
    assert_eq!(storage.count_offline(domain, "carol").await.unwrap(), 1);
    assert!(storage.vcard(domain, "carol").await.unwrap().is_some());
    assert!(storage
        .private_xml(domain, "carol", "a:b")
        .await
        .unwrap()
        .is_some());
    assert!(storage
        .last_activity(domain, "carol")
        .await
        .unwrap()
        .is_some());
    assert_eq!(storage.blocklist(domain, "carol").await.unwrap().len(), 1);
}

async fn migrations_run_twice(db: &Db) {
    db.user("alice").await;
    let again = Storage::connect(&db.url).await.unwrap();
    assert!(again.user_exists(&db.domain, "alice").await.unwrap());
    again.close().await;
}

// ---------------------------------------------------------------------------------------------
// Backend-specific

#[tokio::test]
async fn sqlite_file_and_directory_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested").join("deeper").join("bream.db");
    let storage = Storage::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert!(file.exists());
    assert_eq!(storage.backend(), "sqlite");
    storage.close().await;
}

#[tokio::test]
async fn sqlite_shares_its_file_with_the_runtime_discovery() {
    use bream_runtime::discovery::{SqlRegistry, SqlRegistryConfig};
    for discovery_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shared.db").display()
        );
        let registry_config = SqlRegistryConfig::new(&url, "c", "a@localhost", "127.0.0.1:4370");
        if discovery_first {
            let registry = SqlRegistry::connect(registry_config).await.unwrap();
            let storage = Storage::connect(&url).await.unwrap();
            registry.close().await;
            storage.close().await;
        } else {
            let storage = Storage::connect(&url).await.unwrap();
            let registry = SqlRegistry::connect(registry_config).await.unwrap();
            registry.close().await;
            storage.close().await;
        }
        // Both again, each finding the other's migration applied.
        let storage = Storage::connect(&url).await.unwrap();
        storage
            .register_user("localhost", "alice", &cheap_pass_details("x"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn bad_urls_and_options_are_refused() {
    for (url, expected) in [
        ("mysql://u@h/db", "unsupported scheme"),
        ("no-scheme", "no scheme"),
        ("sqlite::memory:", "in-memory"),
    ] {
        match Storage::connect(url).await {
            Err(StorageError::Connect(ConnectError::InvalidUrl { reason, .. })) => {
                assert!(reason.contains(expected), "{url}: {reason}")
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
    let options = StorageOptions {
        pool_connections_max: 0,
        ..StorageOptions::new("sqlite:///tmp/never.db")
    };
    assert!(matches!(
        Storage::connect_with(options).await,
        Err(StorageError::InvalidOption {
            option: "pool_connections_max",
            ..
        })
    ));
}

#[tokio::test]
async fn postgres_unreachable_fails_in_time_without_the_password() {
    let options = StorageOptions {
        connect_timeout: Duration::from_millis(500),
        // Port 1 on loopback: nothing listens there.
        ..StorageOptions::new("postgres://bream:hunter2@127.0.0.1:1/bream")
    };
    assert!(!format!("{options:?}").contains("hunter2"));
    let started = std::time::Instant::now();
    let error = Storage::connect_with(options).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            error,
            StorageError::Connect(ConnectError::Connect {
                backend: "postgres",
                ..
            })
        ),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("bream:***@127.0.0.1:1"), "{shown}");
}

#[tokio::test]
async fn postgres_operations_time_out_behind_a_lock() {
    let db = Db::postgres().await;
    db.user("alice").await;
    let options = StorageOptions {
        query_timeout: Duration::from_millis(300),
        ..StorageOptions::new(&db.url)
    };
    let impatient = Storage::connect_with(options).await.unwrap();

    // Hold alice's row lock in an open transaction of our own.
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut locker = admin.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE server = $1 AND username = $2 FOR UPDATE")
        .bind(&db.domain)
        .bind("alice")
        .execute(&mut *locker)
        .await
        .unwrap();

    match impatient.set_vcard(&db.domain, "alice", "<vCard/>").await {
        Err(StorageError::Timeout {
            operation,
            account,
            timeout,
        }) => {
            assert_eq!(operation, "set_vcard");
            assert_eq!(account, format!("alice@{}", db.domain));
            assert_eq!(timeout, Duration::from_millis(300));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    // Reads do not wait for the lock.
    assert!(impatient.user_exists(&db.domain, "alice").await.unwrap());
    locker.rollback().await.unwrap();
    impatient
        .set_vcard(&db.domain, "alice", "<vCard/>")
        .await
        .unwrap();
    db.cleanup().await;
}
