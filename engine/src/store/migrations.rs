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
];

/// The audit tables. Replacing an organisation's data never touches them.
pub(super) const AUDIT_TABLES: &[&str] = &[
    "audit_events",
    "audit_heads",
    "audit_customers",
    "audit_customers_indexed",
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
