//! `custodia decide`, `explain` and `unlock`.

use std::io::Read;

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Args;
use custodia_engine::audit::{AuditEvent, EventKind};
use custodia_engine::rules::{
    Action, Context, Decision, Explanation, Request, ResourceRef, RuleEffect,
};
use custodia_engine::unlock::UnlockOutcome;
use custodia_engine::{OrgSlug, WorkerLogin};

use crate::app::{App, org_of};
use crate::cli::Global;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[arg(long)]
    pub worker: WorkerLogin,
    #[arg(long)]
    pub action: Action,
    /// customer:ID, customer:ID/AREA or document:ID
    #[arg(long)]
    pub resource: ResourceRef,
    /// The worker's organisation (needed only when the login is not unique)
    #[arg(long)]
    pub org: Option<OrgSlug>,
    /// Context as key=value: channel, purpose, address, time (RFC 3339)
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
}

/// Builds the request from arguments.
pub fn request(args: &RequestArgs) -> anyhow::Result<Request> {
    let mut context = Context::new(Utc::now(), "cli");
    for pair in &args.context {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("context `{pair}` is not KEY=VALUE");
        };
        match key {
            "channel" => context.channel = value.to_owned(),
            "purpose" => context.purpose = Some(value.to_owned()),
            "address" => context.address = Some(value.to_owned()),
            "time" => {
                context.time = chrono::DateTime::parse_from_rfc3339(value)
                    .with_context(|| format!("context `time`: `{value}` is not an RFC 3339 time"))?
                    .with_timezone(&Utc);
            }
            other => {
                bail!("unknown context key `{other}` (expected channel, purpose, address or time)")
            }
        }
    }
    Ok(Request {
        worker: args.worker.clone(),
        action: args.action,
        resource: args.resource.clone(),
        context,
    })
}

pub async fn decide(g: &Global, args: RequestArgs, explain: bool) -> anyhow::Result<()> {
    let app = App::open(g).await?;
    let result = decide_with(&app, g, &args, explain).await;
    app.close().await?;
    result
}

async fn decide_with(
    app: &App,
    g: &Global,
    args: &RequestArgs,
    explain: bool,
) -> anyhow::Result<()> {
    let request = request(args)?;
    let org = org_of(app.store(), args.org.clone(), &request.worker).await?;
    if explain {
        let answer = app.access.explain(&org, &request).await?.answer;
        emit(g.json, &answer, |e| print_explanation(&request, e))
    } else {
        let answer = app.access.decide(&org, &request).await?.answer;
        emit(g.json, &answer, print_decision)
    }
}

fn effect_word(effect: RuleEffect) -> &'static str {
    match effect {
        RuleEffect::Allow => "allow",
        RuleEffect::Deny => "deny ",
        RuleEffect::Mask => "mask ",
        RuleEffect::Error => "ERROR",
    }
}

fn print_reason(r: &custodia_engine::rules::Reason) {
    println!(
        "  {} {}/{}: {}",
        effect_word(r.effect),
        r.pack,
        r.rule,
        r.message
    );
}

fn print_decision(d: &Decision) {
    println!("{}", d.decision);
    for r in &d.reasons {
        print_reason(r);
    }
    if !d.mask.is_empty() {
        println!("  masked fields: {}", d.mask.join(", "));
    }
}

fn print_explanation(request: &Request, e: &Explanation) {
    println!(
        "{} {} {}: {}",
        request.worker,
        request.action,
        request.resource,
        e.decision.decision.as_str().to_uppercase()
    );
    let allowed = e
        .decision
        .reasons
        .iter()
        .any(|r| r.effect == RuleEffect::Allow);
    println!("\nRules that decided (deny overrides allow; no allow means deny):");
    if e.decision.reasons.is_empty() {
        println!("  (none: no rule allowed the request, so it is denied)");
    }
    for r in &e.decision.reasons {
        print_reason(r);
        if !r.fields.is_empty() {
            println!("        fields: {}", r.fields.join(", "));
        }
    }
    if !allowed && !e.decision.reasons.is_empty() {
        println!("  (no rule allowed the request)");
    }
    println!("\nRules that did not decide:");
    for s in &e.skipped {
        println!("  {}/{}: {}", s.pack, s.rule, s.why);
    }
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[arg(long)]
    pub worker: WorkerLogin,
    /// The area: customer:ID/AREA
    #[arg(long)]
    pub area: ResourceRef,
    #[arg(long)]
    pub org: Option<OrgSlug>,
    /// Read the password from standard input (first line)
    #[arg(long)]
    pub password_stdin: bool,
}

/// Asks the rules whether the worker may unlock, then checks the password.
/// Both the decision and the attempt are audited.
pub async fn unlock(g: &Global, args: UnlockArgs) -> anyhow::Result<()> {
    let ResourceRef::Area(customer, area) = &args.area else {
        bail!("`{}` is not an area: use customer:ID/AREA", args.area);
    };
    if !args.password_stdin {
        bail!("pass the password on standard input with --password-stdin (never as an argument)");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password")?;
    let password = password.lines().next().unwrap_or_default().to_owned();

    let app = App::open(g).await?;
    let result = async {
        let request = Request {
            worker: args.worker.clone(),
            action: Action::Unlock,
            resource: args.area.clone(),
            context: Context::new(Utc::now(), "cli"),
        };
        let org = org_of(app.store(), args.org.clone(), &request.worker).await?;
        let decision = app.access.decide(&org, &request).await?.answer;
        if !decision.is_allowed() {
            let why = decision
                .reasons
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            bail!("`{}` may not unlock `{}`: {why}", args.worker, args.area);
        }
        let scope = app.store().org(&org).await?;
        let outcome = scope
            .unlock_area(&args.worker, customer, area, &password, Utc::now())
            .await?;
        let kind = if matches!(outcome, UnlockOutcome::Unlocked { .. }) {
            EventKind::Unlock
        } else {
            EventKind::UnlockFailed
        };
        let mut event = AuditEvent::new(kind, Utc::now());
        event.worker = Some(args.worker.to_string());
        event.action = Some("unlock".into());
        event.resource = Some(args.area.to_string());
        event.customer = Some(customer.to_string());
        event.area = Some(area.to_string());
        event.channel = Some("cli".into());
        event.detail = Some(serde_json::to_string(&outcome)?);
        app.access.audit().append(&org, event).await?;
        emit(g.json, &outcome, |o| match o {
            UnlockOutcome::Unlocked { expires_at } => {
                println!("unlocked `{}` until {expires_at}", args.area)
            }
            UnlockOutcome::WrongPassword { attempts_left } => {
                println!("wrong password ({attempts_left} attempts left)")
            }
            UnlockOutcome::RateLimited { retry_after } => {
                println!("too many wrong passwords: try again after {retry_after}")
            }
        })?;
        if matches!(outcome, UnlockOutcome::Unlocked { .. }) {
            Ok(())
        } else {
            bail!("area not unlocked")
        }
    }
    .await;
    app.close().await?;
    result
}
