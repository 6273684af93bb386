//! SQL plumbing shared by the runtime's discovery registry and the XMPP server's storage: a
//! [`Pool`] over SQLite or PostgreSQL (the URL's scheme picks the backend), opened within a
//! deadline ([`Pool::connect`]), schema migrations run within a deadline and retried where
//! sqlx takes no lock ([`Pool::migrate`]), and database URLs with their password hidden
//! ([`url::redact_url`]).
//!
//! Each user keeps its own schema (its `migrations/` and its `sqlx::migrate!`), its own SQL and
//! its own error type; this crate only opens and migrates the database, and its errors carry
//! the redacted URL, never the password.
//!
//! # One enum rather than `sqlx::AnyPool`
//!
//! Both users write one SQL text for both backends and run it through [`on_pool!`], which
//! expands the body once per concrete driver. The typed pools keep what `AnyPool` loses: SQLite's
//! `BEGIN IMMEDIATE` (`Pool::begin_with`), PostgreSQL's `FOR UPDATE` and advisory locks typed
//! against their driver, and sqlx's typed decoding of each column.
//!
//! # Deadlines
//!
//! - [`ConnectOptions::connect_timeout`] bounds opening the pool (its first connection), so a
//!   refused or unreachable server gives [`ConnectError::Connect`] then, never a hang. The same
//!   value is the pool's acquire timeout, so a database that went away later fails an operation
//!   in bounded time too.
//! - [`Pool::migrate`] bounds each migration attempt by its `timeout`. sqlx's PostgreSQL
//!   migrator takes an advisory lock; its SQLite migrator does not, so processes opening a fresh
//!   SQLite file at once can race to apply the same migration. The loser fails after the winner
//!   commits, and a retry (up to [`MIGRATE_ATTEMPTS_MAX`] attempts) then finds it applied.
//!
//! # Migrations of several components in one database
//!
//! sqlx records applied migrations in one `_sqlx_migrations` table per database. Migrators are
//! run with `ignore_missing`, so versions applied by another component sharing the database are
//! not an error; migration versions must therefore be unique across every component using one
//! database (they are timestamps).

pub mod url;

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::url::{is_sqlite_in_memory, redact_url, url_scheme};

/// A driver or I/O error kept as the cause of an error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How many times [`Pool::migrate`] tries the SQLite migrations, for processes racing on a fresh
/// file. PostgreSQL's are tried once: sqlx's migrator holds a lock there.
pub const MIGRATE_ATTEMPTS_MAX: u32 = 3;

/// Which database a [`Pool`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A file, `sqlite://PATH`.
    Sqlite,
    /// A server, `postgres://` or `postgresql://`.
    Postgres,
}

impl Backend {
    /// The backend a URL's scheme names (`sqlite`, `postgres` or `postgresql`), if any.
    pub fn from_url(url: &str) -> Option<Backend> {
        match url_scheme(url)? {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }

    /// `"sqlite"` or `"postgres"`, for errors and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How a SQLite URL's file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteFile {
    /// As the URL says: `mode=rwc` creates a missing file, without it a missing file is a
    /// connect error. The journal mode is left as the file has it.
    AsUrlSays,
    /// The file and its directory are created if missing, and the file is put in WAL mode, so
    /// readers run beside the writer.
    CreateWithWal,
}

/// How [`Pool::connect`] opens a pool; everything but the URL.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Shown in PostgreSQL's `pg_stat_activity`, so an operator can tell the connections apart.
    pub application_name: &'static str,
    /// The pool holds at most this many connections; at least 1.
    pub max_connections: u32,
    /// How long opening the pool, and later each wait for a pooled connection, may take; not
    /// zero.
    pub connect_timeout: Duration,
    /// How long a SQLite statement waits for another connection's write lock before failing
    /// with "database is locked". Keep it below the caller's query deadline, so the error names
    /// the cause rather than being a bare timeout.
    pub sqlite_busy_timeout: Duration,
    /// How the SQLite file is opened.
    pub sqlite_file: SqliteFile,
}

/// Why [`Pool::connect`] failed. Every URL in it has its password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL names no supported backend, the driver rejected it, or it names an in-memory
    /// SQLite database (private to one connection pool, so no other process could share it).
    #[error("database URL {url:?} is not usable: {reason}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The directory of the SQLite file could not be created ([`SqliteFile::CreateWithWal`]).
    #[error("could not create the database directory {path:?}: {source}")]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The database did not accept a connection within the connect timeout.
    #[error("could not connect to the {backend} database at {url} within {timeout:?}: {source}")]
    Connect {
        /// `"sqlite"` or `"postgres"`.
        backend: &'static str,
        /// The URL, redacted.
        url: String,
        /// The connect timeout that applied.
        timeout: Duration,
        /// The driver's error (a refused connection shows up as a pool timeout), or the
        /// deadline.
        #[source]
        source: BoxError,
    },
}

/// Why [`Pool::migrate`] failed, after its last attempt.
#[derive(Debug, thiserror::Error)]
#[error("could not migrate the {backend} database at {url}: {source}")]
pub struct MigrateError {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// The URL, redacted.
    pub url: String,
    /// The migrator's error, or the deadline.
    #[source]
    pub source: BoxError,
}

/// A connection pool on SQLite or PostgreSQL. Clones share the pool.
///
/// Run one statement text on either with [`on_pool!`].
#[derive(Clone, Debug)]
pub enum Pool {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// Evaluates `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or `&PgPool`) of a
/// `&`[`Pool`], once per backend.
///
/// A macro rather than a function generic over `sqlx::Database`: the statements are the same
/// text for both drivers, but the generic version needs a long list of higher-ranked bounds
/// (executor, arguments, encode and decode for every type) that hide the SQL. Each expansion is
/// type-checked against its concrete driver.
#[macro_export]
macro_rules! on_pool {
    ($pool:expr, |$bound:ident| $body:expr) => {
        match $pool {
            $crate::Pool::Sqlite($bound) => $body,
            $crate::Pool::Postgres($bound) => $body,
        }
    };
}

impl Pool {
    /// Opens a pool on `url` (the backend from its scheme: `sqlite`, `postgres` or
    /// `postgresql`) and waits for its first connection, within `options.connect_timeout`.
    /// `sqlite_url_example` ends the error for a URL that is not usable, as the caller's users
    /// should write it (`sqlite://PATH`, `sqlite://PATH?mode=rwc`).
    pub async fn connect(
        url: &str,
        options: &ConnectOptions,
        sqlite_url_example: &str,
    ) -> Result<Pool, ConnectError> {
        let url_redacted = redact_url(url);
        let invalid_url = |reason: String| ConnectError::InvalidUrl {
            url: url_redacted.clone(),
            reason,
        };
        let timeout = options.connect_timeout;
        let Some(backend) = Backend::from_url(url) else {
            let examples = format!("{sqlite_url_example} or postgres://USER@HOST:PORT/DATABASE");
            return Err(invalid_url(match url_scheme(url) {
                Some(other) => format!("unsupported scheme {other:?}: use {examples}"),
                None => format!("no scheme: use {examples}"),
            }));
        };
        match backend {
            Backend::Sqlite => {
                if is_sqlite_in_memory(url) {
                    return Err(invalid_url(format!(
                        "an in-memory SQLite database is private to this process, so no other \
                         process or node could see it, and lost when its last connection \
                         closes; use a file, {sqlite_url_example}"
                    )));
                }
                let mut connect_options = SqliteConnectOptions::from_str(url)
                    .map_err(|error| invalid_url(error.to_string()))?
                    .busy_timeout(options.sqlite_busy_timeout);
                if options.sqlite_file == SqliteFile::CreateWithWal {
                    connect_options = connect_options
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal);
                    create_parent_directory(connect_options.get_filename()).await?;
                }
                let connecting = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(timeout)
                    .connect_with(connect_options);
                let pool = connect_within(backend, &url_redacted, timeout, connecting).await?;
                Ok(Pool::Sqlite(pool))
            }
            Backend::Postgres => {
                let connect_options = PgConnectOptions::from_str(url)
                    .map_err(|error| invalid_url(error.to_string()))?
                    .application_name(options.application_name);
                let connecting = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(timeout)
                    .connect_with(connect_options);
                let pool = connect_within(backend, &url_redacted, timeout, connecting).await?;
                Ok(Pool::Postgres(pool))
            }
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes the pool, waiting for borrowed connections to come back; operations on any clone
    /// fail after this. Dropping the last clone closes it too, without waiting.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// Runs `migrator` (the caller's `sqlx::migrate!` for this pool's [`backend`](Self::backend))
    /// with `ignore_missing`, each attempt within `timeout`; on SQLite up to
    /// [`MIGRATE_ATTEMPTS_MAX`] attempts (see the crate docs). `component` names the caller in
    /// the warning logged before a retry; `url_redacted` goes into that log and the error.
    pub async fn migrate(
        &self,
        mut migrator: Migrator,
        timeout: Duration,
        url_redacted: &str,
        component: &str,
    ) -> Result<(), MigrateError> {
        let backend = self.backend().name();
        let attempts_max = match self.backend() {
            Backend::Sqlite => MIGRATE_ATTEMPTS_MAX,
            Backend::Postgres => 1,
        };
        migrator.set_ignore_missing(true);
        let mut attempt = 1;
        loop {
            let running = on_pool!(self, |pool| {
                tokio::time::timeout(timeout, migrator.run(pool)).await
            });
            let source: BoxError = match running {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(error)) => Box::new(error),
                Err(_elapsed) => format!("not done within {timeout:?}").into(),
            };
            if attempt >= attempts_max {
                return Err(MigrateError {
                    backend,
                    url: url_redacted.to_string(),
                    source,
                });
            }
            tracing::warn!(
                component,
                backend,
                url = %url_redacted,
                attempt,
                error = %source,
                "migration failed; trying again (another process may be migrating)"
            );
            attempt += 1;
        }
    }
}

async fn create_parent_directory(file: &Path) -> Result<(), ConnectError> {
    let Some(directory) = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    tokio::fs::create_dir_all(directory)
        .await
        .map_err(|source| ConnectError::CreateDirectory {
            path: directory.to_path_buf(),
            source,
        })
}

/// Maps the result of opening a pool, bounded by `timeout`, to [`ConnectError::Connect`].
async fn connect_within<T>(
    backend: Backend,
    url_redacted: &str,
    timeout: Duration,
    connecting: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, ConnectError> {
    let source: BoxError = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(pool)) => return Ok(pool),
        Ok(Err(error)) => Box::new(error),
        Err(_elapsed) => "no connection before the deadline".into(),
    };
    Err(ConnectError::Connect {
        backend: backend.name(),
        url: url_redacted.to_string(),
        timeout,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(sqlite_file: SqliteFile) -> ConnectOptions {
        ConnectOptions {
            application_name: "bream-sql-test",
            max_connections: 2,
            connect_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(1),
            sqlite_file,
        }
    }

    #[test]
    fn backends_from_urls() {
        assert_eq!(Backend::from_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://u@h/d"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/d"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://u@h/d"), None);
        assert_eq!(Backend::from_url("x.db"), None);
    }

    #[tokio::test]
    async fn unusable_urls_are_refused_without_their_password() {
        let options = options(SqliteFile::AsUrlSays);
        for (url, expected) in [
            ("mysql://u:secret@h/d", "unsupported scheme \"mysql\""),
            ("x.db", "no scheme"),
            ("sqlite::memory:", "in-memory SQLite"),
            ("postgres://u:secret@h:notaport/d", ""),
        ] {
            match Pool::connect(url, &options, "sqlite://PATH").await {
                Err(error @ ConnectError::InvalidUrl { .. }) => {
                    let text = error.to_string();
                    assert!(text.contains(expected), "{url}: {text}");
                    assert!(!text.contains("secret"), "{url}: {text}");
                }
                other => panic!("{url}: expected InvalidUrl, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn sqlite_file_and_directory_are_created_and_migrated_once() {
        let directory = tempfile::tempdir().unwrap();
        let migrations = directory.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(
            migrations.join("1_things.sql"),
            "CREATE TABLE things (id integer PRIMARY KEY);",
        )
        .unwrap();
        let path = directory.path().join("nested").join("x.db");
        let url = url::sqlite_url_for_path(&path);
        let pool = Pool::connect(&url, &options(SqliteFile::CreateWithWal), "sqlite://PATH")
            .await
            .unwrap();
        assert_eq!(pool.backend(), Backend::Sqlite);
        assert!(path.exists());
        for _ in 0..2 {
            let migrator = Migrator::new(migrations.as_path()).await.unwrap();
            pool.migrate(migrator, Duration::from_secs(5), &url, "test")
                .await
                .unwrap();
        }
        let Pool::Sqlite(sqlite) = &pool else {
            unreachable!()
        };
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(sqlite)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        pool.close().await;
    }

    #[tokio::test]
    async fn a_missing_file_without_mode_rwc_fails_to_connect() {
        let directory = tempfile::tempdir().unwrap();
        let url = url::sqlite_url_for_path(&directory.path().join("missing.db"));
        match Pool::connect(&url, &options(SqliteFile::AsUrlSays), "sqlite://PATH").await {
            Err(ConnectError::Connect { backend, .. }) => assert_eq!(backend, "sqlite"),
            other => panic!("expected Connect, got {other:?}"),
        }
    }
}
