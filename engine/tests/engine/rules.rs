//! The rules engine: packs, sandbox, reloads.

use std::path::PathBuf;

use custodia_engine::rules::RuleSet;

pub fn packs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/packs")
}

/// `[[case]]` tables in a pack's test files, counted from the text, not by
/// the runner under test.
fn cases_in(pack: &std::path::Path) -> usize {
    std::fs::read_dir(pack.join("tests"))
        .expect("tests dir")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("test file"))
        .map(|text| text.lines().filter(|l| l.trim() == "[[case]]").count())
        .sum()
}

#[test]
fn every_case_of_every_shipped_pack_passes() {
    let set = RuleSet::compile(&dirs()).expect("packs compile");
    let reports = set.test().expect("tests run");
    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {}: {}", r.pack, f.case, f.message))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    let packs: Vec<&str> = reports.iter().map(|r| r.pack.as_str()).collect();
    assert_eq!(
        packs,
        [
            "accounting",
            "architecture",
            "base",
            "ecommerce",
            "health",
            "legal"
        ]
    );
    for report in &reports {
        let expected = cases_in(&packs_dir().join(&report.pack));
        assert_eq!(report.passed, expected, "pack `{}`", report.pack);
        assert_eq!(report.decisions.len(), expected, "pack `{}`", report.pack);
    }
}

/// Spins until `stop` is set, to take a core away from the deciding thread.
fn busy(stop: &std::sync::atomic::AtomicBool) {
    let mut x: u64 = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

/// What must not change with the machine's load: effect, mask and the
/// rules behind it with their effects.
fn decided(reports: &[custodia_engine::rules::testing::PackReport]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| &r.decisions)
        .map(|(case, d)| {
            let rules: Vec<String> = d
                .reasons
                .iter()
                .map(|r| format!("{}/{}={:?}", r.pack, r.rule, r.effect))
                .collect();
            format!("{case}: {} {:?} {}", d.effect, d.mask, rules.join(","))
        })
        .collect()
}

#[test]
fn pack_cases_are_decided_identically_while_the_cpu_is_saturated() {
    let set = RuleSet::compile(&dirs()).expect("packs compile");
    let idle = decided(&set.test().expect("tests run"));
    assert_eq!(
        idle.len(),
        dirs().iter().map(|d| cases_in(d)).sum::<usize>()
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let loaded = std::thread::scope(|scope| {
        let spinners = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
        for _ in 0..spinners {
            scope.spawn(|| busy(&stop));
        }
        let runs: Vec<Vec<String>> = (0..3)
            .map(|_| decided(&set.test().expect("tests run")))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        runs
    });
    for run in loaded {
        assert_eq!(run, idle);
    }
}

fn dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(packs_dir())
        .expect("packs dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("pack.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

mod hostile {
    use std::path::Path;
    use std::time::Instant;

    use chrono::Utc;
    use custodia_engine::rules::script::limits::WALL_CLOCK;
    use custodia_engine::rules::{Action, Context, Facts, Request, RuleEffect, RuleSet};
    use custodia_engine::{Error, Sector};

    use crate::demo_file;

    /// A pack with one rule applying to every request, besides base.
    fn pack_with(dir: &Path, name: &str, script: &str) {
        pack_with_rules(dir, name, &[("r", script)]);
    }

    /// A pack whose `(rule, script)`s apply to every request, in order.
    fn pack_with_rules(dir: &Path, name: &str, rules: &[(&str, &str)]) {
        let pack = dir.join(name);
        std::fs::create_dir_all(pack.join("rules")).expect("mkdir");
        let mut manifest =
            format!("name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"hostile\"\n");
        for (rule, script) in rules {
            manifest.push_str(&format!(
                "\n[[rules]]\nname = \"{rule}\"\ndescription = \"d\"\nactions = [\"*\"]\nresources = [\"*\"]\n"
            ));
            std::fs::write(pack.join(format!("rules/{rule}.rhai")), script).expect("write rule");
        }
        std::fs::write(pack.join("pack.toml"), manifest).expect("write pack");
    }

    /// The messages of what `pack`'s rules said in one decision.
    fn said_by(set: &RuleSet, pack: &str) -> Vec<(RuleEffect, String)> {
        let (facts, _) = request();
        set.decide_with(|p| p.name() == pack, facts)
            .reasons
            .into_iter()
            .filter(|r| r.pack == pack)
            .map(|r| (r.effect, r.message))
            .collect()
    }

    /// A loop of `n` turns, then an allow naming `n`.
    fn spend(n: u32) -> String {
        format!("let i = 0; while i < {n} {{ i += 1; }} allow(\"spent {n}\")")
    }

    /// Turns of [`spend`] that take a little over half the operation limit.
    const OVER_HALF: u32 = 14_000;

    #[test]
    fn each_rule_of_a_decision_gets_the_whole_operation_limit_and_its_own_functions() {
        let dir = tempfile::tempdir().expect("dir");
        let (once, twice) = (spend(OVER_HALF), spend(2 * OVER_HALF));
        pack_with(dir.path(), "twice-over-half", &twice);
        pack_with_rules(dir.path(), "over-half-twice", &[("a", &once), ("b", &once)]);
        pack_with_rules(
            dir.path(),
            "same-function-name",
            &[
                ("a", "fn verdict() { \"from a\" } allow(verdict())"),
                ("b", "fn verdict() { \"from b\" } allow(verdict())"),
            ],
        );
        let names = ["twice-over-half", "over-half-twice", "same-function-name"];
        let set = RuleSet::compile(&names.map(|n| dir.path().join(n))).expect("packs compile");
        // One rule spending both halves is over the limit...
        let over = said_by(&set, "twice-over-half");
        assert!(
            matches!(&over[..], [(RuleEffect::Error, m)] if m.contains("Too many operations")),
            "{over:?}"
        );
        // ...two rules of one decision spending a half each are not.
        let allowed = (RuleEffect::Allow, format!("spent {OVER_HALF}"));
        assert_eq!(said_by(&set, "over-half-twice"), [allowed.clone(), allowed]);
        assert_eq!(
            said_by(&set, "same-function-name"),
            [
                (RuleEffect::Allow, "from a".to_owned()),
                (RuleEffect::Allow, "from b".to_owned())
            ]
        );
    }

    fn request() -> (Facts, Vec<Sector>) {
        let world = demo_file("bufete-ruiz.toml");
        let request = Request {
            worker: "elena".parse().expect("login"),
            action: Action::View,
            resource: "customer:C-1001".parse().expect("resource"),
            context: Context::new(Utc::now(), "test"),
        };
        (
            Facts::from_file(&world, &request).expect("facts"),
            vec![Sector::Legal],
        )
    }

    /// Each hostile script, and the start of the error that must stop it:
    /// a limit that counts work (operations, sizes, depth), never the clock.
    const HOSTILE: [(&str, &str, &str); 8] = [
        ("infinite-loop", "loop { }", "Too many operations"),
        (
            "exponential-recursion",
            "fn f(n) { f(n + 1) + f(n + 1) } f(0)",
            "Stack overflow",
        ),
        (
            "gigabyte-string",
            "let s = \"xxxxxxxxxxxxxxxx\"; loop { s += s; }",
            "Length of string too large",
        ),
        (
            "huge-array",
            "let a = []; loop { a.push(a.len()); }",
            "Size of array/BLOB too large",
        ),
        (
            "huge-map",
            // Building each key costs operations: the count trips first.
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
            "Too many operations",
        ),
        (
            "dynamic-unknown-function",
            "let f = Fn(\"no_such_helper\"); f.call()",
            "Function not found",
        ),
        (
            "wrong-return-type",
            "42",
            "returned a value that is not allow()",
        ),
        (
            "assigns-to-worker",
            "worker = 1; allow(\"me\")",
            "Cannot modify constant",
        ),
    ];

    #[test]
    fn hostile_scripts_are_stopped_by_counted_limits_before_the_clock_backstop() {
        let dir = tempfile::tempdir().expect("dir");
        for (name, script, _) in HOSTILE {
            pack_with(dir.path(), name, script);
        }
        let mut dirs = vec![super::packs_dir().join("base")];
        dirs.extend(HOSTILE.iter().map(|(name, _, _)| dir.path().join(name)));
        let set = RuleSet::compile(&dirs).expect("hostile packs compile");
        let (facts, _) = request();
        let mut wrong = Vec::new();
        for (name, _, stopped_by) in HOSTILE {
            let facts = facts.clone();
            let only =
                |p: &custodia_engine::rules::pack::Pack| p.name() == name || p.name() == "base";
            let start = Instant::now();
            let decision = set.decide_with(only, facts);
            let took = start.elapsed();
            assert!(!decision.is_allowed(), "{name} was allowed");
            let failed = decision
                .reasons
                .iter()
                .find(|r| r.pack == name)
                .expect("the hostile rule is reported");
            assert_eq!(failed.effect, RuleEffect::Error, "{name}: {failed:?}");
            if !failed.message.contains(stopped_by) {
                wrong.push(format!(
                    "{name}: expected `{stopped_by}`, got: {}",
                    failed.message
                ));
            }
            // Stopped by the count, so well inside the clock's backstop.
            assert!(took < WALL_CLOCK, "{name} took {took:?}");
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Still serving: base alone decides a partner's request normally.
        let decision = set.decide_with(|p| p.name() == "base", facts);
        assert!(decision.is_allowed(), "{decision:?}");
    }

    #[test]
    fn syntax_errors_and_unknown_helpers_refuse_the_pack_with_file_and_line() {
        let dir = tempfile::tempdir().expect("dir");
        pack_with(
            dir.path(),
            "syntax",
            "if worker.level >= 3 {\n  allow(\"x\"\n}",
        );
        let err = RuleSet::compile(&[dir.path().join("syntax")]).expect_err("syntax error");
        let text = err.to_string();
        assert!(text.contains("syntax/rules/r.rhai: line "), "{text}");

        pack_with(
            dir.path(),
            "unknown",
            "// checks\nif worker.is_boss() { allow(\"x\") }",
        );
        let err = RuleSet::compile(&[dir.path().join("unknown")]).expect_err("unknown helper");
        assert!(matches!(err, Error::Input { line: 2, .. }), "{err}");
        assert!(
            err.to_string()
                .contains("unknown helper or property `is_boss()`"),
            "{err}"
        );

        pack_with(dir.path(), "typo", "if worker.levle > 3 { allow(\"x\") }");
        let err = RuleSet::compile(&[dir.path().join("typo")]).expect_err("unknown property");
        assert!(err.to_string().contains("`.levle`"), "{err}");

        pack_with(
            dir.path(),
            "undeclared",
            "if action == \"exprot\" { deny(\"x\") }",
        );
        let err =
            RuleSet::compile(&[dir.path().join("undeclared")]).expect_err("undeclared action");
        assert!(err.to_string().contains("`exprot`"), "{err}");
    }
}

mod reload {
    use std::path::Path;

    use custodia_engine::rules::Rules;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }

    #[test]
    fn a_broken_reload_keeps_the_packs_in_force() {
        let dir = tempfile::tempdir().expect("dir");
        let packs = dir.path().join("packs");
        copy_dir(&super::packs_dir(), &packs);
        // The shipped tests point at ../../../demo: keep that layout.
        copy_dir(
            &super::packs_dir().join("../demo"),
            &dir.path().join("demo"),
        );
        let rules = Rules::load(&packs).expect("load");
        let before = rules.current();

        // A syntax error: refused.
        let rule = packs.join("legal/rules/lawyer-in-charge.rhai");
        let good = std::fs::read_to_string(&rule).expect("read");
        std::fs::write(&rule, "if worker.level >= {").expect("break");
        assert!(rules.reload().is_err());
        assert!(
            std::sync::Arc::ptr_eq(&before, &rules.current()),
            "old packs must stay"
        );

        // Compiles, but its own tests fail (everyone becomes lawyer in charge): refused.
        std::fs::write(&rule, "allow(\"everyone\")").expect("weaken");
        let err = rules.reload().expect_err("tests fail");
        assert!(err.to_string().contains("failing test case"), "{err}");
        assert!(std::sync::Arc::ptr_eq(&before, &rules.current()));

        // Fixed: swapped in.
        std::fs::write(&rule, good).expect("restore");
        rules.reload().expect("reload");
        assert!(!std::sync::Arc::ptr_eq(&before, &rules.current()));
    }
}

/// Rules lowered to native code decide as Rhai's interpreter does.
mod lowered {
    use chrono::{TimeZone, Utc};
    use custodia_engine::exchange::OrgFile;
    use custodia_engine::rules::{Facts, Request, ResourceKind, ResourceRef, RuleSet};
    use custodia_engine::testkit;

    use super::dirs;
    use crate::demo_file;

    /// Every request a demo firm's workers can make of its records and of
    /// the firm's own, on a weekday morning and on a Sunday night.
    fn every_request(org: &OrgFile) -> Vec<Request> {
        let mut resources: Vec<ResourceRef> = ResourceKind::ALL
            .iter()
            .filter(|k| !k.is_record())
            .map(|&k| ResourceRef::Office(k, None))
            .collect();
        resources.extend(testkit::records_of(org));
        let times = [
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0),
            Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0),
        ];
        let times = times.map(|t| t.single().expect("time"));
        testkit::every_request(org, &resources, &times)
    }

    #[test]
    fn every_shipped_rule_runs_without_the_interpreter() {
        let set = RuleSet::compile(&dirs()).expect("packs compile");
        let interpreted: Vec<String> = set
            .packs()
            .iter()
            .flat_map(|p| p.rules.iter().map(move |r| (p.name(), r)))
            .filter(|(_, r)| !r.is_lowered())
            .map(|(p, r)| format!("{p}/{}", r.name))
            .collect();
        assert!(interpreted.is_empty(), "interpreted: {interpreted:?}");
    }

    #[test]
    fn lowered_rules_decide_every_demo_request_as_the_interpreter_does() {
        let lowered = RuleSet::compile(&dirs()).expect("packs compile");
        let interpreted = lowered.interpreted();
        let (mut decided, mut allowed) = (0, 0);
        for file in [
            "bufete-ruiz.toml",
            "clinica-norte.toml",
            "estudio-arco.toml",
            "gestoria-iberia.toml",
            "tienda-verde.toml",
        ] {
            let org = demo_file(file);
            let sectors = &org.organisation.sectors;
            for request in every_request(&org) {
                let facts = Facts::from_file(&org, &request).expect("facts");
                let natively = lowered.decide(sectors, facts.clone());
                let by_rhai = interpreted.decide(sectors, facts);
                assert_eq!(natively, by_rhai, "{request:?}");
                decided += 1;
                allowed += usize::from(natively.is_allowed());
            }
        }
        assert!(decided > 8_000, "only {decided} requests");
        assert!(
            allowed > 1_000 && decided - allowed > 1_000,
            "{allowed} of {decided} allowed"
        );
    }
}
