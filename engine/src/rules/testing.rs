//! Pack test cases: `tests/*.toml` in a pack, run before a pack is loaded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::{Decision, Effect, RuleEffect};
use super::pack::Pack;
use super::request::{Action, Context, Request, ResourceRef};
use super::script::Facts;
use crate::domain::{AreaName, WorkerLogin};
use crate::error::Result;
use crate::exchange::OrgFile;

/// A test file: a world (an organisation file) and cases against it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// Path of the organisation file, relative to the test file.
    world: PathBuf,
    /// Default time of every case.
    time: DateTime<Utc>,
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    worker: WorkerLogin,
    action: Action,
    resource: ResourceRef,
    expect: Effect,
    #[serde(default)]
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    unlocked: BTreeSet<AreaName>,
    /// For `send`: the campaign is about similar products (LSSI-CE art. 21.2).
    #[serde(default)]
    similar_products: bool,
    /// Rules (`pack/rule`) that must be among the reasons. A deny case
    /// must name a rule that denies it (`engine/default-deny` when no rule
    /// allows), so deleting that rule makes the case fail.
    #[serde(default)]
    rules: Vec<String>,
    /// The exact fields masked, when given.
    #[serde(default)]
    mask: Option<Vec<String>>,
}

/// One failed case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseFailure {
    pub file: PathBuf,
    pub case: String,
    pub message: String,
}

/// What runs a pack's cases: decides with only the packs `include` selects.
/// The rule set implements it; this module knows nothing else of it.
pub trait Decider {
    fn decide_including(&self, include: &dyn Fn(&Pack) -> bool, facts: Facts) -> Decision;
}

/// The outcome of a pack's tests.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    pub pack: String,
    pub passed: usize,
    pub failures: Vec<CaseFailure>,
    /// Each case's decision, in file order (to compare runs).
    #[serde(skip)]
    pub decisions: Vec<(String, Decision)>,
}

/// Runs a pack's cases with the pack and the packs it requires.
pub fn run_pack_tests(set: &dyn Decider, pack: &Pack) -> Result<PackReport> {
    let mut report = PackReport {
        pack: pack.name().to_owned(),
        passed: 0,
        failures: Vec::new(),
        decisions: Vec::new(),
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(pack.dir.join("tests")) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let wanted: BTreeSet<&str> = pack
        .manifest
        .requires
        .iter()
        .map(String::as_str)
        .chain([pack.name()])
        .collect();
    for file in files {
        let tests = read_test_file(&file)?;
        let world_path = file.parent().unwrap_or(Path::new(".")).join(&tests.world);
        let world = OrgFile::read(&world_path)?;
        for case in &tests.cases {
            let outcome = decide_case(set, &wanted, &world, tests.time, case)
                .and_then(|decision| check_case(case, decision));
            match outcome {
                Ok(decision) => {
                    report.passed += 1;
                    report.decisions.push((case.name.clone(), decision));
                }
                Err(message) => report.failures.push(CaseFailure {
                    file: file.clone(),
                    case: case.name.clone(),
                    message,
                }),
            }
        }
    }
    Ok(report)
}

fn read_test_file(path: &Path) -> Result<TestFile> {
    let text = crate::source::read_text(path)?;
    crate::source::parse_toml(path, &text)
}

fn decide_case(
    set: &dyn Decider,
    packs: &BTreeSet<&str>,
    world: &OrgFile,
    time: DateTime<Utc>,
    case: &Case,
) -> Result<Decision, String> {
    let mut context = Context::new(
        case.time.unwrap_or(time),
        case.channel.clone().unwrap_or_else(|| "office".into()),
    );
    context.unlocked = case.unlocked.clone();
    context.similar_products = case.similar_products;
    let request = Request {
        worker: case.worker.clone(),
        action: case.action,
        resource: case.resource.clone(),
        context,
    };
    let facts = Facts::from_file(world, &request).map_err(|e| e.to_string())?;
    Ok(set.decide_including(&|p| packs.contains(p.name()), facts))
}

/// Checks a case's decision against what the case expects.
fn check_case(case: &Case, decision: Decision) -> Result<Decision, String> {
    let summary = || {
        decision
            .reasons
            .iter()
            .map(|r| format!("{}/{} {:?}: {}", r.pack, r.rule, r.effect, r.message))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if decision.effect != case.expect {
        return Err(format!(
            "expected {}, got {} ({})",
            case.expect,
            decision.effect,
            summary()
        ));
    }
    let names = decision.rule_names();
    if let Some(missing) = case.rules.iter().find(|r| !names.contains(r)) {
        return Err(format!("rule `{missing}` did not decide ({})", summary()));
    }
    // INVARIANT: a deny case names a rule that denied it; otherwise deleting
    // the rule it is about would still pass, through the default deny.
    if case.expect == Effect::Deny && !names_a_denying_rule(case, &decision) {
        return Err(format!(
            "a deny case must name a rule that denies it in `rules` \
             (`engine/default-deny` when none should allow) ({})",
            summary()
        ));
    }
    if let Some(mask) = &case.mask {
        let mut expected = mask.clone();
        expected.sort();
        if decision.mask != expected {
            return Err(format!(
                "expected mask {expected:?}, got {:?}",
                decision.mask
            ));
        }
    }
    Ok(decision)
}

fn names_a_denying_rule(case: &Case, decision: &Decision) -> bool {
    decision.reasons.iter().any(|r| {
        matches!(r.effect, RuleEffect::Deny | RuleEffect::Error)
            && case.rules.contains(&format!("{}/{}", r.pack, r.rule))
    })
}
