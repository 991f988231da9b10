//! A chain's rows and links, whatever the driver: the SQL both drivers
//! run, the columns of an event row and how they decode, the rows an
//! append writes (stamped and chained), and the checks that do not need a
//! database (does a chain extend a witnessed checkpoint; does a stored
//! event hash as stored). The writer, the readers and the verifier build
//! on this; it builds on nothing of theirs.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::checkpoint::{Checkpoint, Signer};
use super::event::{
    AuditEvent, ChainedEvent, EventKind, Fields, GENESIS, Rules, chain_hash, hash_fields, micros,
};
use super::frontier::Frontier;
use super::tree_hash::{Hash, decode_hash, leaf_hash};
use crate::error::{Error, Result};
use crate::rules::Effect;

/// Every column of an event row, by name (the `Any` driver's reads).
pub(crate) const EVENT_FIELDS: &str = "org, seq, at, request_time, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash";

/// An event from a row of [`EVENT_FIELDS`].
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
    // The chain fields, apart: (prev_hash, hash, request_time).
    (String, String, Option<i64>),
);

/// An event's stored columns after `org`, in the order of [`Row::values`]:
/// every statement that writes or pages through rows names them by this
/// one list.
macro_rules! event_columns {
    () => {
        "seq, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail, prev_hash, hash, request_time"
    };
}
pub(crate) use event_columns;

pub(crate) const PAGE_COLUMNS: &str = event_columns!();

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

/// What the walk needs of one stored event, computed where it was read
/// (on as many threads as there are readers): its links and whether it
/// hashes as stored. The event itself is kept only for prune events.
#[derive(Debug)]
pub(crate) struct Link {
    pub seq: i64,
    pub prev: String,
    pub hash: String,
    /// Its Merkle leaf hash (RFC 9162 `SHA-256(0x00 || hash)`); zeros when
    /// the stored hash is not 32 bytes of hex (it then cannot hold either).
    pub leaf: Hash,
    /// Whether it hashes as stored at its own place...
    pub holds: bool,
    /// ...or, when it does not, at the place after or before it (rows
    /// renumbered by a deletion or insertion).
    pub at_next: bool,
    pub at_prev: bool,
    pub prune: Option<AuditEvent>,
    /// The Merkle tree of its page's events up to this one, built by the
    /// reader (on its own thread): set at checkpoints and at the page's
    /// last event, and only in pages that begin where a whole-tree subtree
    /// does ([`mark_tree`]).
    pub tree: Option<Frontier>,
    /// The first and last events of such a page.
    pub opens_page: bool,
    pub closes_page: bool,
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
            leaf: decode_hash(hash).map_or([0; 32], |h| leaf_hash(&h)),
            holds,
            at_next: !holds && hashes_at(seq + 1),
            at_prev: !holds && hashes_at(seq - 1),
            prune,
            tree: None,
            opens_page: false,
            closes_page: false,
        })
    }
}

/// Builds the Merkle tree of a page of links that follow sequence `after`,
/// so that `verify` need not hash the tree's nodes one by one on its own
/// thread: snapshots at the sequences in `marks` (checkpoints) and at the
/// page's end. Only for a page that starts at a multiple of `span` (a
/// power of two) right after `after`: its subtrees are then the whole
/// tree's. The walk checks every link before it uses a snapshot.
pub(crate) fn mark_tree(page: &mut [Link], after: i64, span: i64, marks: &BTreeSet<i64>) {
    let starts = page.first().is_some_and(|l| l.seq == after + 1);
    if !starts || after % span != 0 {
        return;
    }
    let mut local = Frontier::default();
    let last = page.len() - 1;
    for (i, link) in page.iter_mut().enumerate() {
        local.push_leaf(link.leaf);
        if i == last || marks.contains(&link.seq) {
            link.tree = Some(local.clone());
        }
    }
    page[0].opens_page = true;
    page[last].closes_page = true;
}

/// The integer columns of an event row that [`link_of_row`] needs:
/// (seq, at, request_time).
pub(crate) type RowNumbers = (i64, i64, Option<i64>);

/// Text column `i` of a row through `text`, which must not be null.
fn required<'r>(text: &impl Fn(usize) -> Result<Option<&'r str>>, i: usize) -> Result<&'r str> {
    text(i)?.ok_or_else(|| Error::corrupt(format!("audit column {i} is empty")))
}

/// The link of a stored row in [`PAGE_COLUMNS`] order, hashed from the
/// row's own memory, whatever the driver: `text(i)` borrows text column
/// `i` (none for null). No copy is made but the two hashes kept, and the
/// event in full for a prune event.
pub(crate) fn link_of_row<'r>(
    org: &str,
    numbers: RowNumbers,
    text: impl Fn(usize) -> Result<Option<&'r str>>,
) -> Result<Link> {
    let (seq, at, request_time) = numbers;
    let fields = Fields {
        at,
        request_time,
        kind: required(&text, 2)?,
        worker: text(3)?,
        action: text(4)?,
        resource: text(5)?,
        customer: text(6)?,
        area: text(7)?,
        document: text(8)?,
        decision: text(9)?,
        rules: Rules::Stored(text(10)?),
        address: text(11)?,
        channel: text(12)?,
        detail: text(13)?,
    };
    let (prev, hash) = (required(&text, 14)?, required(&text, 15)?);
    Link::new(org, seq, &fields, prev, hash, || {
        Ok(from_columns(org, columns_of(numbers, &text)?)?.event)
    })
}

/// A row's columns in [`PAGE_COLUMNS`] order, owned, from the same
/// accessors as [`link_of_row`] (either driver).
pub(crate) fn columns_of<'r>(
    (seq, at, request_time): RowNumbers,
    text: &impl Fn(usize) -> Result<Option<&'r str>>,
) -> Result<EventColumns> {
    let owned = |i: usize| -> Result<Option<String>> { Ok(text(i)?.map(str::to_owned)) };
    let kept = |i: usize| -> Result<String> { Ok(required(text, i)?.to_owned()) };
    Ok((
        seq,
        at,
        kept(2)?,
        owned(3)?,
        owned(4)?,
        owned(5)?,
        owned(6)?,
        owned(7)?,
        owned(8)?,
        owned(9)?,
        owned(10)?,
        owned(11)?,
        owned(12)?,
        owned(13)?,
        (kept(14)?, kept(15)?, request_time),
    ))
}

/// `f` of every item, in order, on all cores (pages of a chain are hashed
/// this way).
pub(crate) fn on_all_cores<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = items.len().div_ceil(threads).max(1024);
    std::thread::scope(|scope| {
        let f = &f;
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Result<Vec<_>>>()))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for part in parts {
            all.extend(
                part.join()
                    .map_err(|_| Error::Audit("a hashing thread panicked".into()))??,
            );
        }
        Ok(all)
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

/// Proof that an event is durable: its place in its chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    pub org: String,
    pub seq: i64,
    pub hash: String,
}

/// An event at its place in its chain, with its hashes: a row to insert.
pub(crate) struct Row<'a> {
    pub seq: i64,
    pub event: &'a AuditEvent,
    pub prev: String,
    pub hash: String,
}

/// A stored column's value: text or a 64-bit integer, `None` for null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Text(Option<std::borrow::Cow<'a, str>>),
    Int(Option<i64>),
}

impl Row<'_> {
    /// The row's values after `org`, in the order every writer stores
    /// them (`seq, at, kind, worker, action, resource, customer, area,
    /// document, decision, rules, address, channel, detail, prev_hash,
    /// hash, request_time`): one definition of what each column holds, for
    /// rusqlite's binds, binary `COPY` and the `Any` path's JSON alike.
    pub(crate) fn values(&self) -> [Value<'_>; 17] {
        use std::borrow::Cow::{Borrowed, Owned};
        let e = self.event;
        fn text(t: &Option<String>) -> Value<'_> {
            Value::Text(t.as_deref().map(Borrowed))
        }
        [
            Value::Int(Some(self.seq)),
            Value::Int(Some(micros(e.at))),
            Value::Text(Some(Borrowed(e.kind.as_str()))),
            text(&e.worker),
            text(&e.action),
            text(&e.resource),
            text(&e.customer),
            text(&e.area),
            text(&e.document),
            Value::Text(e.decision.map(|d| Borrowed(d.as_str()))),
            Value::Text(stored_rules(e).map(Owned)),
            text(&e.address),
            text(&e.channel),
            text(&e.detail),
            Value::Text(Some(Borrowed(&self.prev))),
            Value::Text(Some(Borrowed(&self.hash))),
            Value::Int(e.request_time.map(micros)),
        ]
    }
}

/// Stamps `events` as `stamp` says.
// INVARIANT: an event's time is the writer's clock at the moment it is
// chained, whatever the caller put in `at`; a request's own time goes in
// `request_time`. Events of one chain are stamped in order, so time never
// runs backwards along a chain written by one process.
pub(crate) fn stamp(events: &mut [AuditEvent], stamp: Stamp) {
    if let Stamp::Now(now) = stamp {
        for event in events.iter_mut() {
            event.at = now;
        }
    }
}

/// Chains `events` on from `head` (sequence, hash): the rows to insert
/// and the receipts. The new head is the last row's.
pub(crate) fn chain_rows<'a>(
    org: &str,
    head: (i64, String),
    events: &'a [AuditEvent],
) -> (Vec<Row<'a>>, Vec<Receipt>) {
    let (mut seq, mut hash) = head;
    let mut rows = Vec::with_capacity(events.len());
    let mut receipts = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let next = chain_hash(org, seq, event, &hash);
        receipts.push(Receipt {
            org: org.to_owned(),
            seq,
            hash: next.clone(),
        });
        let prev = std::mem::replace(&mut hash, next.clone());
        rows.push(Row {
            seq,
            event,
            prev,
            hash: next,
        });
    }
    (rows, receipts)
}

/// The witnessed checkpoint lies beyond the head: events were removed.
pub(crate) fn behind(head_seq: i64, seq: i64) -> String {
    format!("the head is at {head_seq}, before the witnessed checkpoint at {seq} (events removed)")
}

/// Where a recorded prune would have left the chain's signed anchor, when
/// the events after the checkpoint at `seq` do not start right after it.
pub(crate) fn prune_anchor(events: &[ChainedEvent], seq: i64) -> Option<i64> {
    events
        .first()
        .filter(|e| e.seq > seq + 1)
        .map(|e| e.seq - 1)
}

/// Whether `events` (all of a chain's after `seq`, in order) extend the
/// witnessed checkpoint (`seq`, `hash`) up to `head`. `anchor` is the
/// stored checkpoint at [`prune_anchor`], when there is one.
pub(crate) fn extension(
    key: &ed25519_dalek::VerifyingKey,
    seq: i64,
    hash: &str,
    head: &(i64, String),
    events: &[ChainedEvent],
    anchor: Option<&Checkpoint>,
) -> std::result::Result<(), String> {
    let (mut expected, mut prev) = (seq + 1, hash);
    // A recorded prune may have removed events after the checkpoint: the
    // chain then goes on from the prune's signed anchor checkpoint.
    if let Some(at) = prune_anchor(events, seq) {
        let recorded = events.iter().any(|e| {
            super::event::PruneRecord::parse(&e.event).is_some_and(|(r, _)| r.removed_to == at)
        });
        match anchor.filter(|cp| cp.seq == at && cp.verify(key)) {
            Some(cp) if recorded => (expected, prev) = (at + 1, &cp.head_hash),
            _ => {
                return Err(format!(
                    "events {expected} to {at} are gone without a recorded prune"
                ));
            }
        }
    }
    for e in events {
        if e.seq != expected
            || e.prev_hash != prev
            || chain_hash(&e.org, e.seq, &e.event, prev) != e.hash
        {
            return Err(format!(
                "event {expected} does not chain on from the witnessed checkpoint at {seq}"
            ));
        }
        prev = &e.hash;
        expected += 1;
    }
    let (head_seq, head_hash) = head;
    if expected - 1 != *head_seq || prev != head_hash {
        return Err(format!(
            "the head ({head_seq}) is not the last event chained from the witnessed checkpoint at {seq}"
        ));
    }
    Ok(())
}

/// The time an appended event gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stamp {
    /// The writer's clock: every event of the batch gets this time.
    Now(chrono::DateTime<chrono::Utc>),
    /// Keep the events' own times: only for seeding synthetic history in
    /// tests and benchmarks (the `testkit` feature).
    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    Keep,
}

/// Moves a chain's head.
pub(crate) const SET_HEAD: &str = "UPDATE audit_heads SET seq = $2, hash = $3 WHERE org = $1";

/// The rules column: the rule names, comma-separated (`None` for none).
pub(crate) fn stored_rules(e: &AuditEvent) -> Option<String> {
    (!e.rules.is_empty()).then(|| e.rules.join(","))
}

/// Stores a signed checkpoint (once per sequence).
pub(crate) const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints (org, seq, head_hash, at, public_key, signature, root, note, edge) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (org, seq) DO NOTHING";

/// A checkpoint row's columns after `org`, as [`CheckpointRow`] holds them.
pub(crate) const CHECKPOINT_COLUMNS: &str =
    "seq, head_hash, public_key, at, signature, root, note, edge";

/// The columns of [`CHECKPOINT_COLUMNS`].
pub(crate) type CheckpointRow = (i64, String, String, i64, String, String, String, String);

/// A stored checkpoint of `org`. An edge that does not decode is left
/// out: where one is needed, its absence is refused.
pub(crate) fn checkpoint_from(org: &str, row: CheckpointRow) -> Result<Checkpoint> {
    let (seq, head_hash, public_key, at, signature, root, note, edge) = row;
    Ok(Checkpoint {
        org: org.to_owned(),
        seq,
        head_hash,
        at: chrono::DateTime::from_timestamp_micros(at)
            .ok_or_else(|| Error::corrupt(format!("the time of checkpoint {seq}")))?,
        public_key,
        signature,
        root,
        note,
        edge: u64::try_from(seq)
            .ok()
            .and_then(|size| Frontier::decode(size, &edge).ok()),
    })
}

/// The checkpoint of `org` that `sql` selects with `seq` as `$2`, through
/// either sqlx driver (`Any` or the writer's typed `Postgres`; a
/// transaction, a connection or the pool):
/// [`SELECT_CHECKPOINT`] (at `seq`) or [`NEWEST_CHECKPOINT`] (at or before).
pub(crate) async fn one_checkpoint<'c, DB>(
    on: impl sqlx::Executor<'c, Database = DB>,
    sql: &str,
    org: &str,
    seq: i64,
) -> Result<Option<Checkpoint>>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> CheckpointRow: sqlx::FromRow<'r, DB::Row>,
{
    let stored: Option<CheckpointRow> = sqlx::query_as(sql)
        .bind(org)
        .bind(seq)
        .fetch_optional(on)
        .await?;
    stored.map(|row| checkpoint_from(org, row)).transpose()
}

/// Whether `org`'s chain, as stored now, extends the checkpoint (`seq`,
/// `hash`), given its locked `head`: every event after the checkpoint
/// chains on from it and the head is its last event. `Ok(Err(detail))`
/// says how it does not. The events after it are read with `events`
/// (`org` as `$1`, `seq` as `$2`) and decoded by `decode`, on either sqlx
/// driver, inside the caller's transaction.
pub(crate) async fn extends_locked<DB>(
    conn: &mut DB::Connection,
    head: (i64, String),
    key: &ed25519_dalek::VerifyingKey,
    org: &str,
    (seq, hash): (i64, &str),
    events: &str,
    decode: impl Fn(&DB::Row) -> Result<ChainedEvent>,
) -> Result<std::result::Result<Checked, String>>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> CheckpointRow: sqlx::FromRow<'r, DB::Row>,
{
    if head.0 < seq {
        return Ok(Err(behind(head.0, seq)));
    }
    let rows = sqlx::query(events)
        .bind(org)
        .bind(seq)
        .fetch_all(&mut *conn)
        .await?;
    let events = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
    let anchor = match prune_anchor(&events, seq) {
        Some(at) => one_checkpoint(&mut *conn, SELECT_CHECKPOINT, org, at).await?,
        None => None,
    };
    Ok(extension(key, seq, hash, &head, &events, anchor.as_ref())
        .map(|()| Checked::of(seq, events)))
}

/// The links (sequence, previous hash, hash) of a chain's events after
/// `after`, as a check against the witnessed checkpoint read them in the
/// transaction that signs next. The checkpoint grows its tree from them
/// when its newest stored checkpoint is at `after` (the witnessed one, as
/// a rule) instead of reading the same rows again; its tree still checks
/// that every link chains on.
#[derive(Debug)]
pub(crate) struct Checked {
    after: i64,
    links: Vec<(i64, String, String)>,
}

impl Checked {
    /// The links of `events`: all of a chain's after `seq`, checked.
    pub(crate) fn of(seq: i64, events: Vec<ChainedEvent>) -> Self {
        let after = events.first().map_or(seq, |e| e.seq - 1);
        let links = events
            .into_iter()
            .map(|e| (e.seq, e.prev_hash, e.hash))
            .collect();
        Self { after, links }
    }

    /// The links after `after`, if `checked` holds them.
    pub(crate) fn links_after(
        checked: Option<Self>,
        after: i64,
    ) -> Option<Vec<(i64, String, String)>> {
        checked.filter(|c| c.after == after).map(|c| c.links)
    }
}

/// Moves `org`'s head to (`seq`, `hash`), the last event just appended,
/// on either sqlx driver, inside the caller's transaction.
pub(crate) async fn move_head<DB>(
    conn: &mut DB::Connection,
    org: &str,
    seq: i64,
    hash: &str,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query(SET_HEAD)
        .bind(org)
        .bind(seq)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Signs and stores a checkpoint of `org`'s locked `head` (none for an
/// empty chain, or one whose head is its newest checkpoint) on `conn`,
/// inside the caller's transaction, its tree grown from the links
/// `checked` holds when they start at the newest checkpoint, else from the
/// stored ones; `Ok(Err(detail))` when its tree cannot be grown from a
/// signed one ([`next_checkpoint`]).
pub(crate) async fn store_checkpoint<DB>(
    conn: &mut DB::Connection,
    signer: &Signer,
    org: &str,
    (seq, hash): (i64, String),
    now: chrono::DateTime<chrono::Utc>,
    checked: Option<Checked>,
) -> Result<std::result::Result<Option<Checkpoint>, String>>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> CheckpointRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64, String, String): sqlx::FromRow<'r, DB::Row>,
{
    if seq == 0 {
        return Ok(Ok(None));
    }
    let base = one_checkpoint(&mut *conn, NEWEST_CHECKPOINT, org, seq).await?;
    let after = base.as_ref().map_or(0, |cp| cp.seq);
    let links = match Checked::links_after(checked, after) {
        Some(links) => links,
        None => {
            sqlx::query_as(LINKS_AFTER)
                .bind(org)
                .bind(after)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let cp = match next_checkpoint(signer, org, base.as_ref(), links, (seq, &hash), now) {
        Ok(Some(cp)) => cp,
        other => return Ok(other),
    };
    sqlx::query(INSERT_CHECKPOINT)
        .bind(org)
        .bind(cp.seq)
        .bind(cp.head_hash.clone())
        .bind(micros(cp.at))
        .bind(cp.public_key.clone())
        .bind(cp.signature.clone())
        .bind(cp.root.clone())
        .bind(cp.note.clone())
        .bind(cp.edge_text())
        .execute(&mut *conn)
        .await?;
    Ok(Ok(Some(cp)))
}

/// The newest checkpoint of a chain at or before a sequence.
pub(crate) const NEWEST_CHECKPOINT: &str = "SELECT seq, head_hash, public_key, at, signature, root, note, edge FROM audit_checkpoints WHERE org = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1";

/// A stored checkpoint of a chain at a sequence ([`CHECKPOINT_COLUMNS`]).
pub(crate) const SELECT_CHECKPOINT: &str = "SELECT seq, head_hash, public_key, at, signature, root, note, edge FROM audit_checkpoints WHERE org = $1 AND seq = $2";

/// The links of a chain's events after a sequence: (seq, prev, hash).
pub(crate) const LINKS_AFTER: &str =
    "SELECT seq, prev_hash, hash FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq";

/// The right edge of a chain's Merkle tree at its `head`: the edge kept
/// with `base` (its newest checkpoint; none for a chain never signed),
/// grown by the `links` (seq, prev, hash) of every event after it.
/// `Err(detail)` when the stored rows cannot give an edge that extends a
/// root this key signed.
// INVARIANT: a signed root only ever grows from an edge checked against a
// root this key signed before, through events that chain on from it.
pub(crate) fn grown_edge(
    key: &ed25519_dalek::VerifyingKey,
    base: Option<&Checkpoint>,
    links: impl IntoIterator<Item = (i64, String, String)>,
    head: (i64, &str),
) -> std::result::Result<Frontier, String> {
    let (mut edge, from, mut prev) = match base {
        None => (Frontier::default(), 0, GENESIS.to_owned()),
        Some(cp) if !cp.verify(key) => {
            return Err(format!(
                "the stored checkpoint at {} is not signed by this log's key",
                cp.seq
            ));
        }
        Some(cp) => match cp.holds_edge() {
            Some(edge) => (edge.clone(), cp.seq, cp.head_hash.clone()),
            None => {
                return Err(format!(
                    "the Merkle tree edge stored at {} does not match its signed root",
                    cp.seq
                ));
            }
        },
    };
    let mut seq = from;
    for (at, link, hash) in links {
        let event = decode_hash(&hash);
        let Ok(event) = event.as_ref() else {
            return Err(format!("event {at} has no valid hash"));
        };
        if at != seq + 1 || link != prev {
            return Err(format!(
                "event {} does not chain on from the checkpoint at {from}",
                seq + 1
            ));
        }
        edge.push_event(event);
        (seq, prev) = (at, hash);
    }
    if (seq, prev.as_str()) != head {
        return Err(format!(
            "the head ({}) is not the last event chained from the checkpoint at {from}",
            head.0
        ));
    }
    Ok(edge)
}

/// The checkpoint `signer` signs at a chain's `head` (sequence, hash):
/// its tree is [`grown_edge`]'s from `base`, the chain's newest stored
/// checkpoint, and the `links` after it. None when `base` is already at
/// the head; `Err(detail)` as [`grown_edge`].
pub(crate) fn next_checkpoint(
    signer: &Signer,
    org: &str,
    base: Option<&Checkpoint>,
    links: impl IntoIterator<Item = (i64, String, String)>,
    head: (i64, &str),
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<Option<Checkpoint>, String> {
    let edge = grown_edge(&signer.verifying_key(), base, links, head)?;
    if base.is_some_and(|cp| cp.seq == head.0) {
        // Nothing since the newest checkpoint: it stands.
        return Ok(None);
    }
    Ok(Some(signer.sign(org, head.1, &edge, now)))
}

/// A chain's head (the `Any` path appends `FOR UPDATE` on PostgreSQL).
pub(crate) const SELECT_HEAD: &str = "SELECT seq, hash FROM audit_heads WHERE org = $1";

/// Creates a chain's head at the genesis if it has none.
pub(crate) const CREATE_HEAD: &str =
    "INSERT INTO audit_heads (org, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (org) DO NOTHING";

/// The chains whose head is past their latest checkpoint.
pub(crate) const MOVED_HEADS: &str = "SELECT h.org FROM audit_heads h WHERE h.seq > COALESCE((SELECT MAX(c.seq) FROM audit_checkpoints c WHERE c.org = h.org), 0)";

/// One batch: each chain's events with their places in the batch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub chains: Vec<(String, Vec<usize>, Vec<AuditEvent>)>,
    pub len: usize,
    pub signing: Signing,
}

/// The checkpoints a batch signs in its transaction.
#[derive(Debug)]
pub(crate) struct Signing {
    /// Chains to sign whatever happens; with `due`, also every chain that
    /// moved since its last checkpoint.
    pub to_sign: BTreeSet<String>,
    pub due: bool,
    /// The newest witnessed (sequence, hash) of each chain to sign.
    pub witnessed: BTreeMap<String, (i64, String)>,
}

/// What a committed batch did.
#[derive(Debug)]
pub(crate) struct Written {
    pub receipts: Vec<Option<Receipt>>,
    pub signed: Signed,
}

/// The checkpoints a batch signed.
#[derive(Debug)]
pub(crate) struct Signed {
    pub checkpoints: Vec<Checkpoint>,
    /// Every chain it was to sign (one whose head is its newest
    /// checkpoint already gets none).
    pub orgs: BTreeSet<String>,
}
