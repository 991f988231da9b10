-- SQLite's lookup tables take a run number (see SQLite's migration 15),
-- here too, so that both backends have one schema and a backup moves
-- between them. PostgreSQL keeps its indexes on `audit_events` and
-- leaves the tables empty, unless a backup from SQLite filled them.
ALTER TABLE audit_customers ADD COLUMN run BIGINT NOT NULL DEFAULT 0;
UPDATE audit_customers AS e SET run = i.seq / 65536
    FROM audit_lookups_indexed AS i WHERE i.org = e.org;
ALTER TABLE audit_customers ALTER COLUMN run DROP DEFAULT;
ALTER TABLE audit_customers DROP CONSTRAINT audit_customers_pkey;
ALTER TABLE audit_customers ADD PRIMARY KEY (org, run, customer, at, seq);
ALTER TABLE audit_workers ADD COLUMN run BIGINT NOT NULL DEFAULT 0;
UPDATE audit_workers AS e SET run = i.seq / 65536
    FROM audit_lookups_indexed AS i WHERE i.org = e.org;
ALTER TABLE audit_workers ALTER COLUMN run DROP DEFAULT;
ALTER TABLE audit_workers DROP CONSTRAINT audit_workers_pkey;
ALTER TABLE audit_workers ADD PRIMARY KEY (org, run, worker, at, seq);
