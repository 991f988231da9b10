//! Recomputing a chain and checking its signed checkpoints.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::checkpoint::Checkpoint;
use super::event::{AuditEvent, ChainedEvent, EventKind, Fields, GENESIS, hash_fields};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::rules::Effect;
use crate::store::Store;

/// What kind of tampering a break looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An event's content no longer matches its hash, or was re-hashed.
    Edited,
    /// Events are missing.
    Deleted,
    /// An event that was not in the chain was put into it.
    Inserted,
    /// Two events changed places.
    Reordered,
    /// The chain ends before a point it is known to have reached.
    Truncated,
    /// A checkpoint is not signed by the trusted key.
    BadSignature,
    /// The chain differs from a witnessed checkpoint from a point on, all
    /// hashes recomputed: only the witness outside the database shows it.
    Rewritten,
    /// A witnessed checkpoint is missing from the database.
    CheckpointDeleted,
    /// The head row does not name the chain's last event.
    HeadForged,
    /// A prune removed events younger than the retention period.
    PrunedEarly,
}

impl BreakKind {
    /// A word for people.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Deleted => "deleted",
            BreakKind::Inserted => "inserted",
            BreakKind::Reordered => "reordered",
            BreakKind::Truncated => "truncated",
            BreakKind::BadSignature => "bad signature",
            BreakKind::Rewritten => "rewritten",
            BreakKind::CheckpointDeleted => "checkpoint deleted",
            BreakKind::HeadForged => "head forged",
            BreakKind::PrunedEarly => "pruned early",
        }
    }
}

/// The first place where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub seq: i64,
    pub kind: BreakKind,
    pub detail: String,
}

/// The result of verifying one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub org: String,
    pub events: i64,
    pub last_seq: i64,
    pub head_hash: String,
    pub checkpoints_checked: usize,
    pub signatures_checked: bool,
    pub broken: Option<Break>,
}

impl VerifyReport {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

pub(crate) const SELECT_EVENTS: &str = "SELECT org, seq, at, request_time, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash FROM audit_events";

pub(crate) fn event_from_row(row: &AnyRow) -> Result<ChainedEvent> {
    let at: i64 = row.try_get("at")?;
    let decision = parse_decision(row.try_get::<Option<String>, _>("decision")?.as_deref())?;
    let rules: Option<String> = row.try_get("rules")?;
    Ok(ChainedEvent {
        org: row.try_get("org")?,
        seq: row.try_get("seq")?,
        event: AuditEvent {
            kind: EventKind::parse(&row.try_get::<String, _>("kind")?)?,
            at: chrono::DateTime::from_timestamp_micros(at)
                .ok_or_else(|| Error::corrupt(format!("audit time {at}")))?,
            request_time: request_time(row.try_get("request_time")?)?,
            worker: row.try_get("worker")?,
            action: row.try_get("action")?,
            resource: row.try_get("resource")?,
            customer: row.try_get("customer")?,
            area: row.try_get("area")?,
            document: row.try_get("document")?,
            decision,
            rules: rules
                .map(|r| r.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            address: row.try_get("address")?,
            channel: row.try_get("channel")?,
            detail: row.try_get("detail")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// The columns of an event row, in [`PAGE_COLUMNS`] order.
pub(crate) type EventColumns = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    // Nested: serde reads tuples of at most 16 elements.
    (String, String, Option<i64>),
);

pub(crate) const PAGE_COLUMNS: &str = "seq, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash, request_time";

/// The leading columns of a page row; the chain fields follow, nested.
const PAGE_ROW: &str = "seq, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail";

/// An event of `org` from its columns.
pub(crate) fn from_columns(org: &str, r: EventColumns) -> Result<ChainedEvent> {
    Ok(ChainedEvent {
        org: org.to_owned(),
        seq: r.0,
        event: AuditEvent {
            kind: EventKind::parse(&r.2)?,
            at: chrono::DateTime::from_timestamp_micros(r.1)
                .ok_or_else(|| Error::corrupt(format!("audit time {}", r.1)))?,
            request_time: request_time(r.14.2)?,
            worker: r.3,
            action: r.4,
            resource: r.5,
            customer: r.6,
            area: r.7,
            document: r.8,
            decision: parse_decision(r.9.as_deref())?,
            rules: r
                .10
                .map(|r| r.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            address: r.11,
            channel: r.12,
            detail: r.13,
        },
        prev_hash: r.14.0,
        hash: r.14.1,
    })
}

/// Reads up to `limit` events after `after` as one JSON value built by
/// PostgreSQL: decoding one text is far cheaper than decoding the rows
/// one by one through the `Any` driver.
pub(crate) async fn fetch_page(
    store: &Store,
    org: &OrgSlug,
    after: i64,
    limit: usize,
) -> Result<Vec<ChainedEvent>> {
    let sql = format!(
        "SELECT COALESCE(json_agg(json_build_array({PAGE_ROW}, json_build_array(prev_hash, hash, request_time)) ORDER BY seq), '[]')::text FROM (SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq LIMIT {limit}) AS page"
    );
    let (text,): (String,) = sqlx::query_as(&sql)
        .bind(org.as_str())
        .bind(after)
        .fetch_one(store.pool())
        .await?;
    let rows: Vec<EventColumns> =
        serde_json::from_str(&text).map_err(|e| Error::corrupt(format!("audit page: {e}")))?;
    rows.into_iter()
        .map(|r| from_columns(org.as_str(), r))
        .collect()
}

/// What the walk needs of one stored event, computed where it was read
/// (on as many threads as there are readers): its links and whether it
/// hashes as stored. The event itself is kept only for prune events.
#[derive(Debug)]
pub(crate) struct Link {
    pub seq: i64,
    pub prev: String,
    pub hash: String,
    /// Whether it hashes as stored at its own place...
    pub holds: bool,
    /// ...or, when it does not, at the place after or before it (rows
    /// renumbered by a deletion or insertion).
    pub at_next: bool,
    pub at_prev: bool,
    pub prune: Option<AuditEvent>,
}

impl Link {
    /// The link of an event of `org` at `seq` with these fields and hashes;
    /// `event` builds the event, called for prune events only.
    pub(crate) fn new(
        org: &str,
        seq: i64,
        fields: &Fields<'_>,
        prev: &str,
        hash: &str,
        event: impl FnOnce() -> Result<AuditEvent>,
    ) -> Result<Self> {
        let hashes_at = |at: i64| hash_fields(org, at, fields, prev).as_slice() == hash.as_bytes();
        let holds = hashes_at(seq);
        let prune = if fields.kind == EventKind::Prune.as_str() {
            Some(event()?)
        } else {
            None
        };
        Ok(Self {
            seq,
            prev: prev.to_owned(),
            hash: hash.to_owned(),
            holds,
            at_next: !holds && hashes_at(seq + 1),
            at_prev: !holds && hashes_at(seq - 1),
            prune,
        })
    }

    /// The link of an event already read in full.
    fn of(e: ChainedEvent) -> Result<Self> {
        let fields = Fields::of(&e.event);
        Self::new(&e.org, e.seq, &fields, &e.prev_hash, &e.hash, || {
            Ok(e.event.clone())
        })
    }
}

/// The links of a page of events, on all cores.
pub(crate) fn links_of(page: Vec<ChainedEvent>) -> Result<Vec<Link>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = page.len().div_ceil(threads).max(1024);
    let mut parts: Vec<Vec<ChainedEvent>> = Vec::new();
    let mut rest = page;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        parts.push(std::mem::replace(&mut rest, tail));
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || part.into_iter().map(Link::of).collect::<Result<Vec<_>>>())
            })
            .collect();
        let mut links = Vec::new();
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| Error::Fault("a hashing thread panicked".into()))??;
            links.extend(part);
        }
        Ok(links)
    })
}

fn request_time(micros: Option<i64>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    micros
        .map(|m| {
            chrono::DateTime::from_timestamp_micros(m)
                .ok_or_else(|| Error::corrupt(format!("audit request time {m}")))
        })
        .transpose()
}

fn parse_decision(text: Option<&str>) -> Result<Option<Effect>> {
    match text {
        None => Ok(None),
        Some("allow") => Ok(Some(Effect::Allow)),
        Some("deny") => Ok(Some(Effect::Deny)),
        Some(other) => Err(Error::corrupt(format!("audit decision `{other}`"))),
    }
}

/// Names what a row whose hash does not match looks like, using the row
/// after it: renumbered rows still hash at their old position.
fn classify(row: &Link, next: Option<&Link>) -> Break {
    let seq = row.seq;
    // A row that holds at its own place cannot also hash one place back.
    let next_moved_up = next.is_some_and(|n| n.at_prev);
    let (at, kind, detail) = if row.at_next {
        if next_moved_up {
            (
                seq,
                BreakKind::Reordered,
                format!("events {seq} and {} changed places", seq + 1),
            )
        } else {
            (
                seq,
                BreakKind::Deleted,
                format!("event {seq} was removed and the events after it renumbered"),
            )
        }
    } else if row.at_prev {
        let at = seq - 1;
        (
            at,
            BreakKind::Inserted,
            format!("event {at} is not part of the original chain (later events were renumbered)"),
        )
    } else if next_moved_up {
        (
            seq,
            BreakKind::Inserted,
            format!("event {seq} is not part of the original chain (later events were renumbered)"),
        )
    } else {
        (
            seq,
            BreakKind::Edited,
            format!("event {seq} was changed after it was written"),
        )
    };
    Break {
        seq: at,
        kind,
        detail,
    }
}

/// A chain being checked, event by event.
struct Walk<'a> {
    key: Option<&'a VerifyingKey>,
    checkpoints: &'a BTreeMap<i64, Checkpoint>,
    expected: i64,
    prev: String,
    checked: usize,
    /// Sequences whose hash a witness knows, and the hashes found there.
    watch: &'a BTreeMap<i64, Checkpoint>,
    seen: BTreeMap<i64, String>,
    /// Prune events met on the way: (sequence, event).
    prunes: Vec<(i64, AuditEvent)>,
    /// The head row's sequence, and the hash the walk found there.
    head_seq: i64,
    at_head: Option<String>,
}

impl Walk<'_> {
    /// One event, and the one after it (to name a break).
    fn step(&mut self, row: &Link, next: Option<&Link>) -> Option<Break> {
        if row.seq != self.expected {
            return Some(Break {
                seq: self.expected,
                kind: BreakKind::Deleted,
                detail: format!("events {} to {} are missing", self.expected, row.seq - 1),
            });
        }
        if !row.holds {
            return Some(classify(row, next));
        }
        if row.prev != self.prev {
            return Some(Break {
                seq: row.seq - 1,
                kind: BreakKind::Edited,
                detail: format!(
                    "event {} was changed and re-hashed: event {} recorded another hash for it",
                    row.seq - 1,
                    row.seq
                ),
            });
        }
        if let Some(cp) = self.checkpoints.get(&row.seq) {
            if let Some(b) = self.check_checkpoint(cp, &row.hash) {
                return Some(b);
            }
        }
        if row.seq == self.head_seq {
            self.at_head = Some(row.hash.clone());
        }
        if self.watch.contains_key(&row.seq) {
            self.seen.insert(row.seq, row.hash.clone());
        }
        if let Some(prune) = &row.prune {
            self.prunes.push((row.seq, prune.clone()));
        }
        self.prev.clone_from(&row.hash);
        self.expected += 1;
        None
    }

    fn check_checkpoint(&mut self, cp: &Checkpoint, hash: &str) -> Option<Break> {
        self.checked += 1;
        if self.key.is_some_and(|k| !cp.verify(k)) {
            return Some(Break {
                seq: cp.seq,
                kind: BreakKind::BadSignature,
                detail: format!(
                    "the checkpoint at {} is not signed by the trusted key (public key {})",
                    cp.seq, cp.public_key
                ),
            });
        }
        (cp.head_hash != hash).then(|| Break {
            seq: cp.seq,
            kind: BreakKind::Edited,
            detail: format!(
                "the chain up to {} differs from its signed checkpoint",
                cp.seq
            ),
        })
    }
}

impl Store {
    /// The signed checkpoints of a chain, by sequence.
    pub async fn audit_checkpoints(&self, org: &OrgSlug) -> Result<BTreeMap<i64, Checkpoint>> {
        let rows = sqlx::query("SELECT org, seq, head_hash, at, public_key, signature FROM audit_checkpoints WHERE org = $1 ORDER BY seq")
            .bind(org.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.try_get("at")?;
                let cp = Checkpoint {
                    org: r.try_get("org")?,
                    seq: r.try_get("seq")?,
                    head_hash: r.try_get("head_hash")?,
                    at: chrono::DateTime::from_timestamp_micros(at)
                        .ok_or_else(|| Error::corrupt("checkpoint time"))?,
                    public_key: r.try_get("public_key")?,
                    signature: r.try_get("signature")?,
                };
                Ok((cp.seq, cp))
            })
            .collect()
    }

    /// Recomputes an organisation's chain. With `key`, every checkpoint's
    /// signature is checked; with `anchor`, verification starts after that
    /// (exported) checkpoint instead of at the genesis. `progress` is
    /// called with the number of events checked so far.
    pub async fn verify_audit(
        &self,
        org: &OrgSlug,
        key: Option<&VerifyingKey>,
        anchor: Option<&Checkpoint>,
        progress: impl FnMut(i64),
    ) -> Result<VerifyReport> {
        self.verify_audit_witnessed(org, key, anchor, &BTreeMap::new(), progress)
            .await
    }

    /// [`Store::verify_audit`], and then the chain against `witnessed`:
    /// checkpoints of this organisation kept outside the database (see
    /// [`super::Witnessed`]). A chain that does not extend them fails,
    /// named as truncated, rewritten, checkpoint deleted or head forged.
    pub async fn verify_audit_witnessed(
        &self,
        org: &OrgSlug,
        key: Option<&VerifyingKey>,
        anchor: Option<&Checkpoint>,
        witnessed: &BTreeMap<i64, Checkpoint>,
        mut progress: impl FnMut(i64),
    ) -> Result<VerifyReport> {
        let checkpoints = self.audit_checkpoints(org).await?;
        let (first, head) = self.audit_bounds(org).await?;
        let mut report = VerifyReport {
            org: org.to_string(),
            events: 0,
            last_seq: 0,
            head_hash: GENESIS.to_owned(),
            checkpoints_checked: 0,
            signatures_checked: key.is_some(),
            broken: None,
        };
        let mut walk = Walk {
            key,
            checkpoints: &checkpoints,
            expected: 1,
            prev: GENESIS.to_owned(),
            checked: 0,
            watch: witnessed,
            seen: BTreeMap::new(),
            prunes: Vec::new(),
            head_seq: head.as_ref().map_or(0, |h| h.0),
            at_head: None,
        };
        // Where to start: an exported checkpoint, the checkpoint left by
        // pruning, or the genesis.
        let start = anchor.or_else(|| {
            first
                .filter(|f| *f > 1)
                .and_then(|f| checkpoints.get(&(f - 1)))
        });
        if let Some(cp) = start {
            if let Some(b) = walk.check_checkpoint(cp, &cp.head_hash) {
                report.broken = Some(b);
                return Ok(report);
            }
            walk.expected = cp.seq + 1;
            walk.prev.clone_from(&cp.head_hash);
            walk.seen.insert(cp.seq, cp.head_hash.clone());
        }
        let mut pages = super::stream::events_after(self, org, walk.expected - 1, walk.head_seq);
        // The last event of a page waits for the next page: naming a
        // break may need the event after it.
        let mut carry: Option<Link> = None;
        loop {
            let next = pages.next().await?;
            // A page may be empty (its events deleted); only `None` ends.
            let done = next.is_none();
            let mut links = carry
                .take()
                .into_iter()
                .chain(next.unwrap_or_default())
                .peekable();
            while let Some(row) = links.next() {
                if links.peek().is_none() && !done {
                    carry = Some(row);
                    break;
                }
                if let Some(b) = walk.step(&row, links.peek()) {
                    report.broken = Some(b);
                    report.checkpoints_checked = walk.checked;
                    return Ok(report);
                }
                report.events += 1;
            }
            progress(report.events);
            if done {
                break;
            }
        }
        report.last_seq = walk.expected - 1;
        report.head_hash.clone_from(&walk.prev);
        report.checkpoints_checked = walk.checked;
        let pruned_to = first.filter(|f| *f > 1).map(|f| f - 1);
        // Witnessed checkpoints before where the walk began (an exported
        // anchor, a prune) certify nothing it read.
        let began = start.map_or(0, |cp| cp.seq);
        report.broken = against_witness(&report, witnessed, &walk.seen, &checkpoints, began)
            .or_else(|| head_break(head.as_ref(), walk.at_head.as_deref()))
            .or_else(|| truncation(&report, head.as_ref(), &checkpoints, anchor))
            .or_else(|| {
                (anchor.is_none())
                    .then(|| prune_break(pruned_to, &walk.prunes))
                    .flatten()
            });
        Ok(report)
    }

    /// (first event's sequence, head recorded by the writer).
    async fn audit_bounds(&self, org: &OrgSlug) -> Result<(Option<i64>, Option<(i64, String)>)> {
        let first: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM audit_events WHERE org = $1 ORDER BY seq LIMIT 1")
                .bind(org.as_str())
                .fetch_optional(self.pool())
                .await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE org = $1")
                .bind(org.as_str())
                .fetch_optional(self.pool())
                .await?;
        Ok((first.map(|f| f.0), head))
    }
}

/// The chain against the checkpoints a witness kept: each one inside the
/// chain must match it, the newest must not lie beyond its end, and each
/// must still be in the database.
fn against_witness(
    report: &VerifyReport,
    witnessed: &BTreeMap<i64, Checkpoint>,
    seen: &BTreeMap<i64, String>,
    stored: &BTreeMap<i64, Checkpoint>,
    began: i64,
) -> Option<Break> {
    let kept = witnessed.range(began..);
    let newest = witnessed.keys().next_back().copied().unwrap_or(0);
    let mut last_match = began;
    for (&seq, cp) in kept {
        if seq > report.last_seq {
            return Some(Break {
                seq: report.last_seq + 1,
                kind: BreakKind::Truncated,
                detail: format!(
                    "the chain ends at {} but a witnessed checkpoint shows it reached {newest}",
                    report.last_seq
                ),
            });
        }
        if seen.get(&seq) != Some(&cp.head_hash) {
            return Some(Break {
                seq: last_match + 1,
                kind: BreakKind::Rewritten,
                detail: format!(
                    "the chain was rewritten after {last_match}: at {seq} it differs from its witnessed checkpoint"
                ),
            });
        }
        if !stored.contains_key(&seq) && seq != began {
            return Some(Break {
                seq,
                kind: BreakKind::CheckpointDeleted,
                detail: format!("the witnessed checkpoint at {seq} was deleted from the database"),
            });
        }
        last_match = seq;
    }
    None
}

/// The head row must name an event of the chain, with its hash. (Events
/// appended while the walk ran may lie beyond it: the head was read first.)
fn head_break(head: Option<&(i64, String)>, found: Option<&str>) -> Option<Break> {
    let (seq, hash) = head?;
    let found = found?;
    (found != hash).then(|| Break {
        seq: *seq,
        kind: BreakKind::HeadForged,
        detail: format!(
            "the head row names {seq} with hash {} but event {seq} has {}",
            short(hash),
            short(found)
        ),
    })
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The chain must reach what the head and the stored checkpoints say.
fn truncation(
    report: &VerifyReport,
    head: Option<&(i64, String)>,
    checkpoints: &BTreeMap<i64, Checkpoint>,
    anchor: Option<&Checkpoint>,
) -> Option<Break> {
    let known_end = [
        head.map(|h| h.0),
        checkpoints.keys().next_back().copied(),
        anchor.map(|a| a.seq),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    (known_end > report.last_seq).then(|| Break {
        seq: report.last_seq + 1,
        kind: BreakKind::Truncated,
        detail: format!(
            "the chain ends at {} but is known to have reached {known_end}",
            report.last_seq
        ),
    })
}

/// A missing start must be explained by a prune event that removed
/// exactly those events, each older than the retention period then.
fn prune_break(pruned_to: Option<i64>, prunes: &[(i64, AuditEvent)]) -> Option<Break> {
    let to = pruned_to?;
    let record = prunes
        .iter()
        .rev()
        .find_map(|(_, e)| super::event::PruneRecord::parse(e).filter(|(r, _)| r.removed_to == to));
    let Some((record, at)) = record else {
        return Some(Break {
            seq: 1,
            kind: BreakKind::Deleted,
            detail: format!(
                "events 1 to {to} are missing and no prune event records their removal"
            ),
        });
    };
    let age = at - record.last_removed_at;
    (age < chrono::Duration::days(super::event::MIN_RETENTION_DAYS)).then(|| Break {
        seq: to,
        kind: BreakKind::PrunedEarly,
        detail: format!(
            "events up to {to} were pruned {} days after the last of them, before the {}-day retention period",
            age.num_days(),
            super::event::MIN_RETENTION_DAYS
        ),
    })
}
