//! `custodia rules check`, `rules test` and `rules bench`.

use std::path::PathBuf;

use anyhow::bail;
use custodia_engine::rules::RuleSet;
use custodia_engine::rules::pack::Pack;

use crate::access::RequestArgs;
use crate::global::{Global, with_app};
use crate::output::emit;

/// Folders to load: each argument is a pack, or a folder of packs.
fn pack_dirs(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for arg in args {
        if arg.join("pack.toml").is_file() {
            dirs.push(arg.clone());
            continue;
        }
        let inner = custodia_engine::rules::pack_dirs(arg)?;
        if inner.is_empty() {
            bail!("`{}` holds no pack.toml", arg.display());
        }
        dirs.extend(inner);
    }
    Ok(dirs)
}

pub fn check(g: &Global, dirs: &[PathBuf]) -> anyhow::Result<()> {
    let set = RuleSet::compile(&pack_dirs(dirs)?)?;
    // Rules that run in Rhai's interpreter, not lowered to native code.
    let interpreted = |p: &Pack| -> Vec<String> {
        let rules = p.rules.iter().filter(|r| !r.is_lowered());
        rules.map(|r| r.name.clone()).collect()
    };
    let packs: Vec<_> = set
        .packs()
        .iter()
        .map(|p| serde_json::json!({ "pack": p.name(), "version": p.manifest.version, "rules": p.rules.len(), "interpreted": interpreted(p) }))
        .collect();
    emit(g.json, &packs, |_| {
        for p in set.packs() {
            say!(
                "ok  {} {} ({} rules)",
                p.name(),
                p.manifest.version,
                p.rules.len()
            );
            for rule in interpreted(p) {
                say!(
                    "    {}/{rule} runs in Rhai's interpreter, slower: it uses more than `let`, `if` and the helpers (plugins/README.md)",
                    p.name()
                );
            }
        }
    })
}

pub fn test(g: &Global, dirs: &[PathBuf]) -> anyhow::Result<()> {
    let set = RuleSet::compile(&pack_dirs(dirs)?)?;
    let reports = set.test()?;
    let failed: usize = reports.iter().map(|r| r.failures.len()).sum();
    let passed: usize = reports.iter().map(|r| r.passed).sum();
    emit(g.json, &reports, |reports| {
        for r in reports {
            for f in &r.failures {
                say!(
                    "FAIL {} :: {} ({})\n     {}",
                    r.pack,
                    f.case,
                    f.file.display(),
                    f.message
                );
            }
            say!(
                "{:<4} {}: {} passed, {} failed",
                if r.failures.is_empty() { "ok" } else { "FAIL" },
                r.pack,
                r.passed,
                r.failures.len()
            );
        }
        say!("\n{passed} passed, {failed} failed");
    })?;
    if failed > 0 {
        bail!("{failed} pack test case(s) failed");
    }
    Ok(())
}

/// Times one request against the packs in force, like `opa bench`.
pub async fn bench(g: &Global, args: RequestArgs, runs: usize) -> anyhow::Result<()> {
    let request = crate::access::request(&args)?;
    with_app(g, async |app| {
        let org = app.org_of(args.org.clone(), &request.worker).await?;
        let t = app.time_decisions(&org, &request, runs).await?;
        emit(g.json, &t, |t| {
            say!(
                "{} {} {}: {:?} ({} runs after {} to warm up)",
                request.worker,
                request.action.as_str(),
                request.resource,
                t.decision.effect,
                t.runs,
                t.warmup
            );
            say!(
                "p50 {:.2} µs   p99 {:.2} µs   mean {:.2} µs   {:.0} decisions/s (one thread)",
                t.p50_us,
                t.p99_us,
                t.mean_us,
                t.decisions_per_second
            );
        })
    })
    .await
}
