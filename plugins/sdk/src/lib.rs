//! Custodia's plugin SDK: the bindings of `plugins/wit/custodia-plugin.wit`
//! and a few helpers, for plugins written in Rust and built for
//! `wasm32-wasip2`.
//!
//! An attribute provider implements [`provider::Guest`] and exports it:
//!
//! ```ignore
//! #![no_std]
//! extern crate alloc;
//!
//! use alloc::{string::{String, ToString}, vec};
//! use custodia_plugin_sdk::{Pairs, Request, config, provider::Guest};
//!
//! custodia_plugin_sdk::no_std_runtime!();
//!
//! struct Weekend;
//!
//! impl Guest for Weekend {
//!     fn provide(_config: Pairs, request: Request) -> Result<Pairs, String> {
//!         let day = custodia_plugin_sdk::civil::weekday(request.time);
//!         Ok(vec![("weekend".into(), (day >= 5).to_string())])
//!     }
//! }
//!
//! custodia_plugin_sdk::provider::export_provider!(Weekend);
//! ```
//!
//! A check implements [`check::Guest`] and uses `check::export_check!`.
//!
//! The SDK is `no_std`. A `#![no_std]` plugin (with `extern crate alloc`)
//! calls `custodia_plugin_sdk::no_std_runtime!();` once for what it needs
//! to link (see [`runtime`]): its component then imports nothing from
//! WASI, and each call costs about a third less. A plugin may use the
//! standard library instead (say, to write to stderr), and skips the
//! macro.

#![no_std]

extern crate alloc;

use alloc::string::String;

#[cfg(target_arch = "wasm32")]
pub mod runtime;

/// The `attribute-provider` world.
pub mod provider {
    wit_bindgen::generate!({
        world: "attribute-provider",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_provider",
        default_bindings_module: "custodia_plugin_sdk::provider",
    });
}

/// The `check` world.
pub mod check {
    wit_bindgen::generate!({
        world: "check",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_check",
        default_bindings_module: "custodia_plugin_sdk::check",
        with: {
            "custodia:plugin/types@0.1.0": crate::provider::custodia::plugin::types,
        },
    });
}

pub use provider::custodia::plugin::types::{Pairs, Request, Verdict, Worker};

/// The value of `key` in a plugin's configuration or attributes.
pub fn config<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// A customer attribute.
    pub fn customer_attribute(&self, name: &str) -> Option<&str> {
        config(&self.customer_attributes, name)
    }
}

impl Worker {
    /// Whether the worker has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Calendar arithmetic on Unix seconds, without a time-zone database.
pub mod civil {
    /// `(year, month 1-12, day 1-31)` of a day counted from 1970-01-01
    /// (Howard Hinnant's `civil_from_days`).
    pub fn date(days: i64) -> (i64, u32, u32) {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
        let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// Days from 1970-01-01 to `year-month-day` (`days_from_civil`).
    pub fn days(year: i64, month: u32, day: u32) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Day of the week of Unix time `t`: 0 = Monday ... 6 = Sunday.
    pub fn weekday(t: i64) -> u32 {
        u32::try_from((t.div_euclid(86_400) + 3).rem_euclid(7)).unwrap_or(0)
    }

    /// Unix time of the last Sunday of `month` in `year`, at `hour` UTC.
    pub fn last_sunday(year: i64, month: u32, hour: i64) -> i64 {
        let last_day = if month == 12 {
            days(year + 1, 1, 1) - 1
        } else {
            days(year, month + 1, 1) - 1
        };
        let back = i64::from(weekday(last_day * 86_400) + 1) % 7;
        (last_day - back) * 86_400 + hour * 3_600
    }

    /// Whether EU summer time is in force at Unix time `t`: from 01:00 UTC
    /// on the last Sunday of March to 01:00 UTC on the last Sunday of
    /// October.
    pub fn eu_summer_time(t: i64) -> bool {
        let (year, _, _) = date(t.div_euclid(86_400));
        (last_sunday(year, 3, 1)..last_sunday(year, 10, 1)).contains(&t)
    }
}
