//! What the mail guard did, as plain records: the mail guard writes them,
//! the dossier shows them (LSSI-CE arts. 21-22, LOPDGDD art. 23).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// One Robinson list download, as an organisation imported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RobinsonList {
    /// The day the list was downloaded from the Robinson service.
    pub downloaded: NaiveDate,
    pub entries: u64,
}

/// One campaign and what happened to its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRecord {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub similar_products: bool,
    pub sent: u64,
    /// Per exclusion reason (as stored), how many recipients.
    pub excluded: BTreeMap<String, u64>,
    /// The list its plan was checked against; `None` before it was planned.
    pub robinson: Option<RobinsonList>,
}

/// Opt-outs that took effect in one month through one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub channel: String,
    pub count: u64,
}

/// An organisation's marketing history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketingHistory {
    pub campaigns: Vec<CampaignRecord>,
    /// The Robinson list in force now.
    pub robinson: Option<RobinsonList>,
    pub opt_outs: Vec<OptOutMonth>,
    /// Messages sent on a day after the recipient's opt-out date: must be 0.
    pub sent_after_opt_out: u64,
}
