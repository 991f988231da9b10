//! The rules engine: packs, sandbox, reloads.

use std::path::PathBuf;

use custodia_engine::rules::RuleSet;

pub fn packs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/packs")
}

#[test]
fn shipped_packs_compile_and_pass_their_cases() {
    let set = RuleSet::compile(&dirs()).expect("packs compile");
    let reports = set.test().expect("tests run");
    let mut failures = Vec::new();
    for report in &reports {
        assert!(
            report.passed >= 15,
            "pack `{}` has only {} cases",
            report.pack,
            report.passed
        );
        for f in &report.failures {
            failures.push(format!("{}: {}: {}", report.pack, f.case, f.message));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    assert_eq!(reports.len(), 6);
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
    use std::time::{Duration, Instant};

    use chrono::Utc;
    use custodia_engine::rules::{Action, Context, Facts, Request, RuleEffect, RuleSet};
    use custodia_engine::{Error, Sector};

    use crate::demo_file;

    /// A pack with one rule applying to every request, besides base.
    fn pack_with(dir: &Path, name: &str, script: &str) {
        let pack = dir.join(name);
        std::fs::create_dir_all(pack.join("rules")).expect("mkdir");
        std::fs::write(
            pack.join("pack.toml"),
            format!(
                "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"hostile\"\n\n[[rules]]\nname = \"r\"\ndescription = \"d\"\nactions = [\"*\"]\nresources = [\"*\"]\n"
            ),
        )
        .expect("write pack");
        std::fs::write(pack.join("rules/r.rhai"), script).expect("write rule");
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

    #[test]
    fn hostile_scripts_fail_closed_quickly_and_the_engine_keeps_serving() {
        let cases = [
            ("infinite-loop", "loop { }"),
            (
                "exponential-recursion",
                "fn f(n) { f(n + 1) + f(n + 1) } f(0)",
            ),
            (
                "gigabyte-string",
                "let s = \"xxxxxxxxxxxxxxxx\"; loop { s += s; }",
            ),
            ("huge-array", "let a = []; loop { a.push(a.len()); }"),
            (
                "huge-map",
                "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
            ),
            (
                "dynamic-unknown-function",
                "let f = Fn(\"no_such_helper\"); f.call()",
            ),
            ("wrong-return-type", "42"),
            ("assigns-to-worker", "worker = 1; allow(\"me\")"),
        ];
        let dir = tempfile::tempdir().expect("dir");
        for (name, script) in cases {
            pack_with(dir.path(), name, script);
        }
        let mut dirs = vec![super::packs_dir().join("base")];
        dirs.extend(cases.iter().map(|(name, _)| dir.path().join(name)));
        let set = RuleSet::compile(&dirs).expect("hostile packs compile");
        let (facts, sectors) = request();
        for (name, _) in cases {
            let start = Instant::now();
            let only =
                |p: &custodia_engine::rules::pack::Pack| p.name() == name || p.name() == "base";
            let decision = set.decide_with(only, facts.clone());
            let took = start.elapsed();
            assert!(!decision.is_allowed(), "{name} was allowed");
            let failed = decision
                .reasons
                .iter()
                .find(|r| r.pack == name)
                .expect("the hostile rule is reported");
            assert_eq!(failed.effect, RuleEffect::Error, "{name}: {failed:?}");
            assert!(took < Duration::from_millis(100), "{name} took {took:?}");
        }
        // Still serving: base alone decides a partner's request normally.
        let decision = set.decide_with(|p| p.name() == "base", facts);
        assert!(decision.is_allowed(), "{decision:?}");
        let _ = sectors;
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
