//! The command line: argument definitions and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use custodia_app::CsvKind;
use custodia_engine::exchange::OrgFile;
use custodia_engine::{OrgSlug, Store};

use crate::global::{Global, with_app};
use crate::output::{emit, say};

#[derive(Debug, Parser)]
#[command(
    name = "custodia",
    version,
    about = "Keeps customer data safe in small firms (GDPR, LOPDGDD, LSSI-CE)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: crate::global::Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store's schema (safe to run again)
    Init,
    /// Create the demo store and print a short tour
    Demo(crate::demo::DemoArgs),
    /// Import an organisation file (TOML), or customers/workers from CSV
    Import(ImportArgs),
    /// Add a dossier register entry: provider, activity, measure, training, backup, breach
    #[command(subcommand)]
    Add(crate::register::AddCommand),
    /// Export an organisation as one TOML file
    Export {
        #[arg(long)]
        org: OrgSlug,
        /// Write here instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Run the HTTP server
    Serve(crate::http::ServeArgs),
    /// May this worker do this to this resource? (audited)
    Decide(crate::access::RequestArgs),
    /// The same decision, rule by rule, for people (audited)
    Explain(crate::access::RequestArgs),
    /// Unlock a password-closed area (password on stdin; audited)
    Unlock(crate::access::UnlockArgs),
    /// Show a record or an area as the worker may see it (each part decided and audited)
    Read(crate::record::ReadArgs),
    /// Change an area's contents (decided; audited with keyed hashes, never values)
    Edit(crate::record::EditArgs),
    /// The vault's keys
    #[command(subcommand)]
    Keys(crate::record::KeysCommand),
    /// Documents Custodia holds, sealed
    #[command(subcommand)]
    Documents(crate::record::DocumentsCommand),
    /// Write a document the worker may download (decided and audited)
    Download(crate::record::DownloadArgs),
    /// Customers' data leaving Custodia
    #[command(subcommand)]
    Data(crate::record::DataCommand),
    /// A sealed, consistent snapshot of the store (while it runs), or `check FILE`
    Backup(crate::record::BackupArgs),
    /// Restore a backup into the empty store named by --db
    Restore { file: PathBuf },
    /// Check or test rule packs
    #[command(subcommand)]
    Rules(RulesCommand),
    /// WebAssembly plugins of the packs: build, check, list
    #[command(subcommand)]
    Plugins(crate::plugins::PluginsCommand),
    /// The audit log: verify, query, breach scoping
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Marketing campaigns: create, plan, send, resume
    #[command(subcommand)]
    Mail(crate::mail::MailCommand),
    /// The opt-out (baja) list
    #[command(subcommand)]
    Optout(crate::mail::OptOutCommand),
    /// Import a Robinson list download (hashes or addresses, one per
    /// line); it replaces the previous one and is audited
    Robinson {
        #[arg(long)]
        org: OrgSlug,
        /// The day the list was downloaded from the Robinson service
        #[arg(long, value_name = "YYYY-MM-DD")]
        downloaded: chrono::NaiveDate,
        file: PathBuf,
    },
    /// Documents: dossier, audit summary, breach scope (HTML or PDF, es/en)
    #[command(subcommand)]
    Report(crate::report::ReportCommand),
    /// Data-subject rights: open, list, show, extend, resolve, refuse, lift, purge, package
    #[command(subcommand)]
    Rights(crate::rights::RightsCommand),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Compile and lint packs (a pack folder or a folder of packs)
    Check { dirs: Vec<PathBuf> },
    /// Run the packs' test cases
    Test { dirs: Vec<PathBuf> },
    /// Time one request against the packs in force: p50, p99, decisions/s
    /// (the facts read once; nothing audited)
    Bench {
        #[command(flatten)]
        request: crate::access::RequestArgs,
        /// How many decisions to time (after a tenth as many to warm up)
        #[arg(long, default_value_t = 10_000)]
        runs: usize,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The organisation file (TOML), or a CSV with --customers/--workers
    pub file: PathBuf,
    /// Replace an organisation of the same slug
    #[arg(long, conflicts_with_all = ["customers", "workers"])]
    pub replace: bool,
    /// The file is a CSV of customers for --org
    #[arg(long, requires = "org", conflicts_with = "workers")]
    pub customers: bool,
    /// The file is a CSV of workers for --org
    #[arg(long, requires = "org", conflicts_with = "contents")]
    pub workers: bool,
    /// The file is a CSV of area contents for --org: customer, area, field, value
    /// (field `notes` for the notes)
    #[arg(long, requires = "org", conflicts_with = "customers")]
    pub contents: bool,
    #[arg(long)]
    pub org: Option<OrgSlug>,
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Init => {
            let store = Store::init(&g.db).await?;
            emit(
                g.json,
                &serde_json::json!({ "store": store.display_url(), "ready": true }),
                |_| {
                    say!("store ready at {}", store.display_url());
                },
            )?;
        }
        Command::Demo(args) => crate::demo::run(g, args).await?,
        Command::Import(args) => import(g, args).await?,
        Command::Add(command) => crate::register::add(g, command).await?,
        Command::Export { org, output } => {
            let destination = output
                .as_ref()
                .map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
            let file = with_app(g, async |app| {
                Ok(app.export_org(&org, &destination).await?)
            })
            .await?;
            let text = file.to_toml()?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write `{}`", path.display()))?,
                None => crate::output::print_raw(&text)?,
            }
        }
        Command::Serve(args) => crate::http::serve(g, args).await?,
        Command::Decide(args) => crate::access::decide(g, args, false).await?,
        Command::Explain(args) => crate::access::decide(g, args, true).await?,
        Command::Unlock(args) => crate::access::unlock(g, args).await?,
        Command::Read(args) => {
            if !crate::record::read(g, args).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Edit(args) => crate::record::edit(g, args).await?,
        Command::Keys(command) => crate::record::keys(g, command).await?,
        Command::Documents(command) => crate::record::documents(g, command).await?,
        Command::Download(args) => crate::record::download(g, args).await?,
        Command::Data(command) => crate::record::data(g, command).await?,
        Command::Backup(args) => {
            if !crate::record::backup(g, args).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Restore { file } => crate::record::restore(g, &file).await?,
        Command::Rules(RulesCommand::Check { dirs }) => crate::rules::check(g, &dirs)?,
        Command::Rules(RulesCommand::Test { dirs }) => crate::rules::test(g, &dirs)?,
        Command::Rules(RulesCommand::Bench { request, runs }) => {
            crate::rules::bench(g, request, runs).await?;
        }
        Command::Plugins(command) => crate::plugins::plugins(g, command)?,
        Command::Mail(command) => crate::mail::mail(g, command).await?,
        Command::Optout(command) => crate::mail::optout(g, command).await?,
        Command::Robinson {
            org,
            downloaded,
            file,
        } => crate::mail::robinson_import(g, &org, downloaded, file).await?,
        Command::Report(command) => crate::report::run(g, command).await?,
        Command::Rights(command) => crate::rights::run(g, command).await?,
        Command::Audit(command) => {
            if !crate::audit::run(g, command).await? {
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn import(g: &Global, args: ImportArgs) -> anyhow::Result<()> {
    let kind = match (args.customers, args.workers, args.contents) {
        (true, _, _) => Some(CsvKind::Customers),
        (_, true, _) => Some(CsvKind::Workers),
        (_, _, true) => Some(CsvKind::Contents),
        _ => None,
    };
    with_app(g, async |app| {
        let (Some(org), Some(kind)) = (args.org.clone(), kind) else {
            let file = OrgFile::read(&args.file)?;
            let source = args.file.display().to_string();
            let summary = app
                .import_org(&file, args.replace, &source)
                .await
                .map_err(crate::output::replace_hint)?;
            return emit(g.json, &summary, |s| {
                say!(
                    "imported `{}`: {} workers, {} customers, {} documents, {} register entries",
                    s.organisation,
                    s.workers,
                    s.customers,
                    s.documents,
                    s.register_entries
                );
            });
        };
        let count = app.import_csv(&org, kind, &args.file).await?;
        let what = kind.noun();
        emit(
            g.json,
            &serde_json::json!({ "organisation": org, what: count }),
            |_| say!("imported {count} {what} into `{org}`"),
        )
    })
    .await
}
