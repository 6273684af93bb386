//! The SQL registry: nodes register themselves in a shared `discovery_nodes` table and list each
//! other from it. SQLite (a file shared by the nodes of one machine) or PostgreSQL (a real
//! cluster).
//!
//! # The table
//!
//! MongooseIM's `discovery_nodes` (its `pg.sql`), one row per node:
//!
//! | column | meaning |
//! | --- | --- |
//! | `cluster_name` | which cluster the node is in; nodes only see rows of their own cluster |
//! | `node_name` | `name@host`, the primary key: a node is in at most one cluster |
//! | `node_num` | the smallest free number >= 1 within the cluster, unique per cluster |
//! | `address` | `host:port` for node-to-node traffic |
//! | `updated_timestamp` | the last refresh, in seconds, from the *database's* clock |
//!
//! The migrations live in `migrations/sqlite/` and `migrations/postgres/` and are run by
//! [`SqlRegistry::connect`].
//!
//! # One poll
//!
//! In one transaction, under the cluster's lock (below):
//!
//! 1. delete the cluster's rows older than the expiry, except this node's own (this node is
//!    alive: it is polling);
//! 2. if this node has a row in this cluster, refresh its timestamp and address and keep its
//!    `node_num`; otherwise (no row, or a row in another cluster, which is deleted: the node
//!    moved) insert a row with the smallest free `node_num` >= 1;
//! 3. list the cluster's other rows, by `node_num`.
//!
//! So `node_num` is stable while the node keeps polling, freed by [`leave`](Discovery::leave) or
//! by expiry, and then reused by the next new node: the numbers stay dense, as MongooseIM wants
//! them for `mongoose_node_num` (which it puts into generated ids).
//!
//! Timestamps come from the database (`extract(epoch FROM now())` in PostgreSQL,
//! `strftime('%s', 'now')` in SQLite), never from the nodes: nodes with skewed clocks still
//! agree on what is stale. MongooseIM does the same (`mongoose_rdbms_timestamp`). A row is
//! expired when `updated_timestamp < now - expiry`, MongooseIM's `(Now - Ts) > ExpireTime`.
//!
//! # Locking: why a lock, and which
//!
//! Choosing the smallest free number is read-then-write: two nodes registering at once both see
//! `1` free, and the `UNIQUE (cluster_name, node_num)` index rejects the second insert.
//! MongooseIM accepts that: the loser runs with `node_num` 0 and retries on its next poll,
//! seconds later; with N nodes starting together, the last one may need N polls. Bream nodes
//! often start together (tests, a Helm rollout), and a node should know its number after its
//! first poll, so the registration step is serialised per cluster instead:
//!
//! - **PostgreSQL:** `pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, hashtext(cluster_name))` as the
//!   transaction's first statement. It locks the *cluster*, which a row lock cannot (the row to
//!   lock for a new node does not exist yet), it is released by commit or rollback (including
//!   when the connection dies), and it leaves other clusters in the same table alone. The
//!   two-key form puts our keys in their own space ([`ADVISORY_LOCK_CLASS`]) so they cannot
//!   collide with single-key advisory locks, such as sqlx's migration lock. Two cluster names
//!   with the same `hashtext` merely share a lock.
//!   *Rejected:* `SERIALIZABLE` isolation (a conflict aborts a transaction, so a retry loop is
//!   needed anyway), `LOCK TABLE` (blocks every cluster), retry on unique violation (correct, but
//!   a loop with a bound to pick, and slower under a thundering start).
//! - **SQLite:** `BEGIN IMMEDIATE` takes the database's write lock at the start of the
//!   transaction, so registrations run one at a time (SQLite has one writer at a time in any
//!   case). With a plain `BEGIN` the lock is taken by the first write, so correctness would
//!   hang on the order of the statements: it happens to hold today (the expiry sweep, a write,
//!   comes first), but a transaction that reads first and writes later gets `SQLITE_BUSY` at
//!   once, without waiting, when another connection wrote in between. A waiting writer is
//!   bounded by [`SQLITE_BUSY_TIMEOUT`].
//!
//! # Deadlines and sizes
//!
//! - Connecting (including the first connection of the pool) is bounded by
//!   [`SqlRegistryConfig::connect_timeout`] (default [`CONNECT_TIMEOUT_DEFAULT`]): a refused or
//!   unreachable server gives [`DiscoveryError::Connect`] then, never a hang. The same value is
//!   the pool's acquire timeout, so a database that went away later fails a poll in bounded
//!   time too.
//! - Each migration attempt, each poll and each leave is bounded by
//!   [`SqlRegistryConfig::query_timeout`] (default [`QUERY_TIMEOUT_DEFAULT`]), waiting for a
//!   pooled connection and for the cluster lock included. On a timeout the transaction is
//!   dropped, which rolls it back.
//! - The pool holds at most [`POOL_CONNECTIONS_MAX`] = 2 connections: polls are serial (the
//!   caller polls from one loop), and the second connection lets a `leave` or a status query run
//!   beside a poll. Every node of a cluster holds this pool on the shared PostgreSQL, whose
//!   default `max_connections` is 100, so the pool stays small; idle connections are closed after
//!   sqlx's default idle timeout (10 minutes).
//!
//! # Migrations
//!
//! sqlx records applied migrations in one `_sqlx_migrations` table per database. The registry's
//! migrator is run with `ignore_missing`, so versions applied by another component sharing the
//! database (an application's own schema) are not an error; migration versions must therefore be
//! unique across every component using one database (they are timestamps). sqlx's PostgreSQL
//! migrator takes a lock; its SQLite migrator does not, so nodes starting together on a fresh
//! SQLite file can race to apply the same migration. The loser fails after the winner commits,
//! and a retry (up to [`MIGRATE_ATTEMPTS_MAX`]) then finds it applied. Connecting and migrating
//! are `bream_sql`'s, shared with the XMPP server's storage; the schema and its SQL are here.
//!
//! # Outcomes
//!
//! [`SqlRegistry::connect`]: [`DiscoveryError::InvalidConfig`] (a name, address or duration),
//! [`DiscoveryError::Connect`] (an unusable URL: no or unknown scheme, the driver rejects it,
//! an in-memory SQLite database; no connection in time), [`DiscoveryError::Migrate`].
//! [`poll`](Discovery::poll): [`DiscoveryError::Query`] (any statement failed, including the
//! commit, or no pooled connection in time), [`DiscoveryError::Timeout`],
//! [`DiscoveryError::InvalidRow`] (a negative `node_num` in the table),
//! [`DiscoveryError::NodeNumsExhausted`] (every number up to `i32::MAX` taken). A failed poll
//! rolls back: the table is as before it. [`leave`](Discovery::leave): `Query` or `Timeout`;
//! leaving when not registered is not an error.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bream_sql::url::redact_url;
use bream_sql::{ConnectOptions, Pool, SqliteFile};
use futures::future::{BoxFuture, FutureExt};

use super::{check_address, check_cluster_name, check_node_name};
use super::{DiscoveredNode, Discovery, DiscoveryError, DiscoveryPoll};

/// How old a row may get, by the database's clock, before another node's poll deletes it.
/// MongooseIM's `expire_time` default.
pub const EXPIRY_DEFAULT: Duration = Duration::from_secs(60 * 60);

/// How long [`SqlRegistry::connect`] waits for its first connection, and a poll for a pooled
/// connection.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// How long one poll, one leave or one migration attempt may take, from asking the pool for a
/// connection to the commit.
pub const QUERY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// The most connections one registry holds: one for the poll loop, one spare.
pub const POOL_CONNECTIONS_MAX: u32 = 2;

/// How long a SQLite statement waits for another connection's write lock before failing with
/// "database is locked".
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times the SQLite migrations are tried, for nodes racing on a fresh file.
pub const MIGRATE_ATTEMPTS_MAX: u32 = bream_sql::MIGRATE_ATTEMPTS_MAX;

/// The first key of the PostgreSQL advisory lock of a cluster ("Brea" in ASCII); the second is
/// `hashtext(cluster_name)`.
pub const ADVISORY_LOCK_CLASS: i32 = 0x4272_6561;

/// The largest `node_num`: the column is a 32-bit signed integer, as in MongooseIM.
const NODE_NUM_MAX: i32 = i32::MAX;

/// Shown in PostgreSQL's `pg_stat_activity`, so an operator can tell these connections apart.
const APPLICATION_NAME: &str = "bream-discovery";

// A SQLite writer stuck behind another node's lock should fail as "database is locked", which
// names the cause, before the poll's deadline cuts it off with a bare timeout.
const _: () = assert!(SQLITE_BUSY_TIMEOUT.as_millis() < QUERY_TIMEOUT_DEFAULT.as_millis());
const _: () = assert!(POOL_CONNECTIONS_MAX >= 1);

/// Settings of a [`SqlRegistry`]. [`SqlRegistryConfig::new`] fills in every default.
#[derive(Clone)]
pub struct SqlRegistryConfig {
    /// `sqlite://PATH?mode=rwc` (creates the file) or `postgres://USER[:PASSWORD]@HOST:PORT/DB`.
    /// The scheme picks the backend.
    pub url: String,
    /// Nodes only see nodes of the same cluster name.
    pub cluster_name: String,
    /// This node, `name@host`.
    pub node_name: String,
    /// This node's `host:port` for node-to-node traffic, as other nodes should dial it.
    pub address: String,
    /// Rows older than this are deleted by any poll of the cluster. Default [`EXPIRY_DEFAULT`];
    /// at least one second. Keep it well above the slowest poll interval.
    pub expiry: Duration,
    /// Default [`CONNECT_TIMEOUT_DEFAULT`]; not zero.
    pub connect_timeout: Duration,
    /// Default [`QUERY_TIMEOUT_DEFAULT`]; not zero.
    pub query_timeout: Duration,
}

impl SqlRegistryConfig {
    /// A configuration with every default.
    pub fn new(
        url: impl Into<String>,
        cluster_name: impl Into<String>,
        node_name: impl Into<String>,
        address: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            cluster_name: cluster_name.into(),
            node_name: node_name.into(),
            address: address.into(),
            expiry: EXPIRY_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            query_timeout: QUERY_TIMEOUT_DEFAULT,
        }
    }

    /// Checks every field but the URL; returns the expiry in whole seconds.
    fn validate(&self) -> Result<i64, DiscoveryError> {
        let invalid = |setting, value: &str, reason| DiscoveryError::InvalidConfig {
            setting,
            value: value.to_string(),
            reason,
        };
        check_cluster_name(&self.cluster_name)
            .map_err(|reason| invalid("cluster_name", &self.cluster_name, reason))?;
        check_node_name(&self.node_name)
            .map_err(|reason| invalid("node_name", &self.node_name, reason))?;
        check_address(&self.address).map_err(|reason| invalid("address", &self.address, reason))?;
        for (setting, value) in [
            ("connect_timeout", self.connect_timeout),
            ("query_timeout", self.query_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(
                    setting,
                    &format!("{value:?}"),
                    "must not be zero".into(),
                ));
            }
        }
        let expiry = format!("{:?}", self.expiry);
        match i64::try_from(self.expiry.as_secs()) {
            Ok(0) => Err(invalid(
                "expiry",
                &expiry,
                "must be at least 1 second".into(),
            )),
            Ok(seconds) => Ok(seconds),
            Err(_) => Err(invalid("expiry", &expiry, "too large".into())),
        }
    }
}

/// Hides the password, which the URL may carry.
impl fmt::Debug for SqlRegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlRegistryConfig")
            .field("url", &redact_url(&self.url))
            .field("cluster_name", &self.cluster_name)
            .field("node_name", &self.node_name)
            .field("address", &self.address)
            .field("expiry", &self.expiry)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

/// Discovery through a shared `discovery_nodes` table; see the module docs.
#[derive(Debug)]
pub struct SqlRegistry {
    config: SqlRegistryConfig,
    url_redacted: String,
    expiry_seconds: i64,
    pool: Pool,
}

impl SqlRegistry {
    /// Validates `config`, connects (backend from the URL's scheme: `sqlite`, `postgres` or
    /// `postgresql`) and runs the migrations. Nothing is registered until the first poll.
    ///
    /// Errors: see "Outcomes" in the module docs.
    pub async fn connect(config: SqlRegistryConfig) -> Result<Self, DiscoveryError> {
        let expiry_seconds = config.validate()?;
        let url_redacted = redact_url(&config.url);
        let options = ConnectOptions {
            application_name: APPLICATION_NAME,
            max_connections: POOL_CONNECTIONS_MAX,
            connect_timeout: config.connect_timeout,
            sqlite_busy_timeout: SQLITE_BUSY_TIMEOUT,
            sqlite_file: SqliteFile::AsUrlSays,
        };
        let pool = Pool::connect(&config.url, &options, "sqlite://PATH?mode=rwc").await?;
        let registry = Self {
            config,
            url_redacted,
            expiry_seconds,
            pool,
        };
        registry.migrate().await?;
        Ok(registry)
    }

    /// This registry's settings.
    pub fn config(&self) -> &SqlRegistryConfig {
        &self.config
    }

    /// Closes the pool's connections, waiting for borrowed ones to come back. Polls after this
    /// fail. Dropping the registry closes them too, without waiting.
    pub async fn close(&self) {
        self.pool.close().await
    }

    async fn migrate(&self) -> Result<(), DiscoveryError> {
        let migrator = match self.pool.backend() {
            bream_sql::Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            bream_sql::Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        self.pool
            .migrate(
                migrator,
                self.config.query_timeout,
                &self.url_redacted,
                "discovery",
            )
            .await
            .map_err(DiscoveryError::from)
    }

    async fn poll_within_deadline(&self) -> Result<DiscoveryPoll, DiscoveryError> {
        let registration = self
            .within_deadline("poll", self.register_and_list())
            .await?;
        let own_node_num =
            self.node_num_from_row(&self.config.node_name, registration.own_node_num)?;
        let mut others = Vec::with_capacity(registration.others.len());
        for (name, address, node_num) in registration.others {
            let node_num = Some(self.node_num_from_row(&name, node_num)?);
            others.push(DiscoveredNode {
                name,
                address,
                node_num,
            });
        }
        // Logged after the commit, so the log says what the table holds.
        let (cluster, node) = (&self.config.cluster_name, &self.config.node_name);
        if !registration.expired.is_empty() {
            tracing::warn!(
                %cluster,
                %node,
                expired = ?registration.expired,
                "removed expired discovery_nodes rows"
            );
        }
        if let Some(old_cluster) = &registration.moved_from {
            tracing::info!(
                %cluster,
                %node,
                %old_cluster,
                "moved this node's discovery row from another cluster"
            );
        }
        if registration.inserted {
            tracing::info!(%cluster, %node, own_node_num, "registered in discovery_nodes");
        }
        Ok(DiscoveryPoll {
            others,
            own_node_num: Some(own_node_num),
        })
    }

    /// One poll's transaction; see "One poll" in the module docs.
    async fn register_and_list(&self) -> Result<Registration, DiscoveryError> {
        let fail = |source| self.query_error("poll", source);
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
                let registration = registration_steps!(self, &mut *transaction, SQLITE_STATEMENTS);
                transaction.commit().await.map_err(fail)?;
                Ok(registration)
            }
            Pool::Postgres(pool) => {
                let mut transaction = pool.begin().await.map_err(fail)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(ADVISORY_LOCK_CLASS)
                    .bind(&self.config.cluster_name)
                    .execute(&mut *transaction)
                    .await
                    .map_err(fail)?;
                let registration =
                    registration_steps!(self, &mut *transaction, POSTGRES_STATEMENTS);
                transaction.commit().await.map_err(fail)?;
                Ok(registration)
            }
        }
    }

    async fn leave_within_deadline(&self) -> Result<(), DiscoveryError> {
        let fail = |source| self.query_error("leave", source);
        let (cluster, node) = (&self.config.cluster_name, &self.config.node_name);
        let deleted = self
            .within_deadline("leave", async {
                let deleted = bream_sql::on_pool!(&self.pool, |pool| {
                    let query = sqlx::query(LEAVE).bind(node).bind(cluster);
                    query.execute(pool).await.map(|done| done.rows_affected())
                });
                deleted.map_err(fail)
            })
            .await?;
        tracing::info!(%cluster, %node, deleted, "left discovery_nodes");
        Ok(())
    }

    async fn within_deadline<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, DiscoveryError>>,
    ) -> Result<T, DiscoveryError> {
        let timeout = self.config.query_timeout;
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_elapsed) => Err(DiscoveryError::Timeout {
                operation,
                node: self.config.node_name.clone(),
                cluster: self.config.cluster_name.clone(),
                timeout,
            }),
        }
    }

    fn query_error(&self, operation: &'static str, source: sqlx::Error) -> DiscoveryError {
        DiscoveryError::Query {
            operation,
            node: self.config.node_name.clone(),
            cluster: self.config.cluster_name.clone(),
            source: Box::new(source),
        }
    }

    fn node_num_from_row(&self, node: &str, node_num: i32) -> Result<u32, DiscoveryError> {
        u32::try_from(node_num)
            .ok()
            .filter(|&node_num| node_num >= 1)
            .ok_or_else(|| DiscoveryError::InvalidRow {
                node: node.to_string(),
                reason: format!("node_num {node_num} is not >= 1"),
            })
    }
}

impl Discovery for SqlRegistry {
    /// Registers or refreshes this node, deletes the cluster's expired rows and lists the
    /// others, in one transaction within `query_timeout`; see the module docs.
    fn poll(&self) -> BoxFuture<'_, Result<DiscoveryPoll, DiscoveryError>> {
        self.poll_within_deadline().boxed()
    }

    /// Deletes this node's row, within `query_timeout`; its `node_num` becomes free.
    fn leave(&self) -> BoxFuture<'_, Result<(), DiscoveryError>> {
        self.leave_within_deadline().boxed()
    }

    fn describe(&self) -> String {
        format!("rdbms {}", self.pool.backend().name())
    }
}

/// What one poll's transaction did and found, before conversion to the public types.
struct Registration {
    own_node_num: i32,
    /// `(node_name, address, node_num)` of the cluster's other rows, by `node_num`.
    others: Vec<(String, String, i32)>,
    /// Rows deleted as expired.
    expired: Vec<String>,
    /// This node's row was in this other cluster, and was deleted.
    moved_from: Option<String>,
    /// This node's row was inserted (it was not registered in this cluster).
    inserted: bool,
}

/// The SQL of one poll. `$1`-style parameters work in both PostgreSQL and SQLite (sqlx binds
/// SQLite's `$N` by number); only the database clock's expression differs.
struct Statements {
    /// `$1` cluster, `$2` this node, `$3` expiry in seconds; returns the deleted names.
    delete_expired: &'static str,
    /// `$1` this node; returns its `(cluster_name, node_num)`.
    select_own: &'static str,
    /// `$1` this node.
    delete_own: &'static str,
    /// `$1` this node, `$2` address.
    refresh_own: &'static str,
    /// `$1` cluster; returns the taken `node_num`s, ascending.
    select_node_nums: &'static str,
    /// `$1` cluster, `$2` this node, `$3` node_num, `$4` address.
    insert_own: &'static str,
    /// `$1` cluster, `$2` this node; returns `(node_name, address, node_num)` by `node_num`.
    select_others: &'static str,
}

macro_rules! statements {
    ($now:literal) => {
        Statements {
            delete_expired: concat!(
                "DELETE FROM discovery_nodes WHERE cluster_name = $1 AND node_name <> $2 ",
                "AND updated_timestamp < ",
                $now,
                " - $3 RETURNING node_name"
            ),
            select_own: "SELECT cluster_name, node_num FROM discovery_nodes WHERE node_name = $1",
            delete_own: "DELETE FROM discovery_nodes WHERE node_name = $1",
            refresh_own: concat!(
                "UPDATE discovery_nodes SET address = $2, updated_timestamp = ",
                $now,
                " WHERE node_name = $1"
            ),
            select_node_nums: concat!(
                "SELECT node_num FROM discovery_nodes WHERE cluster_name = $1 ",
                "ORDER BY node_num"
            ),
            insert_own: concat!(
                "INSERT INTO discovery_nodes ",
                "(cluster_name, node_name, node_num, address, updated_timestamp) ",
                "VALUES ($1, $2, $3, $4, ",
                $now,
                ")"
            ),
            select_others: concat!(
                "SELECT node_name, address, node_num FROM discovery_nodes ",
                "WHERE cluster_name = $1 AND node_name <> $2 ORDER BY node_num"
            ),
        }
    };
}

const SQLITE_STATEMENTS: Statements = statements!("CAST(strftime('%s', 'now') AS INTEGER)");
const POSTGRES_STATEMENTS: Statements = statements!("CAST(extract(epoch FROM now()) AS bigint)");

/// `$1` this node, `$2` cluster.
const LEAVE: &str = "DELETE FROM discovery_nodes WHERE node_name = $1 AND cluster_name = $2";

/// The statements of one poll, run on an open transaction (`$connection`, a `&mut` connection
/// of either driver); evaluates to a [`Registration`] or returns the error from the enclosing
/// function.
///
/// A macro rather than a function generic over `sqlx::Database`: the body is the same text for
/// both drivers, but the generic version needs a long list of higher-ranked bounds (executor,
/// arguments, encode and decode for every type) that obscure the five statements. Each
/// expansion is type-checked against its concrete driver.
macro_rules! registration_steps {
    ($registry:expr, $connection:expr, $statements:expr) => {{
        let registry: &SqlRegistry = $registry;
        let connection = $connection;
        let statements: &Statements = &$statements;
        let fail = |source| registry.query_error("poll", source);
        let config = &registry.config;

        let expired: Vec<String> = sqlx::query_scalar(statements.delete_expired)
            .bind(&config.cluster_name)
            .bind(&config.node_name)
            .bind(registry.expiry_seconds)
            .fetch_all(&mut *connection)
            .await
            .map_err(fail)?;

        let own_row: Option<(String, i32)> = sqlx::query_as(statements.select_own)
            .bind(&config.node_name)
            .fetch_optional(&mut *connection)
            .await
            .map_err(fail)?;
        let mut moved_from = None;
        let mut inserted = false;
        let own_node_num = match own_row {
            Some((cluster_name, node_num)) if cluster_name == config.cluster_name => {
                sqlx::query(statements.refresh_own)
                    .bind(&config.node_name)
                    .bind(&config.address)
                    .execute(&mut *connection)
                    .await
                    .map_err(fail)?;
                node_num
            }
            other => {
                if let Some((old_cluster, _)) = other {
                    sqlx::query(statements.delete_own)
                        .bind(&config.node_name)
                        .execute(&mut *connection)
                        .await
                        .map_err(fail)?;
                    moved_from = Some(old_cluster);
                }
                let taken: Vec<i32> = sqlx::query_scalar(statements.select_node_nums)
                    .bind(&config.cluster_name)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(fail)?;
                let node_num = smallest_free_node_num(&taken, NODE_NUM_MAX).ok_or_else(|| {
                    DiscoveryError::NodeNumsExhausted {
                        cluster: config.cluster_name.clone(),
                        max: NODE_NUM_MAX.unsigned_abs(),
                    }
                })?;
                sqlx::query(statements.insert_own)
                    .bind(&config.cluster_name)
                    .bind(&config.node_name)
                    .bind(node_num)
                    .bind(&config.address)
                    .execute(&mut *connection)
                    .await
                    .map_err(fail)?;
                inserted = true;
                node_num
            }
        };

        let others: Vec<(String, String, i32)> = sqlx::query_as(statements.select_others)
            .bind(&config.cluster_name)
            .bind(&config.node_name)
            .fetch_all(&mut *connection)
            .await
            .map_err(fail)?;

        Registration {
            own_node_num,
            others,
            expired,
            moved_from,
            inserted,
        }
    }};
}
// Makes the macro usable by path, so `SqlRegistry`'s methods above can use it.
use registration_steps;

/// The smallest number >= 1 not in `taken` (ascending; duplicates and numbers < 1 are
/// tolerated), or `None` when every number up to `max` is taken. MongooseIM's
/// `first_free_num`.
fn smallest_free_node_num(taken: &[i32], max: i32) -> Option<i32> {
    let mut candidate: i32 = 1;
    for &node_num in taken {
        if node_num > candidate {
            break;
        }
        if node_num == candidate {
            candidate = candidate.checked_add(1)?;
        }
    }
    (candidate <= max).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_free_node_num_fills_the_first_gap() {
        let check = |taken: &[i32]| smallest_free_node_num(taken, NODE_NUM_MAX);
        assert_eq!(check(&[]), Some(1));
        assert_eq!(check(&[1, 2, 5]), Some(3));
        assert_eq!(check(&[2, 5]), Some(1));
        assert_eq!(check(&[1, 2]), Some(3));
        assert_eq!(check(&[-1, 0, 1, 1, 3]), Some(2));
        assert_eq!(check(&[NODE_NUM_MAX]), Some(1));
    }

    #[test]
    fn smallest_free_node_num_at_the_limit() {
        assert_eq!(smallest_free_node_num(&[], 0), None);
        assert_eq!(smallest_free_node_num(&[1, 2], 3), Some(3));
        assert_eq!(smallest_free_node_num(&[1, 2, 3], 3), None);
        assert_eq!(smallest_free_node_num(&[1, 3], 3), Some(2));
        assert_eq!(
            smallest_free_node_num(&[NODE_NUM_MAX], NODE_NUM_MAX),
            Some(1)
        );
    }
}
