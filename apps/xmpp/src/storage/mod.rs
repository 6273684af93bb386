//! The XMPP server's durable state: accounts, rosters, offline messages, vCards, private XML,
//! last activity and block lists, in SQLite (the default, one file) or PostgreSQL (a cluster's
//! shared database).
//!
//! Everything a user owns survives a restart and is shared by every node of a cluster, so it
//! lives in SQL rather than in the in-memory tables (which hold what dies with a node: sessions).
//! [`Storage`] is a cheap-to-clone handle over a connection pool; every method is one short
//! transaction bounded by a deadline.
//!
//! ```no_run
//! # async fn example() -> Result<(), bream_xmpp::storage::StorageError> {
//! use bream_xmpp::sasl::secret::PassDetails;
//! use bream_xmpp::storage::{RosterItem, Storage, Subscription};
//!
//! let storage = Storage::connect("sqlite://./data/bream.db").await?; // creates ./data/ and the file
//! let details = PassDetails::derive_default("secret").expect("a valid password");
//! storage.register_user("localhost", "alice", &details).await?;
//! let item = RosterItem { subscription: Subscription::Both, ..RosterItem::new("bob@localhost") };
//! let version = storage.upsert_roster_item("localhost", "alice", &item).await?;
//! assert_eq!(storage.roster_version("localhost", "alice").await?, version);
//! # Ok(()) }
//! ```
//!
//! Callers pass `domain` and `username` already normalised ([`crate::jid`]): storage compares
//! bytes and never prepares strings itself.
//!
//! # The schema
//!
//! `migrations/sqlite/` and `migrations/postgres/` (one migration each, kept column for column
//! alike), run by [`Storage::connect`]. Table and column names are MongooseIM 6's `priv/pg.sql`:
//! `users(server, username, password, pass_details, created_at)`, `rosterusers(server, username,
//! jid, nick, subscription, ask, askmessage, created_at)`, `rostergroups(server, username, jid,
//! grp)`, `roster_version(server, username, version)` (plus `rosterusers.version`,
//! `roster_version.horizon` and `roster_removed(server, username, jid, version)`, Bream's own,
//! for roster versioning by deltas), `offline_message(id, timestamp, expire,
//! server, username, from_jid, packet, permanent_fields)`, `vcard(username, server, vcard,
//! created_at)`, `private_storage(server, username, namespace, data, created_at)`,
//! `last(server, username, seconds, state)`. Where Bream differs, and why:
//!
//! - `users.password` is always `''`: only SCRAM secrets are stored (`pass_details`, in
//!   MongooseIM's `==MULTI_SCRAM==` text, so rows can move between the two servers).
//! - `rosterusers` has MongooseIM 6's columns; ejabberd's old `server`, `subscribe` and `type`
//!   columns, which MongooseIM 6 dropped, are not there either. `ask` uses MongooseIM's codes
//!   `N`/`O`/`I`/`B` (none, out, in, both); a pending inbound request's status text is
//!   `askmessage`.
//! - `roster_version.version` is a `bigint` counter, where MongooseIM keeps a text hash:
//!   XEP-0237 versions are opaque to the client, and a counter bumped in the same transaction as
//!   the change is cheap and can never repeat.
//! - `last.seconds` is `bigint` (MongooseIM: `integer`, which ends in 2038).
//! - `offline_message.id` is `bigserial` (MongooseIM: `serial`); `expire` and
//!   `permanent_fields` exist but stay NULL (no XEP-0079 expiry).
//! - `from_jid`, `rosterusers.jid` and `private_storage.namespace` are `text`: a full JID or a
//!   namespace may exceed 250 bytes. `server` and `username` stay `varchar(250)`; longer ones are
//!   refused at registration ([`NAME_BYTES_MAX`]), so SQLite (which has no lengths) and
//!   PostgreSQL accept the same accounts.
//! - Blocking (XEP-0191) is its own table, `blocking(server, username, jid)`. *Rejected:*
//!   MongooseIM's `privacy_list`/`privacy_list_data`, where a block list is a privacy list named
//!   `blocking` with ordered deny rules. That shape serves XEP-0016 privacy lists, which Bream
//!   does not implement; for XEP-0191 alone it costs a list id, rule order and action columns
//!   for what is a set of JIDs. If privacy lists come, a migration can turn rows into rules.
//! - No `discovery_nodes`: the runtime's discovery creates and owns it when it shares the
//!   database.
//!
//! # Concurrency
//!
//! Every write of a user's data runs in one transaction that first checks the user's `users`
//! row, locking it (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` takes the
//! database's write lock). So:
//! - writes for one user are serialised, and different users never wait for each other on
//!   PostgreSQL;
//! - a write for a user that does not exist, or that [`remove_user`](Storage::remove_user)
//!   removed meanwhile, fails with [`StorageError::UserNotFound`] instead of leaving rows that
//!   a later account of the same name would inherit;
//! - [`store_offline`](Storage::store_offline)'s count-then-insert cannot overshoot the limit
//!   when messages arrive at once from several nodes;
//! - a roster change and its version bump commit together.
//!
//! Reads are single statements (the roster is one join), so they see one consistent snapshot.
//!
//! # Deadlines and sizes
//!
//! - Connecting is bounded by [`StorageOptions::connect_timeout`] (default
//!   [`CONNECT_TIMEOUT_DEFAULT`]), which is also how long an operation waits for a pooled
//!   connection; the migrations by [`MIGRATE_TIMEOUT`].
//! - Every operation, from asking the pool for a connection to the commit, is bounded by
//!   [`StorageOptions::query_timeout`] (default [`QUERY_TIMEOUT_DEFAULT`], MongooseIM's rdbms
//!   `query_timeout`); on timeout the transaction is dropped, which rolls it back. A SQLite
//!   writer waiting for another's lock gives up first ([`SQLITE_BUSY_TIMEOUT_MAX`], at most half
//!   the query timeout), so the error says "database is locked" rather than a bare timeout.
//! - The pool holds at most [`StorageOptions::pool_connections_max`] connections (default
//!   [`POOL_CONNECTIONS_DEFAULT`] = 10, MongooseIM's rdbms `workers`), opened as needed and
//!   closed after sqlx's idle timeout (10 minutes). Every node of a cluster holds one pool on the
//!   shared PostgreSQL, whose default `max_connections` is 100. On SQLite, writers take turns
//!   anyway; readers run beside them because the file is put in WAL mode.
//! - Results are bounded by what was let in: offline messages by the caller's `limit`, rosters
//!   and block lists by the stanzas that built them. [`list_users`](Storage::list_users) returns
//!   a whole domain's accounts (an admin command; MongooseIM's `listUsers` does the same).
//!
//! # Migrations
//!
//! sqlx keeps applied migrations in one `_sqlx_migrations` table per database, shared with the
//! runtime's discovery registry when both use one database. The migrator runs with
//! `ignore_missing`, so the other component's versions are not an error, and our version
//! numbers (`20261127100000` onwards) never collide with the runtime's (`20261127000000`).
//! sqlx's SQLite migrator takes no lock, so two processes opening a fresh file at once (a server
//! and a `ctl` command) may race; the loser tries again, up to [`MIGRATE_ATTEMPTS_MAX`] times.
//! Connecting and migrating are `bream_sql`'s, shared with the runtime's discovery; the schema
//! and its SQL are here.
//!
//! # Outcomes
//!
//! [`Storage::connect`]: [`StorageError::Connect`] (an unusable URL: no or unknown scheme, the
//! driver rejects it, in-memory SQLite; the SQLite directory; no connection in time),
//! [`StorageError::InvalidOption`], [`StorageError::Migrate`]. Every operation: [`StorageError::Query`],
//! [`StorageError::Timeout`], [`StorageError::InvalidRow`]; writes of a user's data also
//! [`StorageError::UserNotFound`]; and the ones named on each method.

mod error;
mod model;
mod url;

mod accounts;
mod offline;
mod personal;
mod roster;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bream_sql::{Backend, ConnectOptions, Pool, SqliteFile};

pub use self::error::{BoxError, ConnectError, MigrateError, StorageError};
pub use self::model::{Ask, OfflineMessage, RosterItem, Subscription};
pub use self::roster::{RosterChange, ROSTER_REMOVALS_KEPT};
pub(crate) use self::url::url_scheme_is_supported;
pub use self::url::{redact_url, sqlite_url_for_path};

/// How long [`Storage::connect`] waits for its first connection, and an operation for a pooled
/// connection.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// How long one operation may take, from asking the pool for a connection to the commit
/// (MongooseIM's rdbms `query_timeout` default, 5000 ms).
pub const QUERY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// How long the migrations may take on connect, waiting for another process's migration lock
/// included.
pub const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times the SQLite migrations are tried, for processes racing on a fresh file.
pub const MIGRATE_ATTEMPTS_MAX: u32 = bream_sql::MIGRATE_ATTEMPTS_MAX;

/// The pool's connection bound when none is configured (MongooseIM's rdbms `workers` default).
pub const POOL_CONNECTIONS_DEFAULT: u32 = 10;

/// The largest pool bound accepted: PostgreSQL's default `max_connections`, which one node must
/// not take alone.
pub const POOL_CONNECTIONS_MAX: u32 = 100;

/// The longest a SQLite statement waits for another connection's write lock before failing
/// with "database is locked". Also at most half the query timeout.
pub const SQLITE_BUSY_TIMEOUT_MAX: Duration = Duration::from_secs(3);

/// The longest `server` (domain) or `username`, in bytes: the width of MongooseIM's
/// `varchar(250)` columns, enforced on both backends.
pub const NAME_BYTES_MAX: usize = 250;

/// Shown in PostgreSQL's `pg_stat_activity`, so an operator can tell these connections apart.
const APPLICATION_NAME: &str = "bream-xmpp";

const _: () = assert!(SQLITE_BUSY_TIMEOUT_MAX.as_millis() < QUERY_TIMEOUT_DEFAULT.as_millis());
const _: () = assert!(QUERY_TIMEOUT_DEFAULT.as_millis() < MIGRATE_TIMEOUT.as_millis());
const _: () =
    assert!(1 <= POOL_CONNECTIONS_DEFAULT && POOL_CONNECTIONS_DEFAULT <= POOL_CONNECTIONS_MAX);

/// How to reach the database. [`StorageOptions::new`] fills in every default.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// `sqlite://PATH` (the file and its directory are created) or
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`. The scheme picks the backend.
    pub url: String,
    /// At most this many connections, 1..=[`POOL_CONNECTIONS_MAX`]. Default
    /// [`POOL_CONNECTIONS_DEFAULT`].
    pub pool_connections_max: u32,
    /// Not zero. Default [`CONNECT_TIMEOUT_DEFAULT`].
    pub connect_timeout: Duration,
    /// Not zero. Default [`QUERY_TIMEOUT_DEFAULT`].
    pub query_timeout: Duration,
}

impl StorageOptions {
    /// Options for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        StorageOptions {
            url: url.into(),
            pool_connections_max: POOL_CONNECTIONS_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            query_timeout: QUERY_TIMEOUT_DEFAULT,
        }
    }

    fn validate(&self) -> Result<(), StorageError> {
        let invalid = |option, value: String, reason: &str| StorageError::InvalidOption {
            option,
            value,
            reason: reason.to_string(),
        };
        if !(1..=POOL_CONNECTIONS_MAX).contains(&self.pool_connections_max) {
            return Err(invalid(
                "pool_connections_max",
                self.pool_connections_max.to_string(),
                &format!("must be in 1..={POOL_CONNECTIONS_MAX}"),
            ));
        }
        for (option, value) in [
            ("connect_timeout", self.connect_timeout),
            ("query_timeout", self.query_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(option, format!("{value:?}"), "must not be zero"));
            }
        }
        Ok(())
    }
}

/// Hides the password, which the URL may carry.
impl fmt::Debug for StorageOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("StorageOptions")
            .field("url", &redact_url(&self.url))
            .field("pool_connections_max", &self.pool_connections_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

/// A handle on the server's database; see the module docs. Clones share one pool.
#[derive(Clone)]
pub struct Storage {
    pool: Pool,
    /// The URL with any password replaced by `***`.
    url_redacted: Arc<str>,
    query_timeout: Duration,
}

impl fmt::Debug for Storage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Storage")
            .field("backend", &self.backend())
            .field("url", &self.url_redacted)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

/// What differs between the backends' SQL. Everything else is one text for both: `$N`
/// parameters work in SQLite too, and so do `ON CONFLICT` and `RETURNING`.
struct Dialect {
    /// `$1` server, `$2` username: a row when the user exists, locking it until the end of the
    /// transaction where the backend locks rows.
    lock_user: &'static str,
}

const SQLITE: Dialect = Dialect {
    // `BEGIN IMMEDIATE` already holds the database's write lock.
    lock_user: "SELECT 1 FROM users WHERE server = $1 AND username = $2",
};

const POSTGRES: Dialect = Dialect {
    lock_user: "SELECT 1 FROM users WHERE server = $1 AND username = $2 FOR UPDATE",
};

/// Why an operation's body stopped, before [`Storage::run`] adds the operation and account.
enum Failure {
    Sql(sqlx::Error),
    Storage(StorageError),
    InvalidRow(String),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Sql(error)
    }
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        Failure::Storage(error)
    }
}

/// Evaluates `$body` with `$pool` bound to the pool, once per backend: [`bream_sql::on_pool!`] on
/// the storage's pool.
macro_rules! on_pool {
    ($storage:expr, |$pool:ident| $body:expr) => {
        bream_sql::on_pool!(&$storage.pool, |$pool| $body)
    };
}

/// Evaluates `$body` inside a transaction, once per backend, with `$transaction` bound to the
/// open transaction and `$dialect` to the backend's [`Dialect`]; commits after it. A `?` or a
/// `return` out of `$body` drops the transaction, which rolls it back.
///
/// SQLite transactions start with `BEGIN IMMEDIATE`, taking the write lock at once: with a plain
/// `BEGIN` a transaction that reads and then writes fails with `SQLITE_BUSY`, without waiting,
/// when another connection wrote in between.
macro_rules! in_transaction {
    ($storage:expr, |$transaction:ident, $dialect:ident| $body:expr) => {
        match &$storage.pool {
            bream_sql::Pool::Sqlite(pool) => {
                let mut $transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
                #[allow(unused_variables)]
                let $dialect = &$crate::storage::SQLITE;
                let value = $body;
                $transaction.commit().await?;
                value
            }
            bream_sql::Pool::Postgres(pool) => {
                let mut $transaction = pool.begin().await?;
                #[allow(unused_variables)]
                let $dialect = &$crate::storage::POSTGRES;
                let value = $body;
                $transaction.commit().await?;
                value
            }
        }
    };
}

/// In an [`in_transaction!`] body: checks that the user exists, locking its row, or returns
/// [`StorageError::UserNotFound`] (rolling back).
macro_rules! require_user {
    ($transaction:ident, $dialect:ident, $domain:expr, $username:expr) => {
        let found = sqlx::query($dialect.lock_user)
            .bind($domain)
            .bind($username)
            .fetch_optional(&mut *$transaction)
            .await?;
        if found.is_none() {
            return Err($crate::storage::Failure::Storage(
                $crate::storage::StorageError::UserNotFound {
                    domain: $domain.to_string(),
                    username: $username.to_string(),
                },
            ));
        }
    };
}

/// One operation on one user's records, in a transaction that first checks and locks the user's
/// row ([`require_user!`]): `$body` runs with `$transaction` bound, under the query timeout and
/// the operation's metric ([`Storage::run`]), and its value is the operation's.
macro_rules! write_for_user {
    ($storage:expr, $operation:literal, $domain:expr, $username:expr, |$transaction:ident| $body:expr) => {{
        let work = async {
            Ok::<_, $crate::storage::Failure>($crate::storage::in_transaction!(
                $storage,
                |$transaction, dialect| {
                    $crate::storage::require_user!($transaction, dialect, $domain, $username);
                    $body
                }
            ))
        };
        let account = $crate::storage::account($domain, $username);
        $storage.run($operation, account, work).await
    }};
}

/// One read of one user's records: `$body` runs once per backend with `$pool` bound, under the
/// query timeout and the operation's metric ([`Storage::run`]).
macro_rules! read_for_user {
    ($storage:expr, $operation:literal, $domain:expr, $username:expr, |$pool:ident| $body:expr) => {{
        let work = async {
            Ok::<_, $crate::storage::Failure>($crate::storage::on_pool!($storage, |$pool| $body))
        };
        let account = $crate::storage::account($domain, $username);
        $storage.run($operation, account, work).await
    }};
}

// Makes the macros usable by path in the submodules, which hold the operations.
use {in_transaction, on_pool, read_for_user, require_user, write_for_user};

impl Storage {
    /// Connects to `url` with every other option at its default
    /// ([`StorageOptions::new`]) and runs the migrations.
    ///
    /// Errors: see "Outcomes" in the module docs.
    pub async fn connect(url: &str) -> Result<Storage, StorageError> {
        Storage::connect_with(StorageOptions::new(url)).await
    }

    /// Connects (the backend from the URL's scheme: `sqlite`, `postgres` or `postgresql`) and
    /// runs the migrations. A SQLite file is created, with its directory, if missing, and put in
    /// WAL mode.
    ///
    /// Errors: see "Outcomes" in the module docs.
    pub async fn connect_with(options: StorageOptions) -> Result<Storage, StorageError> {
        options.validate()?;
        let url_redacted = redact_url(&options.url);
        let connect_options = ConnectOptions {
            application_name: APPLICATION_NAME,
            max_connections: options.pool_connections_max,
            connect_timeout: options.connect_timeout,
            sqlite_busy_timeout: SQLITE_BUSY_TIMEOUT_MAX.min(options.query_timeout / 2),
            sqlite_file: SqliteFile::CreateWithWal,
        };
        let pool = Pool::connect(&options.url, &connect_options, "sqlite://PATH").await?;
        let storage = Storage {
            pool,
            url_redacted: url_redacted.into(),
            query_timeout: options.query_timeout,
        };
        storage.migrate().await?;
        tracing::info!(
            backend = storage.backend(),
            url = %storage.url_redacted,
            "storage connected and migrated"
        );
        Ok(storage)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.pool.backend().name()
    }

    /// The database URL, with any password replaced by `***`.
    pub fn url_redacted(&self) -> &str {
        &self.url_redacted
    }

    /// Closes the pool, waiting for borrowed connections to come back; operations on any clone
    /// fail after this. Dropping the last clone closes it too, without waiting.
    pub async fn close(&self) {
        self.pool.close().await
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let migrator = match self.pool.backend() {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        self.pool
            .migrate(migrator, MIGRATE_TIMEOUT, &self.url_redacted, "storage")
            .await?;
        Ok(())
    }

    /// Runs one operation's body within the query timeout and gives its failure the operation's
    /// name and account.
    async fn run<T>(
        &self,
        operation: &'static str,
        account: String,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, StorageError> {
        let _timer = crate::metrics::Timer::database(operation);
        match tokio::time::timeout(self.query_timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Failure::Storage(error))) => Err(error),
            Ok(Err(Failure::Sql(source))) => Err(StorageError::Query {
                operation,
                account,
                source: Box::new(source),
            }),
            Ok(Err(Failure::InvalidRow(reason))) => Err(StorageError::InvalidRow {
                operation,
                account,
                reason,
            }),
            Err(_elapsed) => Err(StorageError::Timeout {
                operation,
                account,
                timeout: self.query_timeout,
            }),
        }
    }
}

/// `username@domain`, for errors.
fn account(domain: &str, username: &str) -> String {
    format!("{username}@{domain}")
}

/// A count from `COUNT(*)` or a counter column, which is never negative unless the table was
/// edited by hand.
fn non_negative(what: &str, value: i64) -> Result<u64, Failure> {
    u64::try_from(value).map_err(|_| Failure::InvalidRow(format!("{what} is negative: {value}")))
}
