-- The request's own time (`context.time`) is kept apart from the event's
-- time, which is always the writer's clock.
ALTER TABLE audit_events ADD COLUMN request_time BIGINT;

-- Failed logins are counted per account and per client address.
ALTER TABLE login_failures ADD COLUMN address TEXT;
CREATE INDEX login_failures_by_address ON login_failures (org, address, at);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- A stopped campaign claims no more messages.
ALTER TABLE campaigns ADD COLUMN stopped_at BIGINT;
