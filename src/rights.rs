//! `custodia rights ...`: the register of data-subject requests (GDPR arts.
//! 12, 15-22), their answers, and the access package.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use custodia_app::{Custodia, RightsPackage};
use custodia_engine::audit::merkle::{self, ProofFile};
use custodia_engine::{
    CustomerId, NewRightsRequest, OrgSlug, RightKind, RightsRequest, WorkerLogin,
};
use custodia_reports::Lang;

use crate::global::{Global, with_app};
use crate::output::emit;

/// Which request of which organisation, and who acts.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(long)]
    pub org: OrgSlug,
    #[arg(long)]
    pub request: i64,
    /// The worker who acts, recorded in the audit event
    #[arg(long = "as", value_name = "WORKER", env = "CUSTODIA_AS")]
    pub actor: Option<WorkerLogin>,
}

#[derive(Debug, Subcommand)]
pub enum RightsCommand {
    /// Record a request received; prints its id (due one month later)
    Open {
        #[arg(long)]
        org: OrgSlug,
        #[arg(long)]
        customer: CustomerId,
        /// access, rectification, erasure, restriction, portability or objection
        #[arg(long)]
        kind: RightKind,
        /// When it arrived (default: today)
        #[arg(long, value_name = "YYYY-MM-DD")]
        received: Option<NaiveDate>,
        /// How it arrived: email, letter, in person...
        #[arg(long, default_value = "email")]
        channel: String,
        /// How the requester's identity was checked
        #[arg(long, requires = "actor")]
        identity_check: Option<String>,
        #[arg(long = "as", value_name = "WORKER", env = "CUSTODIA_AS")]
        actor: Option<WorkerLogin>,
    },
    /// The requests, newest first; --overdue: due within 7 days or late
    List {
        #[arg(long)]
        org: OrgSlug,
        #[arg(long)]
        overdue: bool,
    },
    /// One request
    Show(Target),
    /// Two more months, with the reason the requester is told (art. 12.3)
    Extend {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Grant it: erasure blocks the record, restriction restricts it, an
    /// objection opts the address out
    Resolve {
        #[command(flatten)]
        target: Target,
        /// What the requester is answered
        #[arg(long, default_value = "granted")]
        answer: String,
    },
    /// Refuse it, with the reason the requester is given
    Refuse {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        reason: String,
    },
    /// Lift the restriction a granted restriction request set (audited)
    Lift(Target),
    /// Delete a granted erasure's record once the retention of the
    /// activities has ended, and destroy its data key; the address stays
    /// only as a keyed hash, so the person is never mailed again
    Purge {
        #[command(flatten)]
        target: Target,
        /// Purge before the retention ends, for this reason (recorded)
        #[arg(long, value_name = "REASON")]
        early: Option<String>,
    },
    /// Write the answer to an access or portability request: data.json,
    /// data.csv, accesses.csv, proofs.json and the letter (HTML and PDF,
    /// Spanish or English)
    Package {
        #[command(flatten)]
        target: Target,
        #[arg(long, short)]
        output: PathBuf,
        /// es (default) or en
        #[arg(long, default_value = "es")]
        lang: Lang,
    },
}

pub async fn run(g: &Global, command: RightsCommand) -> anyhow::Result<()> {
    with_app(g, async |app| act(g, app, command).await).await
}

async fn act(g: &Global, app: &Custodia, command: RightsCommand) -> anyhow::Result<()> {
    match command {
        RightsCommand::Open {
            org,
            customer,
            kind,
            received,
            channel,
            identity_check,
            actor,
        } => {
            let new = NewRightsRequest {
                customer: &customer,
                kind,
                received: received.unwrap_or_else(|| chrono::Utc::now().date_naive()),
                channel: &channel,
                identity_check: identity_check.as_deref(),
            };
            let request = app.open_rights_request(&org, &new, actor.as_ref()).await?;
            emit(g.json, &serde_json::json!({ "id": request.id }), |_| {
                say!("{}", request.id);
            })
        }
        RightsCommand::List { org, overdue } => {
            let today = chrono::Utc::now().date_naive();
            let requests: Vec<RightsRequest> = app
                .rights_requests(&org)
                .await?
                .into_iter()
                .filter(|r| !overdue || r.is_due_within(today, 7))
                .collect();
            emit(g.json, &requests, |requests| {
                for r in requests {
                    let late = if r.is_late(today) { "  LATE" } else { "" };
                    say!(
                        "#{:<4} {:<13} {:<10} {:<8} received {}  due {}{late}",
                        r.id,
                        r.kind.as_str(),
                        r.customer.as_str(),
                        r.status.as_str(),
                        r.received,
                        r.due
                    );
                }
            })
        }
        RightsCommand::Show(t) => {
            let request = app.rights_request(&t.org, t.request).await?;
            emit(g.json, &request, print_request)
        }
        RightsCommand::Extend { target: t, reason } => {
            let request = app
                .extend_rights_request(&t.org, t.request, &reason, t.actor.as_ref())
                .await?;
            emit(g.json, &request, print_request)
        }
        RightsCommand::Resolve { target: t, answer } => {
            let request = app
                .resolve_rights_request(&t.org, t.request, &answer, t.actor.as_ref())
                .await?;
            emit(g.json, &request, print_request)
        }
        RightsCommand::Refuse { target: t, reason } => {
            let request = app
                .refuse_rights_request(&t.org, t.request, &reason, t.actor.as_ref())
                .await?;
            emit(g.json, &request, print_request)
        }
        RightsCommand::Lift(t) => {
            app.lift_restriction(&t.org, t.request, t.actor.as_ref())
                .await?;
            say!("restriction of request #{} lifted", t.request);
            Ok(())
        }
        RightsCommand::Purge { target: t, early } => {
            let report = app
                .purge_erased(&t.org, t.request, early.as_deref(), t.actor.as_ref())
                .await?;
            emit(g.json, &report, |r| {
                say!(
                    "{} purged ({}); data key {}; {} document blobs removed",
                    r.customer,
                    r.reason,
                    if r.key_destroyed {
                        "destroyed"
                    } else {
                        "absent"
                    },
                    r.blobs_removed
                );
                if !r.log_emptied {
                    say!(
                        "warning: the database log is in use; older copies of the deleted pages go at its next checkpoint"
                    );
                }
                for left in &r.blobs_left {
                    say!("warning: blob not removed (unreadable without the key): {left}");
                }
            })
        }
        RightsCommand::Package {
            target: t,
            output,
            lang,
        } => {
            let package = app
                .rights_package(&t.org, t.request, t.actor.as_ref())
                .await?;
            write_package(&package, &output, lang)?;
            say!(
                "written {} ({} values, {} accesses)",
                output.display(),
                package.data.len(),
                package.accesses.len()
            );
            Ok(())
        }
    }
}

fn print_request(r: &RightsRequest) {
    say!("request    #{} ({})", r.id, r.kind.article());
    say!("kind       {}", r.kind);
    say!("customer   {}", r.customer);
    say!("received   {} by {}", r.received, r.channel);
    if let Some(i) = &r.identity {
        say!("identity   {} (by {}, {})", i.how, i.by, i.at);
    }
    say!("due        {}", r.due);
    if let Some(reason) = &r.extension_reason {
        say!("extended   {reason}");
    }
    say!("status     {}", r.status.as_str());
    if let (Some(at), Some(answer)) = (&r.answered_at, &r.answer) {
        say!("answered   {at}: {answer}");
    }
    if let Some(at) = &r.purged_at {
        say!("purged     {at}");
    }
}

fn write_package(package: &RightsPackage, dir: &Path, lang: Lang) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))
    };
    write("data.json", &serde_json::to_vec_pretty(package)?)?;
    let mut data = csv::Writer::from_writer(Vec::new());
    data.write_record(["section", "field", "value"])?;
    for item in &package.data {
        data.write_record([&item.section, &item.field, &item.value])?;
    }
    write("data.csv", &data.into_inner()?)?;
    if !package.accesses.is_empty() || package.request.kind == RightKind::Access {
        let mut accesses = csv::Writer::from_writer(Vec::new());
        accesses.write_record([
            "at",
            "seq",
            "action",
            "role",
            "department",
            "allowed",
            "exported",
        ])?;
        for a in &package.accesses {
            accesses.write_record([
                a.at.to_rfc3339(),
                a.seq.to_string(),
                a.action.clone(),
                a.role.clone(),
                a.department.clone(),
                a.allowed.to_string(),
                a.exported.to_string(),
            ])?;
        }
        write("accesses.csv", &accesses.into_inner()?)?;
    }
    if let Some(head) = &package.tree_head {
        // One self-contained proof per access, checkable offline with
        // `custodia audit check-proof proofs.json --public-key KEY`.
        let proofs: Vec<ProofFile> = package
            .accesses
            .iter()
            .map(|a| ProofFile {
                key_name: merkle::KEY_NAME.to_owned(),
                checkpoint: head.clone(),
                proof: a.proof.clone(),
            })
            .collect();
        write("proofs.json", &serde_json::to_vec_pretty(&proofs)?)?;
    }
    write(
        "letter.html",
        custodia_reports::letter_html(package, lang)?.as_bytes(),
    )?;
    write("letter.pdf", &custodia_reports::letter_pdf(package, lang)?)
}
