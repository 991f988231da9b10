//! Guarded sending: the outbox state machine (`outbox`), pacing
//! (`pace`), DKIM (`dkim`), and the send loop here: SMTP through lettre,
//! the opt-out check right before each message, resume without duplicates.

mod dkim;
mod outbox;
mod pace;
pub(crate) mod smtp;

pub use dkim::DkimSigner;
pub use outbox::{OutboxStatus, status};
pub use pace::RateWindow;

use outbox::{
    Claimed, Mark, claim_batch, count_state, release, settle_interrupted, spawn_recorder,
    write_outbox,
};
use pace::Pace;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use custodia_engine::audit::{AuditEvent, AuditLog, EventKind, Pseudonyms};
use custodia_engine::rules::{Effect, RuleSet};
use custodia_engine::{OrgSlug, OrgStore, Store};
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::MultiPart;
use lettre::message::header::{HeaderName, HeaderValue};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
// Tokio's clock, so the pacing can be tested with paused time.
use tokio::task::JoinSet;

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
    /// The oldest Robinson list download, in days, a plan may use.
    pub robinson_max_age_days: u32,
}

/// Where a send stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Messages finished in this run (sent, failed or stopped).
    pub done: usize,
    /// Messages this run set out to send.
    pub total: usize,
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

/// What every message of a run shares.
struct Shared {
    store: Store,
    org: OrgSlug,
    campaign: Campaign,
    renderer: Renderer,
    connections: smtp::Connections,
    key: TokenKey,
    public_url: String,
    audit: AuditLog,
    /// How send and bounce events name a recipient who is not a customer.
    pseudonyms: Pseudonyms,
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
    /// One recipient's message: its envelope, its bytes (DKIM-signed when
    /// a key is configured) and its Message-ID.
    fn message(&self, to: &Claimed) -> Result<(Envelope, Vec<u8>, String)> {
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
        let message_id = smtp::message_id(&c.id, &domain);
        let recipient = smtp::recipient(name, &to.address)?;
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
        let message = match rendered.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.text, html)),
            None => builder.body(rendered.text),
        }
        .map_err(|e| Error::Smtp(e.to_string()))?;
        let bytes = message.formatted();
        let bytes = match &self.dkim {
            Some(dkim) => dkim.sign(&bytes, Utc::now().timestamp().unsigned_abs())?,
            None => bytes,
        };
        Ok((message.envelope().clone(), bytes, message_id))
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
        let (envelope, bytes, message_id) = match self.message(&to) {
            Ok(m) => m,
            Err(e) => {
                self.mark(&to, "failed", Some(e.to_string()), None)?;
                return Ok(Outcome::Failed);
            }
        };
        let sent = self.connections.send(&envelope, &bytes).await;
        drop(slot);
        match sent {
            Ok(_) => {
                self.mark(&to, "sent", None, Some(message_id.clone()))?;
                let mut event = AuditEvent::new(EventKind::Send, Utc::now());
                event.worker = Some(self.campaign.sender.to_string());
                event.action = Some("send".into());
                event.resource = Some(match &to.customer {
                    Some(c) => format!("customer:{c}"),
                    // Not a customer: the address by its pseudonym only.
                    None => {
                        let key = crate::Address::parse(&to.address)
                            .map_or_else(|_| to.address.clone(), |a| a.key());
                        self.pseudonyms.address(self.org.as_str(), &key)
                    }
                });
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
                self.mark(&to, "failed", Some(e.message), None)?;
                if e.permanent {
                    // A hard bounce: never try this address again.
                    if let Ok(address) = crate::Address::parse(&to.address) {
                        suppression::opt_out(
                            &self.store,
                            &self.org,
                            &address,
                            "hard bounce",
                            &format!("campaign {}", self.campaign.id),
                            &self.pseudonyms,
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

/// Writes a campaign's plan into its outbox, once, with an audit event of
/// its totals (none if another run wrote it first).
async fn record_plan(
    store: &Store,
    slug: &OrgSlug,
    campaign: &Campaign,
    audit: &AuditLog,
    planned: &Plan,
) -> Result<()> {
    if !write_outbox(store, slug, planned).await? {
        return Ok(());
    }
    let summary = &planned.summary;
    let mut event = AuditEvent::new(EventKind::Exclusions, Utc::now());
    event.worker = Some(campaign.sender.to_string());
    event.action = Some("send".into());
    event.detail = Some(format!(
        "campaign {}: {} kept, excluded {}; Robinson list downloaded on {} ({} entries)",
        campaign.id,
        summary.kept,
        serde_json::to_string(&summary.excluded).unwrap_or_default(),
        summary.robinson.downloaded,
        summary.robinson.entries,
    ));
    audit.append(slug, event).await?;
    Ok(())
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
    // Before anything is sent: a recipient who is not a customer can only
    // be audited under a pseudonym.
    let pseudonyms = audit.pseudonyms()?.clone();
    await_schedule(campaign, config.wait_for_schedule).await?;
    if Campaign::stopped_at(org.store(), org.slug(), &campaign.id)
        .await?
        .is_some()
    {
        return Err(Error::CampaignStopped(campaign.id.clone()));
    }
    let store = org.store().clone();
    let slug = org.slug().clone();
    if outbox::written(store.pool(), &slug, &campaign.id).await? {
        // A resume: the verdicts are in the outbox, and planning again
        // would only throw them away. INVARIANT: a resume sends only while
        // the Robinson list is in force, as a first send plans only then.
        suppression::robinson_in_force(&store, &slug, config.robinson_max_age_days).await?;
    } else {
        let planned = plan(org, campaign, rules, config.robinson_max_age_days).await?;
        record_plan(&store, &slug, campaign, audit, &planned).await?;
    }
    let mut report = SendReport {
        campaign: campaign.id.clone(),
        uncertain: settle_interrupted(&store, &slug, &campaign.id).await?,
        excluded_at_plan: count_state(&store, &slug, &campaign.id, "excluded").await?,
        ..SendReport::default()
    };
    let total = count_state(&store, &slug, &campaign.id, "pending").await?;

    let connections = smtp::Connections::new(smtp::Target::parse(&config.smtp_url)?);
    let (recorder, recorder_task) =
        spawn_recorder(store.clone(), slug.clone(), campaign.id.clone());
    let shared = Arc::new(Shared {
        store: store.clone(),
        org: slug.clone(),
        renderer: campaign.renderer()?,
        campaign: campaign.clone(),
        connections,
        key: key.clone(),
        public_url: config.public_url.clone(),
        audit: audit.clone(),
        pseudonyms,
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
    shared.connections.close().await;
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
