-- The audit log: one hash chain per organisation. Rows are only ever
-- inserted; `custodia audit verify` recomputes the chain.
CREATE TABLE audit_events (
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    worker TEXT,
    action TEXT,
    resource TEXT,
    customer TEXT,
    area TEXT,
    document TEXT,
    decision TEXT,
    rules TEXT,
    address TEXT,
    channel TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (org, seq)
);
-- Breach scoping and queries: by worker or customer within a time window.
CREATE INDEX audit_events_worker ON audit_events (org, worker, at);
CREATE INDEX audit_events_customer ON audit_events (org, customer, at);
CREATE INDEX audit_events_at ON audit_events (org, at);

-- The head of each chain; the single writer locks it for each batch.
CREATE TABLE audit_heads (
    org TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

-- Ed25519-signed checkpoints of a chain's head.
CREATE TABLE audit_checkpoints (
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    at BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (org, seq)
);
