//! This module deals with a business's user accounts: listing them, adding staff or admins,
//! and disabling or enabling an account. Admins only, within their own business.
//!
//! Each change is logged as `user:updated`, addressed to the tenant's admins and to the user
//! concerned (staff never learn about other accounts). Disabling revokes the user's refresh
//! tokens in the same transaction; when the entry reaches the user's own sockets, on whichever
//! node holds them, they get an `error` (ACCOUNT_DISABLED) and are disconnected
//! ([`crate::feed::broadcast`]). The last active admin cannot be disabled, nor can an
//! admin disable themselves, so a business always keeps someone who can manage it.

use pulse_protocol::events::{Id, UserUpdated, USER_UPDATED};
use pulse_protocol::rest::{NewUser, User, UserPatch};
use pulse_protocol::ErrorCode;

use super::{begin, short_text, Begin, Change};
use crate::accounts::{check_password, email_problem};
use crate::auth::{hash_password, Caller};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Every user of the caller's business.
pub(crate) async fn list(state: &AppState, caller: &Caller) -> Result<Vec<User>, AppError> {
    caller.require_admin("see the users")?;
    let mut conn = state.db.acquire().await?;
    Ok(db::users::list(&mut conn, caller.tenant_id).await?)
}

/// Adds a user to the caller's business.
pub(crate) async fn add(
    state: &AppState,
    caller: &Caller,
    input: NewUser,
) -> Result<User, AppError> {
    caller.require_admin("add users")?;
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name must not be empty"));
    }
    short_text("name", name, 100)?;
    if let Some(p) = email_problem(&input.email) {
        return Err(AppError::invalid(p));
    }
    if input.role != "admin" && input.role != "staff" {
        return Err(AppError::invalid("role must be `admin` or `staff`"));
    }
    check_password(&input.password)?;
    let m_cost = state.config.argon2_m_cost_kib;
    let password = input.password;
    // Hashing is deliberately slow; keep it off the async workers and outside the lock.
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, m_cost))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let mut change = go(state, caller).await?;
    let email = input.email.trim();
    if db::users::by_email(change.conn(), email).await?.is_some() {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("an account with the email {email} exists"),
        ));
    }
    let now = change.ts();
    let id =
        db::users::insert(change.conn(), caller.tenant_id, name, email, &hash, &input.role, now)
            .await?;
    let user = fetch(&mut change, caller, id).await?;
    announce(&mut change, caller, &user).await?;
    change.commit(&user).await?;
    Ok(user)
}

/// Disables or enables a user of the caller's business.
pub(crate) async fn set_active(
    state: &AppState,
    caller: &Caller,
    id: Id,
    patch: UserPatch,
) -> Result<User, AppError> {
    caller.require_admin("disable or enable users")?;
    let mut change = go(state, caller).await?;
    let mut user = fetch(&mut change, caller, id).await?;
    if user.active == patch.active {
        return Ok(user);
    }
    if !patch.active {
        if caller.user_id == Some(id) {
            return Err(AppError::invalid("you cannot disable your own account"));
        }
        let admins = db::users::active_admins(change.conn(), caller.tenant_id).await?;
        if user.role == "admin" && admins == [id] {
            return Err(AppError::invalid("the last active admin cannot be disabled"));
        }
        db::refresh_tokens::revoke_all(change.conn(), id).await?;
    }
    db::users::set_active(change.conn(), id, patch.active).await?;
    user.active = patch.active;
    announce(&mut change, caller, &user).await?;
    change.commit(&user).await?;
    Ok(user)
}

/// A change of the caller's business, without an idempotency key (adding a user twice
/// answers CONFLICT; disabling twice changes nothing).
async fn go<'a>(state: &'a AppState, caller: &Caller) -> Result<Change<'a>, AppError> {
    match begin::<()>(state, caller, USER_UPDATED, None).await? {
        Begin::Go(c) => Ok(c),
        Begin::Done(()) => Err(AppError::Internal("no key, yet a stored result".into())),
    }
}

/// A user of the caller's business; another business's user answers NOT_FOUND.
async fn fetch(change: &mut Change<'_>, caller: &Caller, id: Id) -> Result<User, AppError> {
    db::users::in_tenant(change.conn(), caller.tenant_id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("user {id} does not exist")))
}

/// Logs `user:updated` for each active admin and for the user concerned.
async fn announce(change: &mut Change<'_>, caller: &Caller, user: &User) -> Result<(), AppError> {
    let mut to = db::users::active_admins(change.conn(), caller.tenant_id).await?;
    if !to.contains(&user.id) {
        to.push(user.id);
    }
    for admin in to {
        change.append_for::<UserUpdated>(admin, user)?;
    }
    Ok(())
}
