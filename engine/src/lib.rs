//! Custodia's engine: the domain model of a firm's customer data, the
//! store it lives in (SQLite or PostgreSQL), the rules that decide who may
//! do what with it, and the tamper-evident audit log of what was done.
//!
//! ```no_run
//! # async fn demo() -> custodia_engine::Result<()> {
//! use custodia_engine::{OrgSlug, Store};
//!
//! let store = Store::init("sqlite://custodia.db").await?;
//! let firm = store.org(&OrgSlug::new("bufete-ruiz")?).await?;
//! for worker in firm.workers().await? {
//!     println!("{} (level {})", worker.login, worker.level.get());
//! }
//! # Ok(()) }
//! ```

pub mod access;
pub mod audit;
mod columns;
pub mod domain;
mod error;
pub mod exchange;
pub mod fault;
pub mod keyfile;
pub mod rules;
pub mod session;
pub mod source;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod unlock;
pub mod vault;

pub use access::{AccessControl, Audited, Unaudited};
pub use domain::*;
pub use error::{Error, Result};
pub use store::{Answer, Backend, CandidateQuery, NewRightsRequest, OrgStore, Purged, Store};
pub use vault::Vault;
