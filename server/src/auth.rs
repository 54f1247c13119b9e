//! This module deals with who is calling: password hashing (argon2id), login and refresh
//! (short-lived JWT plus a single-use refresh token stored hashed), the [`Caller`] extractor
//! for REST, and the Socket.IO connect middleware that answers CONNECT_ERROR.
//!
//! JWT expiry is checked against the injected [`crate::Clock`], not the OS clock, so tests
//! can move time.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use pulse_protocol::events::Id;
use pulse_protocol::rest::{LoginRequest, PasswordChange, RefreshRequest, Session, User};
use pulse_protocol::ErrorCode;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db;
use crate::error::AppError;
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
    /// The sign-in their token belongs to (signing out ends it); `None` for the server
    /// itself and for tokens from before sessions existed.
    pub session_id: Option<String>,
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
    /// The session (one sign-in and its refreshes); absent in older tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
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

/// Password verification: a hash no password matches (checked in place of an unknown
/// email's, so the answer costs the same and does not tell which emails exist), at most one
/// verification per core at once (each holds the argon2 memory cost), and how many ran.
#[derive(Debug)]
pub struct Passwords {
    dummy: String,
    permits: tokio::sync::Semaphore,
    verified: AtomicU64,
}

impl Passwords {
    /// Makes the dummy hash with the cost new hashes get. Fails rather than fall back to
    /// something that would not parse: that would answer unknown emails at once.
    pub fn new(m_cost_kib: u32) -> Result<Passwords, AppError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy = hash_password("\u{0}no user\u{0}", m_cost_kib)?;
        PasswordHash::new(&dummy).map_err(|e| AppError::Internal(format!("dummy hash: {e}")))?;
        Ok(Passwords { dummy, permits: tokio::sync::Semaphore::new(cores), verified: 0.into() })
    }

    /// How many argon2 verifications ran to the end.
    pub fn verified(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    /// Checks `password` against `phc` with a full argon2 run whatever the input: with no
    /// stored hash, or one that does not parse, the dummy is checked instead and the answer
    /// is no.
    fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let stored = phc.and_then(|p| match PasswordHash::new(p) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!(error = %e, "a stored password hash does not parse");
                None
            }
        });
        let (hash, real) = match stored {
            Some(h) => (h, true),
            // `new` checked that the dummy parses.
            None => match PasswordHash::new(&self.dummy) {
                Ok(h) => (h, false),
                Err(_) => return false,
            },
        };
        // The parameters are read from the PHC string, so old hashes keep verifying.
        let ok = Argon2::default().verify_password(password.as_bytes(), &hash).is_ok();
        self.verified.fetch_add(1, Ordering::Relaxed);
        ok && real
    }

    #[cfg(test)]
    fn dummy(&self) -> PasswordHash<'_> {
        PasswordHash::new(&self.dummy).expect("checked in new")
    }
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /api/auth/login` from `ip`: checks the password and opens a session. Refused with
/// RATE_LIMITED while the account's or the address's failure budget is spent (see
/// [`crate::throttle`]).
pub(crate) async fn login(
    state: &AppState,
    ip: Option<IpAddr>,
    req: LoginRequest,
) -> Result<Session, AppError> {
    // Taken before the budget is looked at, so attempts racing on one key mostly see the
    // failures of those before them.
    let _permit = state
        .passwords
        .permits
        .acquire()
        .await
        .map_err(|e| AppError::Internal(format!("password permits: {e}")))?;
    if let Some(wait) = state.login_throttle.wait(&req.email, ip) {
        metrics::counter!("pulse_login_throttled_total").increment(1);
        return Err(AppError::Throttled {
            message: format!(
                "too many failed sign-ins; try again in {} s",
                wait.as_secs_f64().ceil().max(1.0)
            ),
            retry_after: wait,
        });
    }
    let mut conn = state.db.acquire().await?;
    let record = db::users::by_email(&mut conn, &req.email).await?;
    drop(conn);
    let (user, phc) = match record {
        Some(r) => (Some(r.user), Some(r.password_hash)),
        None => (None, None),
    };
    let (passwords, password) = (state.passwords.clone(), req.password);
    // Verification is deliberately slow; keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || passwords.verify(&password, phc.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    match user {
        // Told only to whoever knows the password.
        Some(user) if ok && !user.active => Err(disabled()),
        Some(user) if ok => issue(state, user, &new_session_id()).await,
        _ => {
            state.login_throttle.failed(&req.email, ip);
            Err(AppError::unauthorized("wrong email or password"))
        }
    }
}

fn new_session_id() -> String {
    let mut raw = [0u8; 16];
    OsRng.fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// `POST /api/auth/refresh`: trades a refresh token (once) for a new session.
pub(crate) async fn refresh(state: &AppState, req: RefreshRequest) -> Result<Session, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.db.acquire().await?;
    let (user_id, session_id) =
        db::refresh_tokens::consume(&mut conn, &sha256_hex(&req.refresh_token), now)
            .await?
            .ok_or_else(|| {
                AppError::unauthorized("refresh token is invalid, used, revoked or expired")
            })?;
    let user = db::users::by_id(&mut conn, user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("user no longer exists"))?;
    drop(conn);
    if !user.active {
        return Err(disabled());
    }
    // The session goes on; a token from before sessions existed starts one.
    issue(state, user, &session_id.unwrap_or_else(new_session_id)).await
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
    let (passwords, current) = (state.passwords.clone(), req.current_password);
    let ok = tokio::task::spawn_blocking(move || passwords.verify(&current, Some(&phc)))
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
    issue(state, user, &new_session_id()).await
}

/// `POST /api/auth/logout`: ends `session`: its refresh tokens are revoked, so sockets opened
/// with its access tokens are refused from now on (the route also ends this node's open
/// ones).
pub(crate) async fn logout(state: &AppState, session: &SignedIn) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    db::refresh_tokens::revoke_session(
        &mut conn,
        session.user_id,
        &session.id,
        state.clock.now_ms(),
    )
    .await?;
    Ok(())
}

async fn issue(state: &AppState, user: User, session_id: &str) -> Result<Session, AppError> {
    let now = state.clock.now_ms();
    let exp_s = now / 1000 + state.config.token_ttl_s as i64;
    let claims = Claims {
        sub: user.id,
        tid: user.tenant_id,
        name: user.name.clone(),
        role: user.role.clone(),
        sid: Some(session_id.to_owned()),
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
        session_id,
        now + state.config.refresh_ttl_s as i64 * 1000,
    )
    .await?;
    Ok(Session { token, expires_at: exp_s * 1000, refresh_token, user })
}

/// The signature-checked claims of a JWT, expired or not.
fn decode_claims(state: &AppState, token: &str) -> Result<Claims, AppError> {
    let mut validation = Validation::default();
    // Expiry is checked by the callers, against the injected clock.
    validation.validate_exp = false;
    jsonwebtoken::decode::<Claims>(token, &state.keys.dec, &validation)
        .map(|d| d.claims)
        .map_err(|_| AppError::unauthorized("invalid token"))
}

/// Checks a JWT's signature and expiry (at the injected clock's now).
pub(crate) fn verify_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let claims = decode_claims(state, token)?;
    if claims.exp * 1000 <= state.clock.now_ms() {
        return Err(AppError::new(ErrorCode::TokenExpired, "token expired"));
    }
    Ok(Caller {
        tenant_id: claims.tid,
        user_id: Some(claims.sub),
        name: claims.name,
        expires_at: Some(claims.exp * 1000),
        session_id: claims.sid,
        role: Role::parse(&claims.role),
    })
}

/// The bearer token of a request, as sent.
fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::unauthorized("missing bearer token"))?;
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| AppError::unauthorized("expected `Authorization: Bearer <token>`"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = verify_token(state, bearer(parts)?)?;
        // A token outlives a disable by up to its lifetime; the account's state decides.
        check_active(state, &caller).await?;
        Ok(caller)
    }
}

/// The session a bearer token belongs to, for signing out: its signature must verify, but an
/// expired token still names its session (ending a session late is harmless, and a laptop
/// that slept past its token's expiry can still sign out).
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub(crate) id: String,
    pub(crate) user_id: Id,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let claims = decode_claims(state, bearer(parts)?)?;
        let id = claims
            .sid
            .ok_or_else(|| AppError::invalid("this token predates sessions; nothing to end"))?;
        Ok(SignedIn { id, user_id: claims.sub })
    }
}

/// What a socket of an ended session is told.
pub(crate) const SIGNED_OUT: &str = "signed out: this session has ended; sign in again";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves_and_every_check_runs_argon2() {
        let p = Passwords::new(64).unwrap();
        let h = hash_password("pulse-demo", 64).unwrap();
        assert!(p.verify("pulse-demo", Some(&h)));
        assert!(!p.verify("pulse-demo!", Some(&h)));
        assert_eq!(p.verified(), 2);
        // No user, or a stored hash that does not parse: still a full verification.
        assert!(!p.verify("pulse-demo", None));
        assert!(!p.verify("x", Some("not a phc string")));
        assert_eq!(p.verified(), 4);
    }

    #[test]
    fn the_dummy_hash_parses_with_the_parameters_of_new_hashes() {
        for m_cost in [64, 1_024] {
            let p = Passwords::new(m_cost).unwrap();
            let real = hash_password("pulse-demo", m_cost).unwrap();
            let real = PasswordHash::new(&real).unwrap();
            let dummy = p.dummy();
            assert_eq!(dummy.algorithm, real.algorithm);
            assert_eq!(dummy.version, real.version);
            assert_eq!(dummy.params, real.params);
            assert_eq!(Params::try_from(&dummy).unwrap().m_cost(), m_cost);
        }
    }
}
