//! The decision path, Rhai rule packs against Cedar evaluating the same
//! policies over the same entities, in the same run.
//!
//! `cargo bench -p custodia-engine --bench rules` prints p50/p99 per
//! decision and decisions/s on one core (a plain sampler, since divan
//! reports means and medians only), then runs the divan benchmarks.

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Entities, EntityUid, PolicySet};
use chrono::{TimeZone, Utc};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::{Context, Facts, Request, RuleSet};
use custodia_engine::testkit::repo_root;
use custodia_engine::{GrantAccess, Sector};
use serde_json::{Value, json};

/// The requests both engines decide: the seed scenarios of each sector.
const LEGAL: &[(&str, &str, &str)] = &[
    ("ana", "view", "customer:C-1001"),
    ("ana", "view", "customer:C-1001/personal"),
    ("ana", "view", "customer:C-1001/case-file"),
    ("ana", "export", "document:D-1001-4"),
    ("pablo", "view", "customer:C-1001"),
    ("pablo", "view", "customer:C-1002/case-file"),
    ("luis", "view", "customer:C-1001"),
    ("luis", "view", "customer:C-1001/administrative"),
    ("luis", "view", "customer:C-1001/personal"),
    ("luis", "export", "document:D-1001-1"),
    ("sofia", "view", "document:D-1001-2"),
    ("carlos", "export", "document:D-1001-2"),
    ("carlos", "view", "document:D-1002-2"),
    ("elena", "view", "document:D-1001-3"),
    ("elena", "print", "document:D-1001-3"),
    ("marta", "send", "customer:C-1001"),
    ("marta", "send", "customer:C-1002"),
    ("marta", "view", "customer:C-1001/personal"),
];

const HEALTH: &[(&str, &str, &str)] = &[
    ("garcia", "view", "customer:P-2001/clinical:cardiology"),
    ("garcia", "edit", "customer:P-2001/clinical:cardiology"),
    ("garcia", "view", "customer:P-2001/clinical:dermatology"),
    ("garcia", "export", "document:D-2001-1"),
    ("ortiz", "view", "document:D-2001-2"),
    ("ortiz", "view", "customer:P-2002"),
    ("ruiz", "view", "customer:P-2001/clinical:cardiology"),
    ("ruiz", "edit", "customer:P-2001/clinical:cardiology"),
    ("ruiz", "print", "document:D-2002-2"),
    ("ruiz", "edit", "customer:P-2002/clinical:internal-medicine"),
    ("recepcion", "view", "customer:P-2001"),
    ("recepcion", "view", "customer:P-2001/clinical:cardiology"),
    ("recepcion", "edit", "document:D-2001-4"),
    ("recepcion", "view", "document:D-2002-1"),
];

/// One request, ready for both engines.
struct Case {
    label: String,
    facts: Facts,
    sectors: Vec<Sector>,
    cedar: cedar_policy::Request,
    entities: Entities,
}

fn uid(kind: &str, id: &str) -> Value {
    json!({ "__entity": { "type": kind, "id": id } })
}

/// The world as Cedar entities: workers, customers and the one resource.
fn entities(world: &OrgFile, facts: &Facts, resource_id: &str) -> Entities {
    let sector = world.organisation.sectors[0].as_str();
    let mut list: Vec<Value> = world
        .workers
        .iter()
        .map(|w| {
            let grants = |edit: bool| -> Vec<&str> {
                w.grants
                    .iter()
                    .filter(|g| !edit || g.access == GrantAccess::Edit)
                    .map(|g| g.scope.as_str())
                    .collect()
            };
            json!({
                "uid": { "type": "Worker", "id": w.login.as_str() },
                "attrs": {
                    "active": w.active, "level": w.level.get(), "sector": sector,
                    "departments": w.departments, "roles": w.roles, "specialties": w.specialties,
                    "grants_read": grants(false), "grants_edit": grants(true),
                },
                "parents": []
            })
        })
        .collect();
    for c in &world.customers {
        list.push(json!({
            "uid": { "type": "Customer", "id": c.id.as_str() },
            "attrs": {
                "privacy": c.privacy.rank(),
                "assigned": c.assigned.iter().map(|w| uid("Worker", w.as_str())).collect::<Vec<_>>(),
                "opted_out": c.communications.opt_out.is_some(),
                "has_consent": c.communications.consent.is_some(),
                "existing": c.existing_customer,
            },
            "parents": []
        }));
    }
    let area = facts.area.as_ref();
    list.push(json!({
        "uid": { "type": "Resource", "id": resource_id },
        "attrs": {
            "kind": facts.kind.as_str(),
            "customer": uid("Customer", facts.customer.as_ref().map_or("", |c| c.id.as_str())),
            "area": area.map_or("", |a| a.name.as_str()),
            "area_privacy": area.map_or(0, |a| a.privacy.rank()),
            "locked": area.is_some_and(|a| a.is_locked()),
            "doc_type": facts.document.as_ref().map_or("", |d| d.doc_type.as_str()),
            "specialty": area.and_then(|a| a.name.as_str().strip_prefix("clinical:")).unwrap_or(""),
        },
        "parents": []
    }));
    Entities::from_json_value(Value::Array(list), None).expect("valid Cedar entities")
}

fn cases(world_file: &str, requests: &[(&str, &str, &str)]) -> Vec<Case> {
    let world = OrgFile::read(&repo_root().join("plugins/demo").join(world_file)).expect("world");
    let time = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("time");
    requests
        .iter()
        .map(|&(worker, action, resource)| {
            let request = Request {
                worker: worker.parse().expect("login"),
                action: action.parse().expect("action"),
                resource: resource.parse().expect("resource"),
                context: Context::new(time, "office"),
            };
            let facts = Facts::from_file(&world, &request).expect("facts");
            let cedar = cedar_policy::Request::new(
                EntityUid::from_str(&format!("Worker::\"{worker}\"")).expect("uid"),
                EntityUid::from_str(&format!("Action::\"{action}\"")).expect("uid"),
                EntityUid::from_str(&format!("Resource::\"{resource}\"")).expect("uid"),
                cedar_policy::Context::from_json_value(json!({ "unlocked": false }), None)
                    .expect("context"),
                None,
            )
            .expect("request");
            Case {
                label: format!("{worker} {action} {resource}"),
                entities: entities(&world, &facts, resource),
                facts,
                sectors: world.organisation.sectors.clone(),
                cedar,
            }
        })
        .collect()
}

struct Engines {
    rules: RuleSet,
    policies: PolicySet,
    authorizer: Authorizer,
}

fn engines() -> Engines {
    let rules = RuleSet::load_dir(&repo_root().join("plugins/packs")).expect("packs");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cedar/policies.cedar"),
    )
    .expect("policies");
    Engines {
        rules,
        policies: text.parse().expect("Cedar policies parse"),
        authorizer: Authorizer::new(),
    }
}

fn rhai(e: &Engines, c: &Case) -> bool {
    e.rules.decide(&c.sectors, c.facts.clone()).is_allowed()
}

fn cedar(e: &Engines, c: &Case) -> bool {
    e.authorizer
        .is_authorized(&c.cedar, &e.policies, &c.entities)
        .decision()
        == cedar_policy::Decision::Allow
}

/// p50, p99 and decisions/s over `rounds` passes through `cases`.
fn sample(
    cases: &[Case],
    rounds: usize,
    decide: impl Fn(&Case) -> bool,
) -> (Duration, Duration, f64) {
    let mut times = Vec::with_capacity(cases.len() * rounds);
    let start = Instant::now();
    for _ in 0..rounds {
        for c in cases {
            let t = Instant::now();
            std::hint::black_box(decide(c));
            times.push(t.elapsed());
        }
    }
    let total = start.elapsed();
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    (
        pick(0.5),
        pick(0.99),
        times.len() as f64 / total.as_secs_f64(),
    )
}

fn report() {
    let e = engines();
    for (name, world, requests) in [
        ("legal", "bufete-ruiz.toml", LEGAL),
        ("health", "clinica-norte.toml", HEALTH),
    ] {
        let cases = cases(world, requests);
        // Same policies, same answers: otherwise the comparison is void.
        for c in &cases {
            assert_eq!(rhai(&e, c), cedar(&e, c), "engines disagree on {}", c.label);
        }
        for (engine, decide) in [
            ("rhai ", rhai as fn(&Engines, &Case) -> bool),
            ("cedar", cedar),
        ] {
            let (p50, p99, rate) = sample(&cases, 3000, |c| decide(&e, c));
            println!(
                "{name:<6} {engine}  p50 {:>6.2} µs  p99 {:>7.2} µs  {:>9.0} decisions/s (one core, {} requests)",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                rate,
                cases.len()
            );
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches`: check the engines agree, quickly.
        let e = engines();
        for c in cases("bufete-ruiz.toml", LEGAL)
            .iter()
            .chain(&cases("clinica-norte.toml", HEALTH))
        {
            assert_eq!(rhai(&e, c), cedar(&e, c), "engines disagree on {}", c.label);
        }
        return;
    }
    report();
    divan::main();
}

/// Decides the sector's requests in turn with one engine.
fn bench_engine(bencher: divan::Bencher, sector: &str, decide: fn(&Engines, &Case) -> bool) {
    let e = engines();
    let cases = if sector == "legal" {
        cases("bufete-ruiz.toml", LEGAL)
    } else {
        cases("clinica-norte.toml", HEALTH)
    };
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % cases.len();
        decide(&e, &cases[i])
    });
}

#[divan::bench(args = ["legal", "health"])]
fn rhai_decision(bencher: divan::Bencher, sector: &str) {
    bench_engine(bencher, sector, rhai);
}

#[divan::bench(args = ["legal", "health"])]
fn cedar_decision(bencher: divan::Bencher, sector: &str) {
    bench_engine(bencher, sector, cedar);
}
