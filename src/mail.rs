//! `custodia mail ...`, `custodia optout ...` and `custodia robinson ...`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use custodia_app::Custodia;
use custodia_engine::OrgSlug;
use custodia_mailguard::{
    Address, Campaign, DkimSigner, Progress, RateWindow, SendConfig, suppression,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::global::{Global, with_app};
use crate::output::{emit, print_raw, say};

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Store a campaign from its TOML file (templates are checked now)
    Create {
        #[arg(long)]
        org: OrgSlug,
        file: PathBuf,
    },
    /// Who would get it and who not, and why
    Plan {
        #[arg(long)]
        org: OrgSlug,
        campaign: String,
        /// List every recipient, not only the counts
        #[arg(long)]
        list: bool,
    },
    /// Send a campaign (or continue one): SMTP, rate limited, audited
    Send(SendArgs),
    /// Continue a campaign after a crash or stop; nobody gets a second copy
    Resume(SendArgs),
    /// Stop a campaign: nothing more is claimed for sending (audited)
    Stop {
        #[arg(long)]
        org: OrgSlug,
        campaign: String,
    },
    /// Where every recipient stands: sent, pending, uncertain...
    Status {
        #[arg(long)]
        org: OrgSlug,
        campaign: String,
    },
    /// Send a breach's art. 34 notice to the customers it affects: a
    /// transactional message, sent whatever their marketing opt-out
    BreachNotice(BreachNoticeArgs),
}

#[derive(Debug, clap::Args)]
pub struct BreachNoticeArgs {
    #[arg(long)]
    pub org: OrgSlug,
    /// The breach entry's id
    #[arg(long)]
    pub breach: custodia_engine::EntryId,
    /// es (default) or en
    #[arg(long, default_value = "es")]
    pub lang: custodia_reports::Lang,
    /// Print the notice as the first affected customer will read it; send nothing
    #[arg(long)]
    pub preview: bool,
    /// `Name <address>` the notice comes from (the DPO or contact point)
    #[arg(long, required_unless_present = "preview")]
    pub from: Option<String>,
    #[arg(long, env = "CUSTODIA_SMTP_URL", required_unless_present = "preview")]
    pub smtp: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[arg(long)]
    pub org: OrgSlug,
    pub campaign: String,
    /// smtp://host:port, smtp://host:587?tls=required, smtps://user:pass@host
    #[arg(long, env = "CUSTODIA_SMTP_URL")]
    pub smtp: String,
    /// Base URL of the unsubscribe links (where `custodia serve` is reachable)
    #[arg(long, env = "CUSTODIA_PUBLIC_URL")]
    pub public_url: String,
    /// Messages per second at most
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// Also at most this many messages per --window (e.g. your provider's
    /// hourly cap), counted across campaigns and runs
    #[arg(long, requires = "window")]
    pub window_max: Option<u32>,
    /// The sliding window for --window-max, in seconds
    #[arg(long, requires = "window_max")]
    pub window: Option<u64>,
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Pause when more than this share of messages fail
    #[arg(long, default_value_t = 0.2)]
    pub max_error_rate: f64,
    /// Plan only: send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Before the campaign's scheduled time, wait for it instead of refusing
    #[arg(long)]
    pub wait: bool,
    /// Sign with DKIM: the selector published at SELECTOR._domainkey.DOMAIN
    #[arg(long, requires = "dkim_key")]
    pub dkim_selector: Option<String>,
    /// The DKIM private key file: RSA (PKCS#1 PEM) or base64 Ed25519
    #[arg(long, requires = "dkim_selector")]
    pub dkim_key: Option<PathBuf>,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
}

impl SendArgs {
    /// The DKIM signer, for the campaign's sender domain.
    fn dkim(&self, campaign: &Campaign) -> anyhow::Result<Option<Arc<DkimSigner>>> {
        let (Some(selector), Some(path)) = (&self.dkim_selector, &self.dkim_key) else {
            return Ok(None);
        };
        let domain = campaign.sender_domain()?;
        let key = std::fs::read_to_string(path)
            .with_context(|| format!("reading the DKIM key `{}`", path.display()))?;
        let signer = DkimSigner::new(selector, &domain, &key)
            .with_context(|| format!("DKIM key `{}`", path.display()))?;
        Ok(Some(Arc::new(signer)))
    }

    fn config(
        &self,
        campaign: &Campaign,
        robinson_max_age_days: u32,
    ) -> anyhow::Result<SendConfig> {
        Ok(SendConfig {
            smtp_url: self.smtp.clone(),
            public_url: self.public_url.clone(),
            rate_per_second: self.rate,
            concurrency: self.concurrency,
            window: self
                .window_max
                .zip(self.window)
                .map(|(max, secs)| RateWindow {
                    max,
                    span: Duration::from_secs(secs),
                }),
            max_error_rate: self.max_error_rate,
            dkim: self.dkim(campaign)?,
            wait_for_schedule: self.wait,
            robinson_max_age_days,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum OptOutCommand {
    /// Record an opt-out (baja)
    Add {
        #[arg(long)]
        org: OrgSlug,
        address: String,
        #[arg(long, default_value = "counter")]
        channel: String,
    },
    /// Import opt-outs, one address per line; all or nothing
    Import {
        #[arg(long)]
        org: OrgSlug,
        file: PathBuf,
    },
    /// Lift an opt-out: only with a new consent, recorded with its source and date
    Remove {
        #[arg(long)]
        org: OrgSlug,
        address: String,
        /// Where the new consent was given (form, signed paper...)
        #[arg(long)]
        consent_source: String,
        /// When (YYYY-MM-DD)
        #[arg(long)]
        consent_date: chrono::NaiveDate,
    },
    /// The whole suppression list as CSV
    Export {
        #[arg(long)]
        org: OrgSlug,
    },
    /// Opt out the senders of the replies to the unsubscribe address, from
    /// a Maildir folder or an mbox file; audited, and safe to run again
    ImportMailbox {
        #[arg(long)]
        org: OrgSlug,
        /// A Maildir folder (with cur/ and new/) or an mbox file
        mailbox: PathBuf,
    },
}

/// A progress bar on stderr, hidden when quiet or not a terminal.
fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

pub async fn mail(g: &Global, command: MailCommand) -> anyhow::Result<()> {
    with_app(g, async |app| run_mail(app, g, command).await).await
}

/// The plan's totals, after its recipients when they were listed.
fn print_summary(p: &custodia_mailguard::PlanSummary) {
    say!("campaign `{}`: {} kept", p.campaign, p.kept);
    say!(
        "  checked against the Robinson list downloaded on {} ({} entries)",
        p.robinson.downloaded,
        p.robinson.entries
    );
    for (reason, n) in &p.excluded {
        say!("  excluded, {}: {n}", reason.as_str());
    }
}

/// One recipient's line of `mail plan --list`.
fn print_planned(r: &custodia_mailguard::Planned) {
    let verdict = r.excluded.map_or("kept", |e| e.as_str());
    let detail = r
        .detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    say!("  {:<40} {verdict}{detail}", r.address);
}

async fn run_mail(app: &Custodia, g: &Global, command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::Create { org, file } => {
            let campaign = Campaign::read(&file)?;
            app.create_campaign(&org, &campaign).await?;
            say!("campaign `{}` created", campaign.id);
        }
        MailCommand::Plan {
            org,
            campaign,
            list,
        } => {
            if g.json {
                emit(true, &app.plan_campaign(&org, &campaign).await?, |_| {})?;
            } else {
                // Each line goes out as its verdict is known; the totals
                // come last.
                let summary = app
                    .plan_campaign_each(&org, &campaign, |r| {
                        if list {
                            print_planned(&r);
                        }
                    })
                    .await?;
                print_summary(&summary);
            }
        }
        MailCommand::Stop { org, campaign } => {
            app.stop_campaign(&org, &campaign).await?;
            emit(
                g.json,
                &serde_json::json!({ "campaign": campaign, "stopped": true }),
                |_| {
                    say!("campaign `{campaign}` stopped: nothing more will be sent");
                },
            )?;
        }
        MailCommand::Status { org, campaign } => {
            let status = app.campaign_status(&org, &campaign).await?;
            emit(g.json, &status, |s| {
                say!("campaign `{}`", s.campaign);
                for (state, n) in &s.states {
                    say!("  {state:<10} {n}");
                }
                for a in &s.uncertain {
                    say!("  uncertain: {a}");
                }
            })?;
        }
        MailCommand::BreachNotice(args) => breach_notice(app, g, args).await?,
        MailCommand::Send(args) | MailCommand::Resume(args) => {
            if args.dry_run {
                if g.json {
                    let plan = app.plan_campaign(&args.org, &args.campaign).await?;
                    return emit(true, &plan, |_| {});
                }
                let p = app
                    .plan_campaign_each(&args.org, &args.campaign, |_| {})
                    .await?;
                say!(
                    "dry run: {} would be sent, excluded {:?}",
                    p.kept,
                    p.excluded
                );
                return Ok(());
            }
            let campaign = Campaign::load(app.store(), &args.org, &args.campaign).await?;
            let config = args.config(&campaign, app.config().robinson_max_age_days)?;
            let bar = progress_bar(args.quiet || g.json);
            let report = app
                .send_campaign(&args.org, &campaign, &config, &|p: Progress| {
                    bar.set_length(p.total as u64);
                    bar.set_position(p.done as u64);
                })
                .await;
            bar.finish_and_clear();
            let report = report?;
            emit(g.json, &report, |r| {
                say!(
                    "campaign `{}`: {} sent, {} failed, {} stopped by an opt-out, {} excluded at planning{}",
                    r.campaign,
                    r.sent,
                    r.failed,
                    r.stopped_by_opt_out,
                    r.excluded_at_plan,
                    if r.stopped { " (campaign stopped)" } else { "" }
                );
                for a in &r.uncertain {
                    say!("  uncertain (interrupted mid-send, not resent): {a}");
                }
            })?;
        }
    }
    Ok(())
}

/// `mail breach-notice`: preview or send the art. 34 notice.
async fn breach_notice(app: &Custodia, g: &Global, args: BreachNoticeArgs) -> anyhow::Result<()> {
    if args.preview {
        let notice = app
            .breach_notice(&args.org, &args.breach, "[nombre / name]", args.lang)
            .await?;
        return print_raw(&format!("Subject: {}\n\n{}", notice.subject, notice.text));
    }
    let (Some(from), Some(smtp)) = (&args.from, &args.smtp) else {
        anyhow::bail!("sending a notice needs --from and --smtp");
    };
    let sender = custodia_mailguard::NoticeSender {
        from,
        smtp_url: smtp,
    };
    let report = app
        .send_breach_notice(&args.org, &args.breach, args.lang, &sender)
        .await?;
    emit(g.json, &report, |r| {
        say!(
            "breach `{}`: art. 34 notice sent to {}, {} already notified",
            r.breach,
            r.sent,
            r.already_sent
        );
        for id in &r.no_address {
            say!("  no email address, tell them another way: {id}");
        }
        for id in &r.failed {
            say!("  failed, run again to retry: {id}");
        }
        for id in &r.uncertain {
            say!("  uncertain (interrupted mid-send, not resent): {id}");
        }
    })
}

pub async fn optout(g: &Global, command: OptOutCommand) -> anyhow::Result<()> {
    with_app(g, async |app| match command {
        OptOutCommand::Add {
            org,
            address,
            channel,
        } => {
            let address = Address::parse(&address)?;
            let customers = app
                .opt_out(&org, &address, &channel, "custodia optout add")
                .await?;
            let who = if customers.is_empty() {
                String::new()
            } else {
                format!(" (customers {})", customers.join(", "))
            };
            say!("`{address}` opted out{who}");
            Ok(())
        }
        OptOutCommand::Import { org, file } => {
            let n = app.import_opt_outs(&org, &file).await?;
            say!("imported {n} opt-outs");
            Ok(())
        }
        OptOutCommand::Remove {
            org,
            address,
            consent_source,
            consent_date,
        } => {
            let address = Address::parse(&address)?;
            app.lift_opt_out(&org, &address, &consent_source, consent_date)
                .await?;
            say!("opt-out of `{address}` lifted (new consent recorded)");
            Ok(())
        }
        OptOutCommand::Export { org } => {
            let entries = suppression::opt_outs(app.store(), &org).await?;
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["address", "date", "channel", "source"])?;
            for e in entries {
                w.write_record([e.address, e.date, e.channel, e.source])?;
            }
            print_raw(&String::from_utf8(w.into_inner()?)?)
        }
        OptOutCommand::ImportMailbox { org, mailbox } => {
            let report = app.import_unsubscribe_mailbox(&org, &mailbox).await?;
            emit(g.json, &report, |r| {
                say!(
                    "{} messages: {} opted out, {} already opted out, {} skipped",
                    r.messages,
                    r.opted_out,
                    r.already,
                    r.skipped.len()
                );
                for (origin, why) in &r.skipped {
                    say!("  skipped {}: {why:?}", origin.display());
                }
            })
        }
    })
    .await
}

pub async fn robinson_import(
    g: &Global,
    org: &OrgSlug,
    downloaded: chrono::NaiveDate,
    file: PathBuf,
) -> anyhow::Result<()> {
    let n = with_app(g, async |app| {
        app.import_robinson(org, &file, downloaded)
            .await
            .context("Robinson import refused, nothing imported")
    })
    .await?;
    say!("imported {n} Robinson list entries for `{org}`, downloaded on {downloaded}");
    Ok(())
}
