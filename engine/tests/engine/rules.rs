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
