-- Erased customers' addresses, as keyed hashes (HMAC-SHA256 under the
-- organisation's lookup key): a purged person is never mailed again
-- (GDPR art. 21.3), and the address cannot be read back or guessed from
-- here. No foreign key: it outlives the record by design.
CREATE TABLE erased_addresses (
    org TEXT NOT NULL,
    hash TEXT NOT NULL,
    erased_at BIGINT NOT NULL,
    PRIMARY KEY (org, hash)
);

-- When a granted erasure's record was purged (microseconds since the
-- epoch), and why then.
ALTER TABLE rights_requests ADD COLUMN purged_at BIGINT;
ALTER TABLE rights_requests ADD COLUMN purge_reason TEXT;

-- A worker's own customers in id order, straight from the index: the
-- web UI's customer list pages through them without touching anyone
-- else's (replaces the (org, worker) index, a prefix of this one).
DROP INDEX customer_assignments_worker;
CREATE INDEX customer_assignments_worker ON customer_assignments (org, worker, customer);
