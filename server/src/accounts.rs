//! This module deals with the `admin` command line: a business and its first admin
//! (`pulse-server admin create`), which is how a production database gets its first user, and
//! an online backup of the SQLite file (`pulse-server admin backup`).

use pulse_protocol::events::Id;
use pulse_protocol::ErrorCode;

use crate::auth::hash_password;
use crate::config::Config;
use crate::db::{self, Db};
use crate::error::AppError;

/// The shortest password accepted for a new account, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Refuses (INVALID_INPUT) a password shorter than [`MIN_PASSWORD_CHARS`].
pub(crate) fn check_password(password: &str) -> Result<(), AppError> {
    match password_problem(password) {
        Some(p) => Err(AppError::invalid(p)),
        None => Ok(()),
    }
}

fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    (chars < MIN_PASSWORD_CHARS).then(|| {
        format!("the password has {chars} characters; at least {MIN_PASSWORD_CHARS} are needed")
    })
}

/// Why `email` is not a usable sign-in email, if it is not.
pub(crate) fn email_problem(email: &str) -> Option<String> {
    let email = email.trim();
    (email.len() < 3
        || email.len() > 200
        || !email.contains('@')
        || email.contains(char::is_whitespace))
    .then(|| format!("{email:?} is not an email address"))
}

/// Whether anyone can sign in: the database has at least one business.
pub(crate) async fn any(db: &Db) -> Result<bool, sqlx::Error> {
    let mut conn = db.acquire().await?;
    Ok(db::tenants::count(&mut conn).await? > 0)
}

/// A new business and its first admin, as asked on the command line.
#[derive(Debug)]
pub struct NewAdmin<'a> {
    /// The sign-in email (stored lowercase).
    pub email: &'a str,
    /// The admin's display name.
    pub name: &'a str,
    /// The business (tenant) created with it.
    pub business: &'a str,
    /// The password, hashed with argon2id before anything is stored.
    pub password: &'a str,
}

impl NewAdmin<'_> {
    /// Why these details cannot make an account, if they cannot.
    fn problem(&self) -> Option<String> {
        if let Some(p) = email_problem(self.email) {
            return Some(p);
        }
        if self.name.trim().is_empty() || self.business.trim().is_empty() {
            return Some("the name and the business may not be empty".into());
        }
        password_problem(self.password)
    }
}

/// Opens (and migrates) the configured database and creates the business and its admin.
/// Returns the new user's id. The email must not be in use by anyone, in any business.
pub async fn create_admin(config: &Config, admin: NewAdmin<'_>, now: i64) -> Result<Id, AppError> {
    if let Some(problem) = admin.problem() {
        return Err(AppError::invalid(problem));
    }
    let db = open(config).await?;
    let hash = hash_password(admin.password, config.argon2_m_cost_kib)?;
    // The seeding lock: a server starting in demo mode on the same empty database waits.
    let mut tx = db.begin_write(db::lock::SEED).await?;
    if db::users::by_email(&mut tx, admin.email).await?.is_some() {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("an account with the email {} exists", admin.email.trim()),
        ));
    }
    let tenant = db::tenants::insert(&mut tx, admin.business.trim(), now).await?;
    let email = admin.email.trim();
    let id =
        db::users::insert(&mut tx, tenant, admin.name.trim(), email, &hash, "admin", now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Copies the configured SQLite database to `to` while servers keep using it.
pub async fn backup(config: &Config, to: &std::path::Path) -> Result<(), AppError> {
    if config.database_url.is_none() && !config.db_path().exists() {
        return Err(AppError::not_found(format!("no database at {}", config.db_path().display())));
    }
    let db = open(config).await?;
    db.backup_to(to).await.map_err(|e| match e {
        sqlx::Error::Configuration(m) => AppError::invalid(m.to_string()),
        e => AppError::Db(e),
    })
}

/// The configured store, created and migrated if needed.
async fn open(config: &Config) -> Result<Db, AppError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| AppError::Internal(format!("data directory: {e}")))?;
    let url = config.database_url.clone().unwrap_or_else(|| db::sqlite_url(&config.db_path()));
    Ok(Db::open(&url).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(email: &'static str, password: &'static str) -> NewAdmin<'static> {
        NewAdmin { email, name: "Boss", business: "Acme", password }
    }

    #[test]
    fn details_are_checked_before_anything_is_written() {
        assert_eq!(admin("boss@acme.test", "long enough pass").problem(), None);
        assert!(admin("boss", "long enough pass").problem().unwrap().contains("email"));
        assert!(admin("b oss@acme.test", "long enough pass").problem().is_some());
        assert!(admin("boss@acme.test", "short").problem().unwrap().contains("12"));
        let blank = NewAdmin { business: " ", ..admin("boss@acme.test", "long enough pass") };
        assert!(blank.problem().is_some());
    }
}
