-- The audit log's worker lookup moves out of the writer's commits too.
-- Workers are a few dozen, so each durable batch put entries on that many
-- pages of `audit_events (org, worker, at)` and wrote them whole: with
-- the customer index gone, that index alone cost the writer a third of
-- its rate (BENCHMARKS.md, "The worker index too"). Its entries now go
-- into `audit_workers`, brought up with the customers' at the same marks,
-- so the mark table is named for both. The time index stays: its inserts
-- land at the end. (PostgreSQL keeps the index: see its migration 14.)
ALTER TABLE audit_customers_indexed RENAME TO audit_lookups_indexed;
CREATE TABLE audit_workers (
    org TEXT NOT NULL,
    worker TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, worker, at, seq)
) WITHOUT ROWID;
-- Entries up to each chain's mark, as the customers' reach; lookups read
-- the events after it.
INSERT INTO audit_workers (org, worker, at, seq)
    SELECT e.org, e.worker, e.at, e.seq
    FROM audit_events AS e JOIN audit_lookups_indexed AS i ON i.org = e.org
    WHERE e.worker IS NOT NULL AND e.seq <= i.seq
    ORDER BY e.org, e.worker, e.at, e.seq;
DROP INDEX audit_events_worker;
