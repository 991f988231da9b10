-- API sessions: only the SHA-256 of a session token is stored, so a copy
-- of the database does not let anyone act as a worker.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    worker TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE login_failures (
    org TEXT NOT NULL,
    worker TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_lookup ON login_failures (org, worker, at);
