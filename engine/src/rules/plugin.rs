//! WebAssembly plugins: components of the worlds in
//! `plugins/wit/custodia-plugin.wit`, run with wasmtime.
//!
//! A pack declares its plugins in `pack.toml` (file, pinned sha256,
//! limits). Each call gets a fresh instance from a pre-linked
//! [`InstancePre`](wasmtime::component::InstancePre) in the pooling
//! allocator, so a call costs microseconds and nothing leaks between
//! requests. The WASI context is built only if the plugin calls WASI: the
//! shipped plugins, on the SDK's `no_std` runtime, import none of it.
//! A plugin that traps, runs out of fuel or time, outgrows its
//! memory or answers nonsense fails closed: the decision is deny, and the
//! explanation names the plugin and the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter,
    Store, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::request::{Action, ResourceKind};
use super::script::Facts;
use crate::error::{Error, Result};

// Calls borrow the request and settings instead of copying them into
// owned strings first (BENCHMARKS.md, "Plugin calls that borrow"). The
// check world is generated first: it holds every shared type, which the
// provider world then reuses.
mod bindings {
    pub mod check {
        wasmtime::component::bindgen!({
            path: "../plugins/wit",
            world: "check",
            ownership: Borrowing { duplicate_if_necessary: false },
        });
    }

    pub mod provider {
        wasmtime::component::bindgen!({
            path: "../plugins/wit",
            world: "attribute-provider",
            ownership: Borrowing { duplicate_if_necessary: false },
            with: {
                "custodia:plugin/types": super::check::custodia::plugin::types,
            },
        });
    }
}

use bindings::check::CheckPre;
use bindings::check::custodia::plugin::types::Pairs;
pub use bindings::check::custodia::plugin::types::{Request, Verdict, Worker};
use bindings::provider::AttributeProviderPre;

/// Instances alive at once across the process (one per call in flight).
const POOL_INSTANCES: u32 = 64;
/// The largest memory any plugin may ask for.
const MAX_MEMORY_MIB: u64 = 256;
/// At most this many bytes a finished call wrote in its memory and tables
/// are reset in place, so that the next call finds them resident.
const KEEP_RESIDENT: usize = 4 << 20;
/// How often the deadline clock ticks while a call runs.
const TICK: Duration = Duration::from_millis(1);
/// Ticks the clock goes on after the last call before it sleeps.
const LINGER_TICKS: u32 = 20;
/// Bounds on what a plugin may answer.
const MAX_ATTRIBUTES: usize = 64;
const MAX_VALUE_BYTES: usize = 1024;
const MAX_REASON_BYTES: usize = 1024;

/// What a plugin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Adds attributes that Rhai rules read.
    Attributes,
    /// Allows, denies or abstains, alongside the rules.
    Check,
}

impl PluginKind {
    /// The WIT world a component of this kind must implement.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Attributes => "attribute-provider",
            PluginKind::Check => "check",
        }
    }
}

/// Per-call limits, from `pack.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// WebAssembly instructions, roughly. The limit that decides: a call
    /// gets the same fuel on an idle and on a saturated machine.
    pub fuel: u64,
    /// Linear memory, in MiB.
    pub memory_mib: u64,
    /// Wall-clock backstop, in milliseconds, for what fuel does not count
    /// (time spent in host calls, a descheduled thread). Keep it generous:
    /// a deadline that a busy machine can reach turns an allow into a deny.
    pub timeout_ms: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            fuel: 10_000_000,
            memory_mib: 16,
            timeout_ms: 1_000,
        }
    }
}

/// WASI capabilities beyond clocks and random numbers, which a plugin's
/// manifest may ask for and the operator must allow
/// (`CUSTODIA_PLUGIN_CAPABILITIES=stderr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Write diagnostics to the host's standard error.
    Stderr,
}

impl Capability {
    const ALL: [Capability; 1] = [Capability::Stderr];

    fn as_str(self) -> &'static str {
        match self {
            Capability::Stderr => "stderr",
        }
    }
}

/// The environment variable through which the operator allows capabilities.
pub const CAPABILITIES_VAR: &str = "CUSTODIA_PLUGIN_CAPABILITIES";

/// One plugin as declared in `pack.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginDecl {
    pub name: String,
    pub kind: PluginKind,
    pub description: String,
    /// The component, relative to the pack.
    pub file: PathBuf,
    /// Hex SHA-256 of the component: any other bytes are refused.
    pub sha256: String,
    /// The Rust crate it is built from (`custodia plugins build`).
    #[serde(default)]
    pub source: Option<PathBuf>,
    /// The actions the plugin is called for; `["*"]` for all.
    pub actions: Vec<String>,
    /// The resource kinds the plugin is called for; `["*"]` for all.
    pub resources: Vec<String>,
    /// Attributes a provider may return.
    #[serde(default)]
    pub provides: Vec<String>,
    #[serde(default)]
    pub limits: PluginLimits,
    /// Handed to the plugin on every call.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
}

impl PluginDecl {
    /// Whether `bytes` are the component `sha256` pins.
    pub fn is_pinned(&self, bytes: &[u8]) -> bool {
        sha256_hex(bytes).eq_ignore_ascii_case(self.sha256.trim())
    }

    /// The name its reasons carry in explanations, `plugin:<name>`.
    pub fn rule_id(&self) -> String {
        format!("plugin:{}", self.name)
    }
}

/// A plugin of a loaded pack: checked, compiled and pre-linked.
pub struct Plugin {
    pub decl: PluginDecl,
    pub actions: BTreeSet<Action>,
    pub resources: BTreeSet<ResourceKind>,
    runner: Runner,
}

enum Runner {
    Provider(AttributeProviderPre<State>),
    Check(CheckPre<State>),
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.decl.name)
            .field("kind", &self.decl.kind)
            .field("sha256", &self.decl.sha256)
            .finish_non_exhaustive()
    }
}

/// Why a plugin call failed; every failure denies the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    #[error("ran out of fuel (limit {0} units)")]
    OutOfFuel(u64),
    #[error("ran past its wall-clock backstop of {0} ms before running out of fuel")]
    Timeout(u64),
    #[error("exceeded its memory limit of {0} MiB")]
    Memory(u64),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned an invalid result: {0}")]
    Invalid(String),
    #[error("reported an error: {0}")]
    Refused(String),
}

/// What each call's store holds.
struct State {
    /// Built on the plugin's first WASI call, if it makes one: a plugin
    /// built on the SDK's `no_std` runtime imports no WASI at all, and
    /// building the context took about 1 µs of every call.
    wasi: Option<WasiCtx>,
    /// Whether the plugin may write to the host's stderr.
    stderr: bool,
    table: ResourceTable,
    limiter: Limiter,
    /// Keeps the deadline clock ticking for as long as the call's store
    /// lives.
    _ticking: Ticking,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let stderr = self.stderr;
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(|| wasi_context(stderr)),
            table: &mut self.table,
        }
    }
}

/// A call's WASI context: no files, network or environment; clocks and
/// random numbers, and stderr only where the plugin's capabilities allow.
fn wasi_context(stderr: bool) -> WasiCtx {
    let mut wasi = WasiCtxBuilder::new();
    if stderr {
        wasi.inherit_stderr();
    }
    wasi.build()
}

/// Caps linear memory and remembers a refusal, so the failure can say
/// "memory" rather than whatever trap the guest turned it into.
struct Limiter {
    max_bytes: usize,
    refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let fits = desired <= self.max_bytes;
        self.refused |= !fits;
        Ok(fits)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Where compiled plugins are cached, if anywhere; set before the first
/// plugin loads.
static CACHE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Caches compiled plugins in `dir` (wasmtime's own cache), so that a
/// command loading the packs does not compile them again. The folder is
/// created private; one that another account owns or may write is
/// refused, since whoever writes it can run native code past the pins.
/// Call it before any pack is loaded; later calls are ignored.
// INVARIANT: the cache is only ever a folder this account alone can write.
pub fn use_cache_dir(dir: &Path) -> Result<()> {
    check_private_dir(dir)?;
    // wasmtime wants an absolute path.
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let _ = CACHE_DIR.set(dir);
    Ok(())
}

/// The private cache folder, when one is in use.
pub(crate) fn cache_dir() -> Option<&'static Path> {
    CACHE_DIR.get().map(PathBuf::as_path)
}

/// Creates `dir` (mode 0700) if needed and checks that only this account
/// can write it.
fn check_private_dir(dir: &Path) -> Result<()> {
    let refuse = |message: String| Error::File {
        path: dir.to_owned(),
        message,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(dir, e))?;
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        // The owner of /proc/self is this process's effective user.
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if me.is_some_and(|uid| uid != meta.uid()) {
            return Err(refuse(
                "the plugin cache belongs to another account: whoever owns it can run code here"
                    .into(),
            ));
        }
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(refuse(format!(
                "the plugin cache is writable by others (mode {:o}): run chmod 700 on it",
                mode & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// The process-wide wasmtime engine and linker, and its deadline clock.
struct Host {
    engine: Engine,
    linker: Linker<State>,
    clock: Clock,
}

/// The epoch clock that stops a plugin at its deadline. It ticks while
/// calls come, and for [`LINGER_TICKS`] after the last one ended, then
/// sleeps until the next: ticking every millisecond for ever woke an idle
/// CPU a thousand times a second, and an area read on a quiet server took
/// 35-100 µs longer for it (BENCHMARKS.md, "The area read, third
/// session"); waking it for every call cost each call of a busy server a
/// system call and a switch on the other core.
struct Clock {
    calls: Arc<AtomicUsize>,
    ticker: std::thread::Thread,
}

impl Clock {
    fn start(engine: &Engine) -> std::io::Result<Self> {
        let calls = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::clone(&calls);
        let weak = engine.weak();
        let ticker = std::thread::Builder::new()
            .name("custodia-plugin-clock".into())
            .spawn(move || {
                let mut idle = 0;
                while let Some(engine) = weak.upgrade() {
                    idle = if in_flight.load(Ordering::Acquire) == 0 {
                        idle + 1
                    } else {
                        0
                    };
                    if idle > LINGER_TICKS {
                        drop(engine);
                        // An unpark that came before this park makes it
                        // return at once, so no call's start is missed.
                        std::thread::park();
                        idle = 0;
                        continue;
                    }
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })?
            .thread()
            .clone();
        Ok(Self { calls, ticker })
    }

    /// Ticks until the guard is dropped.
    fn ticking(&self) -> Ticking {
        // INVARIANT: a call's deadline counts from its start: the first
        // call in flight wakes the clock (an unpark of a clock that is
        // still ticking is an atomic swap, no system call).
        if self.calls.fetch_add(1, Ordering::AcqRel) == 0 {
            self.ticker.unpark();
        }
        Ticking(Arc::clone(&self.calls))
    }
}

/// A call in flight, for the deadline clock.
struct Ticking(Arc<AtomicUsize>);

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn host() -> Result<&'static Host> {
    static HOST: OnceLock<std::result::Result<Host, String>> = OnceLock::new();
    HOST.get_or_init(|| Host::new().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| Error::Pack(format!("cannot start the WebAssembly host: {e}")))
}

impl Host {
    fn new() -> wasmtime::Result<Self> {
        // Where the kernel can say which pages a call wrote (Linux 6.7+),
        // only those are reset, in place; elsewhere a finished call's
        // memory goes back to the kernel, as before.
        let engine = Self::engine(true).or_else(|_| Self::engine(false))?;
        let clock = Clock::start(&engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Ok(Self {
            engine,
            linker,
            clock,
        })
    }

    /// The engine; with `resident`, calls' memories and tables stay
    /// resident between calls, and the engine fails to build where the
    /// kernel cannot scan page tables (`PAGEMAP_SCAN`): without it, keeping
    /// 4 MiB resident would mean zeroing 4 MiB after every call.
    fn engine(resident: bool) -> wasmtime::Result<Engine> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .max_memory_size(usize::try_from(MAX_MEMORY_MIB << 20).unwrap_or(usize::MAX));
        if resident {
            // Page faults and the TLB shootdowns of giving pages back were
            // most of a call: 35 µs added per call before, 14 µs after
            // (BENCHMARKS.md, "WebAssembly plugins with resident slots").
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT);
        }
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            // Plugins are small and called for microseconds: compile them fast.
            .cranelift_opt_level(wasmtime::OptLevel::None)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Some(dir) = CACHE_DIR.get() {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(wasmtime::Cache::new(cache)?));
        }
        Engine::new(&config)
    }
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Plugin {
    /// Reads, verifies and compiles a declared plugin of the pack in `dir`.
    pub fn load(
        dir: &Path,
        decl: PluginDecl,
        actions: BTreeSet<Action>,
        resources: BTreeSet<ResourceKind>,
    ) -> Result<Self> {
        let path = dir.join(&decl.file);
        let refuse = |message: String| Error::File {
            path: path.clone(),
            message: format!("plugin `{}`: {message}", decl.name),
        };
        let allowed = allowed_capabilities();
        if let Some(c) = decl.capabilities.iter().find(|c| !allowed.contains(c)) {
            return Err(refuse(format!(
                "asks for the `{}` capability, which the operator has not allowed ({CAPABILITIES_VAR})",
                c.as_str()
            )));
        }
        if decl.limits.memory_mib > MAX_MEMORY_MIB {
            return Err(refuse(format!(
                "memory limit {} MiB is above the host's {MAX_MEMORY_MIB} MiB",
                decl.limits.memory_mib
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            refuse(format!(
                "cannot read the component ({e}); build it with `custodia plugins build`"
            ))
        })?;
        if !decl.is_pinned(&bytes) {
            return Err(refuse(format!(
                "sha256 mismatch: pack.toml pins `{}`, the file is `{}`",
                decl.sha256,
                sha256_hex(&bytes)
            )));
        }
        let host = host()?;
        let component = Component::new(&host.engine, &bytes)
            .map_err(|e| refuse(format!("not a valid component: {e:#}")))?;
        let pre = host
            .linker
            .instantiate_pre(&component)
            .map_err(|e| refuse(format!("imports more than the host provides: {e:#}")))?;
        let wrong_world =
            |e: wasmtime::Error| refuse(format!("not a `{}` component: {e:#}", decl.kind.world()));
        let runner = match decl.kind {
            PluginKind::Attributes => {
                Runner::Provider(AttributeProviderPre::new(pre).map_err(wrong_world)?)
            }
            PluginKind::Check => Runner::Check(CheckPre::new(pre).map_err(wrong_world)?),
        };
        Ok(Self {
            decl,
            actions,
            resources,
            runner,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.decl.name
    }

    /// The pack's `config` table for this plugin, as a call borrows it.
    fn settings(&self) -> Vec<(&str, &str)> {
        lent_pairs(&self.decl.config)
    }

    /// Whether the plugin is called for this action and resource kind.
    pub fn applies(&self, action: Action, kind: ResourceKind) -> bool {
        self.actions.contains(&action) && self.resources.contains(&kind)
    }

    fn store(&self) -> Result<Store<State>, PluginFailure> {
        let host = host().map_err(|e| PluginFailure::Trap(e.to_string()))?;
        let limits = self.decl.limits;
        let state = State {
            wasi: None,
            stderr: self.decl.capabilities.contains(&Capability::Stderr),
            table: ResourceTable::new(),
            limiter: Limiter {
                max_bytes: usize::try_from(limits.memory_mib << 20).unwrap_or(usize::MAX),
                refused: false,
            },
            _ticking: host.clock.ticking(),
        };
        let mut store = Store::new(&host.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| PluginFailure::Trap(e.to_string()))?;
        store.set_epoch_deadline(limits.timeout_ms.max(1));
        store.epoch_deadline_trap();
        Ok(store)
    }

    fn failure(&self, store: &Store<State>, error: &wasmtime::Error) -> PluginFailure {
        let limits = self.decl.limits;
        if store.data().limiter.refused {
            return PluginFailure::Memory(limits.memory_mib);
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PluginFailure::OutOfFuel(limits.fuel),
            Some(Trap::Interrupt) => PluginFailure::Timeout(limits.timeout_ms),
            Some(trap) => PluginFailure::Trap(trap.to_string()),
            None => PluginFailure::Trap(format!("{error:#}")),
        }
    }

    /// Runs an attribute provider on `request`.
    pub fn provide(&self, request: &Request<'_>) -> Result<Vec<(String, String)>, PluginFailure> {
        let Runner::Provider(pre) = &self.runner else {
            return Err(PluginFailure::Invalid("not an attribute provider".into()));
        };
        let mut store = self.store()?;
        let answer = pre
            .instantiate(&mut store)
            .and_then(|p| p.call_provide(&mut store, &self.settings(), request.clone()));
        match answer {
            Ok(Ok(attributes)) => self.checked_attributes(attributes),
            Ok(Err(message)) => Err(PluginFailure::Refused(bounded(message))),
            Err(e) => Err(self.failure(&store, &e)),
        }
    }

    /// Runs a check on `request` with the providers' `attributes`.
    pub fn check(
        &self,
        request: &Request<'_>,
        attributes: Pairs<'_>,
    ) -> Result<Verdict, PluginFailure> {
        let Runner::Check(pre) = &self.runner else {
            return Err(PluginFailure::Invalid("not a check".into()));
        };
        let mut store = self.store()?;
        let answer = pre
            .instantiate(&mut store)
            .and_then(|c| c.call_check(&mut store, &self.settings(), request.clone(), attributes));
        match answer {
            Ok(verdict) => checked_verdict(verdict),
            Err(e) => Err(self.failure(&store, &e)),
        }
    }

    // INVARIANT: rules only ever see attributes the plugin declared in
    // `provides`, within the size bounds; anything else fails the call.
    fn checked_attributes(
        &self,
        attributes: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, PluginFailure> {
        if attributes.len() > MAX_ATTRIBUTES {
            return Err(PluginFailure::Invalid(format!(
                "{} attributes, at most {MAX_ATTRIBUTES}",
                attributes.len()
            )));
        }
        for (name, value) in &attributes {
            if !self.decl.provides.iter().any(|p| p == name) {
                return Err(PluginFailure::Invalid(format!(
                    "attribute `{}` is not declared in `provides`",
                    bounded(name.clone())
                )));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(PluginFailure::Invalid(format!(
                    "attribute `{name}` is {} bytes, at most {MAX_VALUE_BYTES}",
                    value.len()
                )));
            }
        }
        Ok(attributes)
    }
}

fn checked_verdict(verdict: Verdict) -> Result<Verdict, PluginFailure> {
    match &verdict {
        Verdict::Allow(reason) | Verdict::Deny(reason) if reason.trim().is_empty() => {
            Err(PluginFailure::Invalid("a verdict without a reason".into()))
        }
        Verdict::Allow(reason) | Verdict::Deny(reason) if reason.len() > MAX_REASON_BYTES => {
            Err(PluginFailure::Invalid(format!(
                "a reason of {} bytes, at most {MAX_REASON_BYTES}",
                reason.len()
            )))
        }
        _ => Ok(verdict),
    }
}

/// Cuts a plugin's text to a size fit for an explanation.
fn bounded(mut text: String) -> String {
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn allowed_capabilities() -> BTreeSet<Capability> {
    std::env::var(CAPABILITIES_VAR)
        .unwrap_or_default()
        .split(',')
        .filter_map(|name| {
            Capability::ALL
                .into_iter()
                .find(|c| c.as_str() == name.trim())
        })
        .collect()
}

/// What a request lends plugins, gathered once per decision: the lists
/// the facts hold as owned strings, as slices of borrowed ones.
#[derive(Debug)]
pub(crate) struct RequestParts<'a> {
    facts: &'a Facts,
    departments: Vec<&'a str>,
    roles: Vec<&'a str>,
    specialties: Vec<&'a str>,
    customer_attributes: Vec<(&'a str, &'a str)>,
}

impl<'a> RequestParts<'a> {
    /// Gathers what `facts` lends.
    pub(crate) fn new(facts: &'a Facts) -> Self {
        let w = &facts.worker;
        Self {
            facts,
            departments: strs(&w.departments),
            roles: strs(&w.roles),
            specialties: strs(&w.specialties),
            customer_attributes: facts
                .customer
                .iter()
                .flat_map(|c| &c.attributes)
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        }
    }

    /// The request as plugins see it.
    pub(crate) fn request(&self) -> Request<'_> {
        let facts = self.facts;
        Request {
            worker: Worker {
                login: facts.worker.login.as_str(),
                level: facts.worker.level.get(),
                departments: &self.departments,
                roles: &self.roles,
                specialties: &self.specialties,
            },
            action: facts.action.as_str(),
            resource_kind: facts.kind.as_str(),
            customer: facts.customer.as_ref().map_or("", |c| c.id.as_str()),
            customer_attributes: &self.customer_attributes,
            area: facts.area.as_ref().map(|a| a.name.as_str()),
            document: facts.document.as_ref().map(|d| d.id.as_str()),
            document_type: facts.document.as_ref().map(|d| d.doc_type.as_str()),
            channel: &facts.context.channel,
            address: facts.context.address.as_deref(),
            time: facts.context.time.timestamp(),
        }
    }
}

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// `(name, value)` pairs lent to a call.
pub(crate) fn lent_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<(&'a str, &'a str)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Context, Request as AccessRequest};

    #[test]
    fn a_plugin_is_lent_the_request_as_the_rules_see_it() {
        let world = crate::testkit::demo_org("bufete-ruiz.toml");
        let time = "2026-11-23T10:00:00Z".parse().unwrap();
        let mut context = Context::new(time, "remote");
        context.address = Some("192.0.2.7".into());
        let asked = AccessRequest {
            worker: "pablo".parse().unwrap(),
            action: Action::Edit,
            resource: "document:D-1002-2".parse().unwrap(),
            context,
        };
        let facts = Facts::from_file(&world, &asked).unwrap();
        let parts = RequestParts::new(&facts);
        let lent = parts.request();
        assert_eq!(lent.worker.login, "pablo");
        assert_eq!(lent.worker.level, 4);
        assert_eq!(lent.worker.departments, ["legal"]);
        assert_eq!(lent.worker.roles, ["lawyer"]);
        assert!(lent.worker.specialties.is_empty());
        assert_eq!((lent.action, lent.resource_kind), ("edit", "document"));
        assert_eq!(lent.customer, "C-1002");
        assert_eq!(
            lent.customer_attributes,
            [
                ("case_status", "closed"),
                ("case_type", "commercial-claim"),
                ("lead_lawyer", "pablo"),
            ]
        );
        assert_eq!(lent.area, Some("case-file"));
        assert_eq!(lent.document, Some("D-1002-2"));
        assert_eq!(lent.document_type, Some("court-filing"));
        assert_eq!((lent.channel, lent.address), ("remote", Some("192.0.2.7")));
        assert_eq!(lent.time, 1_795_428_000);
    }
}
