//! Helpers for tests that need a real database. Not part of the API.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

use crate::store::Backend;

/// The environment variable naming the PostgreSQL server tests use.
/// `./test.sh` starts a throwaway cluster and sets it.
pub const PG_URL_VAR: &str = "CUSTODIA_TEST_PG_URL";

/// A fresh, empty database URL for `backend`: a temporary SQLite file (kept
/// alive by the returned guard) or a new PostgreSQL database.
///
/// # Panics
/// When PostgreSQL is asked for and [`PG_URL_VAR`] is not set: such tests
/// must fail, not pass silently, outside `./test.sh`.
pub async fn scratch_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("custodia.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (scratch_postgres().await, None),
    }
}

async fn scratch_postgres() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
        panic!("{PG_URL_VAR} is not set: run ./test.sh, which starts PostgreSQL")
    });
    let name = format!(
        "custodia_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a scratch database");
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("PostgreSQL URL has a database path");
    format!("{prefix}/{name}")
}
