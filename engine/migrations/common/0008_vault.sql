-- The vault: record contents and documents sealed with XChaCha20-Poly1305.
-- Keys form a hierarchy: a per-customer data key, wrapped by a
-- per-organisation key, wrapped by a master key that lives outside the
-- database (`master_id` names it; it is not secret).

CREATE TABLE vault_org_keys (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    master_id TEXT NOT NULL,
    -- The organisation key, wrapped by the master key.
    wrapped TEXT NOT NULL,
    -- The key of the organisation's keyed hashes (edit audits, lookups),
    -- wrapped by the master key: it outlives organisation-key rotations.
    wrapped_lookup TEXT NOT NULL,
    PRIMARY KEY (org, version)
);

-- Deleting a customer's row here erases their sealed data for good.
CREATE TABLE vault_customer_keys (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    org_version BIGINT NOT NULL,
    wrapped TEXT NOT NULL,
    PRIMARY KEY (org, customer),
    FOREIGN KEY (org, customer) REFERENCES customers (org, id) ON DELETE CASCADE
);

-- Sealed items of a record: `identity` (tax id, phone, address) and
-- `area/NAME` (an area's contents). Documents' bytes live in the blob store.
CREATE TABLE vault_items (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    slot TEXT NOT NULL,
    sealed TEXT NOT NULL,
    PRIMARY KEY (org, customer, slot),
    FOREIGN KEY (org, customer) REFERENCES customers (org, id) ON DELETE CASCADE
);

-- Identity fields now live sealed in `vault_items`.
ALTER TABLE customers DROP COLUMN tax_id;
ALTER TABLE customers DROP COLUMN phone;

-- A document held by Custodia: its sealed bytes' address in the blob
-- store (SHA-256 of the sealed bytes), their plaintext size and type.
ALTER TABLE documents ADD COLUMN blob TEXT;
ALTER TABLE documents ADD COLUMN size BIGINT;
ALTER TABLE documents ADD COLUMN media_type TEXT;
