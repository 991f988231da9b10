-- Checkpoints sign the chain's RFC 9162 Merkle tree too: its root (hex),
-- the signed note (C2SP tlog-checkpoint) and the tree's right edge, the
-- subtree roots a signer appends to (hex, checked against the signed root
-- before use). Earlier checkpoints had none; nothing was deployed then.
ALTER TABLE audit_checkpoints ADD COLUMN root TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_checkpoints ADD COLUMN edge TEXT NOT NULL DEFAULT '';

-- Witnesses' cosignatures (C2SP tlog-cosignature, Ed25519) on a signed
-- checkpoint: the checkpoint as signed (JSON, so that it outlives a
-- rewrite of `audit_checkpoints`) and the witness's signature line with
-- its time (seconds), checked against the witness's key before it is
-- stored and again by `verify`.
CREATE TABLE audit_cosignatures (
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    cosigner TEXT NOT NULL,
    at BIGINT NOT NULL,
    checkpoint TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (org, seq, cosigner)
);
