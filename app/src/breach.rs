//! Breaches (GDPR arts. 33-34): the art. 34 notice to the people affected,
//! written by the reports crate and sent by the mail guard as a
//! transactional message; and the dossier's marketing section.

use custodia_engine::{Breach, EntryId, OrgSlug};
use custodia_mailguard::{NoticeRecipient, NoticeReport, NoticeSender, Rendered};
use custodia_reports::{BreachNotice, Lang};

use crate::Custodia;
use crate::error::{Error, Result};

impl Custodia {
    /// The breach entry `id` of `org`.
    pub async fn breach(&self, org: &OrgSlug, id: &EntryId) -> Result<Breach> {
        let registers = self.store().org(org).await?.registers().await?;
        registers
            .breaches
            .into_iter()
            .find(|b| &b.id == id)
            .ok_or_else(|| {
                Error::Engine(custodia_engine::Error::NotFound {
                    org: org.to_string(),
                    kind: "breach",
                    id: id.to_string(),
                })
            })
    }

    /// The art. 34 notice of a breach as `name` would read it.
    pub async fn breach_notice(
        &self,
        org: &OrgSlug,
        id: &EntryId,
        name: &str,
        lang: Lang,
    ) -> Result<BreachNotice> {
        let scope = self.store().org(org).await?;
        let breach = self.breach(org, id).await?;
        Ok(custodia_reports::breach_notice(
            scope.organisation(),
            &breach,
            name,
            lang,
        )?)
    }

    /// Sends the art. 34 notice of a breach to each affected customer with
    /// an address: once each, audited, whatever their marketing opt-out.
    pub async fn send_breach_notice(
        &self,
        org: &OrgSlug,
        id: &EntryId,
        lang: Lang,
        sender: &NoticeSender<'_>,
    ) -> Result<NoticeReport> {
        let scope = self.store().org(org).await?;
        let breach = self.breach(org, id).await?;
        let mut recipients = Vec::with_capacity(breach.affected_customers.len());
        for customer in &breach.affected_customers {
            let c = scope.customer(customer).await?;
            recipients.push(NoticeRecipient {
                customer: c.id,
                name: c.name,
                email: c.email,
            });
        }
        let organisation = scope.organisation();
        let render = |r: &NoticeRecipient| {
            custodia_reports::breach_notice(organisation, &breach, &r.name, lang)
                .map(|n: BreachNotice| Rendered {
                    subject: n.subject,
                    text: n.text,
                    html: Some(n.html),
                })
                .map_err(|e| e.to_string())
        };
        Ok(custodia_mailguard::send_breach_notice(
            self.store(),
            org,
            id.as_str(),
            &recipients,
            &render,
            sender,
        )
        .await?)
    }

    /// The dossier's marketing section: campaigns, exclusions, Robinson
    /// lists and opt-outs, as the mail guard recorded them.
    pub async fn marketing_history(
        &self,
        org: &OrgSlug,
    ) -> Result<custodia_engine::MarketingHistory> {
        self.store().org(org).await?;
        Ok(custodia_mailguard::history(self.store(), org).await?)
    }
}
