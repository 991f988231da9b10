//! Closed cases: a check for law offices. Once a case is closed its file is
//! read-only for everyone but the partner: edits, new documents and
//! deletions are denied; reading is left to the other rules.
//!
//! Configuration (pack.toml): `status_attribute` (default `case_status`),
//! `closed` (the value meaning closed, default `closed`) and `keeper_role`
//! (default `partner`).

#![no_std]

extern crate alloc;

use alloc::format;
use custodia_plugin_sdk::{Pairs, Request, Verdict, check::Guest, config};

custodia_plugin_sdk::no_std_runtime!();

const WRITES: [&str; 3] = ["edit", "create", "delete"];

struct ClosedCase;

impl Guest for ClosedCase {
    fn check(settings: Pairs, request: Request, _attributes: Pairs) -> Verdict {
        let status = config(&settings, "status_attribute").unwrap_or("case_status");
        let closed = config(&settings, "closed").unwrap_or("closed");
        let keeper = config(&settings, "keeper_role").unwrap_or("partner");
        if request.customer_attribute(status) != Some(closed)
            || !WRITES.contains(&request.action.as_str())
            || request.worker.has_role(keeper)
        {
            return Verdict::NotApplicable;
        }
        Verdict::Deny(format!(
            "case `{}` is closed: its file is read-only for everyone but the {keeper}",
            request.customer
        ))
    }
}

custodia_plugin_sdk::check::export_check!(ClosedCase);
