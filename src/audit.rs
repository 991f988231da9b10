//! `custodia audit ...`: verify, query, breach, checkpoint, public-key, prune.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use custodia_engine::audit::{
    AuditQuery, BreachQuery, ChainedEvent, Checkpoint, Cosigner, Signer, Witnessed, merkle,
    parse_public_key,
};
use custodia_engine::rules::Effect;
use custodia_engine::{OrgSlug, Store};

use crate::global::{Global, with_app};
use crate::output::{emit, print_raw, say};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and check every signed checkpoint
    Verify {
        /// One organisation (default: all)
        #[arg(long)]
        org: Option<OrgSlug>,
        /// Start from an exported checkpoint (JSON from `audit checkpoint`)
        #[arg(long)]
        from_checkpoint: Option<PathBuf>,
        /// Trusted public key (hex); default: the key file's
        #[arg(long)]
        public_key: Option<String>,
        /// More witness files to check against, besides `--witness`'s
        /// (e.g. each server's, or a copy kept elsewhere)
        #[arg(long = "witness-file")]
        witness_files: Vec<PathBuf>,
        /// A witness trusted to cosign (C2SP vkey, `name+id+key`): its
        /// stored cosignatures are checked and anchor the chain like the
        /// witness file's checkpoints
        #[arg(long = "cosigner")]
        cosigners: Vec<String>,
    },
    /// List events
    Query(QueryArgs),
    /// Which customers' data a worker, address or window touched
    Breach(BreachArgs),
    /// Export the latest signed checkpoint of an organisation (JSON)
    Checkpoint {
        #[arg(long)]
        org: OrgSlug,
        /// Only its tree head as a C2SP tlog-checkpoint signed note, for a
        /// witness to check and cosign
        #[arg(long)]
        note: bool,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Store a witness's cosignature (C2SP tlog-cosignature) on one of this
    /// log's checkpoints: FILE is the note as the witness returned it
    Cosign {
        file: PathBuf,
        /// The witness's key (C2SP vkey, `name+id+key`)
        #[arg(long)]
        cosigner: String,
    },
    /// Print the public key that verifies checkpoints
    PublicKey,
    /// A proof that one event is in the log, checkable offline with the
    /// public key (RFC 9162 inclusion proof, C2SP signed tree head)
    Prove {
        #[arg(long)]
        org: OrgSlug,
        #[arg(long)]
        seq: i64,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// A proof that the log today extends an older signed tree head (from
    /// an earlier `prove` or `consistency` file)
    Consistency {
        #[arg(long)]
        org: OrgSlug,
        #[arg(long)]
        from: PathBuf,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a proof file (or an access package's `proofs.json`) with
    /// only the public key
    CheckProof {
        file: PathBuf,
        #[arg(long)]
        public_key: String,
    },
    /// Remove events older than the retention period (at least 730 days),
    /// up to a signed checkpoint that keeps the rest verifiable
    Prune {
        #[arg(long)]
        org: OrgSlug,
        #[arg(long, default_value_t = 730)]
        keep_days: i64,
        /// Why, for the prune event
        #[arg(long, default_value = "retention period over")]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[arg(long)]
    pub org: OrgSlug,
    #[arg(long)]
    pub worker: Option<String>,
    #[arg(long)]
    pub customer: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub decision: Option<String>,
    /// From this time (RFC 3339 or YYYY-MM-DD), inclusive
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time, exclusive
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub limit: Option<i64>,
    /// Write CSV
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct BreachArgs {
    #[arg(long)]
    pub org: OrgSlug,
    #[arg(long)]
    pub worker: Option<String>,
    #[arg(long)]
    pub customer: Option<String>,
    #[arg(long)]
    pub address: Option<String>,
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub csv: bool,
}

/// Parses RFC 3339, or a date meaning its midnight UTC.
pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("`{text}` is not a time (RFC 3339) or a date (YYYY-MM-DD)"))?;
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

pub async fn run(g: &Global, command: AuditCommand) -> anyhow::Result<bool> {
    let store = Store::init(&g.db).await?;
    let ok = match command {
        AuditCommand::Verify {
            org,
            from_checkpoint,
            public_key,
            witness_files,
            cosigners,
        } => {
            let sources = Sources {
                from: from_checkpoint,
                public_key,
                witness_files,
                cosigners: cosigners
                    .iter()
                    .map(|v| Cosigner::parse(v))
                    .collect::<Result<_, _>>()?,
            };
            verify(g, &store, org, sources).await?
        }
        AuditCommand::Query(args) => {
            query(g, &store, args).await?;
            true
        }
        AuditCommand::Breach(args) => {
            breach(g, &store, args).await?;
            true
        }
        AuditCommand::Checkpoint { org, note, output } => {
            let checkpoints = store.audit_checkpoints(&org).await?;
            let Some(latest) = checkpoints.values().next_back() else {
                bail!("organisation `{org}` has no signed checkpoint yet");
            };
            if note {
                write_text(&latest.note, output)?;
            } else {
                write_json(latest, output)?;
            }
            true
        }
        AuditCommand::Cosign { file, cosigner } => {
            let cosigner = Cosigner::parse(&cosigner)?;
            let key = Signer::load(&g.config().audit_key_path())?.verifying_key();
            let note = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let (org, seq) = store.add_cosignature(&note, &cosigner, &key).await?;
            say!(
                "stored: `{}` cosigned the checkpoint of {org} at {seq}",
                cosigner.name()
            );
            true
        }
        AuditCommand::Prune {
            org,
            keep_days,
            reason,
        } => {
            let report = with_app(g, async |app| {
                Ok(app.prune_audit(&org, keep_days, &reason).await?)
            })
            .await?;
            emit(g.json, &report, |r| {
                say!(
                    "{}: removed {} events; the chain now starts after signed checkpoint {}",
                    r.org,
                    r.removed,
                    r.anchor_seq
                );
            })?;
            true
        }
        AuditCommand::Prove { org, seq, output } => {
            let signer = Signer::load(&g.config().audit_key_path())?;
            let events = store.audit_event_hashes(&org).await?;
            let proof = merkle::prove_inclusion(org.as_str(), &events, seq, &signer)?;
            write_json(&proof, output)?;
            true
        }
        AuditCommand::Consistency { org, from, output } => {
            let signer = Signer::load(&g.config().audit_key_path())?;
            let text = std::fs::read_to_string(&from)
                .with_context(|| format!("cannot read `{}`", from.display()))?;
            // A proof file carries its signed tree head; a bare note is one.
            let older =
                serde_json::from_str::<merkle::ProofFile>(&text).map_or(text, |p| p.checkpoint);
            let events = store.audit_event_hashes(&org).await?;
            let proof = merkle::prove_consistency(org.as_str(), &events, &older, &signer)?;
            write_json(&proof, output)?;
            true
        }
        AuditCommand::CheckProof { file, public_key } => {
            let key = parse_public_key(&public_key)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            // One proof, or the list an access package carries.
            let proofs: Vec<merkle::ProofFile> = match serde_json::from_str(&text) {
                Ok(one) => vec![one],
                Err(_) => serde_json::from_str(&text).with_context(|| {
                    format!("`{}` is not a proof file or a list of them", file.display())
                })?,
            };
            let mut all_ok = true;
            for proof in &proofs {
                match proof.check(&key) {
                    Ok(what) => say!("ok      {what}"),
                    Err(e) => {
                        say!("INVALID {e}");
                        all_ok = false;
                    }
                }
            }
            all_ok
        }
        AuditCommand::PublicKey => {
            let signer = Signer::load(&g.config().audit_key_path())?;
            say!("{}", signer.public_hex());
            true
        }
    };
    store.close().await;
    Ok(ok)
}

/// Writes pretty JSON to `output`, or standard output.
fn write_json(value: &impl serde::Serialize, output: Option<PathBuf>) -> anyhow::Result<()> {
    write_text(&(serde_json::to_string_pretty(value)? + "\n"), output)
}

/// Writes `text` to `output`, or standard output.
fn write_text(text: &str, output: Option<PathBuf>) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => print_raw(text)?,
    }
    Ok(())
}

/// What `audit verify` trusts besides the database.
struct Sources {
    from: Option<PathBuf>,
    public_key: Option<String>,
    witness_files: Vec<PathBuf>,
    cosigners: Vec<Cosigner>,
}

async fn verify(
    g: &Global,
    store: &Store,
    org: Option<OrgSlug>,
    sources: Sources,
) -> anyhow::Result<bool> {
    let key = match sources.public_key {
        Some(hex) => parse_public_key(&hex)?,
        None => Signer::load(&g.config().audit_key_path())
            .context("no trusted public key: pass --public-key or --audit-key")?
            .verifying_key(),
    };
    let anchor: Option<Checkpoint> =
        match sources.from {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                Some(serde_json::from_str(&text).with_context(|| {
                    format!("`{}` is not an exported checkpoint", path.display())
                })?)
            }
            None => None,
        };
    let orgs = match (org, &anchor) {
        (Some(o), _) => vec![o],
        (None, Some(a)) => vec![OrgSlug::new(a.org.clone())?],
        (None, None) => store
            .organisations()
            .await?
            .into_iter()
            .map(|o| o.slug)
            .collect(),
    };
    let mut cosigned = Vec::new();
    for org in &orgs {
        cosigned.push(
            store
                .cosigned_checkpoints(org, &sources.cosigners, &key)
                .await?,
        );
    }
    // An organisation anchored by a witness's cosignature can do without
    // the witness file.
    let uncosigned: Vec<OrgSlug> = orgs
        .iter()
        .zip(&cosigned)
        .filter(|(_, c)| c.checkpoints.is_empty())
        .map(|(org, _)| org.clone())
        .collect();
    let mut witnessed = read_witnesses(g, store, &uncosigned, &key, sources.witness_files).await?;
    let mut reports = Vec::new();
    for (org, cosigned) in orgs.into_iter().zip(cosigned) {
        let bar = indicatif::ProgressBar::new_spinner().with_message(format!("verifying {org}"));
        // Cosigned checkpoints anchor the chain as witnessed ones do.
        let anchors = witnessed.checkpoints.entry(org.to_string()).or_default();
        anchors.extend(cosigned.checkpoints);
        let mut report = store
            .verify_audit_witnessed(
                &org,
                Some(&key),
                anchor.as_ref().filter(|a| a.org == org.as_str()),
                anchors,
                |n| bar.set_position(u64::try_from(n).unwrap_or(0)),
            )
            .await?;
        bar.finish_and_clear();
        report.cosignatures_checked = cosigned.checked;
        if report.broken.is_none() {
            report.broken = cosigned.invalid.into_iter().next();
        }
        reports.push(report);
    }
    let ok = reports.iter().all(|r| r.ok());
    emit(g.json, &reports, |reports| {
        for r in reports {
            match &r.broken {
                None => say!(
                    "ok      {}: {} events, head {} at {}, {} checkpoints verified ({} Merkle roots, {} cosignatures)",
                    r.org,
                    r.events,
                    short(&r.head_hash),
                    r.last_seq,
                    r.checkpoints_checked,
                    r.roots_checked,
                    r.cosignatures_checked
                ),
                Some(b) => say!(
                    "BROKEN  {}: at sequence {}: {}: {}",
                    r.org,
                    b.seq,
                    b.kind.as_str(),
                    b.detail
                ),
            }
        }
    })?;
    Ok(ok)
}

/// The witness files to check against: `--witness`'s (default beside the
/// key) and any `--witness-file`. The default file may be missing only
/// while no organisation has a signed checkpoint yet.
async fn read_witnesses(
    g: &Global,
    store: &Store,
    orgs: &[OrgSlug],
    key: &custodia_engine::audit::VerifyingKey,
    extra: Vec<PathBuf>,
) -> anyhow::Result<Witnessed> {
    let default = g.config().witness_path();
    let mut files = extra;
    if default.exists() {
        files.push(default);
    } else {
        for org in orgs {
            if !store.audit_checkpoints(org).await?.is_empty() {
                bail!(
                    "witness file `{}` not found, though `{org}` has signed checkpoints: \
                     the log cannot be checked against what it was known to hold (pass --witness FILE)",
                    default.display()
                );
            }
        }
    }
    Ok(Witnessed::read(&files, key)?)
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

async fn query(g: &Global, store: &Store, args: QueryArgs) -> anyhow::Result<()> {
    let decision = match args.decision.as_deref() {
        None => None,
        Some("allow") => Some(Effect::Allow),
        Some("deny") => Some(Effect::Deny),
        Some(other) => bail!("decision `{other}`: expected allow or deny"),
    };
    let q = AuditQuery {
        worker: args.worker,
        customer: args.customer,
        action: args.action,
        decision,
        from: args.from.as_deref().map(parse_time).transpose()?,
        to: args.to.as_deref().map(parse_time).transpose()?,
        limit: args.limit,
    };
    let events = store.query_audit(&args.org, &q).await?;
    if args.csv {
        return write_events_csv(&events);
    }
    emit(g.json, &events, |events| {
        say!(
            "{:>7}  {:<20}  {:<13}  {:<10}  {:<8}  {:<30}  {:<6}  rules",
            "seq",
            "time",
            "kind",
            "worker",
            "action",
            "resource",
            "result"
        );
        for e in events {
            let ev = &e.event;
            say!(
                "{:>7}  {:<20}  {:<13}  {:<10}  {:<8}  {:<30}  {:<6}  {}",
                e.seq,
                ev.at.format("%Y-%m-%d %H:%M:%S"),
                ev.kind.as_str(),
                ev.worker.as_deref().unwrap_or("-"),
                ev.action.as_deref().unwrap_or("-"),
                ev.resource.as_deref().unwrap_or("-"),
                ev.decision.map_or("-", Effect::as_str),
                ev.rules.join(",")
            );
        }
    })
}

fn write_events_csv(events: &[ChainedEvent]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record([
        "seq", "time", "kind", "worker", "action", "resource", "customer", "area", "document",
        "decision", "rules", "address", "channel", "hash",
    ])?;
    for e in events {
        let ev = &e.event;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            e.seq.to_string(),
            ev.at.to_rfc3339(),
            ev.kind.as_str().to_owned(),
            opt(&ev.worker),
            opt(&ev.action),
            opt(&ev.resource),
            opt(&ev.customer),
            opt(&ev.area),
            opt(&ev.document),
            ev.decision.map_or(String::new(), |d| d.as_str().to_owned()),
            ev.rules.join(","),
            opt(&ev.address),
            opt(&ev.channel),
            e.hash.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

async fn breach(g: &Global, store: &Store, args: BreachArgs) -> anyhow::Result<()> {
    let q = BreachQuery {
        worker: args.worker,
        customer: args.customer,
        address: args.address,
        from: parse_time(&args.from)?,
        to: parse_time(&args.to)?,
    };
    let scope = store.breach_scope(&args.org, &q).await?;
    if args.csv {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        w.write_record([
            "customer",
            "accesses",
            "first_access",
            "last_access",
            "actions",
            "areas",
            "documents",
            "exported_or_downloaded",
        ])?;
        for c in &scope.customers {
            let join = |s: &std::collections::BTreeSet<String>| {
                s.iter().cloned().collect::<Vec<_>>().join(";")
            };
            w.write_record([
                c.customer.clone(),
                c.accesses.to_string(),
                c.first_access.to_rfc3339(),
                c.last_access.to_rfc3339(),
                join(&c.actions),
                join(&c.areas),
                join(&c.documents),
                if c.exfiltrated { "yes" } else { "no" }.to_owned(),
            ])?;
        }
        w.flush()?;
        return Ok(());
    }
    emit(g.json, &scope, |s| {
        say!(
            "{} customers touched between {} and {} ({} allowed accesses, {} denied attempts)",
            s.customers.len(),
            s.from,
            s.to,
            s.allowed_accesses,
            s.denied_attempts
        );
        for c in &s.customers {
            say!(
                "  {:<10} {:>5} accesses  {} .. {}  actions: {}{}",
                c.customer,
                c.accesses,
                c.first_access.format("%Y-%m-%d %H:%M"),
                c.last_access.format("%Y-%m-%d %H:%M"),
                c.actions.iter().cloned().collect::<Vec<_>>().join(", "),
                if c.exfiltrated {
                    "  [DATA LEFT CUSTODIA]"
                } else {
                    ""
                }
            );
        }
    })
}
