//! WebAssembly plugins: hostile components fail closed in bounded time and
//! the engine keeps deciding; pins, capabilities and worlds are enforced at
//! load; a broken reload keeps the packs in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use custodia_engine::rules::plugin::sha256_hex;
use custodia_engine::rules::{
    Action, Context, Facts, Request, RuleEffect, RuleSet, Rules, toolchain,
};

use crate::demo_file;

/// The two builds of the hostile plugins: on the standard library
/// (`hostile`) and on the SDK's `no_std` runtime, as the shipped plugins are
/// (`hostile-bare`).
const BUILDS: [&str; 2] = ["hostile", "hostile-bare"];

/// A hostile component (plugins/hostile, plugins/hostile-bare), built here
/// for wasm32-wasip2, both in one build.
fn hostile_component(build: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let artifacts = BUILT.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        toolchain::build(&workspace, &BUILDS.map(str::to_owned))
            .expect("build the hostile plugins (needs the wasm32-wasip2 target)")
    });
    toolchain::component(artifacts, build)
}

/// One `[[plugins]]` entry of the hostile pack.
struct Entry {
    name: &'static str,
    action: &'static str,
    mode: &'static str,
    limits: &'static str,
}

const ENTRIES: [Entry; 8] = [
    Entry {
        name: "spins",
        action: "view",
        mode: "loop",
        // Fuel it cannot burn through: only the wall-clock backstop stops it.
        limits: "fuel = 1_000_000_000_000, timeout_ms = 50",
    },
    Entry {
        name: "burns-fuel",
        action: "edit",
        mode: "loop",
        limits: "fuel = 100_000, timeout_ms = 1_000",
    },
    Entry {
        name: "hoards",
        action: "create",
        mode: "grow",
        // A long deadline, so that on a busy machine the memory cap, not
        // the clock, is what stops it.
        limits: "memory_mib = 8, timeout_ms = 1_000",
    },
    Entry {
        name: "traps",
        action: "delete",
        mode: "trap",
        limits: "",
    },
    Entry {
        name: "panics",
        action: "export",
        mode: "panic",
        limits: "",
    },
    Entry {
        name: "lies",
        action: "download",
        mode: "garbage",
        limits: "",
    },
    Entry {
        name: "behaves",
        action: "print",
        mode: "ok",
        limits: "",
    },
    Entry {
        name: "remembers",
        action: "send",
        mode: "remember",
        limits: "",
    },
];

/// Writes a pack whose one rule allows everything, so only its plugins can
/// deny, with the hostile component of `build` pinned to `sha256`.
fn hostile_pack(root: &Path, build: &str, sha256: &str, extra: &str) -> PathBuf {
    let dir = root.join("hostile");
    std::fs::create_dir_all(dir.join("rules")).expect("mkdir");
    std::fs::copy(hostile_component(build), dir.join("hostile.wasm")).expect("copy component");
    let mut manifest = String::from(
        "name = \"hostile\"\nversion = \"0.1.0\"\ndescription = \"hostile plugins\"\n\n\
         [[rules]]\nname = \"allow-all\"\ndescription = \"allows, so only plugins deny\"\n\
         actions = [\"*\"]\nresources = [\"*\"]\n",
    );
    for e in &ENTRIES {
        manifest.push_str(&format!(
            "\n[[plugins]]\nname = \"{}\"\nkind = \"attributes\"\ndescription = \"{}\"\n\
             file = \"hostile.wasm\"\nsha256 = \"{sha256}\"\nactions = [\"{}\"]\nresources = [\"*\"]\n\
             provides = [\"ok\"]\nlimits = {{ {} }}\nconfig = {{ mode = \"{}\" }}\n{extra}",
            e.name, e.mode, e.action, e.limits, e.mode
        ));
    }
    // `remembers` counts its calls in its own memory: anything but 1 means
    // an instance kept state from an earlier call.
    manifest.push_str(
        "\n[[rules]]\nname = \"fresh-instance\"\ndescription = \"each plugin call starts from a fresh instance\"\n\
         actions = [\"send\"]\nresources = [\"*\"]\n",
    );
    std::fs::write(dir.join("pack.toml"), manifest).expect("write pack");
    std::fs::write(dir.join("rules/allow-all.rhai"), "allow(\"test pack\")").expect("rule");
    std::fs::write(
        dir.join("rules/fresh-instance.rhai"),
        "let calls = context.plugin(\"remembers\", \"ok\");\n\
         if calls != \"1\" { deny(\"the plugin remembered earlier calls: \" + calls) }",
    )
    .expect("rule");
    dir
}

fn real_sha(build: &str) -> String {
    sha256_hex(&std::fs::read(hostile_component(build)).expect("component"))
}

fn facts(action: Action) -> Facts {
    let world = demo_file("bufete-ruiz.toml");
    let request = Request {
        worker: "elena".parse().expect("login"),
        action,
        resource: "customer:C-1001".parse().expect("resource"),
        context: Context::new(Utc::now(), "test"),
    };
    Facts::from_file(&world, &request).expect("facts")
}

/// The wall-clock backstop each entry runs under (pack default: 1,000 ms).
fn backstop(action: &str) -> Duration {
    let limits = ENTRIES
        .iter()
        .find(|e| e.action == action)
        .map_or("", |e| e.limits);
    let ms = limits
        .split(',')
        .find_map(|l| l.trim().strip_prefix("timeout_ms = "))
        .map_or(1_000, |v| v.replace('_', "").parse().expect("timeout"));
    Duration::from_millis(ms)
}

#[test]
fn hostile_plugins_fail_closed_within_their_limits_and_the_engine_keeps_serving() {
    for build in BUILDS {
        hostile_plugins_fail_closed(build);
    }
}

fn hostile_plugins_fail_closed(build: &str) {
    let root = tempfile::tempdir().expect("dir");
    let set = RuleSet::compile(&[hostile_pack(root.path(), build, &real_sha(build), "")])
        .expect("hostile pack loads");
    let expected = [
        (
            "view",
            "plugin `spins` failed, so the request is denied: ran past its wall-clock backstop of 50 ms",
        ),
        (
            "edit",
            "plugin `burns-fuel` failed, so the request is denied: ran out of fuel (limit 100000 units)",
        ),
        (
            "create",
            "plugin `hoards` failed, so the request is denied: exceeded its memory limit of 8 MiB",
        ),
        (
            "delete",
            "plugin `traps` failed, so the request is denied: trapped: ",
        ),
        (
            "export",
            "plugin `panics` failed, so the request is denied: trapped: ",
        ),
        (
            "download",
            "plugin `lies` failed, so the request is denied: returned an invalid result: 100 attributes, at most 64",
        ),
    ];
    for round in 0..2 {
        for (action, message) in expected {
            let request = facts(action.parse().expect("action"));
            let start = Instant::now();
            let decision = set.decide_with(|_| true, request);
            let took = start.elapsed();
            assert!(!decision.is_allowed(), "{action} was allowed: {decision:?}");
            let failed = decision
                .reasons
                .iter()
                .find(|r| r.rule.starts_with("plugin:"))
                .expect("the plugin is named in the explanation");
            assert_eq!(failed.effect, RuleEffect::Error);
            assert!(
                failed.message.starts_with(message),
                "{build}, round {round}, {action}: {}",
                failed.message
            );
            // Only `spins` may reach its backstop; it must then stop soon
            // after (the clock ticks every millisecond), the others before.
            let limit = backstop(action);
            if action == "view" {
                assert!(took >= limit && took < limit * 10, "{action} took {took:?}");
            } else {
                assert!(took < limit, "{action} took {took:?}, backstop {limit:?}");
            }
            // Still serving: a well-behaved plugin call right after.
            let fine = set.decide_with(|_| true, facts(Action::Print));
            assert!(fine.is_allowed(), "after {action}: {fine:?}");
        }
    }
}

#[test]
fn a_component_that_does_not_match_its_pin_is_refused() {
    let root = tempfile::tempdir().expect("dir");
    let wrong = "0".repeat(64);
    let dir = hostile_pack(root.path(), "hostile", &wrong, "");
    let err = RuleSet::compile(&[dir]).expect_err("a wrong pin is refused");
    let message = err.to_string();
    assert!(message.contains("hostile.wasm"), "{message}");
    assert!(
        message.contains(&format!(
            "sha256 mismatch: pack.toml pins `{wrong}`, the file is `{}`",
            real_sha("hostile")
        )),
        "{message}"
    );
}

#[test]
fn capabilities_need_the_operators_consent_and_worlds_must_match() {
    let root = tempfile::tempdir().expect("dir");
    let dir = hostile_pack(
        root.path(),
        "hostile",
        &real_sha("hostile"),
        "capabilities = [\"stderr\"]\n",
    );
    let err = RuleSet::compile(&[dir]).expect_err("stderr is not allowed");
    assert!(
        err.to_string().contains("asks for the `stderr` capability, which the operator has not allowed (CUSTODIA_PLUGIN_CAPABILITIES)"),
        "{err}"
    );
    let root = tempfile::tempdir().expect("dir");
    let dir = hostile_pack(root.path(), "hostile", &real_sha("hostile"), "");
    let manifest = std::fs::read_to_string(dir.join("pack.toml")).expect("read");
    std::fs::write(
        dir.join("pack.toml"),
        manifest
            .replacen("kind = \"attributes\"", "kind = \"check\"", 1)
            .replacen("provides = [\"ok\"]\n", "", 1),
    )
    .expect("write");
    let err = RuleSet::compile(&[dir]).expect_err("a provider is not a check");
    assert!(err.to_string().contains("not a `check` component"), "{err}");
}

#[test]
fn a_reload_with_a_tampered_plugin_keeps_the_packs_in_force() {
    let root = tempfile::tempdir().expect("dir");
    let dir = hostile_pack(root.path(), "hostile", &real_sha("hostile"), "");
    let rules = Rules::load(root.path()).expect("load");
    let before = rules.current();
    // Someone swaps the component for other bytes.
    let mut bytes = std::fs::read(dir.join("hostile.wasm")).expect("read");
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(dir.join("hostile.wasm"), bytes).expect("write");
    let err = rules.reload().expect_err("the tampered plugin is refused");
    assert!(err.to_string().contains("sha256 mismatch"), "{err}");
    assert!(
        Arc::ptr_eq(&before, &rules.current()),
        "the old packs stay in force"
    );
    assert!(
        rules
            .current()
            .decide_with(|_| true, facts(Action::Print))
            .is_allowed()
    );
}

#[test]
fn no_state_passes_from_one_plugin_call_to_the_next() {
    for build in BUILDS {
        let root = tempfile::tempdir().expect("dir");
        let set = RuleSet::compile(&[hostile_pack(root.path(), build, &real_sha(build), "")])
            .expect("hostile pack loads");
        // More calls than the pool has instance slots, so slots are reused.
        for call in 0..200 {
            let decision = set.decide_with(|_| true, facts(Action::Send));
            assert!(decision.is_allowed(), "{build}, call {call}: {decision:?}");
        }
    }
}
