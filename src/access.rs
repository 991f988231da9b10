//! `custodia decide`, `explain` and `unlock`.

use std::io::Read;

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Args;
use custodia_app::UnlockRequest;
use custodia_engine::rules::{
    Action, Context, Decision, Explanation, Request, ResourceRef, RuleEffect,
};
use custodia_engine::unlock::UnlockOutcome;
use custodia_engine::{OrgSlug, WorkerLogin};

use crate::global::{Global, with_app};
use crate::output::{emit, say};

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
    Ok(Request {
        worker: args.worker.clone(),
        action: args.action,
        resource: args.resource.clone(),
        context: context(&args.context)?,
    })
}

/// Builds a request's context from `KEY=VALUE` pairs.
/// `worker` acting from the command line, now.
pub fn operator_reader(worker: &custodia_engine::WorkerLogin) -> custodia_app::Reader {
    custodia_app::Reader {
        worker: worker.clone(),
        context: Context::new(chrono::Utc::now(), "cli"),
    }
}

pub fn context(pairs: &[String]) -> anyhow::Result<Context> {
    let mut context = Context::new(Utc::now(), "cli");
    for pair in pairs {
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
    Ok(context)
}

pub async fn decide(g: &Global, args: RequestArgs, explain: bool) -> anyhow::Result<()> {
    let request = request(&args)?;
    with_app(g, async |app| {
        let org = app.org_of(args.org.clone(), &request.worker).await?;
        if explain {
            let answer = app.explain(&org, &request).await?.answer;
            emit(g.json, &answer, |e| print_explanation(&request, e))
        } else {
            let answer = app.decide(&org, &request).await?.answer;
            emit(g.json, &answer, print_decision)
        }
    })
    .await
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
    say!(
        "  {} {}/{}: {}",
        effect_word(r.effect),
        r.pack,
        r.rule,
        r.message
    );
}

fn print_decision(d: &Decision) {
    say!("{}", d.effect);
    for r in &d.reasons {
        print_reason(r);
    }
    if !d.mask.is_empty() {
        say!("  masked fields: {}", d.mask.join(", "));
    }
}

fn print_explanation(request: &Request, e: &Explanation) {
    say!(
        "{} {} {}: {}",
        request.worker,
        request.action,
        request.resource,
        e.decision.effect.as_str().to_uppercase()
    );
    let allowed = e
        .decision
        .reasons
        .iter()
        .any(|r| r.effect == RuleEffect::Allow);
    say!("\nRules that decided (deny overrides allow; no allow means deny):");
    if e.decision.reasons.is_empty() {
        say!("  (none: no rule allowed the request, so it is denied)");
    }
    for r in &e.decision.reasons {
        print_reason(r);
        if !r.fields.is_empty() {
            say!("        fields: {}", r.fields.join(", "));
        }
    }
    if !allowed && !e.decision.reasons.is_empty() {
        say!("  (no rule allowed the request)");
    }
    say!("\nRules that did not decide:");
    for s in &e.skipped {
        say!("  {}/{}: {}", s.pack, s.rule, s.why);
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
    if !matches!(args.area, ResourceRef::Area(..)) {
        bail!("`{}` is not an area: use customer:ID/AREA", args.area);
    }
    if !args.password_stdin {
        bail!("pass the password on standard input with --password-stdin (never as an argument)");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password")?;
    let password = password.lines().next().unwrap_or_default().to_owned();

    with_app(g, async |app| {
        let org = app.org_of(args.org.clone(), &args.worker).await?;
        let request = UnlockRequest {
            worker: &args.worker,
            area: &args.area,
            channel: "cli",
            address: None,
        };
        let outcome = app.unlock(&org, &request, &password).await?;
        emit(g.json, &outcome, |o| match o {
            UnlockOutcome::Unlocked { expires_at } => {
                say!("unlocked `{}` until {expires_at}", args.area)
            }
            UnlockOutcome::WrongPassword { attempts_left } => {
                say!("wrong password ({attempts_left} attempts left)")
            }
            UnlockOutcome::RateLimited { retry_after } => {
                say!("too many wrong passwords: try again after {retry_after}")
            }
        })?;
        if matches!(outcome, UnlockOutcome::Unlocked { .. }) {
            Ok(())
        } else {
            bail!("area not unlocked")
        }
    })
    .await
}
