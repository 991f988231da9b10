//! `custodia mail ...`, `custodia optout ...` and `custodia robinson ...`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Subcommand;
use custodia_engine::audit::{AuditEvent, EventKind};
use custodia_engine::{OrgSlug, exchange};
use custodia_mailguard::{
    Address, Campaign, DkimSigner, Progress, RateWindow, SendConfig, TokenKey, default_key_path,
    suppression,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::app::App;
use crate::cli::Global;
use crate::output::emit;

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
    /// Where every recipient stands: sent, pending, uncertain...
    Status {
        #[arg(long)]
        org: OrgSlug,
        campaign: String,
    },
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

    fn config(&self, campaign: &Campaign) -> anyhow::Result<SendConfig> {
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
}

/// The mail token key's path.
pub fn token_key(g: &Global) -> anyhow::Result<TokenKey> {
    Ok(TokenKey::load_or_create(&default_key_path(&g.db))?)
}

async fn audit_opt_out(
    app: &App,
    org: &OrgSlug,
    address: &Address,
    channel: &str,
) -> anyhow::Result<()> {
    let mut event = AuditEvent::new(EventKind::OptOut, Utc::now());
    event.channel = Some(channel.to_owned());
    event.resource = Some(format!("address:{address}"));
    app.access.audit().append(org, event).await?;
    Ok(())
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
    let app = App::open(g).await?;
    let result = run_mail(&app, g, command).await;
    app.close().await?;
    result
}

async fn run_mail(app: &App, g: &Global, command: MailCommand) -> anyhow::Result<()> {
    let rules = app.access.rules().current();
    match command {
        MailCommand::Create { org, file } => {
            let campaign = Campaign::read(&file)?;
            app.store()
                .org(&org)
                .await?
                .worker(&campaign.sender)
                .await?;
            campaign.create(app.store(), &org).await?;
            println!("campaign `{}` created", campaign.id);
        }
        MailCommand::Plan {
            org,
            campaign,
            list,
        } => {
            let scope = app.store().org(&org).await?;
            let campaign = Campaign::load(app.store(), &org, &campaign).await?;
            let plan = custodia_mailguard::plan(&scope, &campaign, &rules).await?;
            emit(g.json, &plan, |p| {
                println!("campaign `{}`: {} kept", p.campaign, p.kept);
                for (reason, n) in &p.excluded {
                    println!("  excluded, {}: {n}", reason.as_str());
                }
                if list {
                    for r in &p.recipients {
                        let verdict = r.excluded.map_or("kept", |e| e.as_str());
                        println!(
                            "  {:<40} {verdict}{}",
                            r.address,
                            r.detail
                                .as_ref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        );
                    }
                }
            })?;
        }
        MailCommand::Status { org, campaign } => {
            let status = custodia_mailguard::status(app.store(), &org, &campaign).await?;
            emit(g.json, &status, |s| {
                println!("campaign `{}`", s.campaign);
                for (state, n) in &s.states {
                    println!("  {state:<10} {n}");
                }
                for a in &s.uncertain {
                    println!("  uncertain: {a}");
                }
            })?;
        }
        MailCommand::Send(args) | MailCommand::Resume(args) => {
            let scope = app.store().org(&args.org).await?;
            let campaign = Campaign::load(app.store(), &args.org, &args.campaign).await?;
            if args.dry_run {
                let plan = custodia_mailguard::plan(&scope, &campaign, &rules).await?;
                return emit(g.json, &plan, |p| {
                    println!(
                        "dry run: {} would be sent, excluded {:?}",
                        p.kept, p.excluded
                    )
                });
            }
            let config = args.config(&campaign)?;
            let bar = progress_bar(args.quiet || g.json);
            let report = custodia_mailguard::send(
                &scope,
                &campaign,
                &rules,
                app.access.audit(),
                &token_key(g)?,
                &config,
                &|p: Progress| {
                    bar.set_length(p.total as u64);
                    bar.set_position(p.done as u64);
                },
            )
            .await;
            bar.finish_and_clear();
            let report = report?;
            emit(g.json, &report, |r| {
                println!(
                    "campaign `{}`: {} sent, {} failed, {} stopped by an opt-out, {} excluded at planning",
                    r.campaign, r.sent, r.failed, r.stopped_by_opt_out, r.excluded_at_plan
                );
                for a in &r.uncertain {
                    println!("  uncertain (interrupted mid-send, not resent): {a}");
                }
            })?;
        }
    }
    Ok(())
}

pub async fn optout(g: &Global, command: OptOutCommand) -> anyhow::Result<()> {
    let app = App::open(g).await?;
    let result = async {
        match command {
            OptOutCommand::Add {
                org,
                address,
                channel,
            } => {
                app.store().org(&org).await?;
                let address = Address::parse(&address)?;
                let customers = suppression::opt_out(
                    app.store(),
                    &org,
                    &address,
                    &channel,
                    "custodia optout add",
                )
                .await?;
                audit_opt_out(&app, &org, &address, &channel).await?;
                println!(
                    "`{address}` opted out{}",
                    if customers.is_empty() {
                        String::new()
                    } else {
                        format!(" (customers {})", customers.join(", "))
                    }
                );
            }
            OptOutCommand::Import { org, file } => {
                app.store().org(&org).await?;
                let text = exchange::read_text(&file)?;
                let mut addresses = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    match Address::parse(line) {
                        Ok(a) => addresses.push(a),
                        Err(e) => bail!("{}: line {}: {e}", file.display(), i + 1),
                    }
                }
                let source = file.display().to_string();
                suppression::import_opt_outs(app.store(), &org, &addresses, "import", &source)
                    .await?;
                let mut event = AuditEvent::new(EventKind::OptOut, Utc::now());
                event.channel = Some("import".into());
                event.detail = Some(format!(
                    "{} opt-outs imported from {source}",
                    addresses.len()
                ));
                app.access.audit().append(&org, event).await?;
                println!("imported {} opt-outs", addresses.len());
            }
            OptOutCommand::Remove {
                org,
                address,
                consent_source,
                consent_date,
            } => {
                app.store().org(&org).await?;
                let address = Address::parse(&address)?;
                suppression::lift_opt_out(
                    app.store(),
                    &org,
                    &address,
                    &consent_source,
                    consent_date,
                )
                .await?;
                let mut event = AuditEvent::new(EventKind::OptOut, Utc::now());
                event.resource = Some(format!("address:{address}"));
                event.detail = Some(format!(
                    "opt-out lifted by new consent: {consent_source}, {consent_date}"
                ));
                app.access.audit().append(&org, event).await?;
                println!("opt-out of `{address}` lifted (new consent recorded)");
            }
            OptOutCommand::Export { org } => {
                let entries = suppression::opt_outs(app.store(), &org).await?;
                let mut w = csv::Writer::from_writer(std::io::stdout().lock());
                w.write_record(["address", "date", "channel", "source"])?;
                for e in entries {
                    w.write_record([e.address, e.date, e.channel, e.source])?;
                }
                w.flush()?;
            }
        }
        Ok(())
    }
    .await;
    app.close().await?;
    result
}

pub async fn robinson_import(g: &Global, file: PathBuf) -> anyhow::Result<()> {
    let store = custodia_engine::Store::init(&g.db).await?;
    let text = exchange::read_text(&file)?;
    let n = suppression::import_robinson(&store, &file, &text)
        .await
        .context("Robinson import refused, nothing imported")?;
    println!("imported {n} Robinson list entries");
    Ok(())
}
