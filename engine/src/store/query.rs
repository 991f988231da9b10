//! Reads written once for both backends: a statement, its values and a
//! row decoder. On PostgreSQL they go through the sqlx pool; on SQLite
//! through a few `rusqlite` connections of the store's own.
//!
//! Why two drivers on SQLite: sqlx runs each SQLite connection on a worker
//! thread and hands every statement and row across threads. A point read
//! by primary key costs 65-90 µs that way against a few µs in place
//! (BENCHMARKS.md, "The vault"), and a decision makes five of them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::Store;
use crate::columns::Columns;
use crate::error::{Error, Result};

/// A value bound to `$n` (`n` = its position + 1).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

/// Idle read-only connections to the store's SQLite file, opened on first
/// use and kept (at most [`Readers::KEEP`]).
#[derive(Debug)]
pub(crate) struct Readers {
    file: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Readers {
    const KEEP: usize = 8;

    pub(crate) fn new(file: PathBuf) -> Self {
        Self {
            file,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a new one), then keeps it.
    fn with<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let result = read(&conn);
        self.keep(conn);
        result
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<rusqlite::Connection> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let conn = super::open_sqlite(&self.file)?;
        // INVARIANT: these connections only read; every write goes
        // through the sqlx pool or the audit writer, in their
        // transactions.
        // No memory map: every audit commit grows the file, and a
        // mapped reader then remaps it and faults its pages back in
        // (the first read after a commit took 104 µs mapped, 42 µs
        // through the OS's page cache).
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA mmap_size = 0;")?;
        Ok(conn)
    }

    /// Keeps `conn` for the next read, up to [`Readers::KEEP`].
    fn keep(&self, conn: rusqlite::Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < Self::KEEP {
                idle.push(conn);
            }
        }
    }
}

/// One reader connection held in a read transaction: every read through
/// it sees the database as it was at the first, whatever commits
/// meanwhile. It goes back to the idle ones when dropped.
#[derive(Debug)]
pub(crate) struct PinnedRead {
    readers: Arc<Readers>,
    conn: Mutex<Option<rusqlite::Connection>>,
}

impl PinnedRead {
    fn begin(readers: &Arc<Readers>) -> Result<Self> {
        let conn = readers.take()?;
        conn.execute_batch("BEGIN")?;
        Ok(Self {
            readers: Arc::clone(readers),
            conn: Mutex::new(Some(conn)),
        })
    }

    fn with<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        match conn.as_ref() {
            Some(conn) => read(conn),
            None => Err(Error::corrupt("a pinned read was used after its end")),
        }
    }
}

impl Drop for PinnedRead {
    fn drop(&mut self) {
        let conn = self
            .conn
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // A connection whose transaction cannot end is dropped, not kept.
        if let Some(conn) = conn.filter(|conn| conn.execute_batch("COMMIT").is_ok()) {
            self.readers.keep(conn);
        }
    }
}

/// Every row of `sql` for `binds` on `conn`, each decoded by `decode`.
fn query_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    binds: &[Bind<'_>],
    decode: impl Fn(&dyn Columns) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    for (i, bind) in binds.iter().enumerate() {
        let name = format!("${}", i + 1);
        let index = statement
            .parameter_index(&name)?
            .ok_or_else(|| Error::corrupt(format!("statement has no parameter `{name}`")))?;
        match bind {
            Bind::Text(text) => statement.raw_bind_parameter(index, text)?,
            Bind::Int(n) => statement.raw_bind_parameter(index, n)?,
        }
    }
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

impl Store {
    /// This store with its reads pinned, for the reads behind one
    /// decision: on SQLite they then see one state of the database and
    /// share one read transaction. Writes are not affected. On
    /// PostgreSQL, the store itself.
    pub fn pinned(&self) -> Result<Store> {
        let Some(readers) = &self.readers else {
            return Ok(self.clone());
        };
        let mut pinned = self.clone();
        pinned.pinned = Some(Arc::new(PinnedRead::begin(readers)?));
        Ok(pinned)
    }

    /// Every row `sql` returns for `binds`, each decoded by `decode`.
    /// `sql` is the caller's constant text with `$1`, `$2`... in the order
    /// of `binds`; values are always bound, never spliced.
    pub(crate) async fn fetch<T>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(pinned) = &self.pinned {
            return pinned.with(|conn| query_rows(conn, sql, binds, decode));
        }
        if let Some(readers) = &self.readers {
            // A point read from the OS's page cache takes microseconds, less
            // than a hop to a blocking thread would, so it runs in place.
            return readers.with(|conn| query_rows(conn, sql, binds, decode));
        }
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.to_string()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(|row| decode(row)).collect()
    }

    /// The one row `sql` returns, if any (see [`Store::fetch`]).
    pub(crate) async fn fetch_optional<T>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.fetch(sql, binds, decode).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("q.db").display());
        let store = Store::init(&url).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn reads_see_what_the_pool_committed_and_bind_by_name() {
        let (_dir, store) = sqlite_store().await;
        sqlx::query("INSERT INTO organisations (slug, name, body) VALUES ('a', 'A', '{}'), ('b', 'B', '{}')")
            .execute(store.pool())
            .await
            .unwrap();
        // `$2` used twice and before `$1`: binding is by name, not position.
        let names = store
            .fetch(
                "SELECT name FROM organisations WHERE (slug = $2 OR slug = $2 OR slug = $1) ORDER BY slug",
                &[Bind::Text("a"), Bind::Text("b")],
                |row| row.text("name"),
            )
            .await
            .unwrap();
        assert_eq!(names, ["A", "B"]);
        let none = store
            .fetch_optional(
                "SELECT name FROM organisations WHERE slug = $1",
                &[Bind::Text("zz")],
                |row| row.text("name"),
            )
            .await
            .unwrap();
        assert_eq!(none, None);
    }

    async fn name_of(store: &Store, slug: &str) -> Option<String> {
        store
            .fetch_optional(
                "SELECT name FROM organisations WHERE slug = $1",
                &[Bind::Text(slug)],
                |row| row.text("name"),
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn pinned_reads_see_one_state_until_they_end() {
        let (_dir, store) = sqlite_store().await;
        let write = |sql: &'static str| {
            let pool = store.pool().clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        write("INSERT INTO organisations (slug, name, body) VALUES ('a', 'A', '{}')").await;
        let pinned = store.pinned().unwrap();
        assert_eq!(name_of(&pinned, "a").await.as_deref(), Some("A"));
        write("UPDATE organisations SET name = 'A2' WHERE slug = 'a'").await;
        write("INSERT INTO organisations (slug, name, body) VALUES ('b', 'B', '{}')").await;
        // The pinned store still sees the state of its first read; the
        // store itself sees the commits.
        assert_eq!(name_of(&pinned, "a").await.as_deref(), Some("A"));
        assert_eq!(name_of(&pinned, "b").await, None);
        assert_eq!(name_of(&store, "a").await.as_deref(), Some("A2"));
        drop(pinned);
        // Its connection went back in the pool with its transaction ended.
        let again = store.pinned().unwrap();
        assert_eq!(name_of(&again, "b").await.as_deref(), Some("B"));
        assert_eq!(name_of(&again, "a").await.as_deref(), Some("A2"));
    }

    #[tokio::test]
    async fn read_connections_refuse_to_write() {
        let (_dir, store) = sqlite_store().await;
        let readers = store.readers.as_ref().unwrap();
        let refused = readers.with(|conn| {
            Ok(conn.execute(
                "INSERT INTO organisations (slug, name, body) VALUES ('x', 'X', '{}')",
                [],
            )?)
        });
        assert!(refused.is_err(), "a read connection wrote: {refused:?}");
    }
}
