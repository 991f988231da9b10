//! Migration sets, one per backend, embedded in the binary.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// (version, description, SQLite, PostgreSQL)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "domain",
        include_str!("../../migrations/sqlite/0001_domain.sql"),
        include_str!("../../migrations/postgres/0001_domain.sql"),
    ),
    (
        2,
        "unlocks",
        include_str!("../../migrations/sqlite/0002_unlocks.sql"),
        include_str!("../../migrations/postgres/0002_unlocks.sql"),
    ),
    (
        3,
        "audit",
        include_str!("../../migrations/sqlite/0003_audit.sql"),
        include_str!("../../migrations/postgres/0003_audit.sql"),
    ),
    (
        4,
        "mail",
        include_str!("../../migrations/sqlite/0004_mail.sql"),
        include_str!("../../migrations/postgres/0004_mail.sql"),
    ),
    (
        5,
        "sessions",
        include_str!("../../migrations/sqlite/0005_sessions.sql"),
        include_str!("../../migrations/postgres/0005_sessions.sql"),
    ),
];

/// The audit tables. Replacing an organisation's data never touches them.
pub(super) const AUDIT_TABLES: &[&str] = &["audit_events", "audit_heads", "audit_checkpoints"];

/// The mail guard's tables: opt-outs and what was sent outlive any
/// re-import of an organisation's data.
pub(super) const MAIL_TABLES: &[&str] = &["outbox", "campaigns", "opt_outs", "robinson"];

/// Data tables in an order that deletes children before parents.
pub(super) const TABLES_CHILD_FIRST: &[&str] = &[
    "sessions",
    "login_failures",
    "area_unlocks",
    "unlock_failures",
    "documents",
    "areas",
    "customer_assignments",
    "customers",
    "workers",
    "register_entries",
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
