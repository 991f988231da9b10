//! The tamper-evident audit log: one SHA-256 hash chain per organisation,
//! written by a single group-committing writer, with Ed25519-signed
//! checkpoints of the chain's head and of its RFC 9162 Merkle tree,
//! witnesses outside the database, verification that names the first
//! break, queries and breach scoping.

pub(crate) mod chain;
mod change;
mod checkpoint;
mod copy;
mod cosignature;
mod event;
mod flight;
mod frontier;
pub(crate) mod lookup;
pub mod merkle;
mod postgres;
mod pseudonym;
mod query;
mod retention;
mod sqlite;
pub(crate) mod stream;
mod tree_hash;
mod verify;
mod witness;
pub(crate) mod writer;

pub use chain::Receipt;
pub use change::Change;
pub use checkpoint::{Checkpoint, Signer, default_key_path, parse_public_key};
pub use cosignature::{Cosignature, Cosigned, Cosigner};
/// The public half of the signing key, as checkpoints are verified with.
pub use ed25519_dalek::VerifyingKey;
pub use event::MIN_RETENTION_DAYS;
pub use event::{AuditEvent, ChainedEvent, EventKind, GENESIS, chain_hash};
pub use frontier::Frontier;
pub use lookup::EVERY as LOOKUP_EVERY;
pub use pseudonym::{ADDRESS_PREFIX, Pseudonyms};
pub use query::{AuditQuery, BreachQuery, BreachScope, TouchedCustomer};
pub use retention::PruneReport;
pub use sqlite::WRITER_PRAGMAS as SQLITE_WRITER_PRAGMAS;
pub use verify::{Break, BreakKind, VerifyReport};
pub use witness::{Witness, WitnessLine, Witnessed};
pub use writer::{AuditConfig, AuditLog, ChainState, Durable};
