//! Snapshots of the whole store: every table read in one transaction, so
//! the snapshot is consistent while the server keeps writing, and written
//! back into an empty store of either backend in one transaction.
//!
//! The snapshot is logical (rows, not pages): a SQLite store restores into
//! PostgreSQL and back. Sealed contents stay sealed in it; the caller
//! encrypts the whole (`custodia backup`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use super::{Backend, Store};
use crate::error::{Error, Result};

/// Every table, parents before children: the order rows are restored in.
// INVARIANT: every table the migrations create is listed here (tested), so
// a backup never silently leaves one out.
pub const TABLES: &[&str] = &[
    "organisations",
    "workers",
    "customers",
    "customer_assignments",
    "areas",
    "documents",
    "register_entries",
    "vault_org_keys",
    "vault_customer_keys",
    "vault_items",
    "area_unlocks",
    "unlock_failures",
    "sessions",
    "login_failures",
    "audit_events",
    "audit_heads",
    "audit_customers",
    "audit_workers",
    "audit_lookups_indexed",
    "audit_checkpoints",
    "audit_cosignatures",
    "campaigns",
    "outbox",
    "opt_outs",
    "robinson",
    "robinson_lists",
    "breach_notices",
    "rights_requests",
    "erased_addresses",
];

/// One column and whether it holds integers (else text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub integer: bool,
}

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDump {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// The whole store at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    pub taken_at: chrono::DateTime<chrono::Utc>,
    /// The migration the schema was at.
    pub schema_version: i64,
    pub tables: Vec<TableDump>,
}

/// The format [`Store::snapshot`] writes.
pub const SNAPSHOT_FORMAT: u32 = 1;

impl Snapshot {
    /// Rows per table.
    pub fn counts(&self) -> BTreeMap<String, i64> {
        self.tables
            .iter()
            .map(|t| (t.name.clone(), t.rows.len() as i64))
            .collect()
    }
}

async fn columns(conn: &mut AnyConnection, backend: Backend, table: &str) -> Result<Vec<Column>> {
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite => {
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut *conn)
                .await?
        }
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    if rows.is_empty() {
        return Err(Error::corrupt(format!("table `{table}` is missing")));
    }
    Ok(rows
        .into_iter()
        .map(|(name, kind)| Column {
            name,
            integer: kind.to_ascii_lowercase().contains("int"),
        })
        .collect())
}

fn quoted(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Reads every table in one read transaction: a consistent snapshot
    /// while writers go on (SQLite's WAL snapshot; PostgreSQL's
    /// repeatable read).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool().acquire().await?;
        match self.backend() {
            Backend::Sqlite => sqlx::query("BEGIN").execute(&mut *conn).await?,
            Backend::Postgres => {
                sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *conn)
                    .await?
            }
        };
        let result = self.read_tables(&mut conn).await;
        // A read-only transaction: ending it changes nothing either way.
        sqlx::query("ROLLBACK").execute(&mut *conn).await?;
        result
    }

    async fn read_tables(&self, conn: &mut AnyConnection) -> Result<Snapshot> {
        let (schema_version,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
                .fetch_one(&mut *conn)
                .await?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for &name in TABLES {
            let columns = columns(conn, self.backend(), name).await?;
            let sql = format!("SELECT {} FROM {name} ORDER BY 1, 2", quoted(&columns));
            let mut rows = Vec::new();
            for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
                let mut values = Vec::with_capacity(columns.len());
                for (i, column) in columns.iter().enumerate() {
                    let value = if column.integer {
                        row.try_get::<Option<i64>, _>(i)?
                            .map_or(serde_json::Value::Null, serde_json::Value::from)
                    } else {
                        row.try_get::<Option<String>, _>(i)?
                            .map_or(serde_json::Value::Null, serde_json::Value::from)
                    };
                    values.push(value);
                }
                rows.push(values);
            }
            tables.push(TableDump {
                name: name.to_owned(),
                columns,
                rows,
            });
        }
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT,
            taken_at: chrono::Utc::now(),
            schema_version,
            tables,
        })
    }

    /// Writes a snapshot into this store, which must hold no organisation,
    /// in one transaction: a failure leaves it empty.
    pub async fn restore(&self, snapshot: &Snapshot) -> Result<BTreeMap<String, i64>> {
        if snapshot.format != SNAPSHOT_FORMAT {
            return Err(Error::corrupt(format!(
                "backup format {} (this version reads {SNAPSHOT_FORMAT})",
                snapshot.format
            )));
        }
        if !self.organisations().await?.is_empty() {
            return Err(Error::StoreNotEmpty(self.display_url().to_owned()));
        }
        let mut tx = self.pool().begin().await?;
        for table in &snapshot.tables {
            if !TABLES.contains(&table.name.as_str()) {
                return Err(Error::corrupt(format!(
                    "backup holds unknown table `{}`",
                    table.name
                )));
            }
            let placeholders = (1..=table.columns.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                table.name,
                quoted(&table.columns)
            );
            for (n, row) in table.rows.iter().enumerate() {
                if row.len() != table.columns.len() {
                    return Err(Error::corrupt(format!(
                        "backup table `{}`, row {}: wrong width",
                        table.name,
                        n + 1
                    )));
                }
                let mut query = sqlx::query(&sql);
                for (value, column) in row.iter().zip(&table.columns) {
                    query = if column.integer {
                        query.bind(value.as_i64())
                    } else {
                        query.bind(value.as_str().map(str::to_owned))
                    };
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(snapshot.counts())
    }

    /// Rows per table now.
    pub async fn table_counts(&self) -> Result<BTreeMap<String, i64>> {
        let mut counts = BTreeMap::new();
        for &name in TABLES {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {name}"))
                .fetch_one(self.pool())
                .await?;
            counts.insert(name.to_owned(), n);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Backend;
    use crate::store::migrations::{migrator, scratch_sqlite};

    #[tokio::test]
    async fn every_migrated_table_is_backed_up() {
        // The tables a migrated database holds, as SQLite lists them: a
        // table renamed or dropped by a later migration counts as it ends.
        let dir = tempfile::tempdir().expect("dir");
        let pool = scratch_sqlite(dir.path()).await;
        migrator(Backend::Sqlite)
            .run(&pool)
            .await
            .expect("migrations");
        let created: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(&pool)
        .await
        .expect("tables");
        let created: std::collections::BTreeSet<String> =
            created.into_iter().map(|(t,)| t).collect();
        let listed: std::collections::BTreeSet<String> =
            super::TABLES.iter().map(|t| (*t).to_owned()).collect();
        assert_eq!(created, listed);
    }
}
