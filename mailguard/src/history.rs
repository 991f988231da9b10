//! What the mail guard did, for the dossier: campaigns with their sends,
//! exclusions and the Robinson list each was checked against, opt-outs
//! per month and channel, and a check that no message went to an address
//! after its opt-out took effect.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate};
use custodia_engine::{
    CampaignRecord, MarketingHistory, OptOutMonth, OrgSlug, RobinsonList, Store,
};

use crate::address::Address;
use crate::campaign::Campaign;
use crate::error::Result;
use crate::suppression;

type CampaignRow = (String, String, i64, Option<String>, Option<i64>);

/// Reads the organisation's marketing history.
pub async fn history(store: &Store, org: &OrgSlug) -> Result<MarketingHistory> {
    let rows: Vec<CampaignRow> = sqlx::query_as(
        "SELECT id, body, created_at, robinson_downloaded, robinson_entries FROM campaigns WHERE org = $1 ORDER BY created_at, id",
    )
    .bind(org.as_str())
    .fetch_all(store.pool())
    .await?;
    let counts: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT campaign, state, COALESCE(reason, ''), COUNT(*) FROM outbox WHERE org = $1 GROUP BY campaign, state, reason",
    )
    .bind(org.as_str())
    .fetch_all(store.pool())
    .await?;
    let mut campaigns = Vec::with_capacity(rows.len());
    for (id, body, created, downloaded, entries) in rows {
        let campaign: Campaign = serde_json::from_str(&body)
            .map_err(|e| custodia_engine::Error::Corrupt(format!("campaign `{id}`: {e}")))?;
        let mut record = CampaignRecord {
            name: campaign.name,
            created: DateTime::from_timestamp(created, 0).unwrap_or_default(),
            similar_products: campaign.similar_products,
            sent: 0,
            excluded: BTreeMap::new(),
            robinson: match (
                downloaded.and_then(|d| d.parse::<NaiveDate>().ok()),
                entries,
            ) {
                (Some(downloaded), Some(entries)) => Some(RobinsonList {
                    downloaded,
                    entries: u64::try_from(entries).unwrap_or(0),
                }),
                _ => None,
            },
            id,
        };
        for (_, state, reason, n) in counts.iter().filter(|c| c.0 == record.id) {
            let n = u64::try_from(*n).unwrap_or(0);
            match state.as_str() {
                "sent" => record.sent += n,
                "excluded" => *record.excluded.entry(reason.clone()).or_default() += n,
                _ => {}
            }
        }
        campaigns.push(record);
    }
    let opt_outs = suppression::opt_outs(store, org).await?;
    let mut per_month: BTreeMap<(String, String), u64> = BTreeMap::new();
    for o in &opt_outs {
        let month = o.date.get(..7).unwrap_or(&o.date).to_owned();
        *per_month.entry((month, o.channel.clone())).or_default() += 1;
    }
    Ok(MarketingHistory {
        campaigns,
        robinson: suppression::robinson_list(store, org).await?,
        opt_outs: per_month
            .into_iter()
            .map(|((month, channel), count)| OptOutMonth {
                month,
                channel,
                count,
            })
            .collect(),
        sent_after_opt_out: sent_after_opt_out(store, org, &opt_outs).await?,
    })
}

/// Messages whose send day is after the day the address opted out.
async fn sent_after_opt_out(
    store: &Store,
    org: &OrgSlug,
    opt_outs: &[suppression::OptOutEntry],
) -> Result<u64> {
    let since: HashMap<&str, NaiveDate> = opt_outs
        .iter()
        .filter_map(|o| Some((o.address.as_str(), o.date.parse().ok()?)))
        .collect();
    let sent: Vec<(String, i64)> =
        sqlx::query_as("SELECT address, updated_at FROM outbox WHERE org = $1 AND state = 'sent'")
            .bind(org.as_str())
            .fetch_all(store.pool())
            .await?;
    let late = sent
        .iter()
        .filter(|(address, at)| {
            let Ok(key) = Address::parse(address).map(|a| a.key()) else {
                return false;
            };
            let day = DateTime::from_timestamp(*at, 0).map(|t| t.date_naive());
            since
                .get(key.as_str())
                .is_some_and(|opted| day.is_some_and(|d| d > *opted))
        })
        .count();
    Ok(u64::try_from(late).unwrap_or(u64::MAX))
}
