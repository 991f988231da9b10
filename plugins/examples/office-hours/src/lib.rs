//! Office hours: an attribute provider for clinics. The health pack uses it
//! so that reception sees the agenda only while the clinic is open.
//!
//! Configuration (pack.toml):
//! - `timezone`: `Europe/Madrid` (default), `Europe/Lisbon`,
//!   `Atlantic/Canary` or `UTC`; EU summer time is applied.
//! - `hours`: opening hours, e.g. `mon-fri 08:00-14:00,16:00-20:00; sat 09:00-13:00`.
//!
//! Attributes: `open` (`yes` or `no`), `local_time` (`HH:MM`) and `weekday`
//! (`mon` ... `sun`), in the clinic's time.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use custodia_plugin_sdk::{Pairs, Request, civil, config, provider::Guest};

custodia_plugin_sdk::no_std_runtime!();

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

struct OfficeHours;

/// Minutes from midnight, `[start, end)`.
type Span = (u32, u32);

/// The UTC offset in seconds at Unix time `t`.
fn offset(timezone: &str, t: i64) -> Result<i64, String> {
    let summer = i64::from(civil::eu_summer_time(t)) * 3_600;
    match timezone {
        "Europe/Madrid" => Ok(3_600 + summer),
        "Europe/Lisbon" | "Atlantic/Canary" => Ok(summer),
        "UTC" => Ok(0),
        other => Err(format!("unsupported timezone `{other}`")),
    }
}

fn minutes(hhmm: &str) -> Result<u32, String> {
    let bad = || format!("bad time `{hhmm}`, expected HH:MM");
    let (h, m) = hhmm.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn day(name: &str) -> Result<usize, String> {
    DAYS.iter()
        .position(|d| *d == name.trim())
        .ok_or_else(|| format!("unknown day `{name}`"))
}

/// Whether minute `now` of day `weekday` falls in `hours`, as in
/// `mon-fri 08:00-14:00,16:00-20:00; sat 09:00-13:00`. The whole text is
/// checked on every call, so a bad schedule is refused whatever the day;
/// nothing is collected, since one day's answer is all a call needs.
fn open_at(hours: &str, weekday: usize, now: u32) -> Result<bool, String> {
    let mut open = false;
    for part in hours.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (days, spans) = part
            .split_once(' ')
            .ok_or_else(|| format!("`{part}`: expected days then hours"))?;
        let (first, last) = match days.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(days)?, day(days)?),
        };
        let today = (first..=last).contains(&weekday);
        for span in spans.split(',') {
            let (start, end) = span
                .split_once('-')
                .ok_or_else(|| format!("`{span}`: expected HH:MM-HH:MM"))?;
            let span: Span = (minutes(start)?, minutes(end)?);
            open |= today && (span.0..span.1).contains(&now);
        }
    }
    Ok(open)
}

/// `HH:MM` of minutes from midnight, written out by hand: `format!` pulls
/// in `core::fmt`, which was most of a call's work here.
fn hhmm(minutes: u32) -> String {
    let digit = |n: u32| char::from_digit(n % 10, 10).unwrap_or('0');
    let (h, m) = (minutes / 60, minutes % 60);
    [digit(h / 10), digit(h), ':', digit(m / 10), digit(m)]
        .into_iter()
        .collect()
}

impl Guest for OfficeHours {
    fn provide(settings: Pairs, request: Request) -> Result<Pairs, String> {
        let timezone = config(&settings, "timezone").unwrap_or("Europe/Madrid");
        let hours = config(&settings, "hours").ok_or("no `hours` configured")?;
        let local = request.time + offset(timezone, request.time)?;
        let weekday = civil::weekday(local) as usize;
        let now = u32::try_from(local.rem_euclid(86_400) / 60).unwrap_or(0);
        let open = open_at(hours, weekday, now)?;
        Ok(vec![
            ("open".into(), if open { "yes" } else { "no" }.into()),
            ("local_time".into(), hhmm(now)),
            ("weekday".into(), DAYS[weekday].into()),
        ])
    }
}

custodia_plugin_sdk::provider::export_provider!(OfficeHours);
