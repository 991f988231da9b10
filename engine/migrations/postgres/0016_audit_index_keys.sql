-- Shorter keys for the audit log's lookups on PostgreSQL, where they stay
-- indexes of `audit_events` (SQLite keeps them apart: its migrations 13
-- to 15). Every key began with the organisation, the same for all of a
-- chain's entries, and the customer's ended with the time, which made
-- each key unique: PostgreSQL could not fold a customer's entries into
-- one posting list. Keyed by the customer alone and by (worker, time),
-- the table took rows at about 120,000/s against 95,000/s (`psql`,
-- commits of 4,096 rows; BENCHMARKS.md, "Shorter index keys on
-- PostgreSQL").
-- Lookups still name the organisation, checked on each row the index
-- finds; a customer's events are few, and a worker's are read by time.
DROP INDEX audit_events_customer;
CREATE INDEX audit_events_customer ON audit_events (customer);
DROP INDEX audit_events_worker;
CREATE INDEX audit_events_worker ON audit_events (worker, at);
