-- The audit log's index keys compare as bytes. They are identifiers
-- (organisation slugs, worker names, customer ids or their pseudonyms),
-- never text a person sorts, and the cluster's default collation made
-- every comparison in the four indexes a locale comparison: most of a
-- row's insert time is spent in those comparisons (BENCHMARKS.md, "The
-- audit log's keys in byte order"). SQLite compares as bytes already.
ALTER TABLE audit_events
    ALTER COLUMN org TYPE TEXT COLLATE "C",
    ALTER COLUMN worker TYPE TEXT COLLATE "C",
    ALTER COLUMN customer TYPE TEXT COLLATE "C";
