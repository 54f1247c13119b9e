//! This module deals with who is calling: password hashing (argon2id), login and refresh
//! (short-lived JWT plus a single-use refresh token stored hashed), the [`Caller`] extractor
//! for REST, and the Socket.IO connect middleware that answers CONNECT_ERROR.
//!
//! JWT expiry is checked against the injected [`crate::Clock`], not the OS clock, so tests
//! can move time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use pulse_protocol::events::{ConnectAuth, Id};
use pulse_protocol::rest::{LoginRequest, PasswordChange, RefreshRequest, Session, User};
use pulse_protocol::{ErrorCode, WireError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use socketioxide::extract::{SocketRef, TryData};

use crate::config::Config;
use crate::db;
use crate::error::AppError;
use crate::realtime::expiry::ExpiresAt;
use crate::realtime::quota::Full;
use crate::state::AppState;

/// An authenticated user, as every action sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Their company: the only data they may see or change.
    pub tenant_id: Id,
    /// Who; `None` for the server's own demo generator.
    pub user_id: Option<Id>,
    /// Display name, for the activity feed.
    pub name: String,
    /// When the token they signed in with expires (ms since the epoch); `None` for the
    /// server itself.
    pub expires_at: Option<i64>,
    /// What they may do (see the README's Roles table).
    pub role: Role,
}

/// What a user may do. Staff record deliveries and payments and read customers; admins
/// also manage customers and users. The server's own generator acts as an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything within their business.
    Admin,
    /// Day-to-day work only.
    Staff,
}

impl Role {
    /// The role stored as `admin`/`staff`; anything else gets the lesser rights.
    pub fn parse(s: &str) -> Role {
        if s == "admin" {
            Role::Admin
        } else {
            Role::Staff
        }
    }
}

impl Caller {
    /// Refuses (FORBIDDEN) unless the caller is an admin; `what` completes "only an admin may …".
    pub(crate) fn require_admin(&self, what: &str) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Staff => Err(AppError::forbidden(format!("only an admin may {what}"))),
        }
    }
}

/// The refusal a disabled account gets everywhere.
pub(crate) fn disabled() -> AppError {
    AppError::new(ErrorCode::AccountDisabled, "this account was disabled by an admin")
}

/// Refuses a token whose user was disabled (or deleted) since it was issued.
pub(crate) async fn check_active(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    let Some(id) = caller.user_id else { return Ok(()) };
    let mut conn = state.db.acquire().await?;
    match db::users::is_active(&mut conn, id).await? {
        Some(true) => Ok(()),
        Some(false) => Err(disabled()),
        None => Err(AppError::unauthorized("user no longer exists")),
    }
}

/// JWT signing keys.
pub struct Keys {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Keys from a secret.
    pub fn from_secret(secret: &[u8]) -> Keys {
        Keys { enc: EncodingKey::from_secret(secret), dec: DecodingKey::from_secret(secret) }
    }

    /// The configured secret, or the one kept in the data directory (created on first run).
    pub fn load(config: &Config) -> std::io::Result<Keys> {
        if let Some(s) = &config.jwt_secret {
            return Ok(Keys::from_secret(s.as_bytes()));
        }
        Ok(Keys::from_secret(&load_or_create_secret(&config.data_dir.join("jwt-secret"))?))
    }
}

fn load_or_create_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    if let Ok(s) = std::fs::read_to_string(path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().as_bytes().to_vec());
        }
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(path)?, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret.into_bytes())
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Id,
    tid: Id,
    name: String,
    role: String,
    iat: i64,
    exp: i64,
}

/// The argon2id hasher with the configured memory cost.
fn hasher(m_cost_kib: u32) -> Argon2<'static> {
    let params = Params::new(m_cost_kib.max(8), 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str, m_cost_kib: u32) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher(m_cost_kib)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    // The parameters are read from the PHC string, so old hashes keep verifying.
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /api/auth/login`: checks the password and opens a session.
pub(crate) async fn login(state: &AppState, req: LoginRequest) -> Result<Session, AppError> {
    let refused = || AppError::unauthorized("wrong email or password");
    let mut conn = state.db.acquire().await?;
    let record = db::users::by_email(&mut conn, &req.email).await?;
    drop(conn);
    // An unknown email still costs one verification, so response time does not tell
    // which emails exist.
    let (user, phc) = match record {
        Some(r) => (Some(r.user), r.password_hash),
        None => (None, dummy_hash(state.config.argon2_m_cost_kib)),
    };
    // Verification is deliberately slow; keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&req.password, &phc))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    match user {
        // Told only to whoever knows the password.
        Some(user) if ok && !user.active => Err(disabled()),
        Some(user) if ok => issue(state, user).await,
        _ => Err(refused()),
    }
}

/// A hash no password matches, with the configured cost, made once.
fn dummy_hash(m_cost_kib: u32) -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("\u{0}no user\u{0}", m_cost_kib).unwrap_or_default()).clone()
}

/// `POST /api/auth/refresh`: trades a refresh token (once) for a new session.
pub(crate) async fn refresh(state: &AppState, req: RefreshRequest) -> Result<Session, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.db.acquire().await?;
    let user_id = db::refresh_tokens::consume(&mut conn, &sha256_hex(&req.refresh_token), now)
        .await?
        .ok_or_else(|| AppError::unauthorized("refresh token is invalid, used or expired"))?;
    let user = db::users::by_id(&mut conn, user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("user no longer exists"))?;
    drop(conn);
    if !user.active {
        return Err(disabled());
    }
    issue(state, user).await
}

/// `POST /api/auth/password`: checks the current password, stores the new one, revokes
/// every refresh token of the user (other signed-in devices cannot renew their session) and
/// opens a fresh session for the caller.
pub(crate) async fn change_password(
    state: &AppState,
    caller: &Caller,
    req: PasswordChange,
) -> Result<Session, AppError> {
    let id = caller.user_id.ok_or_else(|| AppError::unauthorized("not a user"))?;
    crate::accounts::check_password(&req.new_password)?;
    if req.new_password == req.current_password {
        return Err(AppError::invalid("the new password is the same as the current one"));
    }
    let mut conn = state.db.acquire().await?;
    let phc = db::users::password_hash(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::unauthorized("user no longer exists"))?;
    drop(conn);
    let current = req.current_password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &phc))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !ok {
        return Err(AppError::unauthorized("the current password is wrong"));
    }
    let m_cost = state.config.argon2_m_cost_kib;
    let new = req.new_password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new, m_cost))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let mut tx = state.db.begin_write(db::lock::tenant(caller.tenant_id)).await?;
    db::users::set_password_hash(&mut tx, id, &hash).await?;
    db::refresh_tokens::revoke_all(&mut tx, id).await?;
    let user = db::users::by_id(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::unauthorized("user no longer exists"))?;
    tx.commit().await?;
    issue(state, user).await
}

async fn issue(state: &AppState, user: User) -> Result<Session, AppError> {
    let now = state.clock.now_ms();
    let exp_s = now / 1000 + state.config.token_ttl_s as i64;
    let claims = Claims {
        sub: user.id,
        tid: user.tenant_id,
        name: user.name.clone(),
        role: user.role.clone(),
        iat: now / 1000,
        exp: exp_s,
    };
    let token = jsonwebtoken::encode(&Header::default(), &claims, &state.keys.enc)
        .map_err(|e| AppError::Internal(format!("jwt: {e}")))?;
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    let refresh_token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut conn = state.db.acquire().await?;
    db::refresh_tokens::insert(
        &mut conn,
        &sha256_hex(&refresh_token),
        user.id,
        now + state.config.refresh_ttl_s as i64 * 1000,
    )
    .await?;
    Ok(Session { token, expires_at: exp_s * 1000, refresh_token, user })
}

/// Checks a JWT's signature and expiry (at the injected clock's now).
pub(crate) fn verify_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let mut validation = Validation::default();
    // Expiry is checked below against the injected clock.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Claims>(token, &state.keys.dec, &validation)
        .map_err(|_| AppError::unauthorized("invalid token"))?;
    if data.claims.exp * 1000 <= state.clock.now_ms() {
        return Err(AppError::new(ErrorCode::TokenExpired, "token expired"));
    }
    Ok(Caller {
        tenant_id: data.claims.tid,
        user_id: Some(data.claims.sub),
        name: data.claims.name,
        expires_at: Some(data.claims.exp * 1000),
        role: Role::parse(&data.claims.role),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AppError::unauthorized("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| AppError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        let caller = verify_token(state, token.trim())?;
        // A token outlives a disable by up to its lifetime; the account's state decides.
        check_active(state, &caller).await?;
        Ok(caller)
    }
}

/// Why a socket may not join, shown as `"<CODE>: <message>"` in CONNECT_ERROR's `message`
/// (socketioxide sends the middleware error's `Display`).
#[derive(Debug)]
pub(crate) struct ConnectRefusal(pub(crate) WireError);

impl std::fmt::Display for ConnectRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // WireError's Display is exactly "<CODE>: <message>".
        self.0.fmt(f)
    }
}

/// Where the socket resumes from (`lastSeq` and `epoch` of the CONNECT auth payload).
#[derive(Debug, Clone)]
pub(crate) struct ResumeFrom(pub(crate) Option<u64>, pub(crate) Option<String>);

/// The connect middleware: token, then connection limits. On success the socket carries
/// [`Caller`], [`ResumeFrom`], its token's `ExpiresAt` and its `Arc<Seat>` in its extensions.
pub(crate) async fn authenticate_socket(
    state: AppState,
    socket: SocketRef,
    auth: TryData<ConnectAuth>,
) -> Result<(), ConnectRefusal> {
    let refuse = |e: AppError| {
        let w = e.into_wire();
        tracing::debug!(code = w.code.as_str(), "socket refused");
        ConnectRefusal(w)
    };
    let auth = auth.0.unwrap_or_default();
    let token = auth
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(AppError::unauthorized("missing token")))?;
    let caller = verify_token(&state, &token).map_err(refuse)?;
    check_active(&state, &caller).await.map_err(refuse)?;
    let parts = socket.req_parts();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = crate::realtime::quota::client_ip(peer, &parts.headers, &state.config.trusted_proxies);
    let seat = state.quota.take(caller.user_id, ip).map_err(|full| {
        refuse(AppError::new(
            ErrorCode::RateLimited,
            match full {
                Full::User => "too many connections for this user",
                Full::Ip => "too many connections from this address",
            },
        ))
    })?;
    if let Some(at) = caller.expires_at {
        socket.extensions.insert(ExpiresAt(at));
    }
    socket.extensions.insert(caller);
    socket.extensions.insert(ResumeFrom(auth.last_seq, auth.epoch));
    // Shared so the extension map can hand out copies; given back when the last one drops.
    socket.extensions.insert(Arc::new(seat));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("pulse-demo", 64).unwrap();
        assert!(verify_password("pulse-demo", &h));
        assert!(!verify_password("pulse-demo!", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn refusals_display_with_their_code() {
        let r = ConnectRefusal(WireError::new(ErrorCode::TokenExpired, "token expired"));
        assert_eq!(r.to_string(), "TOKEN_EXPIRED: token expired");
    }
}
