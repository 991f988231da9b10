//! Migration sets, one per backend, embedded in the binary.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// A migration whose text both backends accept, written once.
macro_rules! common {
    ($version:literal, $name:literal, $file:literal) => {
        (
            $version,
            $name,
            include_str!(concat!("../../migrations/common/", $file)),
            include_str!(concat!("../../migrations/common/", $file)),
        )
    };
}

/// (version, description, SQLite, PostgreSQL). Only where the dialects
/// differ are there two files.
pub(super) const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "domain",
        include_str!("../../migrations/sqlite/0001_domain.sql"),
        include_str!("../../migrations/postgres/0001_domain.sql"),
    ),
    common!(2, "unlocks", "0002_unlocks.sql"),
    common!(3, "audit", "0003_audit.sql"),
    common!(4, "mail", "0004_mail.sql"),
    common!(5, "sessions", "0005_sessions.sql"),
    common!(6, "core", "0006_core.sql"),
    common!(7, "legal", "0007_legal.sql"),
    common!(8, "vault", "0008_vault.sql"),
    common!(9, "rights", "0009_rights.sql"),
    common!(10, "erasure", "0010_erasure.sql"),
    common!(11, "audit tree", "0011_audit_tree.sql"),
    (
        12,
        "audit byte order",
        include_str!("../../migrations/sqlite/0012_audit_byte_order.sql"),
        include_str!("../../migrations/postgres/0012_audit_byte_order.sql"),
    ),
    (
        13,
        "audit customer index",
        include_str!("../../migrations/sqlite/0013_audit_customer_index.sql"),
        include_str!("../../migrations/postgres/0013_audit_customer_index.sql"),
    ),
    (
        14,
        "audit worker lookup",
        include_str!("../../migrations/sqlite/0014_audit_worker_lookup.sql"),
        include_str!("../../migrations/postgres/0014_audit_worker_lookup.sql"),
    ),
    (
        15,
        "audit lookup runs",
        include_str!("../../migrations/sqlite/0015_audit_lookup_runs.sql"),
        include_str!("../../migrations/postgres/0015_audit_lookup_runs.sql"),
    ),
    (
        16,
        "audit index keys",
        include_str!("../../migrations/sqlite/0016_audit_index_keys.sql"),
        include_str!("../../migrations/postgres/0016_audit_index_keys.sql"),
    ),
];

/// The audit tables. Replacing an organisation's data never touches them.
pub(super) const AUDIT_TABLES: &[&str] = &[
    "audit_events",
    "audit_heads",
    "audit_customers",
    "audit_workers",
    "audit_lookups_indexed",
    "audit_checkpoints",
    "audit_cosignatures",
];

/// The mail guard's tables: opt-outs and what was sent outlive any
/// re-import of an organisation's data.
pub(super) const MAIL_TABLES: &[&str] = &[
    "outbox",
    "campaigns",
    "opt_outs",
    "robinson",
    "robinson_lists",
    "breach_notices",
    "erased_addresses",
];

/// Data tables in an order that deletes children before parents.
pub(super) const TABLES_CHILD_FIRST: &[&str] = &[
    "sessions",
    "login_failures",
    "area_unlocks",
    "unlock_failures",
    "documents",
    "areas",
    "customer_assignments",
    "vault_items",
    "vault_customer_keys",
    "customers",
    "workers",
    "register_entries",
    "vault_org_keys",
    "organisations",
];

pub(super) fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, description, sqlite, postgres)| {
            let sql = match backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// An empty SQLite database in `dir` through the `Any` driver, for tests
/// that run the migrations themselves.
#[cfg(test)]
pub(super) async fn scratch_sqlite(dir: &std::path::Path) -> sqlx::AnyPool {
    let url = format!("sqlite://{}?mode=rwc", dir.join("scratch.db").display());
    any_pool(&url).await
}

/// A pool on `url` through the `Any` driver, unmigrated.
#[cfg(test)]
async fn any_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.expect("pool")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `backend`'s migrations before `version`.
    fn migrator_before(backend: Backend, version: i64) -> Migrator {
        let mut before = migrator(backend);
        before.migrations = Cow::Owned(
            before
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        );
        before
    }

    #[tokio::test]
    async fn the_lookup_migrations_keep_every_stored_event_findable() {
        let dir = tempfile::tempdir().expect("dir");
        let pool = scratch_sqlite(dir.path()).await;
        let before = migrator_before(Backend::Sqlite, 13);
        before.run(&pool).await.expect("migrations 1 to 12");
        for (org, seq, customer, worker) in [
            ("a", 1, Some("C-1"), Some("w1")),
            ("a", 2, None, Some("w2")),
            ("a", 65_537, Some("C-2"), None),
            ("b", 1, Some("C-1"), Some("w1")),
        ] {
            sqlx::query("INSERT INTO audit_events (org, seq, at, kind, customer, worker, prev_hash, hash) VALUES ($1, $2, 0, 'decision', $3, $4, '-', '-')")
                .bind(org)
                .bind(seq)
                .bind(customer)
                .bind(worker)
                .execute(&pool)
                .await
                .expect("event");
        }
        migrator(Backend::Sqlite)
            .run(&pool)
            .await
            .expect("migrations 13 to 15");
        let entries = |sql| {
            let pool = pool.clone();
            async move {
                sqlx::query_as::<_, (String, String, i64, i64)>(sql)
                    .fetch_all(&pool)
                    .await
                    .expect("entries")
            }
        };
        // Each chain's entries are the run of its mark: 65,537 crossed
        // the first multiple of 65,536.
        let entry = |org: &str, value: &str, run, seq| (org.to_owned(), value.to_owned(), run, seq);
        assert_eq!(
            entries("SELECT org, customer, run, seq FROM audit_customers ORDER BY 1, 2, 4").await,
            [
                entry("a", "C-1", 1, 1),
                entry("a", "C-2", 1, 65_537),
                entry("b", "C-1", 0, 1)
            ]
        );
        assert_eq!(
            entries("SELECT org, worker, run, seq FROM audit_workers ORDER BY 1, 2, 4").await,
            [
                entry("a", "w1", 1, 1),
                entry("a", "w2", 1, 2),
                entry("b", "w1", 0, 1)
            ]
        );
        let marks: Vec<(String, i64)> =
            sqlx::query_as("SELECT org, seq FROM audit_lookups_indexed ORDER BY org")
                .fetch_all(&pool)
                .await
                .expect("marks");
        assert_eq!(marks, [("a".to_owned(), 65_537), ("b".to_owned(), 1)]);
        let (left,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit_events_customer', 'audit_events_worker')",
        )
        .fetch_one(&pool)
        .await
        .expect("indexes");
        assert_eq!(left, 0, "the indexes left the writer's commits");
    }

    /// PostgreSQL keeps its lookups in indexes and its lookup tables empty,
    /// unless a backup from SQLite filled them: their entries take the run
    /// of their chain's mark there too, and the indexes their short keys.
    #[tokio::test]
    async fn postgres_lookup_entries_from_a_backup_take_their_runs() {
        let (url, _) = crate::testkit::scratch_database(Backend::Postgres).await;
        let pool = any_pool(&url).await;
        let before = migrator_before(Backend::Postgres, 15);
        before.run(&pool).await.expect("migrations 1 to 14");
        sqlx::raw_sql(
            "INSERT INTO audit_lookups_indexed (org, seq) VALUES ('a', 131072);
             INSERT INTO audit_customers (org, customer, at, seq) VALUES ('a', 'C-1', 0, 1), ('b', 'C-1', 0, 1);
             INSERT INTO audit_workers (org, worker, at, seq) VALUES ('a', 'w1', 0, 1)",
        )
        .execute(&pool)
        .await
        .expect("entries from a backup");
        migrator(Backend::Postgres)
            .run(&pool)
            .await
            .expect("migrations 15 and 16");
        let runs: Vec<(String, i64)> = sqlx::query_as(
            "SELECT org, run FROM audit_customers UNION ALL SELECT org, run FROM audit_workers ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .expect("runs");
        let run = |org: &str, run| (org.to_owned(), run);
        assert_eq!(runs, [run("a", 2), run("a", 2), run("b", 0)]);
        let keys: Vec<(String,)> = sqlx::query_as(
            "SELECT indexdef FROM pg_indexes WHERE indexname IN ('audit_events_customer', 'audit_events_worker') ORDER BY indexname",
        )
        .fetch_all(&pool)
        .await
        .expect("indexes");
        let keys: Vec<&str> = keys
            .iter()
            .filter_map(|(def,)| def.rsplit_once(" (").map(|(_, key)| key))
            .collect();
        assert_eq!(keys, ["customer)", "worker, at)"]);
    }
}
