-- The audit log's customer lookup moves out of the writer's commits.
-- Customers are many, so an index on `audit_events (org, customer, at)`
-- took each event's entry at a random page, and every durable batch wrote
-- thousands of those pages whole (BENCHMARKS.md, "The customer index out
-- of the writer's commits"). The entries now go into a table of their
-- own in sorted runs, every 65,536 events of a chain, and
-- `audit_customers_indexed` says how far each chain's entries reach; a
-- lookup reads the table and the chain's events after that point. The
-- worker and time indexes stay: their inserts land at a few pages.
-- (PostgreSQL keeps the index: see its migration 13.)
CREATE TABLE audit_customers (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, customer, at, seq)
) WITHOUT ROWID;
CREATE TABLE audit_customers_indexed (
    org TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO audit_customers (org, customer, at, seq)
    SELECT org, customer, at, seq FROM audit_events WHERE customer IS NOT NULL;
INSERT INTO audit_customers_indexed (org, seq)
    SELECT org, MAX(seq) FROM audit_events GROUP BY org;
DROP INDEX audit_events_customer;
