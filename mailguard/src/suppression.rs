//! The suppression list (opt-outs, bajas) and the Robinson list.
//!
//! A customer's opt-out lives on the customer record; addresses that are
//! not customers' live in `opt_outs`. Either way it is one fact, and every
//! query here looks at both.

use chrono::{NaiveDate, Utc};
use custodia_engine::{OrgSlug, Store};
use sqlx::Row;

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

/// The customers (ids) whose email normalises to `address`.
async fn customers_with(
    store: &Store,
    org: &OrgSlug,
    address: &Address,
) -> Result<Vec<(String, bool)>> {
    let rows = sqlx::query(
        "SELECT id, email, opt_out_date FROM customers WHERE org = $1 AND lower(email) = lower($2)",
    )
    .bind(org.as_str())
    .bind(address.as_str())
    .fetch_all(store.pool())
    .await?;
    let mut found = Vec::new();
    for row in rows {
        let email: String = row.try_get("email")?;
        if Address::parse(&email).is_ok_and(|a| a.key() == address.key()) {
            let opted_out = row.try_get::<Option<String>, _>("opt_out_date")?.is_some();
            found.push((row.try_get("id")?, opted_out));
        }
    }
    Ok(found)
}

/// Records an opt-out, effective at once. Returns the customers it
/// applied to (empty when the address is not a customer's).
pub async fn opt_out(
    store: &Store,
    org: &OrgSlug,
    address: &Address,
    channel: &str,
    source: &str,
) -> Result<Vec<String>> {
    let today = Utc::now().date_naive().to_string();
    let customers = customers_with(store, org, address).await?;
    if customers.is_empty() {
        sqlx::query(
            "INSERT INTO opt_outs (org, address, date, channel, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org, address) DO NOTHING",
        )
        .bind(org.as_str())
        .bind(address.key())
        .bind(&today)
        .bind(channel)
        .bind(source)
        .execute(store.pool())
        .await?;
        return Ok(Vec::new());
    }
    for (id, _) in &customers {
        sqlx::query("UPDATE customers SET opt_out_date = $3, opt_out_channel = $4 WHERE org = $1 AND id = $2 AND opt_out_date IS NULL")
            .bind(org.as_str())
            .bind(id)
            .bind(&today)
            .bind(channel)
            .execute(store.pool())
            .await?;
    }
    Ok(customers.into_iter().map(|(id, _)| id).collect())
}

/// Lifts an opt-out; only a new, recorded consent may do that.
pub async fn lift_opt_out(
    store: &Store,
    org: &OrgSlug,
    address: &Address,
    consent_source: &str,
    consent_date: NaiveDate,
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("DELETE FROM opt_outs WHERE org = $1 AND address = $2")
        .bind(org.as_str())
        .bind(address.key())
        .execute(&mut *tx)
        .await?;
    for (id, _) in customers_with(store, org, address).await? {
        sqlx::query(
            "UPDATE customers SET opt_out_date = NULL, opt_out_channel = NULL, consent_source = $3, consent_date = $4 WHERE org = $1 AND id = $2",
        )
        .bind(org.as_str())
        .bind(&id)
        .bind(consent_source)
        .bind(consent_date.to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The whole suppression list: listed addresses and customers' opt-outs.
pub async fn opt_outs(store: &Store, org: &OrgSlug) -> Result<Vec<OptOutEntry>> {
    let listed: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT address, date, channel, source FROM opt_outs WHERE org = $1")
            .bind(org.as_str())
            .fetch_all(store.pool())
            .await?;
    let customers: Vec<(String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT id, email, opt_out_date, opt_out_channel FROM customers WHERE org = $1 AND opt_out_date IS NOT NULL",
    )
    .bind(org.as_str())
    .fetch_all(store.pool())
    .await?;
    let mut entries: Vec<OptOutEntry> = listed
        .into_iter()
        .map(|(address, date, channel, source)| OptOutEntry {
            address,
            date,
            channel,
            source,
        })
        .chain(
            customers
                .into_iter()
                .filter_map(|(id, email, date, channel)| {
                    let address = Address::parse(email.as_deref()?).ok()?;
                    Some(OptOutEntry {
                        address: address.key(),
                        date,
                        channel,
                        source: format!("customer {id}"),
                    })
                }),
        )
        .collect();
    entries.sort_by(|a, b| a.address.cmp(&b.address));
    entries.dedup_by(|a, b| a.address == b.address);
    Ok(entries)
}

/// Imports Robinson list entries: hex SHA-256 hashes (the official format)
/// or plain addresses, one per line. All or nothing.
pub async fn import_robinson(store: &Store, path: &std::path::Path, text: &str) -> Result<usize> {
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
    let mut tx = store.pool().begin().await?;
    for hash in &hashes {
        sqlx::query("INSERT INTO robinson (hash) VALUES ($1) ON CONFLICT (hash) DO NOTHING")
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(hashes.len())
}

/// Every Robinson hash, for planning (one query instead of one per recipient).
pub async fn robinson_hashes(store: &Store) -> Result<std::collections::HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT hash FROM robinson")
        .fetch_all(store.pool())
        .await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// Every suppressed address of an organisation, for planning.
pub async fn suppressed_set(
    store: &Store,
    org: &OrgSlug,
) -> Result<std::collections::HashSet<String>> {
    Ok(opt_outs(store, org)
        .await?
        .into_iter()
        .map(|e| e.address)
        .collect())
}
