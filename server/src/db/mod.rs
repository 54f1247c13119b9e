//! This module deals with the store, SQLite or PostgreSQL: connecting, running each engine's
//! migrations, the write lock that orders a tenant's log, and (in one file per table) every
//! SQL statement the server runs. Nothing outside `db/` writes SQL.

pub(crate) mod activity;
pub(crate) mod customers;
pub(crate) mod deliveries;
pub(crate) mod event_log;
pub(crate) mod idempotency;
pub(crate) mod nodes;
pub(crate) mod notifications;
pub(crate) mod payments;
pub(crate) mod refresh_tokens;
pub(crate) mod tenants;
pub(crate) mod users;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Arguments, Connection, Executor, Row, Transaction};

/// Which database engine holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file: the embedded default, one node.
    Sqlite,
    /// A PostgreSQL database, which several nodes may share.
    Postgres,
}

impl Backend {
    /// Its name in /health and /metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Which engine a connection talks to.
pub(crate) fn backend(conn: &AnyConnection) -> Backend {
    if conn.backend_name() == "PostgreSQL" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Advisory lock keys (PostgreSQL), one namespace per use so they never collide.
pub(crate) mod lock {
    /// A tenant's log: held by the transaction that appends to it.
    pub(crate) fn tenant(tenant_id: i64) -> i64 {
        (1 << 32) | (tenant_id & 0xffff_ffff)
    }
    /// Seeding an empty database.
    pub(crate) const SEED: i64 = 2 << 32;
    /// The cluster's single writer of background work (demo generator, stats pushes).
    pub(crate) const LEADER: i64 = 3 << 32;
}

/// The store: a pool on SQLite or PostgreSQL behind one API (sqlx's `Any` driver), so every
/// query in `db/` is written once, with `$N` placeholders, which both engines accept.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// The connections write transactions use: on SQLite one of their own, on PostgreSQL
    /// `pool`.
    writes: AnyPool,
    /// This process's turn to write (SQLite; see [`Db::begin_write`]).
    writer: Arc<tokio::sync::Mutex<()>>,
    backend: Backend,
    url: String,
}

/// The connection URL for the SQLite file at `path`.
pub(crate) fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' | ' ' => url.push_str(&format!("%{:02X}", c as u32)),
            c => url.push(c),
        }
    }
    url.push_str("?mode=rwc");
    url
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and brings its schema up to date.
    pub(crate) async fn open(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                "the database URL must start with sqlite:// or postgres://".into(),
            ));
        };
        match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await?;
                // WAL lets readers (REST, stats) run while a writer commits; it is a property
                // of the file, so setting it once here is enough.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
                conn.close().await?;
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                // sqlx serializes concurrent migrators with an advisory lock, so nodes that
                // start together migrate once.
                sqlx::migrate!("./migrations/postgres").run(&mut conn).await?;
                conn.close().await?;
            }
        }
        let pool = |max| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(5))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // NORMAL in WAL mode survives a process crash; only an OS crash may
                            // lose the last commits, never corrupt the file.
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
        };
        let (pool, writes) = match backend {
            // Writers take turns (see `begin_write`), so one connection serves them all, and
            // readers (catch-ups, REST) never make a writer wait for a connection.
            Backend::Sqlite => (pool(sqlite_readers()).await?, pool(1).await?),
            Backend::Postgres => {
                let p = pool(16).await?;
                (p.clone(), p)
            }
        };
        Ok(Db { pool, writes, writer: Arc::default(), backend, url: url.to_owned() })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL it was opened with (for PostgreSQL's LISTEN connection).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A connection for reads and single statements.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// A write transaction holding the lock `key` until it ends: on SQLite the database's
    /// write lock (`BEGIN IMMEDIATE`, so two writers never deadlock upgrading later), on
    /// PostgreSQL the advisory lock `key`, which serializes writers on every node.
    ///
    /// On SQLite this process's writers first queue on an async lock: SQLite makes a writer
    /// that finds the database locked sleep and retry (1, 2, 5 … 100 ms), so writers racing
    /// for `BEGIN IMMEDIATE` spent most of their time asleep while the lock was free, and the
    /// write rate fell to a few hundred transactions a second.
    pub(crate) async fn begin_write(&self, key: i64) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                let tx = self.writes.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx { tx, _turn: Some(turn) })
            }
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await?;
                Ok(WriteTx { tx, _turn: None })
            }
        }
    }

    /// Answers whether the database responds, for `/health`.
    pub(crate) async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Writes a consistent copy of the SQLite database to `to` (a new file), while other
    /// connections keep reading and writing: `VACUUM INTO` reads one snapshot.
    pub async fn backup_to(&self, to: &Path) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Err(sqlx::Error::Configuration(
                "backup copies SQLite databases; for PostgreSQL use pg_dump".into(),
            ));
        }
        if to.exists() {
            return Err(sqlx::Error::Configuration(
                format!("{} exists; a backup never overwrites a file", to.display()).into(),
            ));
        }
        let path = to.to_string_lossy().replace('\'', "''");
        sqlx::query(&format!("VACUUM INTO '{path}'")).execute(&self.pool).await.map(|_| ())
    }

    /// Before shutdown: checkpoints SQLite's WAL into the main file, so the file alone is
    /// complete. Nothing to do on PostgreSQL.
    pub(crate) async fn flush(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await
    }
}

/// A write transaction from [`Db::begin_write`]; it keeps this process's turn to write until
/// it commits or is dropped (rolled back).
pub(crate) struct WriteTx {
    // Declared first: dropped before the turn, so its rollback is queued on the connection
    // before the next writer gets it.
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// A query assembled at run time, numbering its placeholders `$1, $2, …` as it goes
/// (sqlx's `QueryBuilder` writes `?` for `Any`, which PostgreSQL rejects).
pub(crate) struct Sql {
    text: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Sql {
        Sql { text: text.to_owned(), args: AnyArguments::default(), n: 0 }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Sql
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.n += 1;
        self.text.push('$');
        self.text.push_str(&self.n.to_string());
        // Encoding the plain values we bind (integers, floats, text) cannot fail; sqlx's own
        // QueryBuilder panics here too.
        self.args.add(value).expect("a plain value encodes");
        self
    }

    pub(crate) fn build(&mut self) -> Query<'_, Any, AnyArguments<'_>> {
        sqlx::query_with(&self.text, std::mem::take(&mut self.args))
    }
}

/// A floating-point column. SQLite computes `SUM`, `COALESCE` and the like as integers when
/// every input is integral, which sqlx's `Any` would refuse to read as `f64`.
pub(crate) fn real(r: &AnyRow, i: usize) -> f64 {
    r.try_get::<f64, _>(i).unwrap_or_else(|_| r.try_get::<i64, _>(i).unwrap_or(0) as f64)
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
    /// Customers only: list deactivated customers too (hidden by default).
    pub(crate) include_inactive: bool,
}

impl ListFilter {
    /// Appends ` AND …` conditions on a `date` column and a `customer_id` column.
    fn push_dates_and_customer(&self, q: &mut Sql) {
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
    conn: &mut AnyConnection,
    f: &ListFilter,
    build: impl Fn(&ListFilter) -> Sql,
    map: fn(&AnyRow) -> T,
) -> Result<(Vec<T>, u64), sqlx::Error> {
    let mut q = build(f);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let total = match rows.first() {
        Some(r) => r.get::<i64, _>("total") as u64,
        None if f.offset > 0 => {
            let probe = ListFilter { offset: 0, limit: 1, ..f.clone() };
            let mut q = build(&probe);
            q.build()
                .fetch_optional(&mut *conn)
                .await?
                .map_or(0, |r| r.get::<i64, _>("total") as u64)
        }
        None => 0,
    };
    Ok((rows.iter().map(map).collect(), total))
}

/// SQLite connections for reading: two per core (a reader now and then waits on the disk), two
/// to eight. Each is a thread of its own with its page cache and malloc arena, about 170 KB
/// resident once opened, and a storm of connecting sockets (each admission reads its session)
/// opens them all: eight on a 2-core machine held 0.6 KB per connection more at 1,000 than four,
/// and the logged path past capacity answered as many writes with four, within the runs'
/// spread (bench/ANALYSIS.md, thirty-second session).
fn sqlite_readers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    (2 * cores).clamp(2, 8)
}
