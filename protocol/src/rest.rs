//! This module deals with REST bodies: login, the event feed for polling and resume, and
//! pagination.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::Id;

/// `POST /api/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The user's email.
    pub email: String,
    /// The user's password.
    pub password: String,
}
crate::json_value!(LoginRequest { email, password });

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: Id,
    /// Their company.
    pub tenant_id: Id,
    /// Display name.
    pub name: String,
    /// Login email.
    pub email: String,
    /// `admin` or `staff`.
    pub role: String,
    /// `false` once an admin disabled the account (it can no longer sign in).
    #[serde(default = "yes")]
    pub active: bool,
}
crate::json_value!(User { id, tenant_id, name, email, role, active = yes });

fn yes() -> bool {
    true
}

/// `POST /api/users`: an admin adds a user to their own business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Display name.
    pub name: String,
    /// Sign-in email; must not be in use by anyone.
    pub email: String,
    /// `admin` or `staff`.
    pub role: String,
    /// At least 12 characters.
    pub password: String,
}
crate::json_value!(NewUser { name, email, role, password });

/// `PATCH /api/users/{id}`: disable (`false`) or enable (`true`) an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPatch {
    /// Whether the user may sign in.
    pub active: bool,
}
crate::json_value!(UserPatch { active });

/// `POST /api/auth/password`: change one's own password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    /// The password in use now.
    pub current_password: String,
    /// The new one, at least 12 characters.
    pub new_password: String,
}
crate::json_value!(PasswordChange { current_password, new_password });

/// The answer to login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Short-lived JWT for `Authorization: Bearer` and the socket's `auth.token`.
    pub token: String,
    /// When `token` expires, ms since the epoch.
    pub expires_at: i64,
    /// Long-lived, single-use token for `POST /api/auth/refresh`.
    pub refresh_token: String,
    /// Who this is.
    pub user: User,
}
crate::json_value!(Session { token, expires_at, refresh_token, user });

/// `POST /api/auth/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The refresh token from the last [`Session`].
    pub refresh_token: String,
}
crate::json_value!(RefreshRequest { refresh_token });

/// One entry of a tenant's event log, as `GET /api/events?since=SEQ` returns it. Applying
/// it is the same as receiving `event` with `{ seq, ts, data }` on the socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Log position.
    pub seq: u64,
    /// Server time, ms since the epoch.
    pub ts: i64,
    /// Event name from the catalogue, e.g. `payment:added`.
    pub event: String,
    /// The event's payload.
    pub data: Value,
}
crate::json_value!(LoggedEvent { seq, ts, event, data });

/// `GET /api/events?since=SEQ&limit=N`: entries after `since`, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsPage {
    /// At most `limit` entries with `seq > since` visible to the caller.
    pub events: Vec<LoggedEvent>,
    /// The tenant log's latest `seq`; more pages remain while the last entry is below it.
    pub head: u64,
    /// The log's identity (see `ConnectionStatus`): `since` means something only within
    /// the epoch it was read in.
    #[serde(default)]
    pub epoch: String,
}
crate::json_value!(EventsPage { events, head, epoch = String::new });

/// A page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, newest first unless the endpoint says otherwise.
    pub items: Vec<T>,
    /// Items matching the filter, over all pages.
    pub total: u64,
}
crate::json_value!(Page<T> { items, total });

/// `GET /health`: whether the server and its database answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer (then the status is 503).
    pub status: String,
    /// `ok`, or what went wrong with the database.
    pub database: String,
    /// Socket.IO connections open now.
    pub connections: u64,
    /// Seconds since the server started.
    pub uptime_s: u64,
    /// The server's version.
    pub version: String,
    /// The node that answered (one of a cluster's, or the only one).
    #[serde(default)]
    pub node: String,
    /// The store: `sqlite` or `postgres`.
    #[serde(default)]
    pub backend: String,
    /// Whether this node runs the cluster's background work (demo generator, stats pushes).
    #[serde(default)]
    pub leader: bool,
    /// Redis, when configured: `ok` or what went wrong; absent on a single node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// The nodes sharing the store that were alive in the last 10 s, this one included.
    #[serde(default)]
    pub peers: Vec<Peer>,
}
crate::json_value!(Health {
    status,
    database,
    connections,
    uptime_s,
    version,
    node = String::new,
    backend = String::new,
    leader = bool::default,
    #[skip_none] redis = Option::default,
    peers = Vec::new,
});

/// A node of the cluster, as `/health` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    /// Its name.
    pub node: String,
    /// The address it listens on.
    pub addr: String,
    /// Milliseconds since it last said it was alive.
    pub seen_ms_ago: i64,
}
crate::json_value!(Peer { node, addr, seen_ms_ago });
