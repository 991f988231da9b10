//! The suppression list (opt-outs, bajas) and the Robinson list.
//!
//! A customer's opt-out lives on the customer record; addresses that are
//! not customers' live in `opt_outs`. Either way it is one fact, and every
//! query here looks at both.

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};
use custodia_engine::audit::{AuditEvent, Change, EventKind, Pseudonyms};
use custodia_engine::store::Backend;
use custodia_engine::{OrgSlug, RobinsonList, Store};
use sha2::Digest;

use crate::address::Address;
use crate::error::Result;

/// One entry of the suppression list, as exported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OptOutEntry {
    pub address: String,
    pub date: String,
    pub channel: String,
    pub source: String,
}

/// Serialises opt-outs against message claims of the same organisation.
///
/// On SQLite every write transaction is already serialised. PostgreSQL runs
/// them side by side under READ COMMITTED, where a claim could read the
/// suppression list just before an opt-out commits and the opt-out's
/// "nothing in flight" check could run just before the claim commits: the
/// message would then leave after the unsubscribe was answered. One
/// transaction-scoped advisory lock per organisation rules that out.
// INVARIANT: every transaction that adds or lifts an opt-out or claims
// messages for sending begins here.
pub(crate) async fn begin_suppressing(
    store: &Store,
    org: &OrgSlug,
) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = store.begin_write().await?;
    if store.backend() == Backend::Postgres {
        let digest = sha2::Sha256::digest(format!("custodia opt-outs {org}").as_bytes());
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(i64::from_be_bytes(key))
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// The customers (ids) whose email normalises to `address`.
async fn customers_with(change: &mut Change, address: &Address) -> Result<Vec<String>> {
    Ok(change
        .customers_with_email(address.as_str())
        .await?
        .into_iter()
        .filter(|(_, email)| Address::parse(email).is_ok_and(|a| a.key() == address.key()))
        .map(|(id, _)| id)
        .collect())
}

/// A change under the opt-out lock, committed with its audit events.
async fn suppressing_change(store: &Store, org: &OrgSlug) -> Result<Change> {
    let tx = begin_suppressing(store, org).await?;
    Ok(Change::wrap(tx, store.backend(), org))
}

/// The audit event of an opt-out list change; `reference` names the
/// address by its pseudonym (never in clear).
fn opt_out_event(reference: Option<String>, channel: &str, detail: String) -> AuditEvent {
    let mut event = AuditEvent::new(EventKind::OptOut, Utc::now());
    event.channel = Some(channel.to_owned());
    event.resource = reference;
    event.detail = Some(detail);
    event
}

/// Records an opt-out, effective at once, with its audit event in the same
/// transaction. Returns the customers it applied to (empty when the
/// address is not a customer's).
pub async fn opt_out(
    store: &Store,
    org: &OrgSlug,
    address: &Address,
    channel: &str,
    source: &str,
    pseudonyms: &Pseudonyms,
) -> Result<Vec<String>> {
    let mut change = suppressing_change(store, org).await?;
    let customers = record_opt_out(&mut change, address, channel, source).await?;
    let reference = pseudonyms.address(org.as_str(), &address.key());
    change.record(opt_out_event(Some(reference), channel, source.to_owned()));
    change.commit().await?;
    Ok(customers)
}

/// The rows of the JSON array of strings bound as parameter `$n`, as each
/// backend spells it: batches of a million values go in as a few JSON
/// arrays, not a million inserts. (`WHERE true` lets SQLite parse the
/// `ON CONFLICT` that follows a `SELECT`.)
fn json_rows(backend: Backend, n: u8) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n}) WHERE true"),
        Backend::Postgres => format!("json_array_elements_text(${n}::json)"),
    }
}

/// Records many opt-outs in one transaction: all or none. Customers'
/// addresses become their bajas; the rest go in as JSON batches (a
/// million single inserts would take minutes).
pub async fn import_opt_outs(
    store: &Store,
    org: &OrgSlug,
    addresses: &[Address],
    channel: &str,
    source: &str,
) -> Result<usize> {
    let today = Utc::now().date_naive().to_string();
    let customers = store.org(org).await?.customer_emails().await?;
    let mut by_key: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (id, email) in customers {
        if let Ok(address) = Address::parse(&email) {
            by_key.entry(address.key()).or_default().push(id);
        }
    }
    let (customer_ids, listed): (Vec<_>, Vec<_>) = addresses
        .iter()
        .map(Address::key)
        .partition(|key| by_key.contains_key(key));
    let insert = format!(
        "INSERT INTO opt_outs (org, address, date, channel, source) SELECT $1, value, $2, $3, $4 FROM {} ON CONFLICT (org, address) DO NOTHING",
        json_rows(store.backend(), 5)
    );
    let mut change = suppressing_change(store, org).await?;
    for chunk in listed.chunks(10_000) {
        let batch = serde_json::to_string(chunk)
            .map_err(|e| custodia_engine::Error::Corrupt(format!("opt-out batch: {e}")))?;
        sqlx::query(&insert)
            .bind(org.as_str())
            .bind(&today)
            .bind(channel)
            .bind(source)
            .bind(batch)
            .execute(&mut **change.tx())
            .await?;
    }
    for id in customer_ids.iter().flat_map(|key| &by_key[key]) {
        change.opt_out_customer(id, &today, channel).await?;
    }
    let detail = format!("{} opt-outs imported from {source}", addresses.len());
    change.record(opt_out_event(None, channel, detail));
    change.commit().await?;
    Ok(addresses.len())
}

async fn record_opt_out(
    change: &mut Change,
    address: &Address,
    channel: &str,
    source: &str,
) -> Result<Vec<String>> {
    let today = Utc::now().date_naive().to_string();
    let customers = customers_with(change, address).await?;
    if customers.is_empty() {
        let org = change.org().to_string();
        sqlx::query(
            "INSERT INTO opt_outs (org, address, date, channel, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org, address) DO NOTHING",
        )
        .bind(org)
        .bind(address.key())
        .bind(&today)
        .bind(channel)
        .bind(source)
        .execute(&mut **change.tx())
        .await?;
        return Ok(Vec::new());
    }
    for id in &customers {
        change.opt_out_customer(id, &today, channel).await?;
    }
    Ok(customers)
}

/// Lifts an opt-out; only a new, recorded consent may do that.
pub async fn lift_opt_out(
    store: &Store,
    org: &OrgSlug,
    address: &Address,
    consent_source: &str,
    consent_date: NaiveDate,
    pseudonyms: &Pseudonyms,
) -> Result<()> {
    let mut change = suppressing_change(store, org).await?;
    sqlx::query("DELETE FROM opt_outs WHERE org = $1 AND address = $2")
        .bind(org.as_str())
        .bind(address.key())
        .execute(&mut **change.tx())
        .await?;
    for id in customers_with(&mut change, address).await? {
        change
            .record_new_consent(&id, consent_source, &consent_date.to_string())
            .await?;
    }
    let detail = format!("opt-out lifted by new consent: {consent_source}, {consent_date}");
    let reference = pseudonyms.address(org.as_str(), &address.key());
    change.record(opt_out_event(Some(reference), "consent", detail));
    change.commit().await?;
    Ok(())
}

/// The whole suppression list: listed addresses and customers' opt-outs.
pub async fn opt_outs(store: &Store, org: &OrgSlug) -> Result<Vec<OptOutEntry>> {
    let listed: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT address, date, channel, source FROM opt_outs WHERE org = $1")
            .bind(org.as_str())
            .fetch_all(store.pool())
            .await?;
    let customers = store.org(org).await?.customer_opt_outs().await?;
    let mut entries: Vec<OptOutEntry> = listed
        .into_iter()
        .map(|(address, date, channel, source)| OptOutEntry {
            address,
            date,
            channel,
            source,
        })
        .chain(customers.into_iter().filter_map(|c| {
            let address = Address::parse(c.email.as_deref()?).ok()?;
            Some(OptOutEntry {
                address: address.key(),
                date: c.date,
                channel: c.channel,
                source: format!("customer {}", c.id),
            })
        }))
        .collect();
    entries.sort_by(|a, b| a.address.cmp(&b.address));
    entries.dedup_by(|a, b| a.address == b.address);
    Ok(entries)
}

/// Parses a Robinson list: hex SHA-256 hashes (the official format) or
/// plain addresses, one per line. An unreadable line names its number.
fn robinson_hashes_of(path: &std::path::Path, text: &str) -> Result<Vec<String>> {
    let mut hashes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let hash = if line.len() == 64 && line.chars().all(|c| c.is_ascii_hexdigit()) {
            line.to_ascii_lowercase()
        } else {
            Address::parse(line)
                .map_err(|e| crate::error::Error::Input {
                    path: path.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                })?
                .robinson_hash()
        };
        hashes.push(hash);
    }
    hashes.sort_unstable();
    hashes.dedup();
    Ok(hashes)
}

/// Imports a Robinson list download for `org`: it replaces the previous
/// one whole (people also leave the list), records the download date and
/// entry count, and is audited in the same transaction. All or nothing.
pub async fn import_robinson(
    store: &Store,
    org: &OrgSlug,
    path: &std::path::Path,
    text: &str,
    downloaded: NaiveDate,
) -> Result<usize> {
    if downloaded > Utc::now().date_naive() {
        return Err(crate::error::Error::RobinsonDateInFuture(downloaded));
    }
    let hashes = robinson_hashes_of(path, text)?;
    let insert = format!(
        "INSERT INTO robinson (org, hash) SELECT $1, value FROM {} ON CONFLICT (org, hash) DO NOTHING",
        json_rows(store.backend(), 2)
    );
    let mut change = Change::begin(store, org).await?;
    sqlx::query("DELETE FROM robinson WHERE org = $1")
        .bind(org.as_str())
        .execute(&mut **change.tx())
        .await?;
    for chunk in hashes.chunks(10_000) {
        let batch = serde_json::to_string(chunk)
            .map_err(|e| custodia_engine::Error::Corrupt(format!("robinson batch: {e}")))?;
        sqlx::query(&insert)
            .bind(org.as_str())
            .bind(batch)
            .execute(&mut **change.tx())
            .await?;
    }
    let source = path.display().to_string();
    sqlx::query(
        "INSERT INTO robinson_lists (org, downloaded_on, imported_at, entries, source) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org.as_str())
    .bind(downloaded.to_string())
    .bind(Utc::now().timestamp())
    .bind(i64::try_from(hashes.len()).unwrap_or(i64::MAX))
    .bind(&source)
    .execute(&mut **change.tx())
    .await?;
    let mut event = AuditEvent::new(EventKind::Robinson, Utc::now());
    event.resource = Some("robinson".into());
    event.detail = Some(format!(
        "Robinson list downloaded on {downloaded} imported from `{source}`: {} entries",
        hashes.len()
    ));
    change.record(event);
    change.commit().await?;
    Ok(hashes.len())
}

/// The Robinson list `org` imported last, if any.
pub async fn robinson_list(store: &Store, org: &OrgSlug) -> Result<Option<RobinsonList>> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT downloaded_on, entries FROM robinson_lists WHERE org = $1 ORDER BY imported_at DESC, downloaded_on DESC LIMIT 1",
    )
    .bind(org.as_str())
    .fetch_optional(store.pool())
    .await?;
    row.map(|(day, entries)| {
        Ok(RobinsonList {
            downloaded: day.parse().map_err(|e| {
                custodia_engine::Error::Corrupt(format!(
                    "robinson_lists.downloaded_on `{day}`: {e}"
                ))
            })?,
            entries: u64::try_from(entries).unwrap_or(0),
        })
    })
    .transpose()
}

/// The list in force for a plan: refused when missing or older than
/// `max_age_days` (LOPDGDD art. 23.4 asks for the list as it stands).
// INVARIANT: no plan is made against a missing or stale Robinson list.
pub async fn robinson_in_force(
    store: &Store,
    org: &OrgSlug,
    max_age_days: u32,
) -> Result<RobinsonList> {
    let list =
        robinson_list(store, org)
            .await?
            .ok_or_else(|| crate::error::Error::NoRobinsonList {
                org: org.to_string(),
            })?;
    let age = (Utc::now().date_naive() - list.downloaded).num_days();
    if age > i64::from(max_age_days) {
        return Err(crate::error::Error::StaleRobinsonList {
            org: org.to_string(),
            downloaded: list.downloaded,
            age,
            max: i64::from(max_age_days),
        });
    }
    Ok(list)
}

/// The plan's sets hold 128-bit keys (an address key or a Robinson hash),
/// 16 bytes each instead of a string. Two different addresses share a key
/// with a chance near 2^-128; if they ever did, the plan would leave one
/// more person out, never send to one who opted out.
pub use crate::key_set::{KeySet, SortedKeys};

/// The set key of a normalised address key (`Address::key`): two
/// independent 64-bit hashes with fixed seeds, the same in every process.
pub fn set_key(key: &str) -> u128 {
    use std::hash::BuildHasher;
    let low = foldhash::quality::FixedState::with_seed(0x5eed_0f0f_c057_0d1a).hash_one(key);
    let high = foldhash::quality::FixedState::with_seed(0x0b57_a11e_d0ce_5e7e).hash_one(key);
    (u128::from(high) << 64) | u128::from(low)
}

/// The set key of a stored Robinson hash (hex SHA-256): its first 128 bits,
/// as `Address::robinson_key` computes them.
fn robinson_key(hex: &str) -> Option<u128> {
    u128::from_str_radix(hex.get(..32)?, 16).ok()
}

/// Every Robinson hash of `org`'s list, for planning.
pub async fn robinson_hashes(store: &Store, org: &OrgSlug) -> Result<SortedKeys> {
    let keys = store
        .fold_text("robinson", "hash", org, Vec::new(), |keys, hex| {
            // Stored by `import_robinson`, always 64 hex digits.
            if let Some(key) = robinson_key(hex) {
                keys.push(key);
            }
        })
        .await?;
    Ok(SortedKeys::new(keys))
}

/// Erased customers' addresses, kept only as keyed hashes (a purge): a
/// purged person is never mailed again (GDPR art. 21.3), though no one
/// can read the address back.
#[derive(Debug)]
pub struct Erased {
    hasher: custodia_engine::vault::KeyedHasher,
    hashes: HashSet<String>,
}

impl Erased {
    /// The organisation's erased addresses; `None` when there are none,
    /// so planning hashes nothing.
    pub async fn load(store: &Store, org: &OrgSlug) -> Result<Option<Erased>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT hash FROM erased_addresses WHERE org = $1")
                .bind(org.as_str())
                .fetch_all(store.pool())
                .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut conn = store.pool().acquire().await?;
        let hasher = store.vault()?.keyed_hasher(&mut conn, org).await?;
        Ok(Some(Erased {
            hasher,
            hashes: rows.into_iter().map(|(h,)| h).collect(),
        }))
    }

    /// Whether `address` is an erased person's.
    pub fn contains(&self, address: &Address) -> bool {
        // INVARIANT: fail closed: an address that cannot be hashed is
        // treated as erased, never mailed.
        self.hasher
            .hash(&address.key())
            .map_or(true, |h| self.hashes.contains(&h))
    }
}

/// Every suppressed address of an organisation, for planning: the listed
/// ones and customers' bajas.
pub async fn suppressed_set(store: &Store, org: &OrgSlug) -> Result<SortedKeys> {
    let mut keys = store
        .fold_text("opt_outs", "address", org, Vec::new(), |keys, key| {
            keys.push(set_key(key));
        })
        .await?;
    let customers = store.org(org).await?.customer_opt_outs().await?;
    keys.extend(
        customers
            .into_iter()
            .filter_map(|c| Some(set_key(&Address::parse(c.email.as_deref()?).ok()?.key()))),
    );
    Ok(SortedKeys::new(keys))
}
