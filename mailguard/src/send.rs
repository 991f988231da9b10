//! Guarded sending: the outbox state machine, SMTP through lettre, the
//! opt-out check right before each message, resume without duplicates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use custodia_engine::audit::{AuditEvent, AuditLog, EventKind};
use custodia_engine::rules::{Effect, RuleSet};
use custodia_engine::{OrgSlug, OrgStore, Store};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::campaign::{Campaign, Renderer, TemplateContext};
use crate::error::{Error, Result};
use crate::plan::{Plan, plan};
use crate::token::{TokenClaims, TokenKey};

/// How to send.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// `smtp://host:port` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://host:465`; credentials as `user:pass@`.
    pub smtp_url: String,
    /// Base of the https unsubscribe links, e.g. `https://custodia.example`.
    pub public_url: String,
    /// Messages per second at most.
    pub rate_per_second: u32,
    /// Messages in flight at once (and pooled SMTP connections).
    pub concurrency: usize,
    /// Pause the campaign when more than this share of messages fail
    /// (checked after 20 attempts).
    pub max_error_rate: f64,
}

/// What a send or resume did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub campaign: String,
    pub sent: usize,
    pub failed: usize,
    /// Opted out after planning, before their message: nothing sent.
    pub stopped_by_opt_out: usize,
    /// Found mid-send after a crash: outcome unknown, never resent.
    pub uncertain: Vec<String>,
    pub excluded_at_plan: usize,
}

const STATES_DONE: &str = "'sent', 'failed', 'excluded', 'uncertain'";

/// Writes the plan into the outbox, once. Returns false if it was there.
async fn write_outbox(store: &Store, org: &OrgSlug, plan: &Plan) -> Result<bool> {
    let mut tx = store.pool().begin().await?;
    let existing: Option<(i64,)> =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE org = $1 AND campaign = $2")
            .bind(org.as_str())
            .bind(&plan.campaign)
            .fetch_optional(&mut *tx)
            .await?;
    if existing.is_some_and(|(n,)| n > 0) {
        return Ok(false);
    }
    let now = Utc::now().timestamp();
    for (i, r) in plan.recipients.iter().enumerate() {
        let (state, reason) = match r.excluded {
            Some(e) => ("excluded", Some(e.as_str())),
            None => ("pending", None),
        };
        sqlx::query(
            "INSERT INTO outbox (org, campaign, address, position, customer, name, state, reason, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (org, campaign, address) DO NOTHING",
        )
        .bind(org.as_str())
        .bind(&plan.campaign)
        .bind(&r.address)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(r.customer.clone())
        .bind(&r.name)
        .bind(state)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Claims a pending message, atomically with the opt-out check: an
/// opt-out committed before this statement stops the message.
// INVARIANT: a message leaves `pending` for `sending` only here, and only
// if its address is not suppressed at that instant; `sending` is committed
// before any SMTP traffic, so a crash can never cause a second copy.
async fn claim(store: &Store, org: &OrgSlug, campaign: &str, address: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'sending', updated_at = $4
         WHERE org = $1 AND campaign = $2 AND address = $3 AND state = 'pending'
           AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.org = $1 AND o.address = lower($3))
           AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.org = $1 AND c.id = outbox.customer AND c.opt_out_date IS NOT NULL)",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(address)
    .bind(Utc::now().timestamp())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn set_state(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
    address: &str,
    state: &str,
    reason: Option<&str>,
    message_id: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE outbox SET state = $4, reason = $5, message_id = $6, updated_at = $7 WHERE org = $1 AND campaign = $2 AND address = $3")
        .bind(org.as_str())
        .bind(campaign)
        .bind(address)
        .bind(state)
        .bind(reason)
        .bind(message_id)
        .bind(Utc::now().timestamp())
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Everything one message needs.
struct Job {
    store: Store,
    org: OrgSlug,
    campaign: Arc<Campaign>,
    renderer: Arc<Renderer>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    key: TokenKey,
    public_url: String,
    audit: AuditLog,
    address: String,
    name: String,
    customer: Option<String>,
}

enum Outcome {
    Sent,
    Failed,
    StoppedByOptOut,
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

impl Job {
    fn message(&self) -> Result<(Message, String)> {
        let c = &self.campaign;
        let token = self.key.sign(&TokenClaims {
            org: self.org.to_string(),
            campaign: c.id.clone(),
            address: self.address.clone(),
        });
        let url = format!("{}/u/{token}", self.public_url.trim_end_matches('/'));
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| Error::Smtp(format!("sender `{}`: {e}", c.from)))?;
        let domain = from.email.domain().to_owned();
        let rendered = self.renderer.render(&TemplateContext {
            name: &self.name,
            email: &self.address,
            customer: self.customer.as_deref(),
            unsubscribe_url: &url,
            campaign: &c.name,
        })?;
        let mut random = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        let message_id = format!("<{}.{}@{domain}>", c.id, hex::encode(random));
        let to: Mailbox = format!(
            "{} <{}>",
            self.name.replace(['<', '>', '"', '\r', '\n'], ""),
            self.address
        )
        .parse()
        .or_else(|_| self.address.parse())
        .map_err(|e| Error::Smtp(format!("recipient `{}`: {e}", self.address)))?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id.clone()))
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{url}>, <mailto:unsubscribe@{domain}?subject={token}>"),
            ))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ));
        if let Some(reply_to) = &c.reply_to {
            builder = builder.reply_to(
                reply_to
                    .parse()
                    .map_err(|e| Error::Smtp(format!("reply-to `{reply_to}`: {e}")))?,
            );
        }
        let message = match rendered.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.text, html)),
            None => builder.body(rendered.text),
        }
        .map_err(|e| Error::Smtp(e.to_string()))?;
        Ok((message, message_id))
    }

    async fn mark(
        &self,
        state: &str,
        reason: Option<&str>,
        message_id: Option<&str>,
    ) -> Result<()> {
        set_state(
            &self.store,
            &self.org,
            &self.campaign.id,
            &self.address,
            state,
            reason,
            message_id,
        )
        .await
    }

    async fn run(self) -> Result<Outcome> {
        if !claim(&self.store, &self.org, &self.campaign.id, &self.address).await? {
            self.mark("excluded", Some("opted out during the campaign"), None)
                .await?;
            return Ok(Outcome::StoppedByOptOut);
        }
        let (message, message_id) = match self.message() {
            Ok(m) => m,
            Err(e) => {
                self.mark("failed", Some(&e.to_string()), None).await?;
                return Ok(Outcome::Failed);
            }
        };
        match self.transport.send(message).await {
            Ok(_) => {
                self.mark("sent", None, Some(&message_id)).await?;
                let mut event = AuditEvent::new(EventKind::Send, Utc::now());
                event.worker = Some(self.campaign.sender.to_string());
                event.action = Some("send".into());
                event.resource = Some(self.customer.as_ref().map_or_else(
                    || format!("address:{}", self.address),
                    |c| format!("customer:{c}"),
                ));
                event.customer = self.customer.clone();
                event.decision = Some(Effect::Allow);
                event.channel = Some("email".into());
                event.detail = Some(format!(
                    "campaign {} message {message_id}",
                    self.campaign.id
                ));
                self.audit.append(&self.org, event).await?;
                Ok(Outcome::Sent)
            }
            Err(e) => {
                let reason = e.to_string();
                self.mark("failed", Some(&reason), None).await?;
                if e.is_permanent() {
                    // A hard bounce: never try this address again.
                    if let Ok(address) = crate::Address::parse(&self.address) {
                        crate::suppression::opt_out(
                            &self.store,
                            &self.org,
                            &address,
                            "hard bounce",
                            &format!("campaign {}", self.campaign.id),
                        )
                        .await?;
                    }
                }
                Ok(Outcome::Failed)
            }
        }
    }
}

/// Sends a campaign, or resumes it: plans it on the first run, marks
/// messages caught mid-send by a crash as uncertain (never resent), then
/// sends every pending message.
pub async fn send(
    org: &OrgStore,
    campaign: &Campaign,
    rules: &RuleSet,
    audit: &AuditLog,
    key: &TokenKey,
    config: &SendConfig,
) -> Result<SendReport> {
    let store = org.store().clone();
    let slug = org.slug().clone();
    let mut report = SendReport {
        campaign: campaign.id.clone(),
        ..SendReport::default()
    };
    let planned = plan(org, campaign, rules).await?;
    if write_outbox(&store, &slug, &planned).await? {
        let mut event = AuditEvent::new(EventKind::Exclusions, Utc::now());
        event.worker = Some(campaign.sender.to_string());
        event.action = Some("send".into());
        event.detail = Some(format!(
            "campaign {}: {} kept, excluded {}",
            campaign.id,
            planned.kept,
            serde_json::to_string(&planned.excluded).unwrap_or_default()
        ));
        audit.append(&slug, event).await?;
    }
    let uncertain: Vec<(String,)> = sqlx::query_as("SELECT address FROM outbox WHERE org = $1 AND campaign = $2 AND state = 'sending' ORDER BY position")
        .bind(slug.as_str())
        .bind(&campaign.id)
        .fetch_all(store.pool())
        .await?;
    for (address,) in &uncertain {
        set_state(
            &store,
            &slug,
            &campaign.id,
            address,
            "uncertain",
            Some("interrupted while sending: delivery unknown, not resent"),
            None,
        )
        .await?;
    }
    report.uncertain = uncertain.into_iter().map(|(a,)| a).collect();
    let excluded: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE org = $1 AND campaign = $2 AND state = 'excluded'",
    )
    .bind(slug.as_str())
    .bind(&campaign.id)
    .fetch_one(store.pool())
    .await?;
    report.excluded_at_plan = usize::try_from(excluded.0).unwrap_or(0);

    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
        .map_err(|e| {
            Error::Smtp(format!(
                "`{}`: {e}",
                custodia_engine::store::redact_url(&config.smtp_url)
            ))
        })?
        .pool_config(
            PoolConfig::new().max_size(u32::try_from(config.concurrency).unwrap_or(u32::MAX)),
        )
        .build();
    let renderer = Arc::new(campaign.renderer()?);
    let campaign = Arc::new(campaign.clone());
    let pending: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT address, name, customer FROM outbox WHERE org = $1 AND campaign = $2 AND state NOT IN ({STATES_DONE}) ORDER BY position"
    ))
    .bind(slug.as_str())
    .bind(&campaign.id)
    .fetch_all(store.pool())
    .await?;

    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(config.rate_per_second.max(1)),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (attempted, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = JoinSet::new();
    let mut paused = None;
    for (address, name, customer) in pending {
        let (a, f) = (
            attempted.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
        );
        if a >= 20 && f as f64 / a as f64 > config.max_error_rate {
            paused = Some((a, f));
            break;
        }
        ticker.tick().await;
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Smtp(e.to_string()))?;
        let job = Job {
            store: store.clone(),
            org: slug.clone(),
            campaign: campaign.clone(),
            renderer: renderer.clone(),
            transport: transport.clone(),
            key: key.clone(),
            public_url: config.public_url.clone(),
            audit: audit.clone(),
            address,
            name: name.unwrap_or_default(),
            customer,
        };
        let (attempted, failed) = (attempted.clone(), failed.clone());
        tasks.spawn(async move {
            let outcome = job.run().await;
            if !matches!(outcome, Ok(Outcome::StoppedByOptOut)) {
                attempted.fetch_add(1, Ordering::Relaxed);
            }
            if !matches!(outcome, Ok(Outcome::Sent | Outcome::StoppedByOptOut)) {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
            outcome
        });
        while let Some(done) = tasks.try_join_next() {
            tally(&mut report, done)?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally(&mut report, done)?;
    }
    if let Some((attempted, failed)) = paused {
        return Err(Error::Paused {
            campaign: campaign.id.clone(),
            failed,
            attempted,
        });
    }
    Ok(report)
}

fn tally(
    report: &mut SendReport,
    done: Result<Result<Outcome>, tokio::task::JoinError>,
) -> Result<()> {
    match done.map_err(|e| Error::Smtp(e.to_string()))?? {
        Outcome::Sent => report.sent += 1,
        Outcome::Failed => report.failed += 1,
        Outcome::StoppedByOptOut => report.stopped_by_opt_out += 1,
    }
    Ok(())
}

/// Where every recipient of a campaign stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxStatus {
    pub campaign: String,
    /// Recipients per state: pending, sending, sent, failed, excluded, uncertain.
    pub states: std::collections::BTreeMap<String, usize>,
    pub uncertain: Vec<String>,
}

/// The outbox of a campaign, summarised.
pub async fn status(store: &Store, org: &OrgSlug, campaign: &str) -> Result<OutboxStatus> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT address, state FROM outbox WHERE org = $1 AND campaign = $2 ORDER BY position",
    )
    .bind(org.as_str())
    .bind(campaign)
    .fetch_all(store.pool())
    .await?;
    let mut status = OutboxStatus {
        campaign: campaign.to_owned(),
        ..OutboxStatus::default()
    };
    for (address, state) in rows {
        if state == "uncertain" {
            status.uncertain.push(address);
        }
        *status.states.entry(state).or_default() += 1;
    }
    Ok(status)
}
