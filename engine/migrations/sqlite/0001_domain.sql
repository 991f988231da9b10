-- Custodia domain schema (SQLite). Every table is keyed by organisation:
-- queries always bind `org`, so one firm never reads another's rows.
CREATE TABLE organisations (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE workers (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    level BIGINT NOT NULL CHECK (level BETWEEN 1 AND 5),
    departments TEXT NOT NULL,
    roles TEXT NOT NULL,
    specialties TEXT NOT NULL,
    grants TEXT NOT NULL,
    email TEXT,
    password_hash TEXT CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    active BIGINT NOT NULL,
    PRIMARY KEY (org, login)
);

CREATE TABLE customers (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    tax_id TEXT,
    email TEXT,
    phone TEXT,
    privacy TEXT NOT NULL,
    existing_customer BIGINT NOT NULL,
    consent_source TEXT,
    consent_date TEXT,
    opt_out_date TEXT,
    opt_out_channel TEXT,
    attributes TEXT NOT NULL,
    PRIMARY KEY (org, id)
);

CREATE TABLE customer_assignments (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    worker TEXT NOT NULL,
    PRIMARY KEY (org, customer, worker),
    FOREIGN KEY (org, customer) REFERENCES customers (org, id) ON DELETE CASCADE,
    FOREIGN KEY (org, worker) REFERENCES workers (org, login) ON DELETE CASCADE
);
CREATE INDEX customer_assignments_worker ON customer_assignments (org, worker);

CREATE TABLE areas (
    org TEXT NOT NULL,
    customer TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    privacy TEXT NOT NULL,
    password_hash TEXT CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    PRIMARY KEY (org, customer, name),
    FOREIGN KEY (org, customer) REFERENCES customers (org, id) ON DELETE CASCADE
);

CREATE TABLE documents (
    org TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT NOT NULL,
    area TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    location_kind TEXT NOT NULL,
    location_path TEXT NOT NULL,
    PRIMARY KEY (org, id),
    FOREIGN KEY (org, customer, area) REFERENCES areas (org, customer, name) ON DELETE CASCADE
);
CREATE INDEX documents_customer ON documents (org, customer);

-- Providers, processing activities, measures, training, backups, breaches:
-- read and written whole, never queried by field, so one JSON body each.
CREATE TABLE register_entries (
    org TEXT NOT NULL REFERENCES organisations (slug) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org, kind, id)
);
