-- The XMPP server's schema (bream_xmpp::storage), after MongooseIM 6's priv/pg.sql: the same
-- table and column names, so an operator who knows MongooseIM's schema knows this one. Where
-- the two differ, and why, is in apps/xmpp/src/storage/mod.rs ("The schema"). Kept column for
-- column with migrations/postgres.
--
-- Every table is keyed by (server, username): `server` is the user's domain, `username` the
-- normalised localpart. The runtime's `discovery_nodes` may live in the same database; it is
-- created by the runtime's own migrations, never here.

-- Accounts. `password` stays '' (Bream never stores a password, only SCRAM secrets in
-- `pass_details`, MongooseIM's `==MULTI_SCRAM==` text).
CREATE TABLE users (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    "password" TEXT NOT NULL DEFAULT '',
    pass_details TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (server, username)
);

-- Roster items. subscription: N none, T to, F from, B both. ask: N none, O an outbound request
-- pending, I an inbound request pending (its status text in askmessage), B both.
CREATE TABLE rosterusers (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    nick TEXT NOT NULL,
    subscription TEXT NOT NULL,
    ask TEXT NOT NULL,
    askmessage TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (server, username, jid)
);

CREATE TABLE rostergroups (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    grp TEXT NOT NULL,
    PRIMARY KEY (server, username, jid, grp)
);

-- XEP-0237 roster versions: a counter bumped by every roster change (MongooseIM: a text hash).
CREATE TABLE roster_version (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (server, username)
);

-- XEP-0160 offline messages. `timestamp` is Unix time in microseconds, as MongooseIM's; `expire`
-- and `permanent_fields` are kept for MongooseIM's shape and always NULL here. AUTOINCREMENT so
-- that ids are never reused: they order a user's messages.
CREATE TABLE offline_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    expire INTEGER,
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    from_jid TEXT NOT NULL,
    packet TEXT NOT NULL,
    permanent_fields BLOB
);
CREATE INDEX i_offline_message ON offline_message (server, username, id);

-- XEP-0054 vCards, the <vCard/> element as XML text.
CREATE TABLE vcard (
    username TEXT NOT NULL,
    server TEXT NOT NULL,
    vcard TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (server, username)
);

-- XEP-0049 private XML storage, one element per namespace, as XML text.
CREATE TABLE private_storage (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    namespace TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (server, username, namespace)
);

-- XEP-0012 last activity: when the user's last session ended (Unix seconds) and its status.
CREATE TABLE "last" (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (server, username)
);
CREATE INDEX i_last_server_seconds ON "last" (server, seconds);

-- XEP-0191 blocking: one row per blocked JID (MongooseIM keeps these in privacy lists).
CREATE TABLE blocking (
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (server, username, jid)
);
