//! The domain model: organisations, workers, customers and their areas,
//! documents, and the registers the dossier is built from.
//!
//! These types are what crosses every boundary (store, import file, API),
//! so they derive serde and reject unknown fields.

mod content;
mod id;
mod marketing;
mod password;
mod people;
mod register;
mod rights;

pub use content::{AreaContent, FieldValue, Identity};
pub use id::{AreaName, CustomerId, DocumentId, DocumentType, EntryId, OrgSlug, WorkerLogin};
pub use marketing::*;
pub use password::PasswordHash;
pub(crate) use password::computations_on_this_thread;
pub use people::*;
pub use register::*;
pub use rights::*;
