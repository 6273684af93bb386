//! A user's small per-feature records: vCard (XEP-0054), private XML (XEP-0049), last activity
//! (XEP-0012) and block list (XEP-0191).

use super::{account, in_transaction, on_pool, require_user, Failure, Storage, StorageError};

const VCARD: &str = "SELECT vcard FROM vcard WHERE server = $1 AND username = $2";
const SET_VCARD: &str = "INSERT INTO vcard (server, username, vcard) VALUES ($1, $2, $3) \
                         ON CONFLICT (server, username) DO UPDATE SET vcard = excluded.vcard";
const PRIVATE: &str = "SELECT data FROM private_storage \
                       WHERE server = $1 AND username = $2 AND namespace = $3";
const SET_PRIVATE: &str = "INSERT INTO private_storage (server, username, namespace, data) \
                           VALUES ($1, $2, $3, $4) ON CONFLICT (server, username, namespace) \
                           DO UPDATE SET data = excluded.data";
const LAST: &str = "SELECT seconds, state FROM \"last\" WHERE server = $1 AND username = $2";
const SET_LAST: &str = "INSERT INTO \"last\" (server, username, seconds, state) \
                        VALUES ($1, $2, $3, $4) ON CONFLICT (server, username) \
                        DO UPDATE SET seconds = excluded.seconds, state = excluded.state";
const BLOCKLIST: &str = "SELECT jid FROM blocking WHERE server = $1 AND username = $2";
const BLOCK: &str = "INSERT INTO blocking (server, username, jid) VALUES ($1, $2, $3) \
                     ON CONFLICT (server, username, jid) DO NOTHING";
const UNBLOCK: &str = "DELETE FROM blocking WHERE server = $1 AND username = $2 AND jid = $3";
const UNBLOCK_ALL: &str = "DELETE FROM blocking WHERE server = $1 AND username = $2";

impl Storage {
    /// The user's vCard, the `<vCard/>` element as stored; `None` when none was set.
    pub async fn vcard(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<String>, StorageError> {
        let work = async {
            let vcard = on_pool!(self, |pool| {
                sqlx::query_scalar(VCARD)
                    .bind(domain)
                    .bind(username)
                    .fetch_optional(pool)
                    .await?
            });
            Ok::<_, Failure>(vcard)
        };
        self.run("vcard", account(domain, username), work).await
    }

    /// Sets (replaces) the user's vCard.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_vcard(
        &self,
        domain: &str,
        username: &str,
        vcard_xml: &str,
    ) -> Result<(), StorageError> {
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                sqlx::query(SET_VCARD)
                    .bind(domain)
                    .bind(username)
                    .bind(vcard_xml)
                    .execute(&mut *transaction)
                    .await?;
            });
            Ok::<_, Failure>(())
        };
        self.run("set_vcard", account(domain, username), work).await
    }

    /// The user's private XML for `namespace` (the stored child element); `None` when none.
    pub async fn private_xml(
        &self,
        domain: &str,
        username: &str,
        namespace: &str,
    ) -> Result<Option<String>, StorageError> {
        let work = async {
            let data = on_pool!(self, |pool| {
                sqlx::query_scalar(PRIVATE)
                    .bind(domain)
                    .bind(username)
                    .bind(namespace)
                    .fetch_optional(pool)
                    .await?
            });
            Ok::<_, Failure>(data)
        };
        self.run("private_xml", account(domain, username), work)
            .await
    }

    /// Sets (replaces) the user's private XML for `namespace`.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_private_xml(
        &self,
        domain: &str,
        username: &str,
        namespace: &str,
        xml: &str,
    ) -> Result<(), StorageError> {
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                sqlx::query(SET_PRIVATE)
                    .bind(domain)
                    .bind(username)
                    .bind(namespace)
                    .bind(xml)
                    .execute(&mut *transaction)
                    .await?;
            });
            Ok::<_, Failure>(())
        };
        self.run("set_private_xml", account(domain, username), work)
            .await
    }

    /// When the user's last session ended (Unix seconds) and the status it left with; `None`
    /// when never recorded.
    pub async fn last_activity(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Option<(i64, String)>, StorageError> {
        let work = async {
            let last = on_pool!(self, |pool| {
                sqlx::query_as(LAST)
                    .bind(domain)
                    .bind(username)
                    .fetch_optional(pool)
                    .await?
            });
            Ok::<_, Failure>(last)
        };
        self.run("last_activity", account(domain, username), work)
            .await
    }

    /// Records the end of the user's last session: Unix `seconds` and the `status` text (`""`
    /// for none).
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn set_last_activity(
        &self,
        domain: &str,
        username: &str,
        seconds: i64,
        status: &str,
    ) -> Result<(), StorageError> {
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                sqlx::query(SET_LAST)
                    .bind(domain)
                    .bind(username)
                    .bind(seconds)
                    .bind(status)
                    .execute(&mut *transaction)
                    .await?;
            });
            Ok::<_, Failure>(())
        };
        self.run("set_last_activity", account(domain, username), work)
            .await
    }

    /// The JIDs the user blocks, sorted by their bytes.
    pub async fn blocklist(
        &self,
        domain: &str,
        username: &str,
    ) -> Result<Vec<String>, StorageError> {
        let work = async {
            let mut jids: Vec<String> = on_pool!(self, |pool| {
                sqlx::query_scalar(BLOCKLIST)
                    .bind(domain)
                    .bind(username)
                    .fetch_all(pool)
                    .await?
            });
            jids.sort_unstable();
            Ok::<_, Failure>(jids)
        };
        self.run("blocklist", account(domain, username), work).await
    }

    /// Adds `jids` to the user's block list, in one transaction; JIDs already blocked are
    /// skipped.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn block(
        &self,
        domain: &str,
        username: &str,
        jids: &[String],
    ) -> Result<(), StorageError> {
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                for jid in jids {
                    sqlx::query(BLOCK)
                        .bind(domain)
                        .bind(username)
                        .bind(jid)
                        .execute(&mut *transaction)
                        .await?;
                }
            });
            Ok::<_, Failure>(())
        };
        self.run("block", account(domain, username), work).await
    }

    /// Removes `jids` from the user's block list, in one transaction; an empty slice unblocks
    /// everyone (XEP-0191's `<unblock/>` without items). JIDs not blocked are skipped.
    ///
    /// Errors: [`StorageError::UserNotFound`].
    pub async fn unblock(
        &self,
        domain: &str,
        username: &str,
        jids: &[String],
    ) -> Result<(), StorageError> {
        let work = async {
            in_transaction!(self, |transaction, dialect| {
                require_user!(transaction, dialect, domain, username);
                if jids.is_empty() {
                    sqlx::query(UNBLOCK_ALL)
                        .bind(domain)
                        .bind(username)
                        .execute(&mut *transaction)
                        .await?;
                }
                for jid in jids {
                    sqlx::query(UNBLOCK)
                        .bind(domain)
                        .bind(username)
                        .bind(jid)
                        .execute(&mut *transaction)
                        .await?;
                }
            });
            Ok::<_, Failure>(())
        };
        self.run("unblock", account(domain, username), work).await
    }
}
