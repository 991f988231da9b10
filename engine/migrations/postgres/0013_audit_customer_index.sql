-- The tables SQLite keeps its audit customer lookup in (see SQLite's
-- migration 13). PostgreSQL keeps the index on `audit_events (org,
-- customer, at)`: its WAL records each index insert, not the page it lands
-- on, so the random inserts cost it CPU rather than pages written, and
-- bringing entries up apart cost the writer more than the index did
-- (BENCHMARKS.md, "The customer index out of the writer's commits"). The
-- tables exist here so that both backends have one schema and a backup
-- moves between them; PostgreSQL leaves them empty.
CREATE TABLE audit_customers (
    org TEXT COLLATE "C" NOT NULL,
    customer TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (org, customer, at, seq)
);
CREATE TABLE audit_customers_indexed (
    org TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT NOT NULL
);
