-- LSSI-CE art. 21.2: the opt-out offered when a customer's data was collected.
ALTER TABLE customers ADD COLUMN opt_out_offered_date TEXT;
ALTER TABLE customers ADD COLUMN opt_out_offered_channel TEXT;

-- The Robinson list belongs to the firm that subscribed to it, with the date
-- of each download: a plan refuses a list older than the allowed age.
DROP TABLE robinson;
CREATE TABLE robinson (
    org TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (org, hash)
);
CREATE TABLE robinson_lists (
    org TEXT NOT NULL,
    downloaded_on TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX robinson_lists_latest ON robinson_lists (org, imported_at);

-- Which Robinson list a campaign's plan was checked against.
ALTER TABLE campaigns ADD COLUMN robinson_downloaded TEXT;
ALTER TABLE campaigns ADD COLUMN robinson_entries BIGINT;

-- GDPR art. 34 notices to the people a breach affects: one row per
-- customer and breach. `sending` is committed before SMTP starts, so a
-- crash leaves it `sending` (never resent); `failed` ones are retried.
CREATE TABLE breach_notices (
    org TEXT NOT NULL,
    breach TEXT NOT NULL,
    customer TEXT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    message_id TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org, breach, customer)
);
