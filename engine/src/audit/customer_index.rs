//! The customer lookup of the audit log on SQLite, kept out of the
//! writer's durable commits.
//!
//! Customers are many, so a B-tree on `audit_events (org, customer, at)`
//! takes each event's entry at a random page, and SQLite's WAL gets every
//! page a commit touched, whole: that index alone held the writer to
//! about half its rate (BENCHMARKS.md, "The customer index out of the
//! writer's commits"). On SQLite its entries go instead into
//! `audit_customers` in sorted runs, once a chain's head crosses a
//! multiple of [`EVERY`], in the transaction of the append that crossed it
//! (the writer's batch, or a change through the pool), and
//! `audit_customers_indexed` says how far each chain's entries reach (its
//! mark). A lookup reads the table and the chain's events after the mark:
//! at most [`EVERY`] and a batch.
//!
//! PostgreSQL keeps the index on `audit_events`: its WAL records an index
//! insert, not the page, and entries brought up apart (by a connection of
//! their own, so that the writer's batches never waited on them) cost its
//! writer 7-20% against the index ([`kept_apart`]).
//!
//! The table is derived: `verify` never reads it, and a chain with no
//! mark (a store restored from PostgreSQL's backup) answers the same, only
//! slower, until its next crossing fills it in.

use sqlx::AnyConnection;

use crate::error::Result;
use crate::store::Backend;

/// How many events a chain's customer entries may lag behind its head
/// before an append brings them up.
pub const EVERY: i64 = 65_536;

/// Whether `backend` keeps customer entries apart from `audit_events`
/// (SQLite), or in an index of it (PostgreSQL).
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

/// Adds the entries of `$1`'s events after its mark, up to `$2`, in key
/// order (so the table's pages are written in runs, not at random). Run
/// under SQLite's write lock, so no other run or prune interleaves. An
/// entry already there is left alone: a derived index must never fail an
/// append.
const CATCH_UP: &str = "INSERT INTO audit_customers (org, customer, at, seq)
     SELECT org, customer, at, seq FROM audit_events
     WHERE org = $1 AND customer IS NOT NULL
       AND seq > COALESCE((SELECT seq FROM audit_customers_indexed WHERE org = $1), 0)
       AND seq <= $2
     ORDER BY customer, at, seq
     ON CONFLICT DO NOTHING";

/// Moves `$1`'s mark up to `$2` (never down), giving it one if it has
/// none.
const SET_MARK: &str = "INSERT INTO audit_customers_indexed (org, seq) VALUES ($1, $2)
     ON CONFLICT (org) DO UPDATE SET seq = excluded.seq WHERE audit_customers_indexed.seq < excluded.seq";

/// What brings `$1`'s entries up to `$2`, in the transaction that moved
/// its head to `$2` (so every event up to it is there): each statement on
/// (`$1`, `$2`), for the `Any` driver here and the writer's own
/// connection in [`super::sqlite`].
pub(crate) const CATCH_UP_TO: [&str; 2] = [CATCH_UP, SET_MARK];

/// Removes the entries of pruned events (`seq <= $2`) with them.
const PRUNE: &str = "DELETE FROM audit_customers WHERE org = $1 AND seq <= $2";

/// The rows of org `$1` whose customer may be the one at placeholder
/// `customer`, as a FROM clause whose rows are named `audit_events`: the
/// sequences the table lists for that customer and every sequence after
/// the mark, each probing the primary key (a `CROSS JOIN`, whose order
/// SQLite keeps). A chain with no mark has its every event read: missing
/// entries make a lookup slow, never incomplete. The caller still filters
/// on `customer` itself.
// INVARIANT: a lookup reads every event of the chain after its mark, and
// before it those its entries name; `catch_up` adds an entry for every
// event up to the mark it sets, in the same transaction.
pub(crate) fn source(customer: usize) -> String {
    format!(
        "(SELECT seq AS candidate FROM audit_customers WHERE org = $1 AND customer = ${customer}
          UNION
          SELECT seq FROM audit_events WHERE org = $1
            AND seq > COALESCE((SELECT seq FROM audit_customers_indexed WHERE org = $1), 0)) AS c
         CROSS JOIN audit_events ON audit_events.org = $1 AND audit_events.seq = c.candidate"
    )
}

/// Runs `statements`, each on (`org`, `seq`).
async fn run(conn: &mut AnyConnection, statements: &[&str], org: &str, seq: i64) -> Result<()> {
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
    run(conn, &CATCH_UP_TO, org, to).await
}

/// Removes the entries of `org`'s events up to `anchor`, which a prune
/// removes in the same transaction, and moves the mark past them.
pub(crate) async fn prune(conn: &mut AnyConnection, org: &str, anchor: i64) -> Result<()> {
    run(conn, &[SET_MARK, PRUNE], org, anchor).await
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
}
