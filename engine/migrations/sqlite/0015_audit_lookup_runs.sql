-- The audit log's lookup entries go in runs: each bringing-up of a
-- chain's entries is keyed first by its run number (the multiple of
-- 65,536 its head crossed), so it is written at the end of the table in
-- key order. Merged into one order, a bringing-up wrote pages all over a
-- table that grows with the log: 753 ms into four million entries against
-- 55 ms into none; in runs it takes the same at any size (BENCHMARKS.md,
-- "Lookup entries in runs"). The entries already there become the run of
-- their chain's mark.
CREATE TABLE audit_customer_runs (
    org TEXT NOT NULL,
    run BIGINT NOT NULL,
    customer TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, run, customer, at, seq)
) WITHOUT ROWID;
INSERT INTO audit_customer_runs (org, run, customer, at, seq)
    SELECT e.org, COALESCE(i.seq, 0) / 65536, e.customer, e.at, e.seq
    FROM audit_customers AS e LEFT JOIN audit_lookups_indexed AS i ON i.org = e.org
    ORDER BY 1, 2, 3, 4, 5;
DROP TABLE audit_customers;
ALTER TABLE audit_customer_runs RENAME TO audit_customers;
CREATE TABLE audit_worker_runs (
    org TEXT NOT NULL,
    run BIGINT NOT NULL,
    worker TEXT NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, run, worker, at, seq)
) WITHOUT ROWID;
INSERT INTO audit_worker_runs (org, run, worker, at, seq)
    SELECT e.org, COALESCE(i.seq, 0) / 65536, e.worker, e.at, e.seq
    FROM audit_workers AS e LEFT JOIN audit_lookups_indexed AS i ON i.org = e.org
    ORDER BY 1, 2, 3, 4, 5;
DROP TABLE audit_workers;
ALTER TABLE audit_worker_runs RENAME TO audit_workers;
