-- The XMPP server's schema (bream_xmpp::storage), after MongooseIM 6's priv/pg.sql: the same
-- table and column names, so an operator who knows MongooseIM's schema knows this one. Where
-- the two differ, and why, is in apps/xmpp/src/storage/mod.rs ("The schema").
--
-- Every table is keyed by (server, username): `server` is the user's domain, `username` the
-- normalised localpart. The runtime's `discovery_nodes` may live in the same database; it is
-- created by the runtime's own migrations, never here.

-- Accounts. `password` stays '' (Bream never stores a password, only SCRAM secrets in
-- `pass_details`, MongooseIM's `==MULTI_SCRAM==` text).
CREATE TABLE users (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    "password" text NOT NULL DEFAULT '',
    pass_details text,
    created_at TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (server, username)
);

-- Roster items. subscription: N none, T to, F from, B both. ask: N none, O an outbound request
-- pending, I an inbound request pending (its status text in askmessage), B both.
CREATE TABLE rosterusers (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    jid text NOT NULL,
    nick text NOT NULL,
    subscription character(1) NOT NULL,
    ask character(1) NOT NULL,
    askmessage text NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (server, username, jid)
);

CREATE TABLE rostergroups (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    jid text NOT NULL,
    grp text NOT NULL,
    PRIMARY KEY (server, username, jid, grp)
);

-- XEP-0237 roster versions: a counter bumped by every roster change (MongooseIM: a text hash).
CREATE TABLE roster_version (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (server, username)
);

-- XEP-0160 offline messages. `timestamp` is Unix time in microseconds, as MongooseIM's; `expire`
-- and `permanent_fields` are kept for MongooseIM's shape and always NULL here.
CREATE TABLE offline_message (
    id BIGSERIAL PRIMARY KEY,
    timestamp bigint NOT NULL,
    expire bigint,
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    from_jid text NOT NULL,
    packet text NOT NULL,
    permanent_fields bytea
);
CREATE INDEX i_offline_message ON offline_message USING BTREE (server, username, id);

-- XEP-0054 vCards, the <vCard/> element as XML text.
CREATE TABLE vcard (
    username varchar(250) NOT NULL,
    server varchar(250) NOT NULL,
    vcard text NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (server, username)
);

-- XEP-0049 private XML storage, one element per namespace, as XML text.
CREATE TABLE private_storage (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    namespace text NOT NULL,
    data text NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now(),
    PRIMARY KEY (server, username, namespace)
);

-- XEP-0012 last activity: when the user's last session ended (Unix seconds) and its status.
CREATE TABLE "last" (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    seconds bigint NOT NULL,
    state text NOT NULL,
    PRIMARY KEY (server, username)
);
CREATE INDEX i_last_server_seconds ON "last" USING BTREE (server, seconds);

-- XEP-0191 blocking: one row per blocked JID (MongooseIM keeps these in privacy lists).
CREATE TABLE blocking (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    jid text NOT NULL,
    PRIMARY KEY (server, username, jid)
);
