//! `custodia plugins build|check|list`: the packs' WebAssembly plugins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use custodia_engine::rules::RuleSet;
use custodia_engine::rules::pack::Manifest;
use custodia_engine::rules::plugin::{PluginDecl, sha256_hex};
use custodia_engine::rules::toolchain;
use serde::Serialize;

use crate::global::Global;
use crate::output::emit;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Build the plugins from their `source` crates (wasm32-wasip2) into the packs
    Build {
        /// Write the new sha256 into pack.toml when it changed (after review!)
        #[arg(long)]
        pin: bool,
    },
    /// Verify each plugin's sha256, compile it and check its world
    Check,
    /// The plugins the packs declare, and whether their files match the pins
    List,
}

/// One plugin of one pack, as listed.
#[derive(Debug, Serialize)]
struct Listed {
    pack: String,
    plugin: String,
    kind: &'static str,
    file: PathBuf,
    actions: Vec<String>,
    resources: Vec<String>,
    provides: Vec<String>,
    fuel: u64,
    memory_mib: u64,
    timeout_ms: u64,
    /// `matches`, `differs` or `missing`.
    pin: &'static str,
}

/// Every pack folder under the packs root.
fn pack_dirs(g: &Global) -> anyhow::Result<Vec<PathBuf>> {
    Ok(custodia_engine::rules::pack_dirs(
        &crate::global::packs_dir(g),
    )?)
}

fn pin_state(dir: &Path, decl: &PluginDecl) -> &'static str {
    match std::fs::read(dir.join(&decl.file)) {
        Ok(bytes) if decl.is_pinned(&bytes) => "matches",
        Ok(_) => "differs",
        Err(_) => "missing",
    }
}

pub fn plugins(g: &Global, command: PluginsCommand) -> anyhow::Result<()> {
    match command {
        PluginsCommand::Build { pin } => build(g, pin),
        PluginsCommand::Check => check(g),
        PluginsCommand::List => list(g),
    }
}

fn list(g: &Global) -> anyhow::Result<()> {
    let mut listed = Vec::new();
    for dir in pack_dirs(g)? {
        let manifest = Manifest::read(&dir)?;
        for decl in &manifest.plugins {
            listed.push(Listed {
                pack: manifest.name.clone(),
                plugin: decl.name.clone(),
                kind: decl.kind.world(),
                file: dir.join(&decl.file),
                actions: decl.actions.clone(),
                resources: decl.resources.clone(),
                provides: decl.provides.clone(),
                fuel: decl.limits.fuel,
                memory_mib: decl.limits.memory_mib,
                timeout_ms: decl.limits.timeout_ms,
                pin: pin_state(&dir, decl),
            });
        }
    }
    emit(g.json, &listed, |listed| {
        for l in listed {
            say!(
                "{}/{} ({}): actions {} on {}; fuel {}, {} MiB, {} ms; sha256 {} the pin",
                l.pack,
                l.plugin,
                l.kind,
                l.actions.join(","),
                l.resources.join(","),
                l.fuel,
                l.memory_mib,
                l.timeout_ms,
                l.pin
            );
        }
    })
}

fn check(g: &Global) -> anyhow::Result<()> {
    let set = RuleSet::compile(&pack_dirs(g)?)?;
    let checked: Vec<_> = set
        .packs()
        .iter()
        .flat_map(|p| {
            p.plugins.iter().map(|plugin| {
                serde_json::json!({
                    "pack": p.name(),
                    "plugin": plugin.name(),
                    "kind": plugin.decl.kind.world(),
                    "sha256": plugin.decl.sha256,
                })
            })
        })
        .collect();
    emit(g.json, &checked, |checked| {
        for c in checked {
            say!(
                "ok  {}/{}: sha256 verified, compiled, implements `{}`",
                c["pack"].as_str().unwrap_or_default(),
                c["plugin"].as_str().unwrap_or_default(),
                c["kind"].as_str().unwrap_or_default()
            );
        }
    })
}

/// The Cargo workspace holding the crate in `dir`.
fn workspace_of(dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("plugin source `{}`", dir.display()))?;
    dir.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_owned)
        .with_context(|| format!("`{}` is in no Cargo workspace", dir.display()))
}

/// A plugin to build: where its pack is, its declaration, its package.
struct Job {
    pack_dir: PathBuf,
    pack: String,
    decl: PluginDecl,
    package: String,
}

fn build(g: &Global, pin: bool) -> anyhow::Result<()> {
    let mut by_workspace: BTreeMap<PathBuf, Vec<Job>> = BTreeMap::new();
    for dir in pack_dirs(g)? {
        let manifest = Manifest::read(&dir)?;
        for decl in manifest.plugins {
            let Some(source) = &decl.source else {
                continue;
            };
            let source = dir.join(source);
            let package = toolchain::package_name(&source)?;
            by_workspace
                .entry(workspace_of(&source)?)
                .or_default()
                .push(Job {
                    pack_dir: dir.clone(),
                    pack: manifest.name.clone(),
                    decl,
                    package,
                });
        }
    }
    let mut unpinned = Vec::new();
    for (workspace, jobs) in &by_workspace {
        let artifacts = toolchain::build(workspace, &[])?;
        for job in jobs {
            let built = toolchain::component(&artifacts, &job.package);
            let target = job.pack_dir.join(&job.decl.file);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&built, &target)
                .with_context(|| format!("copying `{}`", built.display()))?;
            let bytes = std::fs::read(&target)?;
            let sha = sha256_hex(&bytes);
            let name = format!("{}/{}", job.pack, job.decl.name);
            if job.decl.is_pinned(&bytes) {
                say!(
                    "{name}: {} (sha256 {sha}, matches the pin)",
                    target.display()
                );
            } else if pin {
                repin(&job.pack_dir, &job.decl.sha256, &sha)?;
                say!(
                    "{name}: {} (sha256 {sha}, pinned in pack.toml)",
                    target.display()
                );
            } else {
                say!(
                    "{name}: {} (sha256 {sha}, but pack.toml pins {})",
                    target.display(),
                    job.decl.sha256
                );
                unpinned.push(name);
            }
        }
    }
    if !unpinned.is_empty() {
        bail!(
            "the built plugins {} differ from their pins, so their packs will not load; review the change and run `custodia plugins build --pin`",
            unpinned.join(", ")
        );
    }
    Ok(())
}

/// Replaces a pinned sha256 in the pack's manifest.
fn repin(pack_dir: &Path, old: &str, new: &str) -> anyhow::Result<()> {
    let path = pack_dir.join("pack.toml");
    let text = std::fs::read_to_string(&path)?;
    let pinned = format!("sha256 = \"{old}\"");
    if !text.contains(&pinned) {
        bail!("{}: cannot find `{pinned}` to update", path.display());
    }
    std::fs::write(
        &path,
        text.replacen(&pinned, &format!("sha256 = \"{new}\""), 1),
    )?;
    Ok(())
}
