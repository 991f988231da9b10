-- The tables SQLite keeps its audit lookups in (see SQLite's migration
-- 14): the mark table is named for both lookups, and `audit_workers`
-- exists so that both backends have one schema and a backup moves between
-- them. PostgreSQL keeps the index on `audit_events (org, worker, at)`,
-- as it keeps the customers' (its migration 13), and leaves the tables
-- empty.
ALTER TABLE audit_customers_indexed RENAME TO audit_lookups_indexed;
CREATE TABLE audit_workers (
    org TEXT COLLATE "C" NOT NULL,
    worker TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, worker, at, seq)
);
