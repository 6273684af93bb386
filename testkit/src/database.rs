//! A database per test scenario, on SQLite (a file in a fresh temporary directory) or on
//! PostgreSQL (`DATABASE_URL`, default [`POSTGRES_URL_DEFAULT`]), and
//! [`on_both_databases!`](crate::on_both_databases) to run each scenario on both.
//!
//! PostgreSQL is shared by every test of every run, so a scenario keeps to names of its own:
//! [`TestDatabase::unique_id`] is unique per scenario (process, time and a counter), for
//! domains, cluster names and node names.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The PostgreSQL the tests use when `DATABASE_URL` is not set: the one this kind of machine
/// runs (trust authentication).
pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a [`TestDatabase`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file of its own.
    Sqlite,
    /// The shared PostgreSQL.
    Postgres,
}

/// One scenario's database: its URL, and the temporary directory an SQLite file lives in
/// (removed when this drops).
#[derive(Debug)]
pub struct TestDatabase {
    /// The sqlx URL.
    pub url: String,
    /// Which database it is.
    pub backend: Backend,
    id: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// An SQLite database file, `name` in a new temporary directory (created on first
    /// connect: the URL asks for `mode=rwc`).
    pub fn sqlite(name: &str) -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
        TestDatabase {
            url,
            backend: Backend::Sqlite,
            id: unique_id(),
            _dir: Some(dir),
        }
    }

    /// The shared PostgreSQL: `DATABASE_URL`, or [`POSTGRES_URL_DEFAULT`].
    pub fn postgres() -> TestDatabase {
        TestDatabase {
            url: postgres_url(),
            backend: Backend::Postgres,
            id: unique_id(),
            _dir: None,
        }
    }

    /// A name unique to this scenario, for the rows it writes to a shared database.
    pub fn unique_id(&self) -> &str {
        &self.id
    }

    /// The temporary directory of an SQLite database (`None` for PostgreSQL).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(tempfile::TempDir::path)
    }
}

/// `DATABASE_URL`, or [`POSTGRES_URL_DEFAULT`].
pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| POSTGRES_URL_DEFAULT.into())
}

/// Unique in this process and across processes: the process id, the time in nanoseconds and
/// a counter.
pub fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos:x}-{count}", std::process::id())
}

/// What a test's scenarios run against, made from a [`TestDatabase`]: the storage it opens,
/// the tables it looks at. [`on_both_databases!`](crate::on_both_databases) opens one per
/// scenario and cleans it up after.
pub trait DatabaseFixture: Sized {
    /// Opens the fixture on `database` (connects, migrates, picks its names).
    fn open(database: TestDatabase) -> impl Future<Output = Self> + Send;

    /// Removes what the scenario wrote to a shared database. Runs after the scenario passed.
    fn clean_up(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs each scenario `async fn NAME(fixture: &FIXTURE)` on SQLite and on PostgreSQL, as the
/// tests `sqlite::NAME` and `postgres::NAME`, each on a fresh [`DatabaseFixture`] that is
/// cleaned up after.
///
/// ```ignore
/// on_both_databases!(Db; accounts, passwords);
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($fixture:ident; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = $crate::TestDatabase::sqlite("test.db");
                    let fixture = <super::$fixture as $crate::DatabaseFixture>::open(database).await;
                    super::$name(&fixture).await;
                    $crate::DatabaseFixture::clean_up(fixture).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = $crate::TestDatabase::postgres();
                    let fixture = <super::$fixture as $crate::DatabaseFixture>::open(database).await;
                    super::$name(&fixture).await;
                    $crate::DatabaseFixture::clean_up(fixture).await;
                }
            )*
        }
    };
}
