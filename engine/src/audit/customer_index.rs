//! The customer lookup of the audit log, kept out of the writer's
//! durable commits.
//!
//! Customers are many, so a B-tree on `audit_events (org, customer, at)`
//! takes each event's entry at a random page, and every durable batch
//! writes each page it touched whole: on SQLite that index alone held the
//! writer below half its rate (BENCHMARKS.md, "The customer index out of
//! the writer's commits"). Its entries go instead into `audit_customers`
//! in sorted runs, once a chain's head crosses a multiple of [`EVERY`],
//! inside the transaction of whatever append crossed it (a writer's batch
//! or a change). `audit_heads.customers_indexed` says how far the table
//! reaches; a lookup reads the table and the chain's events after that
//! point, which are at most [`EVERY`] and one batch.
//!
//! The table is derived: `verify` never reads it, and a store restored
//! without it (or with a watermark of 0) answers the same, only slower,
//! until the next run fills it.

use crate::error::Result;
use crate::store::Backend;

/// How many events a chain's customer index may lag behind its head
/// before an append brings it up to date.
pub(crate) const EVERY: i64 = 65_536;

/// Whether moving a head from `from` to `to` brings the index up to date.
/// Decided from the sequences alone, so that every appender (the writer,
/// changes through the pool, other servers) runs it at the same places
/// without knowing of the others.
pub(crate) fn due(from: i64, to: i64) -> bool {
    from.div_euclid(EVERY) != to.div_euclid(EVERY)
}

/// Adds the entries of `$1`'s events after its watermark, up to `$2`, in
/// key order (so the table's pages are written in runs, not at random).
/// Run under the head's lock; an entry already there is left alone, since
/// a derived index must never fail an append.
pub(crate) const CATCH_UP: &str = "INSERT INTO audit_customers (org, customer, at, seq)
     SELECT org, customer, at, seq FROM audit_events
     WHERE org = $1 AND customer IS NOT NULL
       AND seq > (SELECT customers_indexed FROM audit_heads WHERE org = $1) AND seq <= $2
     ORDER BY customer, at, seq
     ON CONFLICT DO NOTHING";

/// Moves `$1`'s watermark to `$2`, after [`CATCH_UP`].
pub(crate) const SET_WATERMARK: &str =
    "UPDATE audit_heads SET customers_indexed = $2 WHERE org = $1 AND customers_indexed < $2";

/// Removes the entries of pruned events (`seq <= $2`) with them.
pub(crate) const PRUNE: &str = "DELETE FROM audit_customers WHERE org = $1 AND seq <= $2";

/// The rows of org `$1` whose customer may be the one at placeholder
/// `customer`, as a FROM clause whose rows are named `audit_events`: the
/// sequences the table lists for that customer and every sequence after
/// the watermark, each probing the primary key. (A chain with no head row
/// has its every event read: wrong data makes a lookup slow, never
/// incomplete.) The caller still filters on `customer` itself.
///
/// The candidates always drive (SQLite keeps a `CROSS JOIN`'s order, and
/// PostgreSQL cannot turn a `LATERAL` subquery with a `LIMIT` round):
/// with stale statistics PostgreSQL once scanned the time window and, for
/// each of its 9,436 rows, every entry of the customer, for 10 s.
pub(crate) fn source(backend: Backend, customer: usize) -> String {
    let candidates = format!(
        "(SELECT seq AS candidate FROM audit_customers WHERE org = $1 AND customer = ${customer}
          UNION
          SELECT seq FROM audit_events WHERE org = $1
            AND seq > COALESCE((SELECT customers_indexed FROM audit_heads WHERE org = $1), 0)) AS c"
    );
    match backend {
        Backend::Sqlite => format!(
            "{candidates} CROSS JOIN audit_events ON audit_events.org = $1 AND audit_events.seq = c.candidate"
        ),
        Backend::Postgres => format!(
            "{candidates} CROSS JOIN LATERAL (SELECT * FROM audit_events e WHERE e.org = $1 AND e.seq = c.candidate LIMIT 1) AS audit_events"
        ),
    }
}

/// Brings `org`'s customer index up to `to` on either sqlx driver, inside
/// the caller's transaction, when a head move from `from` makes it due.
pub(crate) async fn catch_up<DB>(
    conn: &mut DB::Connection,
    org: &str,
    from: i64,
    to: i64,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if !due(from, to) {
        return Ok(());
    }
    for statement in [CATCH_UP, SET_WATERMARK] {
        sqlx::query(statement)
            .bind(org)
            .bind(to)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_due_only_where_a_head_crosses_a_multiple() {
        assert!(!due(0, 1));
        assert!(!due(0, EVERY - 1));
        assert!(due(0, EVERY));
        assert!(due(EVERY - 1, EVERY));
        assert!(!due(EVERY, 2 * EVERY - 1));
        assert!(due(10, 3 * EVERY + 5));
    }
}
