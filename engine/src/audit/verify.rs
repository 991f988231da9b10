//! Recomputing a chain and checking its signed checkpoints.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::chain::{
    CHECKPOINT_COLUMNS, CheckpointRow, Link, SELECT_CHECKPOINT, checkpoint_from, one_checkpoint,
};
use super::checkpoint::Checkpoint;
use super::event::{AuditEvent, GENESIS};
use super::frontier::Frontier;
use crate::domain::OrgSlug;
use crate::error::Result;
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
    /// A signed Merkle root is not the root of the events it covers.
    TreeRoot,
    /// A prune removed events younger than the retention period.
    PrunedEarly,
    /// A stored cosignature of a trusted witness does not verify.
    BadCosignature,
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
            BreakKind::TreeRoot => "tree root differs",
            BreakKind::PrunedEarly => "pruned early",
            BreakKind::BadCosignature => "bad cosignature",
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
    /// The walk began after this sequence: 0 for the genesis, else the
    /// checkpoint it started from (exported, left by a prune, or the newest
    /// witnessed one for an everyday check, [`Store::check_audit_since`]).
    pub began: i64,
    /// Events walked (those after `began`).
    pub events: i64,
    /// Whether this was an everyday check from a witnessed checkpoint: the
    /// events up to `began` were not read again ([`Store::check_audit_since`]).
    pub tail_only: bool,
    pub last_seq: i64,
    pub head_hash: String,
    pub checkpoints_checked: usize,
    /// How many of them had their Merkle root recomputed from the events
    /// (all, unless the walk began at an exported checkpoint whose tree
    /// edge the database does not hold).
    pub roots_checked: usize,
    /// Witnesses' cosignatures checked for it (by the caller, who chose
    /// which witnesses to trust).
    pub cosignatures_checked: usize,
    pub signatures_checked: bool,
    pub broken: Option<Break>,
}

impl VerifyReport {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.broken.is_none()
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

/// The Merkle tree of the events a walk has checked.
#[derive(Debug)]
enum Grown {
    /// Not known: the walk began at a checkpoint whose edge is missing.
    Unknown,
    /// Exact up to the last event checked, grown a leaf at a time.
    Leaf(Frontier),
    /// Exact where the current page began: the page's own tree comes with
    /// its links, built on the reader's thread ([`super::chain::mark_tree`]).
    Page(Frontier),
}

impl Grown {
    /// Takes in a checked `row`; returns the tree exactly up to it when
    /// `want` (a checkpoint is there) and the tree is known.
    fn take(&mut self, row: &Link, want: bool) -> Option<Frontier> {
        let seq = u64::try_from(row.seq).unwrap_or(0);
        // Switch at a page's first event, by whether its page was built.
        match self {
            Grown::Page(base) if base.size() + 1 == seq && !row.opens_page => {
                *self = Grown::Leaf(std::mem::take(base));
            }
            Grown::Leaf(tree) if row.opens_page => *self = Grown::Page(std::mem::take(tree)),
            _ => {}
        }
        match self {
            Grown::Unknown => None,
            Grown::Leaf(tree) => {
                tree.push_leaf(row.leaf);
                want.then(|| tree.clone())
            }
            Grown::Page(base) => {
                let local = row.tree.as_ref()?;
                let mut here = base.clone();
                if base.size() + local.size() != seq || !here.append(local) {
                    *self = Grown::Unknown;
                    return None;
                }
                if row.closes_page {
                    base.clone_from(&here);
                }
                want.then_some(here)
            }
        }
    }
}

/// A chain being checked, event by event.
struct Walk<'a> {
    key: Option<&'a VerifyingKey>,
    checkpoints: &'a BTreeMap<i64, Checkpoint>,
    expected: i64,
    prev: String,
    checked: usize,
    /// The Merkle tree of the events walked so far.
    tree: Grown,
    roots: usize,
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
        let checkpoint = self.checkpoints.get(&row.seq);
        let tree = self.tree.take(row, checkpoint.is_some());
        if let Some(cp) = checkpoint {
            if let Some(b) = self.check_checkpoint(cp, &row.hash, tree.as_ref()) {
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

    /// A stored checkpoint met at its event, whose hash is `hash`; `tree`
    /// is the Merkle tree up to there, when known.
    fn check_checkpoint(
        &mut self,
        cp: &Checkpoint,
        hash: &str,
        tree: Option<&Frontier>,
    ) -> Option<Break> {
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
        if cp.head_hash != hash {
            return Some(Break {
                seq: cp.seq,
                kind: BreakKind::Edited,
                detail: format!(
                    "the chain up to {} differs from its signed checkpoint",
                    cp.seq
                ),
            });
        }
        self.check_root(cp, tree?)
    }

    /// The signed root against the tree of the events walked.
    fn check_root(&mut self, cp: &Checkpoint, tree: &Frontier) -> Option<Break> {
        if i64::try_from(tree.size()).ok() != Some(cp.seq) {
            return None;
        }
        self.roots += 1;
        (hex::encode(tree.root()) != cp.root).then(|| Break {
            seq: cp.seq,
            kind: BreakKind::TreeRoot,
            detail: format!(
                "the Merkle root signed at {} is not the root of the first {} events",
                cp.seq, cp.seq
            ),
        })
    }
}

impl Store {
    /// The signed checkpoints of a chain, by sequence.
    pub async fn audit_checkpoints(&self, org: &OrgSlug) -> Result<BTreeMap<i64, Checkpoint>> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE org = $1 ORDER BY seq"
        );
        let rows: Vec<CheckpointRow> = sqlx::query_as(&sql)
            .bind(org.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.0, checkpoint_from(org.as_str(), row)?)))
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
            began: 0,
            events: 0,
            tail_only: false,
            last_seq: 0,
            head_hash: GENESIS.to_owned(),
            checkpoints_checked: 0,
            roots_checked: 0,
            cosignatures_checked: 0,
            signatures_checked: key.is_some(),
            broken: None,
        };
        let mut walk = Walk {
            key,
            checkpoints: &checkpoints,
            expected: 1,
            prev: GENESIS.to_owned(),
            checked: 0,
            tree: Grown::Leaf(Frontier::default()),
            roots: 0,
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
            report.began = cp.seq;
            if let Some(b) = walk.check_checkpoint(cp, &cp.head_hash, None) {
                report.broken = Some(b);
                return Ok(report);
            }
            walk.expected = cp.seq + 1;
            walk.prev.clone_from(&cp.head_hash);
            walk.tree = start_edge(cp, &checkpoints).map_or(Grown::Unknown, Grown::Leaf);
            walk.seen.insert(cp.seq, cp.head_hash.clone());
        }
        let marks = std::sync::Arc::new(checkpoints.keys().copied().collect());
        let mut pages =
            super::stream::events_after(self, org, walk.expected - 1, walk.head_seq, marks);
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
                    report.roots_checked = walk.roots;
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
        report.roots_checked = walk.roots;
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

    /// The everyday check: `org`'s chain from `witnessed`, its newest
    /// checkpoint kept outside the database, to the head. It reads only the
    /// events since that checkpoint, and their Merkle tree from the edge
    /// stored with it, so it costs what the writer's own guard costs.
    ///
    /// What it shows: the chain still extends the witnessed checkpoint (not
    /// truncated, rewritten or forged at the head), and every event since
    /// is intact and signed where a checkpoint covers it. What it does not:
    /// an edit of an event before that checkpoint; the full verify
    /// ([`Store::verify_audit_witnessed`]) reads those. On any doubt (a
    /// break, the stored checkpoint missing or different, a prune past the
    /// witnessed point) it runs the full verify, which names the first
    /// break.
    pub async fn check_audit_since(
        &self,
        org: &OrgSlug,
        key: &VerifyingKey,
        witnessed: &Checkpoint,
    ) -> Result<VerifyReport> {
        let just = BTreeMap::from([(witnessed.seq, witnessed.clone())]);
        let stored =
            one_checkpoint(self.pool(), SELECT_CHECKPOINT, org.as_str(), witnessed.seq).await?;
        let event: Option<(String,)> =
            sqlx::query_as("SELECT hash FROM audit_events WHERE org = $1 AND seq = $2")
                .bind(org.as_str())
                .bind(witnessed.seq)
                .fetch_optional(self.pool())
                .await?;
        // INVARIANT: the tail is walked only from a point the database
        // still holds as the witness saw it (its event and its checkpoint);
        // otherwise the whole chain is.
        let holds = stored.is_some_and(|s| s.head_hash == witnessed.head_hash)
            && event.is_some_and(|(hash,)| hash == witnessed.head_hash);
        if holds {
            let mut report = self
                .verify_audit_witnessed(org, Some(key), Some(witnessed), &just, |_| {})
                .await?;
            if report.ok() {
                report.tail_only = true;
                return Ok(report);
            }
        }
        self.verify_audit_witnessed(org, Some(key), None, &just, |_| {})
            .await
    }

    /// The sequence of `org`'s chain head as the database records it (0
    /// for an empty chain): a figure to show, not a proof.
    pub async fn audit_head(&self, org: &OrgSlug) -> Result<i64> {
        Ok(self.audit_bounds(org).await?.1.map_or(0, |(seq, _)| seq))
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

/// The Merkle tree at a walk's starting checkpoint: the edge the database
/// keeps for it, if that edge folds to the root `cp` signed (an exported
/// checkpoint carries no edge of its own).
fn start_edge(cp: &Checkpoint, stored: &BTreeMap<i64, Checkpoint>) -> Option<Frontier> {
    let edge = stored.get(&cp.seq)?.holds_edge()?;
    (hex::encode(edge.root()) == cp.root).then(|| edge.clone())
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
