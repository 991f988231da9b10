//! The decision path against Cedar, both held to the same work.
//!
//! `cargo bench -p custodia-engine --bench rules` checks that both engines
//! decide every request of the demo's legal and health firms alike, then
//! times them in 5 separate processes and prints, per variant, the median
//! and the minimum over the runs of p50, p99 and decisions/s on 1 and 2
//! threads. The fairness rules, kept here and in BENCHMARKS.md:
//!
//! - Same policies: `benches/cedar/{base,legal,health}.cedar` mirror the
//!   packs rule by rule (`@rule` names the twin), per sector, with resource
//!   kinds as entity types (`Customer`, `Area`, `Document`) and no sector
//!   guards. Masks have no Cedar twin; office records are not timed.
//! - Same answers: on the full cross-product (workers × actions ×
//!   customers, areas and documents) both engines agree on allow or deny
//!   and on the rules that decided it, in every variant.
//! - Same selection: each engine runs once unindexed (every rule of the
//!   sector, each guarded by its actions and kinds from `pack.toml`; every
//!   policy, scoped the same way) and once indexed by (action, kind) from
//!   the same metadata.
//! - Same inputs, prebuilt for both outside the timed region: Custodia's
//!   facts in an `Arc`, Cedar's request and the firm's entities.
//! - Same conditions: a warm-up block, then blocks interleaved across the
//!   variants in rotating order, 5 processes.
//!
//! The Rhai side also runs the packs' WebAssembly plugins where they
//! apply (health documents ask the office-hours plugin); Cedar is handed
//! the plugin's answer in its context.

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Entities, EntityUid, PolicySet};
use chrono::{TimeZone, Utc};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::{
    Action, Context, Facts, Request, ResourceKind, ResourceRef, RuleEffect, RuleSet, pack_dirs,
};
use custodia_engine::testkit::{self, repo_root};
use custodia_engine::{GrantAccess, Sector};
use serde_json::{Value, json};

/// Requests as (worker, action, resource).
type Scenarios = &'static [(&'static str, &'static str, &'static str)];

/// The requests timed: the seed guides' scenarios of each sector.
const LEGAL: Scenarios = &[
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

const HEALTH: Scenarios = &[
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

/// Processes the timings run in.
const RUNS: usize = 5;
/// Interleaved blocks per process (after one warm-up block).
const BLOCKS: usize = 200;
/// How long each throughput measurement runs.
const THROUGHPUT_FOR: Duration = Duration::from_millis(600);

/// One sector's firm, ready for both engines.
struct Firm {
    name: &'static str,
    world: OrgFile,
    entities: Entities,
}

/// One request, prebuilt for both engines.
struct Case {
    label: String,
    key: (Action, ResourceKind),
    facts: Arc<Facts>,
    cedar: cedar_policy::Request,
}

fn uid(kind: &str, id: &str) -> Value {
    json!({ "__entity": { "type": kind, "id": id } })
}

fn entity(kind: &str, id: &str, attrs: Value) -> Value {
    json!({ "uid": { "type": kind, "id": id }, "attrs": attrs, "parents": [] })
}

/// The Cedar entity type of a record kind.
fn cedar_type(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Customer => "Customer",
        ResourceKind::Area => "Area",
        ResourceKind::Document => "Document",
        other => panic!("{} is not a record kind", other.as_str()),
    }
}

/// The firm as Cedar entities: every worker, customer, area and document,
/// each resource with the attributes the Rhai view gives it.
fn entities(world: &OrgFile) -> Entities {
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
            entity(
                "Worker",
                w.login.as_str(),
                json!({
                    "active": w.active, "level": w.level.get(),
                    "departments": w.departments, "roles": w.roles, "specialties": w.specialties,
                    "grants_read": grants(false), "grants_edit": grants(true),
                }),
            )
        })
        .collect();
    for c in &world.customers {
        let id = c.id.as_str();
        let restriction = |r| c.restriction == Some(r);
        list.push(entity(
            "Customer",
            id,
            json!({
                "customer": uid("Customer", id),
                "privacy": c.privacy.rank(),
                "assigned": c.assigned.iter().map(|w| uid("Worker", w.as_str())).collect::<Vec<_>>(),
                "opted_out": c.communications.opt_out.is_some(),
                "has_consent": c.communications.consent.is_some(),
                "opt_out_offered": c.communications.opt_out_offered.is_some(),
                "existing": c.existing_customer,
                "blocked": restriction(custodia_engine::Restriction::Blocked),
                "restricted": restriction(custodia_engine::Restriction::Restricted),
                "case_status": c.attributes.get("case_status").map_or("", String::as_str),
                "area": "", "area_privacy": 0, "locked": false, "doc_type": "", "specialty": "",
            }),
        ));
        for a in &c.areas {
            let name = a.name.as_str();
            list.push(entity(
                "Area",
                &format!("{id}/{name}"),
                json!({
                    "customer": uid("Customer", id), "area": name,
                    "area_privacy": a.privacy.rank(), "locked": a.is_locked(), "doc_type": "",
                    "specialty": name.strip_prefix("clinical:").unwrap_or(""),
                }),
            ));
        }
    }
    for d in &world.documents {
        let customer = world
            .customers
            .iter()
            .find(|c| c.id == d.customer)
            .expect("document's customer");
        let area = customer.area(&d.area).expect("document's area");
        let name = area.name.as_str();
        list.push(entity(
            "Document",
            d.id.as_str(),
            json!({
                "customer": uid("Customer", customer.id.as_str()), "area": name,
                "area_privacy": area.privacy.rank(), "locked": area.is_locked(),
                "doc_type": d.doc_type.as_str(),
                "specialty": name.strip_prefix("clinical:").unwrap_or(""),
            }),
        ));
    }
    Entities::from_json_value(Value::Array(list), None).expect("valid Cedar entities")
}

fn firm(name: &'static str, file: &str) -> Firm {
    let world = testkit::demo_org(file);
    let entities = entities(&world);
    Firm {
        name,
        world,
        entities,
    }
}

/// When every request is made: a Monday morning, when the clinic is open.
fn when() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("time")
}

fn case(firm: &Firm, request: Request) -> Case {
    let facts = Facts::from_file(&firm.world, &request).expect("facts");
    let kind = request.resource.kind();
    let resource_id = match &request.resource {
        ResourceRef::Customer(c) => c.to_string(),
        ResourceRef::Area(c, a) => format!("{c}/{a}"),
        ResourceRef::Document(d) => d.to_string(),
        ResourceRef::Office(..) => panic!("office records are not timed"),
    };
    let unlocked = facts
        .area
        .as_ref()
        .is_some_and(|a| facts.context.unlocked.contains(&a.name));
    let cedar = cedar_policy::Request::new(
        EntityUid::from_str(&format!("Worker::\"{}\"", request.worker)).expect("uid"),
        EntityUid::from_str(&format!("Action::\"{}\"", request.action)).expect("uid"),
        EntityUid::from_str(&format!("{}::\"{resource_id}\"", cedar_type(kind))).expect("uid"),
        cedar_policy::Context::from_json_value(
            json!({
                "unlocked": unlocked,
                "similar_products": facts.context.similar_products,
                // The office-hours plugin's `open` at `when()`.
                "office_open": true,
            }),
            None,
        )
        .expect("context"),
        None,
    )
    .expect("request");
    Case {
        label: format!(
            "{} {} {} {resource_id}",
            request.worker,
            request.action,
            kind.as_str()
        ),
        key: (request.action, kind),
        facts: Arc::new(facts),
        cedar,
    }
}

/// The seed scenarios of a sector.
fn seed_cases(firm: &Firm, requests: Scenarios) -> Vec<Case> {
    requests
        .iter()
        .map(|&(worker, action, resource)| {
            let request = Request {
                worker: worker.parse().expect("login"),
                action: action.parse().expect("action"),
                resource: resource.parse().expect("resource"),
                context: Context::new(when(), "office"),
            };
            case(firm, request)
        })
        .collect()
}

/// Every worker × action × customer, area and document of the firm.
fn every_case(firm: &Firm) -> Vec<Case> {
    let w = &firm.world;
    let requests = testkit::every_request(w, &testkit::records_of(w), &[when()]);
    requests.into_iter().map(|r| case(firm, r)).collect()
}

/// Cedar's policies for a sector, as one set and indexed by (action, kind).
struct Cedar {
    all: PolicySet,
    index: HashMap<(Action, ResourceKind), PolicySet>,
    /// Each policy's `@rule`.
    rules: HashMap<cedar_policy::PolicyId, String>,
}

fn cedar(sector: &str, packs: &RuleSet) -> Cedar {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cedar");
    let text: String = ["base", sector]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(format!("{f}.cedar"))).expect("policies"))
        .collect::<Vec<_>>()
        .join("\n");
    let all: PolicySet = text.parse().expect("Cedar policies parse");
    let rules: HashMap<_, _> = all
        .policies()
        .map(|p| {
            let rule = p.annotation("rule").expect("every policy names its rule");
            (p.id().clone(), rule.to_owned())
        })
        .collect();
    // The same metadata the Rhai index is built from.
    let covered: HashMap<String, (BTreeSet<Action>, BTreeSet<ResourceKind>)> = packs
        .packs()
        .iter()
        .flat_map(|pack| {
            let rules = pack.rules.iter().map(move |r| {
                (
                    format!("{}/{}", pack.name(), r.name),
                    (r.actions.clone(), r.resources.clone()),
                )
            });
            let plugins = pack.plugins.iter().map(move |p| {
                (
                    format!("{}/{}", pack.name(), p.decl.rule_id()),
                    (
                        Action::ALL
                            .into_iter()
                            .filter(|&a| RECORD_KINDS.iter().any(|&k| p.applies(a, k)))
                            .collect(),
                        RECORD_KINDS
                            .into_iter()
                            .filter(|&k| Action::ALL.iter().any(|&a| p.applies(a, k)))
                            .collect(),
                    ),
                )
            });
            rules.chain(plugins).collect::<Vec<_>>()
        })
        .collect();
    let mut index: HashMap<(Action, ResourceKind), PolicySet> = HashMap::new();
    for action in Action::ALL {
        for kind in RECORD_KINDS {
            let mut set = PolicySet::new();
            for p in all.policies() {
                let (actions, kinds) = &covered[&rules[p.id()]];
                if actions.contains(&action) && kinds.contains(&kind) {
                    set.add(p.clone()).expect("unique policy ids");
                }
            }
            index.insert((action, kind), set);
        }
    }
    Cedar { all, index, rules }
}

const RECORD_KINDS: [ResourceKind; 3] = [
    ResourceKind::Customer,
    ResourceKind::Area,
    ResourceKind::Document,
];

/// The packs with no index: every rule applies to every request and is
/// guarded in Rhai by its own actions and kinds from `pack.toml`, as a
/// Cedar policy's scope guards it.
fn unindexed(packs: &RuleSet) -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().expect("temp dir");
    let quoted = |items: Vec<&str>| -> String {
        items
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for pack in packs.packs() {
        let to = dir.path().join(pack.name());
        copy_dir(&pack.dir, &to);
        let manifest = std::fs::read_to_string(pack.dir.join("pack.toml")).expect("manifest");
        let mut doc: toml::Table = manifest.parse().expect("manifest parses");
        for rule in doc
            .get_mut("rules")
            .and_then(|r| r.as_array_mut())
            .into_iter()
            .flatten()
        {
            let rule = rule.as_table_mut().expect("rule table");
            rule.insert("actions".into(), toml::Value::Array(vec!["*".into()]));
            rule.insert(
                "resources".into(),
                toml::Value::Array(vec!["*".into(), "office".into()]),
            );
        }
        std::fs::write(to.join("pack.toml"), toml::to_string(&doc).expect("toml")).expect("write");
        for rule in &pack.rules {
            let path = to.join(format!("rules/{}.rhai", rule.name));
            let source = std::fs::read_to_string(&path).expect("rule source");
            let guard = format!(
                "if [{}].contains(action) && [{}].contains(resource.kind) {{\n{source}\n}}\n",
                quoted(rule.actions.iter().map(|a| a.as_str()).collect()),
                quoted(rule.resources.iter().map(|k| k.as_str()).collect()),
            );
            std::fs::write(&path, guard).expect("write rule");
        }
    }
    let set = RuleSet::compile(&pack_dirs(dir.path()).expect("packs")).expect("unindexed packs");
    (dir, set)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let path = entry.path();
        let target: PathBuf = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// The engines under test, each a way to decide a prebuilt case.
struct Engines {
    indexed: RuleSet,
    unindexed: RuleSet,
    interpreted: RuleSet,
    _unindexed_dir: tempfile::TempDir,
    legal: Cedar,
    health: Cedar,
    authorizer: Authorizer,
}

fn engines() -> Engines {
    let dirs = pack_dirs(&repo_root().join("plugins/packs")).expect("packs");
    let indexed = RuleSet::compile(&dirs).expect("packs");
    let (dir, unindexed) = unindexed(&indexed);
    Engines {
        legal: cedar("legal", &indexed),
        health: cedar("health", &indexed),
        interpreted: indexed.interpreted(),
        indexed,
        unindexed,
        _unindexed_dir: dir,
        authorizer: Authorizer::new(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    RhaiIndexed,
    RhaiUnindexed,
    /// The indexed rules, none lowered: how they ran before lowering.
    RhaiInterpreted,
    CedarIndexed,
    CedarUnindexed,
}

const VARIANTS: [Variant; 5] = [
    Variant::RhaiIndexed,
    Variant::RhaiUnindexed,
    Variant::RhaiInterpreted,
    Variant::CedarIndexed,
    Variant::CedarUnindexed,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::RhaiIndexed => "custodia, indexed",
            Variant::RhaiUnindexed => "custodia, unindexed",
            Variant::RhaiInterpreted => "custodia, indexed, Rhai's interpreter only",
            Variant::CedarIndexed => "cedar-policy, indexed",
            Variant::CedarUnindexed => "cedar-policy, unindexed",
        }
    }
}

/// A decision reduced to what both engines say: allow or deny, and the
/// rules that decided it (for an allow, those that allowed; for a deny,
/// those that denied, none when nothing allowed).
type Said = (bool, BTreeSet<String>);

fn sectors(firm: &Firm) -> &[Sector] {
    &firm.world.organisation.sectors
}

fn rhai(set: &RuleSet, firm: &Firm, c: &Case) -> Said {
    let d = set.decide(sectors(firm), c.facts.clone());
    let wanted: &[RuleEffect] = if d.is_allowed() {
        &[RuleEffect::Allow]
    } else {
        &[RuleEffect::Deny, RuleEffect::Error]
    };
    let rules = d
        .reasons
        .iter()
        .filter(|r| wanted.contains(&r.effect) && r.rule != "default-deny")
        .map(|r| format!("{}/{}", r.pack, r.rule))
        .collect();
    (d.is_allowed(), rules)
}

fn cedar_said(e: &Engines, firm: &Firm, c: &Case, indexed: bool) -> Said {
    let cedar = e.cedar_of(firm);
    let policies = if indexed {
        &cedar.index[&c.key]
    } else {
        &cedar.all
    };
    let response = e
        .authorizer
        .is_authorized(&c.cedar, policies, &firm.entities);
    let errors: Vec<String> = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{}: Cedar errors: {errors:?}", c.label);
    let rules = response
        .diagnostics()
        .reason()
        .map(|id| cedar.rules[id].clone())
        .collect();
    (response.decision() == cedar_policy::Decision::Allow, rules)
}

impl Engines {
    fn cedar_of(&self, firm: &Firm) -> &Cedar {
        if firm.name == "legal" {
            &self.legal
        } else {
            &self.health
        }
    }

    /// Decides `c` the way `variant` does; only the answer is kept.
    fn decide(&self, variant: Variant, firm: &Firm, c: &Case) -> bool {
        match variant {
            Variant::RhaiIndexed => self.indexed.decide(sectors(firm), c.facts.clone()),
            Variant::RhaiUnindexed => self.unindexed.decide(sectors(firm), c.facts.clone()),
            Variant::RhaiInterpreted => self.interpreted.decide(sectors(firm), c.facts.clone()),
            Variant::CedarIndexed | Variant::CedarUnindexed => {
                let cedar = self.cedar_of(firm);
                let policies = if variant == Variant::CedarIndexed {
                    &cedar.index[&c.key]
                } else {
                    &cedar.all
                };
                return self
                    .authorizer
                    .is_authorized(&c.cedar, policies, &firm.entities)
                    .decision()
                    == cedar_policy::Decision::Allow;
            }
        }
        .is_allowed()
    }
}

/// Every variant of both engines says the same on every request of the
/// firm. Returns how many requests, and how many allowed.
fn assert_equivalent(e: &Engines, firm: &Firm) -> (usize, usize) {
    let cases = every_case(firm);
    let mut allowed = 0;
    for c in &cases {
        let reference = rhai(&e.indexed, firm, c);
        for (name, said) in [
            ("unindexed", rhai(&e.unindexed, firm, c)),
            ("interpreted", rhai(&e.interpreted, firm, c)),
            ("cedar indexed", cedar_said(e, firm, c, true)),
            ("cedar unindexed", cedar_said(e, firm, c, false)),
        ] {
            assert_eq!(said, reference, "{name} disagrees on {}", c.label);
        }
        allowed += usize::from(reference.0);
    }
    (cases.len(), allowed)
}

/// p50 and p99 of each variant, timed in interleaved blocks.
fn latencies(e: &Engines, firm: &Firm, cases: &[Case]) -> Vec<(Duration, Duration)> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); VARIANTS.len()];
    for block in 0..=BLOCKS {
        for turn in 0..VARIANTS.len() {
            let v = (block + turn) % VARIANTS.len();
            for c in cases {
                let t = Instant::now();
                std::hint::black_box(e.decide(VARIANTS[v], firm, c));
                // Block 0 warms caches and plans up and is not counted.
                if block > 0 {
                    times[v].push(t.elapsed());
                }
            }
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_unstable();
            let pick = |q: f64| t[((t.len() as f64 - 1.0) * q) as usize];
            (pick(0.5), pick(0.99))
        })
        .collect()
}

/// Decisions per second of one variant on `threads` threads.
fn throughput(e: &Engines, firm: &Firm, cases: &[Case], variant: Variant, threads: usize) -> f64 {
    let start = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut n = 0;
                    let mut i = t;
                    while start.elapsed() < THROUGHPUT_FOR {
                        for _ in 0..64 {
                            std::hint::black_box(e.decide(variant, firm, &cases[i % cases.len()]));
                            i += 1;
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    counts.iter().sum::<usize>() as f64 / start.elapsed().as_secs_f64()
}

/// Cedar's own upstream benchmark (`cedar-policy/benches/cedar_benchmarks.rs`,
/// `is_authorized`: three policies, six entities, one request), timed here
/// with the same sampler, so Cedar's published figures can be set against
/// this machine.
fn upstream_calibration() -> (Duration, Duration) {
    let mut policies: PolicySet = r#"
        forbid(principal,action,resource)
        when{ context has suspicion };

        permit(
            principal == Account::"jane",
            action,
            resource == Album::"jane_vacation"
        );
    "#
    .parse()
    .expect("upstream policies");
    let single: cedar_policy::Policy = r#"
        permit(
            principal == User::"alice",
            action == Action::"view",
            resource == Photo::"VacationPhoto94.jpg"
        );"#
    .parse()
    .expect("upstream policy");
    policies
        .add(single.new_id("single_policy".parse().expect("id")))
        .expect("add");
    let entities = Entities::from_json_value(
        json!([
            { "uid": { "type": "User", "id": "alice" }, "attrs": {},
              "parents": [ { "__entity": { "type": "UserGroup", "id": "jane_friends" } } ] },
            { "uid": { "type": "UserGroup", "id": "jane_friends" }, "attrs": {}, "parents": [] },
            { "uid": { "type": "Action", "id": "view" }, "attrs": {}, "parents": [] },
            { "uid": { "type": "Photo", "id": "VacationPhoto94.jpg" }, "attrs": {},
              "parents": [ { "__entity": { "type": "Album", "id": "jane_vacation" } } ] },
            { "uid": { "type": "Album", "id": "jane_vacation" }, "attrs": {},
              "parents": [ { "__entity": { "type": "Account", "id": "jane" } } ] },
            { "uid": { "type": "Account", "id": "jane" }, "attrs": {}, "parents": [] }
        ]),
        None,
    )
    .expect("upstream entities");
    let request = cedar_policy::Request::new(
        EntityUid::from_str("User::\"alice\"").expect("uid"),
        EntityUid::from_str("Action::\"view\"").expect("uid"),
        EntityUid::from_str("Photo::\"VacationPhoto94.jpg\"").expect("uid"),
        cedar_policy::Context::from_json_value(
            json!({ "host_os": "Windows 10", "suspicion": 4 }),
            None,
        )
        .expect("context"),
        None,
    )
    .expect("request");
    let authorizer = Authorizer::new();
    let mut times = Vec::with_capacity(200_000);
    for i in 0..220_000 {
        let t = Instant::now();
        std::hint::black_box(authorizer.is_authorized(&request, &policies, &entities));
        if i >= 20_000 {
            times.push(t.elapsed());
        }
    }
    times.sort_unstable();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// One process's timings, one line per (sector, variant).
fn child(e: &Engines, firms: &[(Firm, Scenarios)]) {
    let (p50, p99) = upstream_calibration();
    println!(
        "RESULT\tupstream\tCedarUpstream\t{}\t{}\t0\t0",
        p50.as_nanos(),
        p99.as_nanos()
    );
    for (firm, requests) in firms {
        let cases = seed_cases(firm, requests);
        let lat = latencies(e, firm, &cases);
        for (v, (p50, p99)) in VARIANTS.iter().zip(lat) {
            let one = throughput(e, firm, &cases, *v, 1);
            let two = throughput(e, firm, &cases, *v, 2);
            println!(
                "RESULT\t{}\t{:?}\t{}\t{}\t{one:.0}\t{two:.0}",
                firm.name,
                v,
                p50.as_nanos(),
                p99.as_nanos()
            );
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Runs the timings in `RUNS` processes and prints medians and minimums.
fn parent() {
    let exe = std::env::current_exe().expect("exe");
    let mut rows: HashMap<(String, String), Vec<[f64; 4]>> = HashMap::new();
    for run in 1..=RUNS {
        let out = std::process::Command::new(&exe)
            .arg("--bench")
            .env("CUSTODIA_RULES_BENCH_CHILD", "1")
            .output()
            .expect("run the timing process");
        assert!(out.status.success(), "timing process {run} failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.first() != Some(&"RESULT") {
                continue;
            }
            let n = |i: usize| f[i].parse::<f64>().expect("number");
            rows.entry((f[1].to_owned(), f[2].to_owned()))
                .or_default()
                .push([n(3) / 1e3, n(4) / 1e3, n(5), n(6)]);
        }
        eprintln!("timing process {run}/{RUNS} done");
    }
    println!(
        "\n| sector | engine | p50 µs (median / min) | p99 µs (median / min) | 1 thread /s (median / max) | 2 threads /s (median / max) |"
    );
    println!("|---|---|---|---|---|---|");
    let upstream = &rows[&("upstream".to_owned(), "CedarUpstream".to_owned())];
    let col = |i: usize| upstream.iter().map(|r| r[i]).collect::<Vec<_>>();
    println!(
        "| calibration | Cedar's upstream `is_authorized` bench | {:.2} / {:.2} | {:.2} / {:.2} | | |",
        median(col(0)),
        min(&col(0)),
        median(col(1)),
        min(&col(1)),
    );
    for sector in ["legal", "health"] {
        for v in VARIANTS {
            let runs = &rows[&(sector.to_owned(), format!("{v:?}"))];
            let col = |i: usize| runs.iter().map(|r| r[i]).collect::<Vec<_>>();
            let max = |xs: &[f64]| xs.iter().copied().fold(0.0, f64::max);
            println!(
                "| {sector} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} / {:.0} | {:.0} / {:.0} |",
                v.name(),
                median(col(0)),
                min(&col(0)),
                median(col(1)),
                min(&col(1)),
                median(col(2)),
                max(&col(2)),
                median(col(3)),
                max(&col(3)),
            );
        }
    }
}

fn main() {
    let e = engines();
    let legal = firm("legal", "bufete-ruiz.toml");
    let health = firm("health", "clinica-norte.toml");
    // `CUSTODIA_RULES_BENCH_PROFILE=legal` decides the legal seed cases
    // with Custodia alone for 5 s, for a profiler to watch.
    if let Ok(sector) = std::env::var("CUSTODIA_RULES_BENCH_PROFILE") {
        let firm = if sector == "health" { &health } else { &legal };
        let cases = seed_cases(firm, if sector == "health" { HEALTH } else { LEGAL });
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            for c in &cases {
                std::hint::black_box(e.decide(Variant::RhaiIndexed, firm, c));
            }
        }
        return;
    }
    if std::env::var_os("CUSTODIA_RULES_BENCH_CHILD").is_some() {
        child(&e, &[(legal, LEGAL), (health, HEALTH)]);
        return;
    }
    // Same policies, same answers, same deciding rules: otherwise the
    // comparison is void. `cargo test --benches` stops here.
    for firm in [&legal, &health] {
        let (decided, allowed) = assert_equivalent(&e, firm);
        println!(
            "{}: all {} variants agree on {decided} requests ({allowed} allowed), with the same deciding rules",
            firm.name,
            VARIANTS.len()
        );
    }
    if std::env::args().any(|a| a == "--bench") {
        parent();
    }
}
