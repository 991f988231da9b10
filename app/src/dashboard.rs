//! The compliance officer's figures, kept cheap: the audit chain checked
//! the everyday way (the events since its newest witnessed checkpoint, see
//! [`Custodia::check_audit`]), and the registers' open items.

use chrono::{DateTime, Utc};
use custodia_engine::audit::{Checkpoint, VerifyReport};
use custodia_engine::{Breach, OrgSlug, Provider};
use custodia_reports::{Duties, Lang, Pending, duties_pending};

use crate::Custodia;
use crate::error::Result;

/// Where the audit chain of one organisation stands.
#[derive(Debug, Clone)]
pub struct ChainStatus {
    /// Events in the chain (its head's sequence).
    pub head: i64,
    /// The newest checkpoint the witness holds, outside the database.
    pub witnessed: Option<Checkpoint>,
    /// The everyday check, run for this page.
    pub checked: VerifyReport,
    /// Whether the check passed and the writer raised no alarm (when it
    /// has, audited actions fail closed until an officer verifies).
    pub intact: bool,
}

/// A breach still inside or past its 72-hour notification window.
#[derive(Debug, Clone)]
pub struct OpenBreach {
    pub breach: Breach,
    /// Hours left to notify the authority (negative: late).
    pub hours_left: i64,
}

/// The dashboard's figures.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub chain: ChainStatus,
    pub overdue_reviews: Vec<Provider>,
    /// The dossier's pending actions that follow from the registers, the
    /// staff and the rights requests (the dossier adds the live evidence:
    /// certificates and a full verify of the chain).
    pub pending: Vec<Pending>,
    pub open_breaches: Vec<OpenBreach>,
    /// Rights requests late or due within a week.
    pub rights_due: Vec<custodia_engine::RightsRequest>,
}

impl Custodia {
    /// The dashboard of `org` at `now`, its texts in `lang`.
    pub async fn dashboard(
        &self,
        org: &OrgSlug,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<Dashboard> {
        let scope = self.store().org(org).await?;
        let head = self.store().audit_head(org).await?;
        let state = self.audit().status(org).await?;
        let checked = self.check_audit(org, state.witnessed.as_ref()).await?;
        let registers = scope.registers().await?;
        let workers = scope.workers().await?;
        let rights = scope.rights_requests().await?;
        let today = now.date_naive();
        let overdue_reviews = registers
            .providers
            .iter()
            .filter(|p| p.next_review.is_some_and(|d| d < today))
            .cloned()
            .collect();
        let pending = duties_pending(
            &Duties {
                organisation: scope.organisation(),
                workers: &workers,
                registers: &registers,
                rights: &rights,
                now,
            },
            lang,
        );
        let rights_due = rights
            .into_iter()
            .filter(|r| r.is_due_within(today, 7))
            .collect();
        let open_breaches = registers
            .breaches
            .into_iter()
            .filter(|b| b.notified_authority_at.is_none() && b.not_notified_reason.is_none())
            .map(|breach| OpenBreach {
                hours_left: 72 - (now - breach.aware_at).num_hours(),
                breach,
            })
            .collect();
        Ok(Dashboard {
            rights_due,
            chain: ChainStatus {
                head,
                witnessed: state.witnessed,
                intact: state.alarm.is_none() && checked.ok(),
                checked,
            },
            overdue_reviews,
            pending,
            open_breaches,
        })
    }
}
