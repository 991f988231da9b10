//! The audit log's lookups by customer and by worker on SQLite, kept out
//! of the writer's durable commits.
//!
//! Customers are many and workers a few dozen, so B-trees on
//! `audit_events (org, customer, at)` and `(org, worker, at)` take each
//! event's entries at pages all over the index, and SQLite's WAL gets
//! every page a commit touched, whole: the customer index alone held the
//! writer to about half its rate, and the worker index then cost it a
//! third of what was left (BENCHMARKS.md, "The customer index out of the
//! writer's commits" and "The worker index too"). On SQLite the entries go
//! instead into `audit_customers` and `audit_workers`, once a chain's head
//! crosses a multiple of [`EVERY`], in the transaction of the append that
//! crossed it (the writer's batch, or a change through the pool), and
//! `audit_lookups_indexed` says how far each chain's entries reach (its
//! mark). A lookup reads a table and the chain's events after the mark: at
//! most [`EVERY`] and a batch.
//!
//! Each bringing-up is a run of its own, keyed first by its number (the
//! multiple it crossed), so it is written at the end of the table in key
//! order, and costs the same in a table of four million entries as in an
//! empty one; merged into one order it took fourteen times as long there
//! (BENCHMARKS.md, "Lookup entries in runs"). A lookup probes each run:
//! one seek per 65,536 events of the chain.
//!
//! PostgreSQL keeps the indexes on `audit_events`: its WAL records an
//! index insert, not the page, and entries brought up apart (by a
//! connection of their own, so that the writer's batches never waited on
//! them) cost its writer 7-20% against the index ([`kept_apart`]); in runs
//! they cost it as much a row as the index does.
//!
//! The tables are derived: `verify` never reads them, and a chain with no
//! mark (a store restored from PostgreSQL's backup) answers the same, only
//! slower, until its next crossing fills them in.

use std::sync::LazyLock;

use sqlx::AnyConnection;

use crate::error::Result;
use crate::store::Backend;

/// How many events a chain's lookup entries may lag behind its head
/// before an append brings them up.
pub const EVERY: i64 = 65_536;

/// A column the audit log is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Customer,
    Worker,
}

impl Lookup {
    const ALL: [Self; 2] = [Self::Customer, Self::Worker];

    /// The column of `audit_events`, and of the lookup's own table.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Worker => "worker",
        }
    }

    /// The table its entries are kept in on SQLite.
    fn table(self) -> &'static str {
        match self {
            Self::Customer => "audit_customers",
            Self::Worker => "audit_workers",
        }
    }
}

/// Whether `backend` keeps lookup entries apart from `audit_events`
/// (SQLite), or in indexes of it (PostgreSQL).
pub(crate) fn kept_apart(backend: Backend) -> bool {
    backend == Backend::Sqlite
}

/// Whether moving a head from `from` to `to` brings the entries up.
/// Decided from the sequences alone, so that every appender (the writer,
/// changes through the pool, other servers) does it at the same places
/// without knowing of the others.
pub(crate) fn due(from: i64, to: i64) -> bool {
    from.div_euclid(EVERY) != to.div_euclid(EVERY)
}

/// `$1`'s mark, in SQL: how far its entries reach (0 for none).
const MARK: &str = "COALESCE((SELECT seq FROM audit_lookups_indexed WHERE org = $1), 0)";

/// The run number, in SQL, of entries brought up to the sequence `mark`
/// (an SQL expression): the multiple of [`EVERY`] the head crossed there,
/// so each crossing's run comes after every earlier one's.
fn run_of(mark: &str) -> String {
    format!("{mark} / {EVERY}")
}

/// The statement adding `lookup`'s entries of `$1`'s events after its
/// mark, up to `$2`, as a run of their own in key order (so they are
/// written at the end of the table, whatever its size). Run under SQLite's
/// write lock, so no other run or prune interleaves. An entry already
/// there is left alone: a derived index must never fail an append.
fn catch_up_sql(lookup: Lookup) -> String {
    let (table, column) = (lookup.table(), lookup.column());
    format!(
        "INSERT INTO {table} (org, run, {column}, at, seq)
         SELECT org, {run}, {column}, at, seq FROM audit_events
         WHERE org = $1 AND {column} IS NOT NULL
           AND seq > {MARK}
           AND seq <= $2
         ORDER BY {column}, at, seq
         ON CONFLICT DO NOTHING",
        run = run_of("$2"),
    )
}

/// Moves `$1`'s mark up to `$2` (never down), giving it one if it has
/// none.
const SET_MARK: &str = "INSERT INTO audit_lookups_indexed (org, seq) VALUES ($1, $2)
     ON CONFLICT (org) DO UPDATE SET seq = excluded.seq WHERE audit_lookups_indexed.seq < excluded.seq";

/// What brings `$1`'s entries up to `$2`, in the transaction that moved
/// its head to `$2` (so every event up to it is there): each statement on
/// (`$1`, `$2`), for the `Any` driver here and the writer's own
/// connection in [`super::sqlite`]. The mark moves last: the statements
/// before it read where it was.
pub(crate) static CATCH_UP_TO: LazyLock<Vec<String>> = LazyLock::new(|| {
    Lookup::ALL
        .map(catch_up_sql)
        .into_iter()
        .chain([SET_MARK.to_owned()])
        .collect()
});

/// Removes the entries of pruned events (`seq <= $2`) with them, from
/// every lookup's table.
static PRUNE: LazyLock<Vec<String>> = LazyLock::new(|| {
    Lookup::ALL
        .map(|l| format!("DELETE FROM {} WHERE org = $1 AND seq <= $2", l.table()))
        .into()
});

/// The rows of org `$1` whose `lookup` column may hold the value at
/// placeholder `value`, as a FROM clause whose rows are named
/// `audit_events`: the sequences each run of the lookup's table lists for
/// that value (a seek per run, every run number up to the mark's) and
/// every sequence after the mark, each probing the primary key (`CROSS
/// JOIN`s, whose order SQLite keeps). `window` (clauses on `at`) narrows
/// both before the probes. A chain with no mark has its every event read:
/// missing entries make a lookup slow, never incomplete. The caller still
/// filters on the column and the window itself.
// INVARIANT: a lookup reads every event of the chain after its mark, and
// before it those its entries name, in every run up to the mark's;
// `catch_up` adds an entry for every event up to the mark it sets, in the
// same transaction, in the run of that mark.
pub(crate) fn source(lookup: Lookup, value: usize, window: &[String]) -> String {
    let (table, column) = (lookup.table(), lookup.column());
    let window: String = window.iter().map(|c| format!(" AND {c}")).collect();
    let last_run = run_of(MARK);
    format!(
        "(SELECT seq AS candidate FROM
            (WITH RECURSIVE runs(run) AS (SELECT 0 UNION ALL SELECT run + 1 FROM runs WHERE run < {last_run})
             SELECT run FROM runs) AS r
            CROSS JOIN {table} AS e ON e.org = $1 AND e.run = r.run AND e.{column} = ${value}{window}
          UNION
          SELECT seq FROM audit_events WHERE org = $1
            AND seq > {MARK}{window}) AS c
         CROSS JOIN audit_events ON audit_events.org = $1 AND audit_events.seq = c.candidate"
    )
}

/// Runs `statements`, each on (`org`, `seq`).
async fn run(
    conn: &mut AnyConnection,
    statements: impl IntoIterator<Item = &str>,
    org: &str,
    seq: i64,
) -> Result<()> {
    for statement in statements {
        sqlx::query(statement)
            .bind(org)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Brings `org`'s entries up to `to` inside the caller's transaction
/// ([`CATCH_UP_TO`]).
pub(crate) async fn catch_up(conn: &mut AnyConnection, org: &str, to: i64) -> Result<()> {
    run(conn, CATCH_UP_TO.iter().map(String::as_str), org, to).await
}

/// Removes the entries of `org`'s events up to `anchor`, which a prune
/// removes in the same transaction, and moves the mark past them.
pub(crate) async fn prune(conn: &mut AnyConnection, org: &str, anchor: i64) -> Result<()> {
    run(conn, [SET_MARK], org, anchor).await?;
    run(conn, PRUNE.iter().map(String::as_str), org, anchor).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_due_only_where_a_head_crosses_a_multiple() {
        assert!(!due(0, 1));
        assert!(!due(0, EVERY - 1));
        assert!(due(0, EVERY));
        assert!(due(EVERY - 1, EVERY));
        assert!(!due(EVERY, 2 * EVERY - 1));
        assert!(due(10, 3 * EVERY + 5));
    }

    /// The number of `org` `'a'`'s events of `sql` (a FROM clause and
    /// conditions), with `value` as `$2`.
    async fn count(pool: &sqlx::AnyPool, sql: &str, value: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {sql}"))
            .bind("a")
            .bind(value)
            .fetch_one(pool)
            .await
            .expect("count");
        n
    }

    #[tokio::test]
    async fn each_bringing_up_is_a_run_and_lookups_read_every_run() {
        let (url, _dir) = crate::testkit::scratch_database(Backend::Sqlite).await;
        let store = crate::store::Store::init(&url).await.expect("store");
        let pool = store.pool();
        let n = 2 * EVERY + 40;
        sqlx::query(&format!(
            "INSERT INTO audit_events (org, seq, at, kind, customer, worker, prev_hash, hash)
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
             SELECT 'a', i, i, 'decision', 'C-' || (i % 3), 'w' || (i % 2), '-', '-' FROM s"
        ))
        .execute(pool)
        .await
        .expect("events");
        let mut conn = pool.acquire().await.expect("connection");
        for mark in [EVERY + 5, 2 * EVERY + 3] {
            catch_up(&mut conn, "a", mark).await.expect("catch up");
        }
        let runs: Vec<(i64, i64)> =
            sqlx::query_as("SELECT run, COUNT(*) FROM audit_customers GROUP BY run ORDER BY run")
                .fetch_all(pool)
                .await
                .expect("runs");
        assert_eq!(
            runs,
            [(1, EVERY + 5), (2, EVERY - 2)],
            "one run per bringing-up"
        );
        for (lookup, value) in [(Lookup::Customer, "C-1"), (Lookup::Worker, "w0")] {
            let column = lookup.column();
            let stored = count(
                pool,
                &format!("audit_events WHERE org = $1 AND {column} = $2"),
                value,
            )
            .await;
            let window = ["at > 100".to_owned(), format!("at <= {}", 2 * EVERY + 20)];
            let in_window = count(
                pool,
                &format!(
                    "audit_events WHERE org = $1 AND {column} = $2 AND {}",
                    window.join(" AND ")
                ),
                value,
            )
            .await;
            let found = format!(
                "{} WHERE audit_events.{column} = $2",
                source(lookup, 2, &[])
            );
            assert_eq!(
                count(pool, &found, value).await,
                stored,
                "{value}: in both runs and after the mark"
            );
            let found = format!(
                "{} WHERE audit_events.{column} = $2",
                source(lookup, 2, &window)
            );
            assert_eq!(
                count(pool, &found, value).await,
                in_window,
                "{value}: in the window"
            );
        }
    }

    #[test]
    fn each_lookup_is_brought_up_from_its_own_column() {
        assert!(
            CATCH_UP_TO[0].contains("INSERT INTO audit_customers (org, run, customer, at, seq)")
        );
        assert!(
            CATCH_UP_TO[1].contains("SELECT org, $2 / 65536, worker, at, seq FROM audit_events")
        );
        assert!(CATCH_UP_TO[2].starts_with("INSERT INTO audit_lookups_indexed"));
    }
}
