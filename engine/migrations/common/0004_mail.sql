-- Mail guard: the suppression list, the Robinson list, campaigns and their
-- per-recipient outbox. No foreign key to `organisations`: re-importing an
-- organisation must never drop an opt-out or the record of what was sent.

-- Opt-outs of addresses that are not customers' (a customer's baja lives on
-- the customer row: one fact, one place).
CREATE TABLE opt_outs (
    org TEXT NOT NULL,
    address TEXT NOT NULL,
    date TEXT NOT NULL,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (org, address)
);

-- Hex SHA-256 of "02" (the email channel) followed by the normalised address.
CREATE TABLE robinson (
    hash TEXT PRIMARY KEY
);

CREATE TABLE campaigns (
    org TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org, id)
);

-- One row per recipient: pending -> sending -> sent | failed | uncertain,
-- or excluded with a reason. `sending` is committed before the SMTP
-- transaction starts, so a crash can never lead to a second copy.
CREATE TABLE outbox (
    org TEXT NOT NULL,
    campaign TEXT NOT NULL,
    address TEXT NOT NULL,
    position BIGINT NOT NULL,
    customer TEXT,
    name TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    message_id TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org, campaign, address),
    FOREIGN KEY (org, campaign) REFERENCES campaigns (org, id) ON DELETE CASCADE
);
CREATE INDEX outbox_state ON outbox (org, campaign, state, position);
CREATE INDEX outbox_address ON outbox (org, address, state);
