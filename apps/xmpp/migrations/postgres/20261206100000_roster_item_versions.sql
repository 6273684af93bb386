-- XEP-0237 §4 roster versioning by deltas: the version at which each item last changed, the
-- removals since (kept for the newest `ROSTER_REMOVALS_KEPT` per user), and the horizon below
-- which a client's version can no longer be brought up to date by pushes (removals pruned, or
-- changes made before item versions existed: every roster starts at its current version).
ALTER TABLE rosterusers ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE roster_version ADD COLUMN horizon bigint NOT NULL DEFAULT 0;
UPDATE roster_version SET horizon = version;

CREATE TABLE roster_removed (
    server varchar(250) NOT NULL,
    username varchar(250) NOT NULL,
    jid text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (server, username, jid)
);
CREATE INDEX i_roster_removed_version ON roster_removed (server, username, version);
