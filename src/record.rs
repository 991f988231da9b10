//! `custodia read`, `edit` and `keys`: a record's contents through the
//! rules, and the vault's keys.

use anyhow::bail;
use clap::{Args, Subcommand};
use custodia_app::{AreaEdit, AreaState, AreaView, FieldView, Reader, RecordView};
use custodia_engine::rules::ResourceRef;
use custodia_engine::{OrgSlug, WorkerLogin};

use crate::global::{Global, with_app};
use crate::output::emit;

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[arg(long)]
    pub worker: WorkerLogin,
    /// customer:ID (the whole record) or customer:ID/AREA
    #[arg(long)]
    pub resource: ResourceRef,
    /// The worker's organisation (needed only when the login is not unique)
    #[arg(long)]
    pub org: Option<OrgSlug>,
    /// Context as key=value: channel, purpose, address, time (RFC 3339)
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub target: ReadArgs,
    /// A field to set, FIELD=VALUE (typed as the pack declares it)
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// A field to empty
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Replace the area's notes (empty to remove them)
    #[arg(long)]
    pub notes: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// Seal the files of a folder into Custodia, as the mapping's path
    /// patterns say (all or nothing; audited)
    Import {
        #[arg(long)]
        org: OrgSlug,
        folder: std::path::PathBuf,
        /// The mapping: `[[rules]] pattern = "{customer}/contracts/{title}.pdf"`, type, area
        #[arg(long = "map", value_name = "MAPPING.toml")]
        mapping: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[arg(long)]
    pub worker: WorkerLogin,
    #[arg(long)]
    pub document: custodia_engine::DocumentId,
    /// Where to write the file
    #[arg(long, short)]
    pub output: std::path::PathBuf,
    #[arg(long)]
    pub org: Option<OrgSlug>,
    /// Context as key=value: channel, purpose, address, time (RFC 3339)
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Take customers' data out as a spreadsheet or CSV: decided per
    /// customer, only what the worker may see, watermarked and audited
    Export {
        #[arg(long)]
        worker: WorkerLogin,
        #[arg(long)]
        org: Option<OrgSlug>,
        /// The customers (default: every customer the worker may export)
        #[arg(long, value_delimiter = ',')]
        customers: Vec<custodia_engine::CustomerId>,
        #[arg(long, default_value = "xlsx")]
        format: custodia_app::ExportFormat,
        /// Why the data leaves (recorded and printed in the file)
        #[arg(long)]
        purpose: String,
        #[arg(long, short)]
        output: std::path::PathBuf,
        /// Context as key=value: channel, purpose, address, time (RFC 3339)
        #[arg(long = "context", value_name = "KEY=VALUE")]
        context: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// Where to write the sealed snapshot
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Restore into a scratch store, verify the audit chains, open sealed
    /// data, compare counts; record the result as the dossier's evidence
    Check { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap the vault's keys under a new master key (in the key file) or
    /// a new organisation key; no content is re-encrypted (audited)
    Rotate {
        /// Rotate the master key
        #[arg(long, conflicts_with = "org", required_unless_present = "org")]
        master: bool,
        /// Rotate this organisation's key
        #[arg(long)]
        org: Option<OrgSlug>,
    },
}

fn reader(args: &ReadArgs) -> anyhow::Result<Reader> {
    Ok(Reader {
        worker: args.worker.clone(),
        context: crate::access::context(&args.context)?,
    })
}

/// `custodia read`: prints exactly what the worker may see. A denied
/// record, or an area that does not open, exits non-zero.
pub async fn read(g: &Global, args: ReadArgs) -> anyhow::Result<bool> {
    let reader = reader(&args)?;
    with_app(g, async |app| {
        let org = app.org_of(args.org.clone(), &reader.worker).await?;
        match &args.resource {
            ResourceRef::Customer(id) => {
                let record = app.read_record(&org, &reader, id).await?;
                emit(g.json, &record, print_record)?;
                Ok(true)
            }
            ResourceRef::Area(id, area) => {
                let view = app.read_area(&org, &reader, id, area).await?;
                emit(g.json, &view, print_area)?;
                Ok(view.is_open())
            }
            ResourceRef::Document(_) => {
                bail!("`read` shows records and areas; use `custodia download` for documents")
            }
            ResourceRef::Office(kind, _) => {
                bail!("`read` shows records and areas, not the {kind}")
            }
        }
    })
    .await
}

/// `custodia edit`: changes one area's contents.
pub async fn edit(g: &Global, args: EditArgs) -> anyhow::Result<()> {
    let ResourceRef::Area(customer, area) = &args.target.resource else {
        bail!("`edit` changes one area: use --resource customer:ID/AREA");
    };
    let mut set = Vec::new();
    for pair in &args.set {
        let Some((field, value)) = pair.split_once('=') else {
            bail!("--set `{pair}` is not FIELD=VALUE");
        };
        set.push((field.to_owned(), value.to_owned()));
    }
    let edit = AreaEdit {
        set,
        clear: args.clear.clone(),
        notes: args.notes.clone(),
    };
    let reader = reader(&args.target)?;
    with_app(g, async |app| {
        let org = app.org_of(args.target.org.clone(), &reader.worker).await?;
        let receipt = app.edit_area(&org, &reader, customer, area, &edit).await?;
        emit(g.json, &receipt, |r| {
            say!("edited {}/{} (audit event {})", customer, area, r.seq);
        })
    })
    .await
}

/// `custodia keys rotate`.
pub async fn keys(g: &Global, command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Rotate { master, org } = command;
    with_app(g, async |app| {
        let rotation = if master {
            app.rotate_master_key().await?
        } else {
            let org = org
                .clone()
                .ok_or_else(|| anyhow::anyhow!("name --org or --master"))?;
            app.rotate_org_key(&org).await?
        };
        emit(g.json, &rotation, |r| {
            say!(
                "re-wrapped {} organisation key(s) and {} customer key(s); master key now `{}`",
                r.organisations,
                r.customer_keys,
                r.master_id
            );
        })
    })
    .await
}

fn print_fields(fields: &[FieldView], indent: &str) {
    for f in fields {
        say!("{indent}{}: {}", f.name, f.shown.text());
    }
}

fn print_record(record: &RecordView) {
    say!("customer {}", record.customer);
    print_fields(&record.fields, "  ");
    for area in &record.areas {
        print_area(area);
    }
}

fn print_area(area: &AreaView) {
    match &area.state {
        AreaState::Open { fields, notes } => {
            say!("area {} ({}): open", area.name, area.privacy.as_str());
            print_fields(fields, "    ");
            say!("    notes: {}", notes.text());
        }
        AreaState::Locked { reason } => {
            say!(
                "area {} ({}): LOCKED: {reason}",
                area.name,
                area.privacy.as_str()
            );
        }
        AreaState::Denied { reason } => {
            say!(
                "area {} ({}): DENIED: {reason}",
                area.name,
                area.privacy.as_str()
            );
        }
    }
}

/// `custodia documents import`.
pub async fn documents(g: &Global, command: DocumentsCommand) -> anyhow::Result<()> {
    let DocumentsCommand::Import {
        org,
        folder,
        mapping,
    } = command;
    let mapping = custodia_app::Mapping::read(&mapping)?;
    with_app(g, async |app| {
        let done = app.import_documents(&org, &folder, &mapping).await?;
        emit(g.json, &done, |d| {
            say!(
                "sealed {} documents ({} bytes) into `{org}`; {} files ignored",
                d.documents,
                d.bytes,
                d.ignored
            );
        })
    })
    .await
}

/// `custodia download`: decided and audited; the file is written only
/// after its `download` event is durable.
pub async fn download(g: &Global, args: DownloadArgs) -> anyhow::Result<()> {
    let reader = Reader {
        worker: args.worker.clone(),
        context: crate::access::context(&args.context)?,
    };
    with_app(g, async |app| {
        let org = app.org_of(args.org.clone(), &reader.worker).await?;
        let destination = args.output.display().to_string();
        let (document, bytes, receipt) = app
            .download(&org, &reader, &args.document, &destination)
            .await?;
        std::fs::write(&args.output, bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("cannot write `{destination}`: {e}"))?;
        emit(g.json, &receipt, |r| {
            say!(
                "{} ({}, {} bytes) written to {destination} (audit event {})",
                document.id,
                document.title,
                bytes.len(),
                r.seq
            );
        })
    })
    .await
}

/// `custodia data export`: nothing is written unless the export is allowed
/// and its audit event is durable.
pub async fn data(g: &Global, command: DataCommand) -> anyhow::Result<()> {
    let DataCommand::Export {
        worker,
        org,
        customers,
        format,
        purpose,
        output,
        context,
    } = command;
    let reader = Reader {
        worker,
        context: crate::access::context(&context)?,
    };
    with_app(g, async |app| {
        let org = app.org_of(org.clone(), &reader.worker).await?;
        let destination = output.display().to_string();
        let export = custodia_app::DataExport {
            org: &org,
            reader: &reader,
            customers: &customers,
            format,
            purpose: &purpose,
        };
        let table = app.export_data(&export, &destination).await?;
        let bytes = match format {
            custodia_app::ExportFormat::Xlsx => table.to_xlsx()?,
            custodia_app::ExportFormat::Csv => table.to_csv()?,
        };
        std::fs::write(&output, bytes)
            .map_err(|e| anyhow::anyhow!("cannot write `{destination}`: {e}"))?;
        emit(
            g.json,
            &serde_json::json!({ "rows": table.rows.len(), "watermark": table.watermark }),
            |_| {
                say!(
                    "{} customers written to {destination}\n{}",
                    table.rows.len(),
                    table.watermark
                );
            },
        )
    })
    .await
}

/// `custodia backup -o FILE` and `custodia backup check FILE`; false when
/// a check fails.
pub async fn backup(g: &Global, args: BackupArgs) -> anyhow::Result<bool> {
    if let Some(BackupCommand::Check { file }) = args.command {
        return with_app(g, async |app| {
            let check = app.check_backup(&file).await?;
            emit(g.json, &check, |c| {
                if c.ok {
                    say!(
                        "backup restores: {} rows, {} audit events verified, {} records and {} documents opened ({:.1} s); recorded as a checked backup",
                        c.rows, c.audit_events_verified, c.records_opened, c.documents_opened, c.seconds
                    );
                } else {
                    say!("BACKUP CHECK FAILED: {}", c.reason.as_deref().unwrap_or("unknown"));
                }
            })?;
            Ok(check.ok)
        })
        .await;
    }
    let Some(output) = args.output else {
        bail!("name the backup file with -o FILE, or run `backup check FILE`");
    };
    with_app(g, async |app| {
        let summary = app.backup(&output).await?;
        emit(g.json, &summary, |s| {
            say!(
                "{} rows and {} blobs sealed into {} ({} bytes, master key `{}`) in {:.1} s",
                s.rows,
                s.blobs,
                s.file,
                s.bytes,
                s.master_key,
                s.seconds
            );
            say!("keep the master key, the audit key and the token key apart from this file");
        })?;
        Ok(true)
    })
    .await
}

/// `custodia restore FILE --db URL`.
pub async fn restore(g: &Global, file: &std::path::Path) -> anyhow::Result<()> {
    let counts = custodia_app::restore(&g.config(), file).await?;
    emit(g.json, &counts, |c| {
        say!(
            "restored {} rows into {}; put the audit and token keys of the backed-up store beside it (or pass --audit-key, --token-key)",
            c.values().sum::<i64>(),
            custodia_engine::store::redact_url(&g.db)
        );
    })
}
