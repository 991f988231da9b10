//! Marketing: the opt-out and Robinson lists, and campaigns. The mail
//! guard records its own sends, exclusions and opt-outs; this module
//! wires them to the store, the rules in force and the keys.

use std::path::Path;

use chrono::NaiveDate;
use custodia_engine::{OrgSlug, exchange};
use custodia_mailguard::{
    Address, Campaign, MailboxImport, OutboxStatus, Plan, PlanSummary, Planned, Progress,
    SendConfig, SendReport, TokenKey, suppression,
};

use crate::error::Result;
use crate::{Custodia, keys};

impl Custodia {
    /// The unsubscribe-token key (created only while nothing was sent).
    pub async fn token_key(&self) -> Result<TokenKey> {
        keys::token_key(self.store(), &self.config().token_key_path()).await
    }

    /// Records an opt-out, effective at once, audited in the same
    /// transaction. Returns the customers it applied to.
    pub async fn opt_out(
        &self,
        org: &OrgSlug,
        address: &Address,
        channel: &str,
        source: &str,
    ) -> Result<Vec<String>> {
        self.store().org(org).await?;
        let pseudonyms = self.pseudonyms()?;
        Ok(suppression::opt_out(self.store(), org, address, channel, source, pseudonyms).await?)
    }

    /// Imports opt-outs, one address per line: all or nothing, audited.
    pub async fn import_opt_outs(&self, org: &OrgSlug, path: &Path) -> Result<usize> {
        let text = exchange::read_text(path)?;
        self.import_opt_outs_text(org, path, &text).await
    }

    /// [`Custodia::import_opt_outs`] from text already read; `path` names
    /// the source in errors (a line that is not an address) and the event.
    pub async fn import_opt_outs_text(
        &self,
        org: &OrgSlug,
        path: &Path,
        text: &str,
    ) -> Result<usize> {
        self.store().org(org).await?;
        let mut addresses = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let address = Address::parse(line).map_err(|e| custodia_engine::Error::Input {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
            addresses.push(address);
        }
        let source = path.display().to_string();
        Ok(suppression::import_opt_outs(self.store(), org, &addresses, "import", &source).await?)
    }

    /// Lifts an opt-out; only a new consent, recorded, may do that.
    pub async fn lift_opt_out(
        &self,
        org: &OrgSlug,
        address: &Address,
        consent_source: &str,
        consent_date: NaiveDate,
    ) -> Result<()> {
        self.store().org(org).await?;
        let pseudonyms = self.pseudonyms()?;
        Ok(suppression::lift_opt_out(
            self.store(),
            org,
            address,
            consent_source,
            consent_date,
            pseudonyms,
        )
        .await?)
    }

    /// Imports a Robinson list download (hashes or addresses) for `org`,
    /// with the day it was downloaded: all or nothing, audited.
    pub async fn import_robinson(
        &self,
        org: &OrgSlug,
        path: &Path,
        downloaded: NaiveDate,
    ) -> Result<usize> {
        let text = exchange::read_text(path)?;
        self.import_robinson_text(org, path, &text, downloaded)
            .await
    }

    /// The same, from text already read (`source` names it in errors and
    /// in the audit event).
    pub async fn import_robinson_text(
        &self,
        org: &OrgSlug,
        source: &Path,
        text: &str,
        downloaded: NaiveDate,
    ) -> Result<usize> {
        self.store().org(org).await?;
        Ok(suppression::import_robinson(self.store(), org, source, text, downloaded).await?)
    }

    /// Opts out the senders of the unsubscribe replies in a Maildir folder
    /// or mbox file; each new opt-out audited, known ones left alone.
    pub async fn import_unsubscribe_mailbox(
        &self,
        org: &OrgSlug,
        path: &Path,
    ) -> Result<MailboxImport> {
        self.store().org(org).await?;
        let key = self.token_key().await?;
        let pseudonyms = self.pseudonyms()?;
        Ok(custodia_mailguard::import_mailbox(self.store(), org, path, &key, pseudonyms).await?)
    }

    /// Stores a campaign read from its file; its sender must be a worker.
    pub async fn create_campaign(&self, org: &OrgSlug, campaign: &Campaign) -> Result<()> {
        self.store()
            .org(org)
            .await?
            .worker(&campaign.sender)
            .await?;
        Ok(campaign.create(self.store(), org).await?)
    }

    /// Changes a campaign nothing of which has been sent; audited.
    pub async fn update_campaign(&self, org: &OrgSlug, campaign: &Campaign) -> Result<()> {
        self.store()
            .org(org)
            .await?
            .worker(&campaign.sender)
            .await?;
        Ok(campaign.update(self.store(), org).await?)
    }

    /// Who would get the campaign and who not, and why: every verdict.
    pub async fn plan_campaign(&self, org: &OrgSlug, campaign: &str) -> Result<Plan> {
        let mut recipients = Vec::new();
        let summary = self
            .plan_campaign_each(org, campaign, |r| recipients.push(r))
            .await?;
        Ok(Plan {
            summary,
            recipients,
        })
    }

    /// [`Custodia::plan_campaign`], each verdict handed to `each` as it is
    /// known instead of kept: a list of a million takes no more memory
    /// than one of a thousand.
    pub async fn plan_campaign_each(
        &self,
        org: &OrgSlug,
        campaign: &str,
        each: impl FnMut(Planned) + Send,
    ) -> Result<PlanSummary> {
        let scope = self.store().org(org).await?;
        let campaign = Campaign::load(self.store(), org, campaign).await?;
        let max_age = self.config().robinson_max_age_days;
        let rules = self.rules();
        Ok(custodia_mailguard::plan_each(&scope, &campaign, &rules, max_age, each).await?)
    }

    /// Sends (or resumes) a campaign, reporting progress.
    pub async fn send_campaign(
        &self,
        org: &OrgSlug,
        campaign: &Campaign,
        config: &SendConfig,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<SendReport> {
        let scope = self.store().org(org).await?;
        let key = self.token_key().await?;
        Ok(custodia_mailguard::send(
            &scope,
            campaign,
            &self.rules(),
            self.audit(),
            &key,
            config,
            progress,
        )
        .await?)
    }

    /// Stops a campaign: nothing more is claimed for sending. Audited.
    pub async fn stop_campaign(&self, org: &OrgSlug, campaign: &str) -> Result<()> {
        Ok(Campaign::stop(self.store(), org, campaign).await?)
    }

    /// Where every recipient of a campaign stands.
    pub async fn campaign_status(&self, org: &OrgSlug, campaign: &str) -> Result<OutboxStatus> {
        Ok(custodia_mailguard::status(self.store(), org, campaign).await?)
    }
}
