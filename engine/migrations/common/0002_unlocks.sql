-- Area unlocks: a worker who gave an area's password may open it until
-- `expires_at` (unix seconds). Failed attempts feed the rate limit.
CREATE TABLE area_unlocks (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    customer TEXT NOT NULL,
    area TEXT NOT NULL,
    unlocked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX area_unlocks_lookup ON area_unlocks (org, worker, customer, expires_at);

CREATE TABLE unlock_failures (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    customer TEXT NOT NULL,
    area TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX unlock_failures_lookup ON unlock_failures (org, worker, customer, area, at);
