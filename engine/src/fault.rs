//! Named failure points, so that tests can prove that a change and its
//! audit event commit together or not at all.
//!
//! `CUSTODIA_FAULT=<point>` makes the point fail with an error;
//! `CUSTODIA_FAULT=<point>:abort` ends the process there, as a crash
//! would. Unset, a point costs one comparison.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// After a change's rows are written, before its audit events are.
pub const BEFORE_AUDIT: &str = "before-audit";
/// After the events are written, before the transaction commits.
pub const BEFORE_COMMIT: &str = "before-commit";

fn configured() -> Option<&'static (String, bool)> {
    static FAULT: OnceLock<Option<(String, bool)>> = OnceLock::new();
    FAULT
        .get_or_init(|| {
            let value = std::env::var("CUSTODIA_FAULT").ok()?;
            Some(match value.strip_suffix(":abort") {
                Some(point) => (point.to_owned(), true),
                None => (value, false),
            })
        })
        .as_ref()
}

/// Fails (or aborts the process) if `point` is the configured fault.
pub fn point(point: &str) -> Result<()> {
    match configured() {
        Some((p, abort)) if p == point => {
            if *abort {
                std::process::abort();
            }
            Err(Error::Fault(point.to_owned()))
        }
        _ => Ok(()),
    }
}
