-- Data-subject rights (GDPR arts. 12, 15-22): the register of requests.
-- Evidence, like the audit log: no foreign keys, so neither the purge of
-- a record nor a re-import of the organisation removes a request.
CREATE TABLE rights_requests (
    org TEXT NOT NULL,
    id BIGINT NOT NULL,
    customer TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- YYYY-MM-DD.
    received TEXT NOT NULL,
    channel TEXT NOT NULL,
    identity_check TEXT,
    identity_checked_by TEXT,
    identity_checked_at BIGINT,
    -- YYYY-MM-DD: one month after `received`, three when extended.
    due TEXT NOT NULL,
    extension_reason TEXT,
    -- open | granted | refused
    status TEXT NOT NULL,
    answered_at BIGINT,
    answer TEXT,
    PRIMARY KEY (org, id)
);

-- A blocked (LOPDGDD art. 32) or restricted (GDPR art. 18) record, and
-- since when (microseconds since the epoch).
ALTER TABLE customers ADD COLUMN restriction TEXT;
ALTER TABLE customers ADD COLUMN restricted_at BIGINT;
