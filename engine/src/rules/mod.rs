//! The rules engine: sector rule packs written in Rhai, evaluated with
//! deny-overrides and default deny, every decision explained.
//!
//! A request ([`Request`]) is resolved into [`Facts`] (the worker, the
//! customer record, the area or document) and handed to a [`RuleSet`],
//! which runs only the rules indexed under the request's action and
//! resource kind, inside a sandbox ([`script`]).

mod decision;
mod facts;
mod native;
pub mod pack;
mod plan;
pub mod plugin;
mod property;
mod request;
pub mod script;
mod set;
pub mod testing;
pub mod toolchain;

pub use decision::{Decision, Effect, Explanation, Reason, RuleEffect, Skipped};
pub use facts::Facts;
pub use request::{Action, Context, OfficeName, Request, ResourceKind, ResourceRef};
pub use set::{RuleSet, Rules, pack_dirs};
