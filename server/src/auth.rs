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
use pulse_protocol::rest::{LoginRequest, RefreshRequest, Session, User};
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
        verify_token(state, token.trim())
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
