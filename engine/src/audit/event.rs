//! Audit events and their canonical, versioned encoding.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::rules::{Action, Decision, Effect, Request};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A rules decision, allowed or denied.
    Decision,
    /// An area was unlocked with its password.
    Unlock,
    /// A wrong area password, or a rate-limited attempt.
    UnlockFailed,
    /// Data left Custodia: export, download, print.
    Export,
    Download,
    Print,
    /// A marketing message was sent.
    Send,
    /// A campaign's exclusion summary.
    Exclusions,
    OptOut,
    Login,
    LoginFailed,
    Logout,
    RulesReload,
    Import,
    /// A dossier register entry was added or replaced (`custodia add`).
    Register,
    /// A campaign was created or stopped.
    Campaign,
    /// The start of the chain was removed after its retention period;
    /// the detail says which events, up to which signed checkpoint.
    Prune,
    /// A Robinson list download was imported (its date and size).
    Robinson,
    /// A transactional notice was sent: the GDPR art. 34 notice of a breach.
    Notice,
    /// Record contents changed; the detail carries keyed hashes of the old
    /// and new values, never the values.
    Edit,
    /// The vault's keys were re-wrapped under a new master or organisation key.
    Keys,
    /// A listing of records (the web UI's customer list): each row was
    /// decided, and the detail names the ids shown.
    List,
    /// A data-subject rights request was opened, extended or answered.
    Rights,
}

impl EventKind {
    const ALL: [EventKind; 23] = [
        EventKind::Decision,
        EventKind::Unlock,
        EventKind::UnlockFailed,
        EventKind::Export,
        EventKind::Download,
        EventKind::Print,
        EventKind::Send,
        EventKind::Exclusions,
        EventKind::OptOut,
        EventKind::Login,
        EventKind::LoginFailed,
        EventKind::Logout,
        EventKind::RulesReload,
        EventKind::Import,
        EventKind::Register,
        EventKind::Campaign,
        EventKind::Prune,
        EventKind::Robinson,
        EventKind::Notice,
        EventKind::Edit,
        EventKind::Keys,
        EventKind::List,
        EventKind::Rights,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Decision => "decision",
            EventKind::Unlock => "unlock",
            EventKind::UnlockFailed => "unlock_failed",
            EventKind::Export => "export",
            EventKind::Download => "download",
            EventKind::Print => "print",
            EventKind::Send => "send",
            EventKind::Exclusions => "exclusions",
            EventKind::OptOut => "opt_out",
            EventKind::Login => "login",
            EventKind::LoginFailed => "login_failed",
            EventKind::Logout => "logout",
            EventKind::RulesReload => "rules_reload",
            EventKind::Import => "import",
            EventKind::Register => "register",
            EventKind::Campaign => "campaign",
            EventKind::Prune => "prune",
            EventKind::Robinson => "robinson",
            EventKind::Notice => "notice",
            EventKind::Edit => "edit",
            EventKind::Keys => "keys",
            EventKind::List => "list",
            EventKind::Rights => "rights",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::corrupt(format!("audit event kind `{s}`")))
    }
}

/// One thing to record. Fields that do not apply stay `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub kind: EventKind,
    /// When it was recorded: always the writer's clock, never a caller's.
    pub at: DateTime<Utc>,
    /// The time the request said it was made at (`context.time`), which
    /// rules may read; kept apart from `at` so it cannot backdate an event.
    pub request_time: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub customer: Option<String>,
    pub area: Option<String>,
    pub document: Option<String>,
    pub decision: Option<Effect>,
    /// The rules that decided, `pack/rule`.
    pub rules: Vec<String>,
    pub address: Option<String>,
    pub channel: Option<String>,
    /// Free text: counts, reasons, file names. Never secrets.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` at `at` with nothing else filled in.
    pub fn new(kind: EventKind, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            at,
            request_time: None,
            worker: None,
            action: None,
            resource: None,
            customer: None,
            area: None,
            document: None,
            decision: None,
            rules: Vec::new(),
            address: None,
            channel: None,
            detail: None,
        }
    }

    /// The event recording a rules decision on a request. `customer`,
    /// `area` and `document` are the resolved ones, when known.
    pub fn decision(
        request: &Request,
        decision: &Decision,
        customer: Option<&str>,
        area: Option<&str>,
        document: Option<&str>,
    ) -> Self {
        let kind = match (request.action, decision.is_allowed()) {
            (Action::Export, true) => EventKind::Export,
            (Action::Download, true) => EventKind::Download,
            (Action::Print, true) => EventKind::Print,
            _ => EventKind::Decision,
        };
        Self {
            worker: Some(request.worker.to_string()),
            action: Some(request.action.to_string()),
            resource: Some(request.resource.to_string()),
            customer: customer.map(str::to_owned),
            area: area.map(str::to_owned),
            document: document.map(str::to_owned),
            decision: Some(decision.effect),
            rules: decision.rule_names(),
            address: request.context.address.clone(),
            channel: Some(request.context.channel.clone()),
            // The declared purpose, for purpose-limitation reviews.
            detail: request.context.purpose.clone(),
            request_time: Some(request.context.time),
            // Replaced by the writer's clock when the event is written.
            ..Self::new(kind, Utc::now())
        }
    }
}

/// The shortest retention Custodia accepts: two years.
pub const MIN_RETENTION_DAYS: i64 = 730;

/// What a prune event records (as its detail, JSON): which events went,
/// how old the newest of them was, under which retention period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PruneRecord {
    /// Events 1..=`removed_to` were removed; the signed checkpoint at
    /// `removed_to` anchors the chain from then on.
    pub removed_to: i64,
    /// The time of the newest removed event.
    pub last_removed_at: DateTime<Utc>,
    pub keep_days: i64,
    pub reason: String,
}

impl PruneRecord {
    /// The record in a prune event, with the event's (writer's) time.
    pub fn parse(event: &AuditEvent) -> Option<(Self, DateTime<Utc>)> {
        if event.kind != EventKind::Prune {
            return None;
        }
        let record = serde_json::from_str(event.detail.as_deref()?).ok()?;
        Some((record, event.at))
    }
}

/// An event as stored: with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedEvent {
    pub org: String,
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The previous hash of the first event of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version tag of the canonical encoding; bump it to change the encoding.
const ENCODING: &[u8] = b"custodia-audit-v3";

/// Microseconds since the epoch: the stored time.
pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn field(hasher: &mut Sha256, value: Option<&str>) {
    match value {
        // Length-prefixed, so no two field lists encode alike.
        Some(v) => {
            hasher.update(u32::try_from(v.len()).unwrap_or(u32::MAX - 1).to_le_bytes());
            hasher.update(v.as_bytes());
        }
        None => hasher.update(u32::MAX.to_le_bytes()),
    }
}

/// The rule names of an event, as held or as stored (comma-separated).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rules<'a> {
    Held(&'a [String]),
    Stored(Option<&'a str>),
}

/// The hashed fields of an event, borrowed: from an [`AuditEvent`] or
/// straight from a stored row, so that a verifier hashes rows without
/// copying them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub at: i64,
    pub request_time: Option<i64>,
    pub kind: &'a str,
    pub worker: Option<&'a str>,
    pub action: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub customer: Option<&'a str>,
    pub area: Option<&'a str>,
    pub document: Option<&'a str>,
    pub decision: Option<&'a str>,
    pub rules: Rules<'a>,
    pub address: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// The fields of an event.
    pub(crate) fn of(event: &'a AuditEvent) -> Self {
        Self {
            at: micros(event.at),
            request_time: event.request_time.map(micros),
            kind: event.kind.as_str(),
            worker: event.worker.as_deref(),
            action: event.action.as_deref(),
            resource: event.resource.as_deref(),
            customer: event.customer.as_deref(),
            area: event.area.as_deref(),
            document: event.document.as_deref(),
            decision: event.decision.map(Effect::as_str),
            rules: Rules::Held(&event.rules),
            address: event.address.as_deref(),
            channel: event.channel.as_deref(),
            detail: event.detail.as_deref(),
        }
    }
}

/// SHA-256 over the canonical encoding of an event at `seq` after `prev_hash`.
pub fn chain_hash(org: &str, seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    let hex = hash_fields(org, seq, &Fields::of(event), prev_hash);
    String::from_utf8_lossy(&hex).into_owned()
}

/// [`chain_hash`] of borrowed fields, as lowercase hex.
// INVARIANT: every field that is stored is hashed, in this order; the
// hash covers the sequence and organisation, so moving an event breaks it.
pub(crate) fn hash_fields(org: &str, seq: i64, e: &Fields<'_>, prev_hash: &str) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(ENCODING);
    field(&mut h, Some(org));
    h.update(seq.to_le_bytes());
    h.update(e.at.to_le_bytes());
    // The request time is hashed as its decimal text (encoding v3).
    let mut digits = [0u8; 24];
    let request_time = e.request_time.map(|t| decimal(t, &mut digits));
    field(&mut h, request_time);
    field(&mut h, Some(e.kind));
    field(&mut h, e.worker);
    field(&mut h, e.action);
    field(&mut h, e.resource);
    field(&mut h, e.customer);
    field(&mut h, e.area);
    field(&mut h, e.document);
    field(&mut h, e.decision);
    // Counted and each length-prefixed: ["a,b"] and ["a", "b"] differ.
    match e.rules {
        Rules::Held(rules) => {
            count(&mut h, rules.len());
            for rule in rules {
                field(&mut h, Some(rule));
            }
        }
        Rules::Stored(None) => count(&mut h, 0),
        Rules::Stored(Some(joined)) => {
            count(&mut h, joined.split(',').count());
            for rule in joined.split(',') {
                field(&mut h, Some(rule));
            }
        }
    }
    field(&mut h, e.address);
    field(&mut h, e.channel);
    field(&mut h, e.detail);
    field(&mut h, Some(prev_hash));
    let mut hex = [b'0'; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(h.finalize(), &mut hex);
    hex
}

fn count(hasher: &mut Sha256, n: usize) {
    hasher.update(u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// `n` in decimal, written into `buffer` (no allocation).
fn decimal(n: i64, buffer: &mut [u8; 24]) -> &str {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    let _ = write!(cursor, "{n}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buffer[..len]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event with every field filled in.
    fn full() -> AuditEvent {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        AuditEvent {
            kind: EventKind::Decision,
            at,
            request_time: Some(at),
            worker: Some("ana".into()),
            action: Some("view".into()),
            resource: Some("customer:C-1".into()),
            customer: Some("C-1".into()),
            area: Some("personal".into()),
            document: Some("D-1".into()),
            decision: Some(Effect::Deny),
            rules: vec!["legal/a".into(), "legal/b".into()],
            address: Some("10.0.0.1".into()),
            channel: Some("office".into()),
            detail: Some("purpose".into()),
        }
    }

    /// Changes one field of an event, given a time to move it to.
    type Change = fn(&mut AuditEvent, DateTime<Utc>);

    /// One change per field; destructuring without `..` makes a new field
    /// a compile error here until it gets its own change.
    fn one_change_per_field() -> Vec<(&'static str, AuditEvent)> {
        let AuditEvent {
            kind: _,
            at,
            request_time: _,
            worker: _,
            action: _,
            resource: _,
            customer: _,
            area: _,
            document: _,
            decision: _,
            rules: _,
            address: _,
            channel: _,
            detail: _,
        } = full();
        let later = at + chrono::Duration::microseconds(1);
        let changes: [(&str, Change); 14] = [
            ("kind", |e, _| e.kind = EventKind::Export),
            ("at", |e, t| e.at = t),
            ("request_time", |e, t| e.request_time = Some(t)),
            ("worker", |e, _| e.worker = Some("pablo".into())),
            ("action", |e, _| e.action = Some("edit".into())),
            ("resource", |e, _| e.resource = Some("customer:C-2".into())),
            ("customer", |e, _| e.customer = Some("C-2".into())),
            ("area", |e, _| e.area = Some("financial".into())),
            ("document", |e, _| e.document = Some("D-2".into())),
            ("decision", |e, _| e.decision = Some(Effect::Allow)),
            ("rules", |e, _| e.rules = vec!["legal/a,legal/b".into()]),
            ("address", |e, _| e.address = Some("10.0.0.2".into())),
            ("channel", |e, _| e.channel = Some("api".into())),
            ("detail", |e, _| e.detail = Some("purpos".into())),
        ];
        changes
            .into_iter()
            .map(|(name, change)| {
                let mut e = full();
                change(&mut e, later);
                (name, e)
            })
            .collect()
    }

    #[test]
    fn hash_changes_with_every_field_the_position_and_the_previous_hash() {
        let event = full();
        let base = chain_hash("org", 1, &event, GENESIS);
        let changes = one_change_per_field();
        assert_eq!(changes.len(), 14);
        for (name, changed) in &changes {
            assert_ne!(changed, &event, "{name}: the change changes nothing");
            assert_ne!(base, chain_hash("org", 1, changed, GENESIS), "{name}");
        }
        assert_ne!(base, chain_hash("org", 2, &event, GENESIS));
        assert_ne!(base, chain_hash("other", 1, &event, GENESIS));
        assert_ne!(base, chain_hash("org", 1, &event, &"1".repeat(64)));
    }

    #[test]
    fn a_stored_row_hashes_as_the_event_it_was_stored_from() {
        let event = full();
        let held = hash_fields("org", 1, &Fields::of(&event), GENESIS);
        assert_eq!(chain_hash("org", 1, &event, GENESIS).as_bytes(), held);
        let joined = event.rules.join(",");
        let stored = Fields {
            rules: Rules::Stored(Some(&joined)),
            ..Fields::of(&event)
        };
        assert_eq!(hash_fields("org", 1, &stored, GENESIS), held);
        // No rules are stored as NULL, one empty rule as "".
        let mut none = event.clone();
        none.rules.clear();
        let stored_none = Fields {
            rules: Rules::Stored(None),
            ..Fields::of(&none)
        };
        assert_eq!(
            hash_fields("org", 1, &stored_none, GENESIS),
            hash_fields("org", 1, &Fields::of(&none), GENESIS)
        );
        let mut empty = none;
        empty.rules.push(String::new());
        let stored_empty = Fields {
            rules: Rules::Stored(Some("")),
            ..Fields::of(&empty)
        };
        assert_eq!(
            hash_fields("org", 1, &stored_empty, GENESIS),
            hash_fields("org", 1, &Fields::of(&empty), GENESIS)
        );
    }

    #[test]
    fn hash_tells_absent_from_empty_and_fields_apart() {
        let event = full();
        let base = chain_hash("org", 1, &event, GENESIS);
        let mut absent = event.clone();
        absent.detail = None;
        let mut empty = event.clone();
        empty.detail = Some(String::new());
        assert_ne!(
            chain_hash("org", 1, &absent, GENESIS),
            chain_hash("org", 1, &empty, GENESIS)
        );
        let mut moved = event.clone();
        moved.worker = None;
        moved.action = Some(format!("{}{}", "ana", "view"));
        assert_ne!(
            base,
            chain_hash("org", 1, &moved, GENESIS),
            "fields must not be interchangeable"
        );
        let mut no_rules = event;
        no_rules.rules.clear();
        let mut one_empty_rule = no_rules.clone();
        one_empty_rule.rules.push(String::new());
        assert_ne!(
            chain_hash("org", 1, &no_rules, GENESIS),
            chain_hash("org", 1, &one_empty_rule, GENESIS)
        );
    }
}
