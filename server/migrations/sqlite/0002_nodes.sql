-- The nodes serving this database, for /health's list of peers (one row on SQLite), and the
-- tenants with sockets on each, for the leader's stats pushes.
CREATE TABLE nodes (
    id         TEXT    PRIMARY KEY,
    addr       TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    tenants    TEXT    NOT NULL DEFAULT '',
    last_seen  INTEGER NOT NULL
);
