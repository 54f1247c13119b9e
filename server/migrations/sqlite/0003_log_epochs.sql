-- Each tenant log's identity: a random id created with the log. A client's position (seq)
-- is only valid within one epoch; a wiped or replaced database gets a new one.
CREATE TABLE log_epochs (
    tenant_id   INTEGER PRIMARY KEY REFERENCES tenants(id),
    epoch       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
