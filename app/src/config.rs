//! Where the core finds its store, rule packs and keys.

use std::path::PathBuf;

/// What [`crate::Custodia::open`] needs. Adapters fill it from flags and
/// environment variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://FILE` or `postgres://...`.
    pub db: String,
    /// The rule packs folder; `None` for `plugins/packs` here, else the
    /// packs shipped with the source tree.
    pub packs: Option<PathBuf>,
    /// The audit signing key file; `None` for the default beside the store.
    pub audit_key: Option<PathBuf>,
    /// The unsubscribe-token key file; `None` for the default.
    pub token_key: Option<PathBuf>,
    /// The vault's master key file; `None` for the default beside the
    /// store. `CUSTODIA_MASTER_KEY` (64 hex digits) takes precedence.
    pub master_key: Option<PathBuf>,
    /// Where sealed documents live: a folder, or `s3://BUCKET[/PREFIX]`;
    /// `None` for a folder beside the store.
    pub blobs: Option<PathBuf>,
    /// Where compiled WebAssembly plugins are cached: `None` for the
    /// default beside the store, `Some("off")` for no cache.
    pub plugin_cache: Option<PathBuf>,
    /// The witness file every signed checkpoint is appended to; `None`
    /// for the default beside the signing key.
    pub witness: Option<PathBuf>,
    /// A shell command run with each batch of checkpoints on its stdin.
    pub witness_cmd: Option<String>,
    /// The oldest Robinson list download, in days, a campaign may be
    /// planned against.
    pub robinson_max_age_days: u32,
}

/// The default for [`Config::robinson_max_age_days`]: the list changes
/// every day; a quarter is the longest a careful firm would go.
pub const ROBINSON_MAX_AGE_DAYS: u32 = 90;

impl Config {
    /// A configuration with default paths for `db`.
    pub fn new(db: impl Into<String>) -> Self {
        Self {
            db: db.into(),
            packs: None,
            audit_key: None,
            token_key: None,
            master_key: None,
            blobs: None,
            plugin_cache: None,
            witness: None,
            witness_cmd: None,
            robinson_max_age_days: ROBINSON_MAX_AGE_DAYS,
        }
    }

    /// The plugin cache folder, or `None` when turned off.
    pub fn plugin_cache_dir(&self) -> Option<PathBuf> {
        match &self.plugin_cache {
            Some(dir) if dir.as_os_str() == "off" => None,
            Some(dir) => Some(dir.clone()),
            None => {
                let key = custodia_engine::audit::default_key_path(&self.db);
                let name = key
                    .file_name()?
                    .to_string_lossy()
                    .replace("audit-key", "plugin-cache");
                let name = name.replace("custodia-audit.key", "custodia-plugin-cache");
                Some(key.with_file_name(name))
            }
        }
    }

    /// Turns on the plugin cache for this process (before packs load).
    pub fn apply_plugin_cache(&self) -> custodia_engine::Result<()> {
        match self.plugin_cache_dir() {
            Some(dir) => custodia_engine::rules::plugin::use_cache_dir(&dir),
            None => Ok(()),
        }
    }

    /// The rule packs folder in use.
    pub fn packs_dir(&self) -> PathBuf {
        if let Some(dir) = &self.packs {
            return dir.clone();
        }
        let local = PathBuf::from("plugins/packs");
        if local.is_dir() {
            return local;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/packs"))
    }

    /// The audit signing key's path.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key
            .clone()
            .unwrap_or_else(|| custodia_engine::audit::default_key_path(&self.db))
    }

    /// The witness file's path.
    pub fn witness_path(&self) -> PathBuf {
        self.witness.clone().unwrap_or_else(|| {
            custodia_engine::audit::Witness::default_path(&self.audit_key_path())
        })
    }

    /// Where checkpoints are witnessed.
    pub fn witness(&self) -> custodia_engine::audit::Witness {
        custodia_engine::audit::Witness::new(self.witness_path(), self.witness_cmd.clone())
    }

    /// The vault master key's path.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key
            .clone()
            .unwrap_or_else(|| custodia_engine::vault::master::default_path(&self.db))
    }

    /// The blob store of sealed documents: a folder, or `s3://BUCKET[/PREFIX]`.
    pub fn blob_store(&self) -> custodia_engine::Result<custodia_engine::vault::blob::BlobStore> {
        let location = self
            .blobs
            .clone()
            .unwrap_or_else(|| custodia_engine::vault::blob::default_path(&self.db));
        custodia_engine::vault::blob::BlobStore::open(&location.to_string_lossy())
    }

    /// The unsubscribe-token key's path.
    pub fn token_key_path(&self) -> PathBuf {
        self.token_key
            .clone()
            .unwrap_or_else(|| custodia_mailguard::default_key_path(&self.db))
    }
}
