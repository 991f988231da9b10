//! What a WebAssembly plugin adds to one decision (a fresh instance from
//! the pool, plus the call), against the same check written in Rhai, in
//! the same run. `cargo bench -p custodia-engine --bench plugins`.
//!
//! Each variant is a one-pack rule set over the same request (a lawyer
//! editing a filing of a closed case, which both checks deny): a pack with
//! nothing in it (the engine's own cost), the check as a Rhai rule, the
//! check as the `closed-case` plugin, and the `office-hours` provider.

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use custodia_engine::rules::plugin::sha256_hex;
use custodia_engine::rules::{Context, Facts, Request, RuleSet};
use custodia_engine::testkit::repo_root;

const RHAI_CHECK: &str = r#"
if resource.customer.attr("case_status") == "closed"
    && (action == "edit" || action == "create" || action == "delete")
    && !worker.has_role("partner") {
    deny("case `" + resource.customer.id + "` is closed: its file is read-only for everyone but the partner")
}
"#;

/// Writes a pack named `name` with `body` appended to its manifest.
fn pack(root: &Path, name: &str, body: &str, rule: Option<&str>) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("rules")).expect("mkdir");
    let mut manifest =
        format!("name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"bench\"\n{body}");
    if let Some(script) = rule {
        manifest.push_str(
            "\n[[rules]]\nname = \"closed-case\"\ndescription = \"closed cases are read-only\"\nactions = [\"edit\", \"create\", \"delete\"]\nresources = [\"*\"]\n",
        );
        std::fs::write(dir.join("rules/closed-case.rhai"), script).expect("rule");
    }
    std::fs::write(dir.join("pack.toml"), manifest).expect("pack.toml");
    dir
}

fn plugin_entry(root: &Path, pack_name: &str, shipped: &str, entry: &str) -> String {
    let source = repo_root().join("plugins/packs").join(shipped);
    let dir = root.join(pack_name).join("plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = std::fs::read_dir(source.join("plugins"))
        .expect("shipped plugins")
        .flatten()
        .next()
        .expect("a component")
        .path();
    let bytes = std::fs::read(&file).expect("component");
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    std::fs::write(dir.join(&name), &bytes).expect("copy");
    format!(
        "\n[[plugins]]\nfile = \"plugins/{name}\"\nsha256 = \"{}\"\n{entry}",
        sha256_hex(&bytes)
    )
}

fn sample(set: &RuleSet, facts: &Facts, rounds: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(set.decide_with(|_| true, facts.clone()));
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    (pick(0.5), pick(0.99))
}

fn facts(world: &str, worker: &str, action: &str, resource: &str) -> Facts {
    let world = custodia_engine::testkit::demo_org(world);
    let time = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("time");
    let request = Request {
        worker: worker.parse().expect("login"),
        action: action.parse().expect("action"),
        resource: resource.parse().expect("resource"),
        context: Context::new(time, "office"),
    };
    Facts::from_file(&world, &request).expect("facts")
}

fn main() {
    let root = tempfile::tempdir().expect("dir");
    let r = root.path();
    let closed = plugin_entry(
        r,
        "wasm-check",
        "legal",
        "name = \"closed-case\"\nkind = \"check\"\ndescription = \"d\"\nactions = [\"edit\", \"create\", \"delete\"]\nresources = [\"*\"]\n",
    );
    let hours = plugin_entry(
        r,
        "wasm-provider",
        "health",
        "name = \"office-hours\"\nkind = \"attributes\"\ndescription = \"d\"\nactions = [\"*\"]\nresources = [\"document\"]\nprovides = [\"open\", \"local_time\", \"weekday\"]\nconfig = { hours = \"mon-fri 08:00-20:00\" }\n",
    );
    let variants = [
        ("empty pack (engine overhead)", pack(r, "empty", "", None)),
        ("check in Rhai", pack(r, "rhai-check", "", Some(RHAI_CHECK))),
        ("check as a plugin", pack(r, "wasm-check", &closed, None)),
        (
            "provider as a plugin",
            pack(r, "wasm-provider", &hours, None),
        ),
    ];
    let lawyer = facts("bufete-ruiz.toml", "pablo", "edit", "document:D-1002-2");
    let mut baseline = Duration::ZERO;
    for (label, dir) in variants {
        let set = RuleSet::compile(&[dir]).expect("bench pack");
        let denied = !set.decide_with(|_| true, lawyer.clone()).is_allowed();
        sample(&set, &lawyer, 2_000); // warm up
        let (p50, p99) = sample(&set, &lawyer, 50_000);
        if baseline.is_zero() {
            baseline = p50;
        }
        println!(
            "{label:<30} p50 {:>6.2} µs  p99 {:>6.2} µs  added at p50 {:>6.2} µs  (denies: {denied})",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            (p50.saturating_sub(baseline)).as_secs_f64() * 1e6,
        );
    }
}
