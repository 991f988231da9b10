//! The options every command takes, and the core's configuration built
//! from them.

use std::path::PathBuf;

use clap::Args;
use custodia_app::Config;

#[derive(Debug, Args)]
pub struct Global {
    /// Database URL: sqlite://FILE (default) or postgres://USER@HOST/DB
    #[arg(
        long,
        global = true,
        env = "CUSTODIA_DB",
        default_value = "sqlite://custodia.db"
    )]
    pub db: String,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Log what is going on (to stderr)
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Rule packs folder (default: plugins/packs)
    #[arg(long, global = true, env = "CUSTODIA_PACKS")]
    pub packs: Option<PathBuf>,
    /// The audit signing key file (default: beside the SQLite file)
    #[arg(long, global = true, env = "CUSTODIA_AUDIT_KEY")]
    pub audit_key: Option<PathBuf>,
    /// The unsubscribe-token key file (default: beside the SQLite file)
    #[arg(long, global = true, env = "CUSTODIA_TOKEN_KEY")]
    pub token_key: Option<PathBuf>,
    /// The vault's master key file (default: beside the SQLite file; keep
    /// it on another disk). CUSTODIA_MASTER_KEY, 64 hex digits, overrides it
    #[arg(long, global = true, env = "CUSTODIA_MASTER_KEY_FILE")]
    pub master_key: Option<PathBuf>,
    /// Where sealed documents live: a folder (default: beside the SQLite
    /// file) or s3://BUCKET[/PREFIX], with the usual AWS_* variables
    #[arg(long, global = true, env = "CUSTODIA_BLOBS")]
    pub blobs: Option<PathBuf>,
    /// Compiled-plugin cache folder, private to this account (default:
    /// beside the SQLite file; `off` to compile on every start)
    #[arg(long, global = true, env = "CUSTODIA_PLUGIN_CACHE")]
    pub plugin_cache: Option<PathBuf>,
    /// Where every signed checkpoint is also appended (default: beside the
    /// audit key; better on another disk or machine)
    #[arg(long, global = true, env = "CUSTODIA_WITNESS")]
    pub witness: Option<PathBuf>,
    /// A shell command run with each batch of checkpoints on its stdin
    /// (mail them, copy them elsewhere)
    #[arg(long, global = true, env = "CUSTODIA_WITNESS_CMD")]
    pub witness_cmd: Option<String>,
    /// The oldest Robinson list download, in days, a campaign may be
    /// planned against (LOPDGDD art. 23.4)
    #[arg(
        long,
        global = true,
        env = "CUSTODIA_ROBINSON_MAX_AGE",
        value_name = "DAYS",
        default_value_t = custodia_app::ROBINSON_MAX_AGE_DAYS
    )]
    pub robinson_max_age: u32,
}

impl Global {
    /// The core's configuration.
    pub fn config(&self) -> Config {
        Config {
            db: self.db.clone(),
            packs: self.packs.clone(),
            audit_key: self.audit_key.clone(),
            token_key: self.token_key.clone(),
            master_key: self.master_key.clone(),
            blobs: self.blobs.clone(),
            plugin_cache: self.plugin_cache.clone(),
            witness: self.witness.clone(),
            witness_cmd: self.witness_cmd.clone(),
            robinson_max_age_days: self.robinson_max_age,
        }
    }

    /// Opens the core.
    pub async fn open(&self) -> anyhow::Result<custodia_app::Custodia> {
        Ok(custodia_app::Custodia::open(&self.config()).await?)
    }
}

/// Runs `body` with the core open, and closes it whatever the outcome.
pub async fn with_app<T>(
    g: &Global,
    body: impl AsyncFnOnce(&custodia_app::Custodia) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let app = g.open().await?;
    let result = body(&app).await;
    app.close().await?;
    result
}

/// The rule packs folder in use; turns on the plugin cache for commands
/// that load packs without opening the core.
pub fn packs_dir(g: &Global) -> PathBuf {
    if let Err(e) = g.config().apply_plugin_cache() {
        tracing::warn!(error = %e, "plugin cache not used");
    }
    g.config().packs_dir()
}
