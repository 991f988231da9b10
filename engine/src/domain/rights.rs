//! Data-subject rights (GDPR arts. 12, 15-22; LOPDGDD arts. 12-18 and 32):
//! the requests a firm receives, their one-month clock, and what a granted
//! erasure or restriction does to a record.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{CustomerId, WorkerLogin};
use crate::error::Error;

/// What the person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RightKind {
    /// Art. 15: a copy of their data and who accessed it.
    Access,
    /// Art. 16.
    Rectification,
    /// Art. 17, with LOPDGDD art. 32 blocking.
    Erasure,
    /// Art. 18.
    Restriction,
    /// Art. 20.
    Portability,
    /// Art. 21.
    Objection,
}

impl RightKind {
    /// Every kind, in the articles' order.
    pub const ALL: [RightKind; 6] = [
        RightKind::Access,
        RightKind::Rectification,
        RightKind::Erasure,
        RightKind::Restriction,
        RightKind::Portability,
        RightKind::Objection,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RightKind::Access => "access",
            RightKind::Rectification => "rectification",
            RightKind::Erasure => "erasure",
            RightKind::Restriction => "restriction",
            RightKind::Portability => "portability",
            RightKind::Objection => "objection",
        }
    }

    /// The GDPR article that grants it.
    pub fn article(self) -> &'static str {
        match self {
            RightKind::Access => "GDPR art. 15",
            RightKind::Rectification => "GDPR art. 16",
            RightKind::Erasure => "GDPR art. 17",
            RightKind::Restriction => "GDPR art. 18",
            RightKind::Portability => "GDPR art. 20",
            RightKind::Objection => "GDPR art. 21",
        }
    }
}

impl FromStr for RightKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        RightKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::InvalidValue {
                kind: "right",
                value: s.to_owned(),
                reason: "expected access, rectification, erasure, restriction, portability or objection",
            })
    }
}

impl fmt::Display for RightKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Open,
    Granted,
    Refused,
}

impl RequestStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Granted => "granted",
            RequestStatus::Refused => "refused",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RequestStatus::Open,
            RequestStatus::Granted,
            RequestStatus::Refused,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// How the requester's identity was checked, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCheck {
    pub how: String,
    pub by: WorkerLogin,
    pub at: DateTime<Utc>,
}

/// One request of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RightsRequest {
    pub id: i64,
    pub customer: CustomerId,
    pub kind: RightKind,
    pub received: NaiveDate,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityCheck>,
    /// One month after receipt; three when extended (art. 12.3).
    pub due: NaiveDate,
    /// Why it was extended (the requester must be told within the first month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_reason: Option<String>,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// When a granted erasure's record was purged: its data deleted and
    /// its data key destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<DateTime<Utc>>,
}

/// The answer is due one month after receipt (art. 12.3); a month that
/// has no such day ends on its last day.
pub fn first_deadline(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

/// Extended by two further months (art. 12.3).
pub fn extended_deadline(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(3))
        .unwrap_or(NaiveDate::MAX)
}

/// The day a retention period written in a register (`"5 years after
/// the case is closed"`, `"6 años"`, `"18 months"`) ends when counted from
/// `from`: the first number and the unit after it. `None` when the text
/// gives no period Custodia can count (then a person must say it ended).
pub fn retention_end(from: NaiveDate, text: &str) -> Option<NaiveDate> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let (at, n) = words
        .iter()
        .enumerate()
        .find_map(|(i, w)| Some((i, w.parse::<u32>().ok()?)))?;
    let unit = words.get(at + 1)?;
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| unit.starts_with(p));
    if starts(&["year", "año", "ano"]) {
        from.checked_add_months(Months::new(n.checked_mul(12)?))
    } else if starts(&["month", "mes"]) {
        from.checked_add_months(Months::new(n))
    } else if starts(&["week", "semana"]) {
        from.checked_add_days(chrono::Days::new(u64::from(n) * 7))
    } else if starts(&["day", "día", "dia"]) {
        from.checked_add_days(chrono::Days::new(u64::from(n)))
    } else {
        None
    }
}

impl RightsRequest {
    /// Still waiting for an answer.
    pub fn is_open(&self) -> bool {
        self.status == RequestStatus::Open
    }

    /// A granted erasure whose record is not purged yet: blocked until its
    /// retention ends, then purged.
    pub fn awaits_purge(&self) -> bool {
        self.kind == RightKind::Erasure
            && self.status == RequestStatus::Granted
            && self.purged_at.is_none()
    }

    /// Open and past its deadline on `today`.
    pub fn is_late(&self, today: NaiveDate) -> bool {
        self.is_open() && today > self.due
    }

    /// Open and due within `days` of `today`, or late.
    pub fn is_due_within(&self, today: NaiveDate, days: i64) -> bool {
        self.is_open() && (self.due - today).num_days() <= days
    }
}

/// What a granted request did to the record: it is kept, but the rules
/// deny every use except for legal claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Restriction {
    /// Erased and blocked until its retention ends (LOPDGDD art. 32).
    Blocked,
    /// Only stored until the restriction is lifted (GDPR art. 18).
    Restricted,
}

impl Restriction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Restriction::Blocked => "blocked",
            Restriction::Restricted => "restricted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Restriction::Blocked, Restriction::Restricted]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn retention_periods_are_read_from_the_register_text() {
        let from = date("2026-11-26");
        let end = |text| retention_end(from, text);
        assert_eq!(
            end("5 years after the case is closed"),
            Some(date("2031-11-26"))
        );
        assert_eq!(
            end("at least 5 years from each discharge (Ley 41/2002 art. 17)"),
            Some(date("2031-11-26"))
        );
        assert_eq!(
            end("6 años (Código de Comercio art. 30)"),
            Some(date("2032-11-26"))
        );
        assert_eq!(end("18 meses"), Some(date("2028-05-26")));
        assert_eq!(end("30 days"), Some(date("2026-12-26")));
        assert_eq!(end("until the contract ends"), None);
        assert_eq!(end("art. 30"), None);
    }

    #[test]
    fn a_request_is_due_a_month_later_and_three_when_extended() {
        assert_eq!(first_deadline(date("2026-01-31")), date("2026-02-28"));
        assert_eq!(first_deadline(date("2026-11-26")), date("2026-12-26"));
        assert_eq!(extended_deadline(date("2026-11-26")), date("2027-02-26"));
    }

    #[test]
    fn only_open_requests_are_late() {
        let mut r = RightsRequest {
            id: 1,
            customer: CustomerId::new("C-1").expect("id"),
            kind: RightKind::Access,
            received: date("2026-01-01"),
            channel: "email".into(),
            identity: None,
            due: date("2026-02-01"),
            extension_reason: None,
            status: RequestStatus::Open,
            answered_at: None,
            answer: None,
            purged_at: None,
        };
        assert!(r.is_late(date("2026-02-02")));
        assert!(!r.is_late(date("2026-02-01")));
        assert!(r.is_due_within(date("2026-01-26"), 7));
        r.status = RequestStatus::Granted;
        assert!(!r.is_late(date("2026-03-01")));
    }
}
