-- The audit log's customer lookup moves out of the writer's commits.
-- Customers are many, so an index on `audit_events (org, customer, at)`
-- took each event's entry at a random page, and every durable batch wrote
-- thousands of those pages whole: the writer stored 47,000-50,000 events/s
-- with it and 110,000-142,000 without (BENCHMARKS.md, "The customer index
-- out of the writer's commits"). The entries now go into a table of their
-- own in sorted runs, every 65,536 events of a chain, and
-- `audit_heads.customers_indexed` says how far that table reaches; a
-- lookup reads the table and scans the chain's events after that point.
-- The worker and time indexes stay: their inserts land at a few pages.
CREATE TABLE audit_customers (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, customer, at, seq)
) WITHOUT ROWID;
ALTER TABLE audit_heads ADD COLUMN customers_indexed BIGINT NOT NULL DEFAULT 0;
INSERT INTO audit_customers (org, customer, at, seq)
    SELECT org, customer, at, seq FROM audit_events WHERE customer IS NOT NULL;
UPDATE audit_heads SET customers_indexed =
    COALESCE((SELECT MAX(seq) FROM audit_events e WHERE e.org = audit_heads.org), 0);
DROP INDEX audit_events_customer;
