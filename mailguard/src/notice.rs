//! Transactional notices: the GDPR art. 34 notice of a personal data
//! breach, sent to each person it affects.
//!
//! A notice is not commercial communication: the law obliges the firm to
//! send it, so neither a marketing opt-out nor the Robinson list stops it
//! (nor, once records can be blocked, a blocked record). It is still never
//! sent twice, and every message is audited.

use chrono::Utc;
use custodia_engine::audit::{AuditEvent, Change, EventKind};
use custodia_engine::{CustomerId, OrgSlug, Store};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::Serialize;

use crate::address::Address;
use crate::campaign::Rendered;
use crate::error::{Error, Result};
use crate::send::smtp::{Connections, Target, message_id, recipient};

/// Someone a breach affects, with the address the notice goes to.
#[derive(Debug, Clone)]
pub struct NoticeRecipient {
    pub customer: CustomerId,
    pub name: String,
    pub email: Option<String>,
}

/// What a run of notices did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoticeReport {
    pub breach: String,
    pub sent: usize,
    /// Sent by an earlier run: not sent again.
    pub already_sent: usize,
    /// Caught mid-send by a crash earlier: outcome unknown, never resent.
    pub uncertain: Vec<String>,
    pub failed: Vec<String>,
    /// Affected customers with no usable address: tell them another way.
    pub no_address: Vec<String>,
}

/// Where a notice stands for one customer.
async fn state(
    store: &Store,
    org: &OrgSlug,
    breach: &str,
    customer: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT state FROM breach_notices WHERE org = $1 AND breach = $2 AND customer = $3",
    )
    .bind(org.as_str())
    .bind(breach)
    .bind(customer)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(|(s,)| s))
}

/// Claims one notice: committed as `sending` before any SMTP traffic.
// INVARIANT: a notice row leaves `failed` or nothing for `sending` only
// here, before SMTP; a `sending` row is never sent again.
async fn claim(
    store: &Store,
    org: &OrgSlug,
    breach: &str,
    customer: &str,
    address: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO breach_notices (org, breach, customer, address, state, updated_at) VALUES ($1, $2, $3, $4, 'sending', $5)
         ON CONFLICT (org, breach, customer) DO UPDATE SET state = 'sending', address = $4, updated_at = $5",
    )
    .bind(org.as_str())
    .bind(breach)
    .bind(customer)
    .bind(address)
    .bind(Utc::now().timestamp())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Records the outcome of one notice; a sent one with its audit event.
async fn settle(
    store: &Store,
    org: &OrgSlug,
    breach: &str,
    customer: &str,
    outcome: std::result::Result<&str, &str>,
) -> Result<()> {
    let mut change = Change::begin(store, org).await?;
    let (state, message_id) = match outcome {
        Ok(id) => ("sent", Some(id)),
        Err(_) => ("failed", None),
    };
    sqlx::query(
        "UPDATE breach_notices SET state = $4, message_id = $5, updated_at = $6 WHERE org = $1 AND breach = $2 AND customer = $3",
    )
    .bind(org.as_str())
    .bind(breach)
    .bind(customer)
    .bind(state)
    .bind(message_id)
    .bind(Utc::now().timestamp())
    .execute(&mut **change.tx())
    .await?;
    let mut event = AuditEvent::new(EventKind::Notice, Utc::now());
    event.resource = Some(format!("breach:{breach}"));
    event.customer = Some(customer.to_owned());
    event.channel = Some("email".into());
    event.detail = Some(match outcome {
        Ok(id) => format!("art. 34 notice of breach {breach} sent: message {id}"),
        Err(e) => format!("art. 34 notice of breach {breach} failed: {e}"),
    });
    change.record(event);
    change.commit().await?;
    Ok(())
}

/// How a notice is written for one recipient (by the reports crate).
pub type RenderNotice<'a> =
    &'a (dyn Fn(&NoticeRecipient) -> std::result::Result<Rendered, String> + Sync);

/// Where a notice comes from and goes through.
#[derive(Debug, Clone)]
pub struct NoticeSender<'a> {
    /// `Name <address>`: the firm's DPO or contact point.
    pub from: &'a str,
    pub smtp_url: &'a str,
}

/// Sends the art. 34 notice of `breach` to every recipient with an
/// address, once each, written by `render`.
pub async fn send_breach_notice(
    store: &Store,
    org: &OrgSlug,
    breach: &str,
    recipients: &[NoticeRecipient],
    render: RenderNotice<'_>,
    sender: &NoticeSender<'_>,
) -> Result<NoticeReport> {
    let (from, smtp_url) = (sender.from, sender.smtp_url);
    if recipients.is_empty() {
        return Err(Error::NoAffectedCustomers(breach.to_owned()));
    }
    let from: Mailbox = from
        .parse()
        .map_err(|e| Error::Smtp(format!("sender `{from}`: {e}")))?;
    let domain = from.email.domain().to_owned();
    let connections = Connections::new(Target::parse(smtp_url)?);
    let mut report = NoticeReport {
        breach: breach.to_owned(),
        ..NoticeReport::default()
    };
    for r in recipients {
        let id = r.customer.as_str();
        let Some(address) = r.email.as_deref().and_then(|e| Address::parse(e).ok()) else {
            report.no_address.push(id.to_owned());
            continue;
        };
        match state(store, org, breach, id).await?.as_deref() {
            Some("sent") => {
                report.already_sent += 1;
                continue;
            }
            Some("sending") => {
                report.uncertain.push(id.to_owned());
                continue;
            }
            _ => {}
        }
        let notice = render(r).map_err(|message| Error::Template {
            template: "breach notice",
            message,
        })?;
        let message_id = message_id(&format!("breach-{breach}"), &domain);
        let to = recipient(&r.name, address.as_str())?;
        let builder = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(notice.subject.clone())
            .message_id(Some(message_id.clone()));
        let message = match &notice.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                notice.text.clone(),
                html.clone(),
            )),
            None => builder.body(notice.text.clone()),
        }
        .map_err(|e| Error::Smtp(e.to_string()))?;
        // Everything that can fail before SMTP has: only now is it claimed.
        claim(store, org, breach, id, address.as_str()).await?;
        match connections
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(_) => {
                settle(store, org, breach, id, Ok(&message_id)).await?;
                report.sent += 1;
            }
            Err(e) => {
                settle(store, org, breach, id, Err(&e.message)).await?;
                report.failed.push(id.to_owned());
            }
        }
    }
    connections.close().await;
    Ok(report)
}
