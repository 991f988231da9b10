//! The store: organisations and everything they own, in SQLite (the
//! embedded default) or PostgreSQL, through one sqlx `Any` pool.
//!
//! Queries are written once in the SQL both backends accept (`$1`
//! placeholders, `TEXT` and `BIGINT` columns); each backend has its own
//! migration set so that they can diverge where they must.

pub mod backup;
mod communications;
mod migrations;
mod org;
mod query;
mod rights;
pub(crate) mod rows;
mod sealed;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use communications::CustomerOptOut;
pub use org::{CandidateQuery, OrgStore};
pub use rights::{Answer, NewRightsRequest, Purged};

use crate::domain::{OrgSlug, Organisation, WorkerLogin};
use crate::error::{Error, Result};
pub(crate) use query::Bind;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedDatabase(redact_url(url)))
        }
    }
}

/// The file behind a SQLite pool. An in-memory database has none, and
/// is refused: nothing in it would outlive the process, the audit log least.
async fn sqlite_file(pool: &AnyPool, display_url: &str) -> Result<std::path::PathBuf> {
    let (file,): (String,) =
        sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await?;
    if file.is_empty() {
        return Err(Error::UnsupportedDatabase(display_url.to_owned()));
    }
    Ok(file.into())
}

/// A URL with any password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split(':').next().unwrap_or_default();
    format!("{scheme}://{user}:***@{host}")
}

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    display_url: String,
    /// The SQLite database file, as SQLite itself names it: the audit
    /// log reads and writes it through its own connections (`rusqlite`).
    sqlite_file: Option<std::path::PathBuf>,
    /// SQLite only: connections of our own for the decision path's reads
    /// ([`Store::fetch`]).
    readers: Option<std::sync::Arc<query::Readers>>,
    /// SQLite only, in a [`Store::pinned`] store: the read transaction
    /// its reads share.
    pinned: Option<std::sync::Arc<query::PinnedRead>>,
    /// Seals and opens record contents; without it, nothing sealed can be
    /// written or read (fail closed).
    vault: Option<std::sync::Arc<crate::vault::Vault>>,
    /// PostgreSQL only: how to open connections of the typed driver, for
    /// reads that the `Any` driver makes slow (the audit log's pages).
    postgres: Option<PgOptions>,
}

/// PostgreSQL's connection options, kept out of `Debug` output: they may
/// hold a password.
#[derive(Clone)]
pub(crate) struct PgOptions(pub(crate) std::sync::Arc<sqlx::postgres::PgConnectOptions>);

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgOptions(..)")
    }
}

impl Store {
    /// Connects to an existing store, creating the SQLite file if needed.
    /// Does not migrate: call [`Store::migrate`] (or use [`Store::init`]).
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let display_url = redact_url(url);
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the single audit writer;
                        // FULL sync keeps acknowledged commits across crashes.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let sqlite_file = match backend {
            Backend::Sqlite => Some(sqlite_file(&pool, &display_url).await?),
            Backend::Postgres => None,
        };
        let readers = sqlite_file
            .clone()
            .map(|file| std::sync::Arc::new(query::Readers::new(file)));
        let postgres = match backend {
            Backend::Postgres => Some(PgOptions(std::sync::Arc::new(
                sqlx::postgres::PgConnectOptions::from_str(&url)?,
            ))),
            Backend::Sqlite => None,
        };
        Ok(Self {
            pool,
            backend,
            display_url,
            sqlite_file,
            readers,
            pinned: None,
            vault: None,
            postgres,
        })
    }

    /// This store with a vault to seal and open record contents.
    pub fn with_vault(mut self, vault: std::sync::Arc<crate::vault::Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The vault, if one is loaded (writes without sealed fields need none).
    pub(crate) fn vault_opt(&self) -> Option<&crate::vault::Vault> {
        self.vault.as_deref()
    }

    /// The vault, or an error: a store without a master key cannot hold
    /// or show sealed data.
    pub fn vault(&self) -> Result<&std::sync::Arc<crate::vault::Vault>> {
        self.vault.as_ref().ok_or_else(|| {
            Error::Vault(
                "no master key is loaded, so sealed data can be neither written nor read".into(),
            )
        })
    }

    /// Connects and brings the schema up to date.
    pub async fn init(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with credentials redacted.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Folds every value of one text column of `org`'s rows into `acc`,
    /// without keeping the values: a million opt-outs become a million
    /// fixed-size hashes, not a million strings. On SQLite the rows are read
    /// on a connection of their own, each value borrowed from SQLite's
    /// memory; on PostgreSQL they come as one JSON array. `table` and
    /// `column` are the caller's constants, never input.
    pub async fn fold_text<T: Send + 'static>(
        &self,
        table: &'static str,
        column: &'static str,
        org: &OrgSlug,
        mut acc: T,
        each: fn(&mut T, &str),
    ) -> Result<T> {
        let org = org.as_str().to_owned();
        if let Some(file) = self.sqlite_file.clone() {
            return tokio::task::spawn_blocking(move || -> Result<T> {
                let conn = open_sqlite(&file)?;
                // No memory map: a scan of a million rows through one
                // would count every page of the table as this process's
                // resident memory.
                conn.execute_batch("PRAGMA mmap_size = 0;")?;
                let sql = format!("SELECT {column} FROM {table} WHERE org = ?1");
                let mut statement = conn.prepare(&sql)?;
                let mut rows = statement.query([&org])?;
                while let Some(row) = rows.next()? {
                    let value = row.get_ref(0)?;
                    let text = value
                        .as_str()
                        .map_err(|e| Error::corrupt(format!("{table}.{column}: {e}")))?;
                    each(&mut acc, text);
                }
                Ok(acc)
            })
            .await
            .map_err(|e| Error::corrupt(format!("reading {table}: {e}")))?;
        }
        let sql =
            format!("SELECT COALESCE(json_agg({column}), '[]')::text FROM {table} WHERE org = $1");
        let (array,): (String,) = sqlx::query_as(&sql)
            .bind(&org)
            .fetch_one(self.pool())
            .await?;
        let values: Vec<std::borrow::Cow<'_, str>> = serde_json::from_str(&array)
            .map_err(|e| Error::corrupt(format!("{table}.{column}: {e}")))?;
        for value in &values {
            each(&mut acc, value);
        }
        Ok(acc)
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub(crate) fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    /// On PostgreSQL, how to open a connection of the typed driver.
    pub(crate) fn postgres(&self) -> Option<&PgOptions> {
        self.postgres.as_ref()
    }

    /// The underlying pool, for the engine's modules and sibling crates
    /// (the mail guard keeps its tables in the same store).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// first fails with "database is locked" when another writer commits in
    /// between, instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Every organisation in the store, by slug.
    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM organisations ORDER BY slug")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(body,)| rows::from_json(&body))
            .collect()
    }

    /// The organisations that have a worker with this login, by slug.
    pub async fn organisations_of(&self, login: &WorkerLogin) -> Result<Vec<OrgSlug>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT org FROM workers WHERE login = $1 ORDER BY org")
                .bind(login.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(|(org,)| OrgSlug::new(org)).collect()
    }

    /// A view of one organisation; every query through it is scoped to it.
    pub async fn org(&self, slug: &OrgSlug) -> Result<OrgStore> {
        let found = self
            .fetch_optional(
                "SELECT body FROM organisations WHERE slug = $1",
                &[Bind::Text(slug.as_str())],
                |row| row.text("body"),
            )
            .await?;
        let Some(body) = found else {
            return Err(Error::OrganisationNotFound(slug.to_string()));
        };
        Ok(OrgStore::new(self.clone(), rows::from_json(&body)?))
    }

    /// After an erasure: on SQLite, copies the write-ahead log into the
    /// database and empties it, so no older copy of a deleted page stays
    /// in the log (`secure_delete` zeroes it in the database itself).
    /// Returns whether the log could be emptied now (a long reader can
    /// hold it; the next checkpoint then does it). Nothing on PostgreSQL.
    pub async fn truncate_log(&self) -> Result<bool> {
        if self.backend != Backend::Sqlite {
            return Ok(true);
        }
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await?;
        Ok(busy == 0)
    }

    /// Removes every organisation and all it owns (audit chains included),
    /// in one transaction. Used by `demo --force`.
    pub async fn clear(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let tables = migrations::AUDIT_TABLES
            .iter()
            .chain(migrations::MAIL_TABLES)
            .chain(migrations::TABLES_CHILD_FIRST);
        for table in tables {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Opens the store's SQLite file on a rusqlite connection of its own: the
/// audit log's writer and readers, `Store::fold_text`, and the store's
/// readers (`query::Readers`).
pub(crate) fn open_sqlite(file: &std::path::Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Reads through a memory map, not a system call per page.
    conn.execute_batch("PRAGMA mmap_size = 1073741824;")?;
    Ok(conn)
}
