-- Pulse schema. Money is REAL rounded to cents by the server; times are ms since the epoch.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    name           TEXT    NOT NULL,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'staff')),
    created_at     INTEGER NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    expires_at  INTEGER NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    name             TEXT    NOT NULL,
    phone            TEXT,
    address          TEXT,
    price_per_liter  REAL    NOT NULL,
    balance          REAL    NOT NULL DEFAULT 0,
    active           INTEGER NOT NULL DEFAULT 1,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX customers_tenant ON customers(tenant_id, name);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    customer_id      INTEGER NOT NULL REFERENCES customers(id),
    date             TEXT    NOT NULL,
    quantity         REAL    NOT NULL,
    price_per_liter  REAL    NOT NULL,
    amount           REAL    NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_tenant_date ON deliveries(tenant_id, date);
CREATE INDEX deliveries_customer ON deliveries(customer_id);

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    amount       REAL    NOT NULL,
    method       TEXT    NOT NULL CHECK (method IN ('CASH', 'MOBILE', 'BANK')),
    date         TEXT    NOT NULL,
    note         TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX payments_tenant_date ON payments(tenant_id, date);
CREATE INDEX payments_customer ON payments(customer_id);

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    read        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_user ON notifications(user_id, id);

-- The activity feed and audit trail: one line per business action.
CREATE TABLE activity (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    seq          INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    customer_id  INTEGER,
    PRIMARY KEY (tenant_id, seq)
);

-- The per-tenant event log. user_id is set on entries only one user may see.
CREATE TABLE event_log (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    seq        INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    user_id    INTEGER,
    data       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Results of actions sent with an idempotency key, returned again on a retry.
CREATE TABLE idempotency (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    key         TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
