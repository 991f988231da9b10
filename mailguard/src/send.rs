//! Guarded sending: the outbox state machine, SMTP through lettre, the
//! opt-out check right before each message, resume without duplicates.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use custodia_engine::audit::{AuditEvent, AuditLog, EventKind};
use custodia_engine::rules::{Effect, RuleSet};
use custodia_engine::{OrgSlug, OrgStore, Store};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
// Tokio's clock, so the pacing can be tested with paused time.
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::campaign::{Campaign, Renderer, TemplateContext};
use crate::error::{Error, Result};
use crate::plan::{Plan, plan};
use crate::suppression;
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
    /// At most this many messages per sliding window, counted across
    /// the organisation's campaigns and earlier runs (providers cap a
    /// sending account per hour or day, not per campaign).
    pub window: Option<RateWindow>,
    /// Pause the campaign when more than this share of messages fail
    /// (checked after 20 attempts).
    pub max_error_rate: f64,
    /// Sign every message with DKIM.
    pub dkim: Option<Arc<DkimSigner>>,
    /// Before a campaign's scheduled time: wait for it (true) or refuse.
    pub wait_for_schedule: bool,
}

/// A cap per sliding window, e.g. 1,000 messages per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub max: u32,
    pub span: Duration,
}

/// Where a send stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Messages finished in this run (sent, failed or stopped).
    pub done: usize,
    /// Messages this run set out to send.
    pub total: usize,
}

/// A DKIM key and selector; signs `From`, `To`, `Subject`, `Date`,
/// `Message-ID`, `Reply-To`, both `List-Unsubscribe` headers and
/// `MIME-Version`.
pub struct DkimSigner {
    config: DkimConfig,
    domain: String,
}

impl std::fmt::Debug for DkimSigner {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Headers the DKIM signature covers; RFC 8058 asks for both
/// `List-Unsubscribe` headers to be signed. Not `Content-Type`: lettre
/// writes a multipart body's `Content-Type` with the body, outside the
/// headers it signs, so listing it would give a signature no one verifies.
const DKIM_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
];

impl DkimSigner {
    /// A signer for `domain` with the key published at
    /// `selector._domainkey.domain`. The key is an RSA private key in
    /// PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`) or a base64 Ed25519
    /// secret key.
    pub fn new(selector: &str, domain: &str, key: &str) -> Result<Self> {
        let algorithm = if key.contains("-----BEGIN RSA PRIVATE KEY-----") {
            DkimSigningAlgorithm::Rsa
        } else if key.contains("-----BEGIN") {
            return Err(Error::Dkim(
                "the RSA key must be PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`); convert it with `openssl rsa -traditional`".into(),
            ));
        } else {
            DkimSigningAlgorithm::Ed25519
        };
        let key = DkimSigningKey::new(key.trim(), algorithm)
            .map_err(|e| Error::Dkim(format!("unreadable private key: {e}")))?;
        let headers = DKIM_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let canonicalization = DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        };
        Ok(Self {
            config: DkimConfig::new(
                selector.to_owned(),
                domain.to_owned(),
                key,
                headers,
                canonicalization,
            ),
            domain: domain.to_owned(),
        })
    }

    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

/// What a send or resume did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub campaign: String,
    pub sent: usize,
    pub failed: usize,
    /// Opted out after planning, before their message: nothing sent.
    pub stopped_by_opt_out: usize,
    /// The campaign was stopped while sending.
    pub stopped: bool,
    /// Found mid-send after a crash: outcome unknown, never resent.
    pub uncertain: Vec<String>,
    pub excluded_at_plan: usize,
}

/// Writes the plan into the outbox, once. Returns false if it was there.
async fn write_outbox(store: &Store, org: &OrgSlug, plan: &Plan) -> Result<bool> {
    let mut tx = store.begin_write().await?;
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

/// A message claimed for sending.
struct Claimed {
    address: String,
    name: Option<String>,
    customer: Option<String>,
}

/// Claims the next `limit` pending messages, in order, atomically with the
/// opt-out check: those suppressed by now are excluded instead. Returns
/// the claimed messages and how many were stopped by an opt-out.
// INVARIANT: a message leaves `pending` for `sending` only here, and only
// if its address is not suppressed when the claim commits (the claim and
// every opt-out begin with `begin_suppressing`); `sending` is committed before
// any SMTP traffic, so a crash can never cause a second copy.
async fn claim_batch(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
    limit: usize,
) -> Result<(Vec<Claimed>, usize)> {
    let last: Option<(i64,)> = sqlx::query_as(
        "SELECT position FROM outbox WHERE org = $1 AND campaign = $2 AND state = 'pending'
         ORDER BY position LIMIT 1 OFFSET $3",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(i64::try_from(limit.saturating_sub(1)).unwrap_or(i64::MAX))
    .fetch_optional(store.pool())
    .await?;
    let last = last.map_or(i64::MAX, |(p,)| p);
    let now = Utc::now().timestamp();
    let mut tx = suppression::begin_suppressing(store, org).await?;
    let stopped = sqlx::query(
        "UPDATE outbox SET state = 'excluded', reason = 'opted out during the campaign', updated_at = $4
         WHERE org = $1 AND campaign = $2 AND state = 'pending' AND position <= $3
           AND (EXISTS (SELECT 1 FROM opt_outs o WHERE o.org = $1 AND o.address = lower(outbox.address))
             OR EXISTS (SELECT 1 FROM customers c WHERE c.org = $1 AND c.id = outbox.customer AND c.opt_out_date IS NOT NULL))",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(last)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "UPDATE outbox SET state = 'sending', updated_at = $4
         WHERE org = $1 AND campaign = $2 AND state = 'pending' AND position <= $3
         RETURNING position, address, name, customer",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(last)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.sort_by_key(|r| r.0);
    let claimed = rows
        .into_iter()
        .map(|(_, address, name, customer)| Claimed {
            address,
            name,
            customer,
        })
        .collect();
    Ok((claimed, usize::try_from(stopped).unwrap_or(usize::MAX)))
}

/// Puts claimed messages that never reached SMTP back to `pending`
/// (a pause stops the loop between claim and send).
async fn release(store: &Store, org: &OrgSlug, campaign: &str, unsent: &[Claimed]) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for c in unsent {
        sqlx::query("UPDATE outbox SET state = 'pending' WHERE org = $1 AND campaign = $2 AND address = $3 AND state = 'sending'")
            .bind(org.as_str())
            .bind(campaign)
            .bind(&c.address)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A message's final state, to record.
#[derive(Debug)]
struct Mark {
    address: String,
    state: &'static str,
    reason: Option<String>,
    message_id: Option<String>,
}

/// Records outcomes as they come, many per transaction (one commit per
/// message would cap a campaign at the disk's commit rate). A message
/// whose mark was not committed before a crash stays `sending` and is
/// reported uncertain by the next run, never resent.
fn spawn_recorder(
    store: Store,
    org: OrgSlug,
    campaign: String,
) -> (
    mpsc::UnboundedSender<Mark>,
    tokio::task::JoinHandle<Result<()>>,
) {
    let (sender, mut marks) = mpsc::unbounded_channel::<Mark>();
    let task = tokio::spawn(async move {
        let mut batch = Vec::new();
        while marks.recv_many(&mut batch, 512).await > 0 {
            let mut tx = store.pool().begin().await?;
            let now = Utc::now().timestamp();
            for m in batch.drain(..) {
                sqlx::query("UPDATE outbox SET state = $4, reason = $5, message_id = $6, updated_at = $7 WHERE org = $1 AND campaign = $2 AND address = $3")
                    .bind(org.as_str())
                    .bind(&campaign)
                    .bind(&m.address)
                    .bind(m.state)
                    .bind(m.reason)
                    .bind(m.message_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    });
    (sender, task)
}

/// Keeps to the rate per second and the sliding window.
struct Pace {
    period: Duration,
    next: Instant,
    window: Option<(usize, Duration)>,
    recent: VecDeque<Instant>,
}

impl Pace {
    /// Seeds the window with what the organisation sent within it, so a
    /// resumed or second campaign does not start a fresh allowance.
    async fn new(store: &Store, org: &OrgSlug, config: &SendConfig) -> Result<Self> {
        let mut recent = VecDeque::new();
        let window = config
            .window
            .map(|w| (usize::try_from(w.max).unwrap_or(usize::MAX), w.span));
        if let Some((_, span)) = window {
            let now = Utc::now().timestamp();
            let since = now - i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
            let sent: Vec<(i64,)> = sqlx::query_as(
                "SELECT updated_at FROM outbox WHERE org = $1 AND state = 'sent' AND updated_at >= $2 ORDER BY updated_at",
            )
            .bind(org.as_str())
            .bind(since)
            .fetch_all(store.pool())
            .await?;
            let instant_now = Instant::now();
            recent.extend(sent.into_iter().filter_map(|(at,)| {
                let ago = Duration::from_secs(u64::try_from(now - at).unwrap_or(0));
                instant_now.checked_sub(ago)
            }));
        }
        Ok(Self {
            period: Duration::from_secs_f64(1.0 / f64::from(config.rate_per_second.max(1))),
            next: Instant::now(),
            window,
            recent,
        })
    }

    /// Waits for the next message's turn.
    async fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next).await;
        } else if now - self.next > Duration::from_secs(1) {
            // After a long stall, no burst to catch up.
            self.next = now;
        }
        // Timers have millisecond grain: owing the lag, rather than
        // restarting from now, keeps high rates exact on average.
        self.next += self.period;
        let Some((max, span)) = self.window else {
            return;
        };
        loop {
            let now = Instant::now();
            while self
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= span)
            {
                self.recent.pop_front();
            }
            match self.recent.front() {
                Some(oldest) if self.recent.len() >= max => {
                    tokio::time::sleep_until(*oldest + span).await;
                }
                _ => break,
            }
        }
        self.recent.push_back(Instant::now());
    }
}

/// What every message of a run shares.
struct Shared {
    store: Store,
    org: OrgSlug,
    campaign: Campaign,
    renderer: Renderer,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    key: TokenKey,
    public_url: String,
    audit: AuditLog,
    dkim: Option<Arc<DkimSigner>>,
    recorder: mpsc::UnboundedSender<Mark>,
}

enum Outcome {
    Sent,
    Failed,
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

impl Shared {
    fn message(&self, to: &Claimed) -> Result<(Message, String)> {
        let c = &self.campaign;
        let token = self.key.sign(&TokenClaims {
            org: self.org.to_string(),
            campaign: c.id.clone(),
            address: to.address.clone(),
        });
        let url = format!("{}/u/{token}", self.public_url.trim_end_matches('/'));
        let from = c.from_mailbox()?;
        let domain = from.email.domain().to_owned();
        let name = to.name.as_deref().unwrap_or_default();
        let rendered = self.renderer.render(&TemplateContext {
            name,
            email: &to.address,
            customer: to.customer.as_deref(),
            unsubscribe_url: &url,
            campaign: &c.name,
        })?;
        let mut random = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        let message_id = format!("<{}.{}@{domain}>", c.id, hex::encode(random));
        let recipient: Mailbox = format!(
            "{} <{}>",
            name.replace(['<', '>', '"', '\r', '\n'], ""),
            to.address
        )
        .parse()
        .or_else(|_| to.address.parse())
        .map_err(|e| Error::Smtp(format!("recipient `{}`: {e}", to.address)))?;
        let mut builder = Message::builder()
            .from(from)
            .to(recipient)
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
        let mut message = match rendered.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.text, html)),
            None => builder.body(rendered.text),
        }
        .map_err(|e| Error::Smtp(e.to_string()))?;
        if let Some(dkim) = &self.dkim {
            message.sign(&dkim.config);
        }
        Ok((message, message_id))
    }

    fn mark(
        &self,
        to: &Claimed,
        state: &'static str,
        reason: Option<String>,
        message_id: Option<String>,
    ) -> Result<()> {
        self.recorder
            .send(Mark {
                address: to.address.clone(),
                state,
                reason,
                message_id,
            })
            .map_err(|_| Error::Smtp("the outbox recorder stopped".into()))
    }

    /// Sends one message. The SMTP slot is held only while talking to the
    /// server: waiting for the durable audit record must not idle it.
    async fn run(&self, to: Claimed, slot: OwnedSemaphorePermit) -> Result<Outcome> {
        let (message, message_id) = match self.message(&to) {
            Ok(m) => m,
            Err(e) => {
                self.mark(&to, "failed", Some(e.to_string()), None)?;
                return Ok(Outcome::Failed);
            }
        };
        let sent = self.transport.send(message).await;
        drop(slot);
        match sent {
            Ok(_) => {
                self.mark(&to, "sent", None, Some(message_id.clone()))?;
                let mut event = AuditEvent::new(EventKind::Send, Utc::now());
                event.worker = Some(self.campaign.sender.to_string());
                event.action = Some("send".into());
                event.resource = Some(to.customer.as_ref().map_or_else(
                    || format!("address:{}", to.address),
                    |c| format!("customer:{c}"),
                ));
                event.customer = to.customer.clone();
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
                self.mark(&to, "failed", Some(e.to_string()), None)?;
                if e.is_permanent() {
                    // A hard bounce: never try this address again.
                    if let Ok(address) = crate::Address::parse(&to.address) {
                        suppression::opt_out(
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

/// Refuses, or waits, before the campaign's scheduled time.
async fn await_schedule(campaign: &Campaign, wait: bool) -> Result<()> {
    let Some(at) = campaign.schedule else {
        return Ok(());
    };
    let Ok(ahead) = (at - Utc::now()).to_std() else {
        return Ok(());
    };
    if !wait {
        return Err(Error::NotYetDue {
            campaign: campaign.id.clone(),
            at,
        });
    }
    tokio::time::sleep(ahead).await;
    Ok(())
}

/// Marks messages caught mid-send by a crash as uncertain: they may have
/// been delivered, so they are reported and never resent.
async fn settle_interrupted(store: &Store, org: &OrgSlug, campaign: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "UPDATE outbox SET state = 'uncertain', reason = 'interrupted while sending: delivery unknown, not resent', updated_at = $3
         WHERE org = $1 AND campaign = $2 AND state = 'sending' RETURNING address",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(Utc::now().timestamp())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

async fn count_state(store: &Store, org: &OrgSlug, campaign: &str, state: &str) -> Result<usize> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE org = $1 AND campaign = $2 AND state = $3",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(state)
    .fetch_one(store.pool())
    .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Sends a campaign, or resumes it: plans it on the first run, marks
/// messages caught mid-send by a crash as uncertain (never resent), then
/// sends every pending message, reporting progress as it goes.
pub async fn send(
    org: &OrgStore,
    campaign: &Campaign,
    rules: &RuleSet,
    audit: &AuditLog,
    key: &TokenKey,
    config: &SendConfig,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<SendReport> {
    await_schedule(campaign, config.wait_for_schedule).await?;
    if Campaign::stopped_at(org.store(), org.slug(), &campaign.id)
        .await?
        .is_some()
    {
        return Err(Error::CampaignStopped(campaign.id.clone()));
    }
    let store = org.store().clone();
    let slug = org.slug().clone();
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
    let mut report = SendReport {
        campaign: campaign.id.clone(),
        uncertain: settle_interrupted(&store, &slug, &campaign.id).await?,
        excluded_at_plan: count_state(&store, &slug, &campaign.id, "excluded").await?,
        ..SendReport::default()
    };
    let total = count_state(&store, &slug, &campaign.id, "pending").await?;

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
    let (recorder, recorder_task) =
        spawn_recorder(store.clone(), slug.clone(), campaign.id.clone());
    let shared = Arc::new(Shared {
        store: store.clone(),
        org: slug.clone(),
        renderer: campaign.renderer()?,
        campaign: campaign.clone(),
        transport,
        key: key.clone(),
        public_url: config.public_url.clone(),
        audit: audit.clone(),
        dkim: config.dkim.clone(),
        recorder,
    });
    // A claimed message waits at most ~100 ms for its turn, so the
    // unsubscribe endpoint's wait for messages in flight stays short.
    let batch = usize::try_from(config.rate_per_second / 10)
        .unwrap_or(usize::MAX)
        .clamp(1, 256);
    let mut pace = Pace::new(&store, &slug, config).await?;
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let (attempted, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = JoinSet::new();
    let mut paused = None;
    let mut done = 0;
    'claiming: loop {
        if Campaign::stopped_at(&store, &slug, &campaign.id)
            .await?
            .is_some()
        {
            report.stopped = true;
            break;
        }
        let (claimed, stopped) = claim_batch(&store, &slug, &campaign.id, batch).await?;
        report.stopped_by_opt_out += stopped;
        done += stopped;
        if claimed.is_empty() {
            break;
        }
        let mut claimed = claimed.into_iter();
        while let Some(to) = claimed.next() {
            let (a, f) = (
                attempted.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
            );
            if a >= 20 && f as f64 / a as f64 > config.max_error_rate {
                paused = Some((a, f));
                let unsent: Vec<Claimed> = std::iter::once(to).chain(claimed).collect();
                release(&store, &slug, &campaign.id, &unsent).await?;
                break 'claiming;
            }
            pace.wait().await;
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Smtp(e.to_string()))?;
            let (shared, attempted, failed) = (shared.clone(), attempted.clone(), failed.clone());
            tasks.spawn(async move {
                let outcome = shared.run(to, permit).await;
                attempted.fetch_add(1, Ordering::Relaxed);
                if !matches!(outcome, Ok(Outcome::Sent)) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                outcome
            });
            while let Some(finished) = tasks.try_join_next() {
                tally(&mut report, finished)?;
                done += 1;
                progress(Progress { done, total });
            }
        }
    }
    while let Some(finished) = tasks.join_next().await {
        tally(&mut report, finished)?;
        done += 1;
        progress(Progress { done, total });
    }
    // Every mark is queued; closing the channel lets the recorder finish.
    drop(shared);
    recorder_task
        .await
        .map_err(|e| Error::Smtp(format!("outbox recorder: {e}")))??;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(per_second: u32, window: Option<(usize, Duration)>) -> Pace {
        Pace {
            period: Duration::from_secs_f64(1.0 / f64::from(per_second)),
            next: Instant::now(),
            window,
            recent: VecDeque::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_sliding_window_holds_back_the_message_over_the_cap() {
        let start = Instant::now();
        let mut pace = pace(1_000, Some((3, Duration::from_secs(10))));
        let mut at = Vec::new();
        for _ in 0..7 {
            pace.wait().await;
            at.push((Instant::now() - start).as_secs());
        }
        assert_eq!(at, [0, 0, 0, 10, 10, 10, 20]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_per_second_spaces_messages_evenly() {
        let start = Instant::now();
        let mut pace = pace(4, None);
        for _ in 0..9 {
            pace.wait().await;
        }
        assert_eq!((Instant::now() - start).as_millis(), 2_000);
    }

    #[tokio::test(start_paused = true)]
    async fn messages_sent_earlier_in_the_window_count_against_it() {
        let start = Instant::now();
        let mut pace = pace(1_000, Some((2, Duration::from_secs(60))));
        // Two sent 50 s ago by an earlier run: the next waits 10 s.
        pace.recent.extend([start - Duration::from_secs(50); 2]);
        pace.wait().await;
        assert_eq!((Instant::now() - start).as_secs(), 10);
    }
}
