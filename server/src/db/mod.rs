//! This module deals with the SQLite store: opening the database file, running migrations,
//! and (in one file per table) every SQL statement the server runs. Nothing outside `db/`
//! writes SQL.

pub(crate) mod activity;
pub(crate) mod customers;
pub(crate) mod deliveries;
pub(crate) mod event_log;
pub(crate) mod idempotency;
pub(crate) mod notifications;
pub(crate) mod payments;
pub(crate) mod refresh_tokens;
pub(crate) mod tenants;
pub(crate) mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// Opens (creating if needed) the database file and brings its schema up to date.
pub(crate) async fn open(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .create_if_missing(true)
        // WAL lets readers (REST, stats) run while a writer commits.
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL in WAL mode survives a process crash; only an OS crash may lose the last
        // commits, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Answers whether the database responds, for `/health`.
pub(crate) async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// Checkpoints the WAL into the main file before shutdown, so the file alone is complete.
pub(crate) async fn flush(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.map(|_| ())
}

/// Filters and paging for list reads, already validated by the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListFilter {
    pub(crate) limit: i64,
    pub(crate) offset: i64,
    /// Inclusive first day, `YYYY-MM-DD`.
    pub(crate) from: Option<String>,
    /// Inclusive last day, `YYYY-MM-DD`.
    pub(crate) to: Option<String>,
    pub(crate) customer_id: Option<pulse_protocol::events::Id>,
    pub(crate) unread: Option<bool>,
}

impl ListFilter {
    /// Appends ` AND …` conditions on a `date` column and a `customer_id` column.
    fn push_dates_and_customer(&self, q: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>) {
        if let Some(from) = &self.from {
            q.push(" AND date >= ").push_bind(from.clone());
        }
        if let Some(to) = &self.to {
            q.push(" AND date <= ").push_bind(to.clone());
        }
        if let Some(c) = self.customer_id {
            q.push(" AND customer_id = ").push_bind(c);
        }
    }
}

/// Runs a list query whose rows carry `COUNT(*) OVER () AS total`, and reads the total even
/// when the page is past the end (no rows), by probing the first page.
async fn page<T>(
    conn: &mut sqlx::SqliteConnection,
    f: &ListFilter,
    build: impl Fn(&ListFilter) -> sqlx::QueryBuilder<'static, sqlx::Sqlite>,
    map: fn(&sqlx::sqlite::SqliteRow) -> T,
) -> Result<(Vec<T>, u64), sqlx::Error> {
    use sqlx::Row;
    let rows = build(f).build().fetch_all(&mut *conn).await?;
    let total = match rows.first() {
        Some(r) => r.get::<i64, _>("total") as u64,
        None if f.offset > 0 => {
            let probe = ListFilter { offset: 0, limit: 1, ..f.clone() };
            build(&probe)
                .build()
                .fetch_optional(&mut *conn)
                .await?
                .map_or(0, |r| r.get::<i64, _>("total") as u64)
        }
        None => 0,
    };
    Ok((rows.iter().map(map).collect(), total))
}
