//! A set of loaded packs: indexed, evaluated, tested, swapped atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rhai::Engine;

use super::decision::{Decision, Explanation, Reason, RuleEffect, Skipped};
use super::native::Fallback;
use super::pack::{Pack, Rule};
use super::plan::{Plan, Plans, RuleRef};
use super::plugin::{self, Plugin, PluginFailure, PluginKind, Verdict};
use super::property;
use super::request::{Action, ResourceKind};
use super::script::{self, Facts, Outcome, PluginAttributes};
use super::testing::{self, Decider, PackReport};
use crate::domain::Sector;
use crate::error::{Error, Result};

/// Compiled packs with their rules indexed by action and resource kind.
pub struct RuleSet {
    engine: Engine,
    packs: Vec<Pack>,
    index: HashMap<(Action, ResourceKind), Vec<RuleRef>>,
    plans: Plans,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field(
                "packs",
                &self.packs.iter().map(Pack::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RuleSet {
    /// Loads every pack folder under `root` (each holding a `pack.toml`),
    /// compiles them and runs their tests. Any failure refuses the whole set.
    pub fn load_dir(root: &Path) -> Result<Self> {
        Self::load(&pack_dirs(root)?)
    }

    /// Loads the given pack folders, compiles them and runs their tests.
    /// With the private plugin cache in use, a set whose files and
    /// program passed their tests before is not tested again.
    pub fn load(dirs: &[PathBuf]) -> Result<Self> {
        let set = Self::compile(dirs)?;
        let stamp = tested_stamp(dirs);
        if stamp.as_ref().is_some_and(|s| s.exists()) {
            return Ok(set);
        }
        let failures: Vec<String> = set
            .test()?
            .into_iter()
            .flat_map(|report| {
                report.failures.into_iter().map(move |f| {
                    format!("pack `{}`: case `{}`: {}", report.pack, f.case, f.message)
                })
            })
            .collect();
        if let Some(first) = failures.first() {
            return Err(Error::Pack(format!(
                "{} failing test case(s), packs not loaded; first: {first}",
                failures.len()
            )));
        }
        if let Some(stamp) = stamp {
            // Best effort: without the stamp the tests simply run next time.
            let _ = std::fs::create_dir_all(stamp.parent().unwrap_or(&stamp))
                .and_then(|()| std::fs::write(&stamp, b"passed\n"));
        }
        Ok(set)
    }

    /// Loads and compiles packs without running their tests (for `rules check`).
    pub fn compile(dirs: &[PathBuf]) -> Result<Self> {
        let engine = script::engine();
        let packs = dirs
            .iter()
            .map(|dir| Pack::load(&engine, dir))
            .collect::<Result<Vec<_>>>()?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = packs.iter().find(|p| !seen.insert(p.name())) {
            return Err(Error::Pack(format!("two packs are named `{}`", dup.name())));
        }
        let mut index: HashMap<(Action, ResourceKind), Vec<RuleRef>> = HashMap::new();
        for (p, pack) in packs.iter().enumerate() {
            for (r, rule) in pack.rules.iter().enumerate() {
                for &action in &rule.actions {
                    for &kind in &rule.resources {
                        index.entry((action, kind)).or_default().push((p, r));
                    }
                }
            }
        }
        Ok(Self {
            engine,
            packs,
            index,
            plans: Plans::default(),
        })
    }

    /// Runs every pack's test cases.
    pub fn test(&self) -> Result<Vec<PackReport>> {
        self.packs
            .iter()
            .map(|pack| testing::run_pack_tests(self, pack))
            .collect()
    }

    /// The same packs with every rule run by Rhai's interpreter, none
    /// lowered: for checking that lowering changes no decision, and for
    /// measuring what it saves.
    pub fn interpreted(&self) -> RuleSet {
        let mut packs = self.packs.clone();
        for rule in packs.iter_mut().flat_map(|p| p.rules.iter_mut()) {
            rule.native = None;
        }
        Self {
            engine: script::engine(),
            packs,
            index: self.index.clone(),
            plans: Plans::default(),
        }
    }

    /// The loaded packs.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// The typed fields of `area` for an organisation with `sectors`, from
    /// every pack that applies (the base pack's, then the sector's).
    pub fn area_fields(
        &self,
        sectors: &[Sector],
        area: &str,
    ) -> std::collections::BTreeMap<String, super::pack::FieldType> {
        self.packs
            .iter()
            .filter(|pack| pack.applies_to(sectors))
            .filter_map(|pack| pack.manifest.fields.get(area))
            .flat_map(|fields| fields.iter().map(|(k, v)| (k.clone(), *v)))
            .collect()
    }

    /// The document types the packs that apply to `sectors` declare.
    pub fn document_types(&self, sectors: &[Sector]) -> std::collections::BTreeSet<String> {
        self.packs
            .iter()
            .filter(|pack| pack.applies_to(sectors))
            .flat_map(|pack| pack.manifest.document_types.iter().cloned())
            .collect()
    }

    /// Decides a request for an organisation with `sectors`. Facts held
    /// in an `Arc` are shared with the rules, not copied.
    pub fn decide(&self, sectors: &[Sector], facts: impl Into<Arc<Facts>>) -> Decision {
        self.decide_with(|pack| pack.applies_to(sectors), facts)
    }

    /// Decides with the packs `include` selects (tests use a pack and its requirements).
    ///
    /// Attribute providers run first (rules read what they return), then
    /// the Rhai rules, then the checks; every reason goes into one
    /// deny-overrides combination.
    pub fn decide_with(
        &self,
        include: impl Fn(&Pack) -> bool,
        facts: impl Into<Arc<Facts>>,
    ) -> Decision {
        let facts = facts.into();
        let plan = self.plan(&include, (facts.action, facts.kind));
        let plugins: Vec<(&Pack, &Plugin)> = plan
            .plugins
            .iter()
            .map(|&(p, i)| (&self.packs[p], self.packs[p].plugins[i].as_ref()))
            .collect();
        let mut reasons = Vec::new();
        let parts = (!plugins.is_empty()).then(|| plugin::RequestParts::new(&facts));
        let request = parts.as_ref().map(plugin::RequestParts::request);
        let mut attributes = PluginAttributes::new();
        for (pack, p) in plugins
            .iter()
            .filter(|(_, p)| p.decl.kind == PluginKind::Attributes)
        {
            let Some(request) = &request else { break };
            match p.provide(request) {
                Ok(pairs) => attributes.extend(
                    pairs
                        .into_iter()
                        .map(|(name, value)| (property::plugin_key(p.name(), &name), value)),
                ),
                Err(failure) => reasons.push(plugin_failed(pack, p, &failure)),
            }
        }
        let attributes = Arc::new(attributes);
        self.run_rules(&plan, &facts, &attributes, &mut reasons);
        let checks: Vec<_> = plugins
            .iter()
            .filter(|(_, p)| p.decl.kind == PluginKind::Check)
            .collect();
        // The providers' answers, lent to the checks if any will run.
        let pairs = if checks.is_empty() {
            Vec::new()
        } else {
            plugin::lent_pairs(attributes.iter())
        };
        for (pack, p) in checks {
            let Some(request) = &request else { break };
            let reason = |effect, message: String| Reason {
                pack: pack.name().to_owned(),
                rule: p.decl.rule_id(),
                effect,
                message,
                fields: Vec::new(),
            };
            match p.check(request, &pairs) {
                Ok(Verdict::Allow(m)) => reasons.push(reason(RuleEffect::Allow, m)),
                Ok(Verdict::Deny(m)) => reasons.push(reason(RuleEffect::Deny, m)),
                Ok(Verdict::NotApplicable) => {}
                Err(failure) => reasons.push(plugin_failed(pack, p, &failure)),
            }
        }
        if !reasons.iter().any(|r| r.effect != RuleEffect::Mask) {
            reasons.push(Reason {
                pack: "engine".into(),
                rule: "default-deny".into(),
                effect: RuleEffect::Deny,
                message: plan.default_deny.clone(),
                fields: Vec::new(),
            });
        }
        Decision::combine(reasons)
    }

    /// The plan for `key` with the packs `include` selects, kept after
    /// the first request that needs it.
    fn plan(&self, include: &impl Fn(&Pack) -> bool, key: (Action, ResourceKind)) -> Arc<Plan> {
        let build = || self.build_plan(include, key);
        if self.packs.len() > 64 {
            return Arc::new(build());
        }
        let selected = self
            .packs
            .iter()
            .enumerate()
            .filter(|(_, pack)| include(pack))
            .fold(0u64, |mask, (i, _)| mask | (1 << i));
        self.plans.get_or_build((selected, key.0, key.1), build)
    }

    fn build_plan(&self, include: &impl Fn(&Pack) -> bool, key: (Action, ResourceKind)) -> Plan {
        let rules: Vec<RuleRef> = self
            .index
            .get(&key)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(|&(p, _)| include(&self.packs[p]))
            .collect();
        let plugins: Vec<(usize, usize)> = self
            .packs
            .iter()
            .enumerate()
            .filter(|(_, pack)| include(pack))
            .flat_map(|(p, pack)| {
                pack.plugins
                    .iter()
                    .enumerate()
                    .filter(|(_, plugin)| plugin.applies(key.0, key.1))
                    .map(move |(i, _)| (p, i))
            })
            .collect();
        let considered: Vec<String> = rules
            .iter()
            .map(|&(p, r)| format!("{}/{}", self.packs[p].name(), self.packs[p].rules[r].name))
            .chain(plugins.iter().map(|&(p, i)| {
                format!(
                    "{}/{}",
                    self.packs[p].name(),
                    self.packs[p].plugins[i].decl.rule_id()
                )
            }))
            .collect();
        let default_deny = if considered.is_empty() {
            format!(
                "no rule applies to `{}` on a {}, so it is denied by default",
                key.0,
                key.1.as_str()
            )
        } else {
            format!(
                "no rule allowed the request, so it is denied by default (rules considered: {})",
                considered.join(", ")
            )
        };
        Plan {
            rules,
            plugins,
            default_deny,
        }
    }

    /// Runs the plan's rules and adds what each said: natively if the rule
    /// was lowered ([`native`](super::native)), else in Rhai, each rule in
    /// its own evaluation with one function cache between them.
    fn run_rules(
        &self,
        plan: &Plan,
        facts: &Arc<Facts>,
        attributes: &Arc<PluginAttributes>,
        reasons: &mut Vec<Reason>,
    ) {
        // Rhai's scope and caches are made only if a rule needs Rhai.
        let mut rhai: Option<(rhai::Scope<'static>, rhai::Caches)> = None;
        for &(p, r) in &plan.rules {
            let (pack, rule) = (&self.packs[p], &self.packs[p].rules[r]);
            let native = rule.native.as_ref().map(|n| n.run(facts, attributes));
            let said = match native {
                Some(Ok(said)) => Ok(said),
                None | Some(Err(Fallback)) => {
                    let (scope, caches) = rhai.get_or_insert_with(|| {
                        let scope = script::run_scope(facts.clone(), attributes.clone());
                        (scope, rhai::Caches::new())
                    });
                    script::run(&self.engine, caches, scope, &rule.ast)
                }
            };
            if let Some(reason) = reason_of(pack, rule, said) {
                reasons.push(reason);
            }
        }
    }

    /// Decides and accounts for every rule of the applicable packs.
    pub fn explain(&self, sectors: &[Sector], facts: Facts) -> Explanation {
        let (action, kind) = (facts.action, facts.kind);
        let decision = self.decide(sectors, facts);
        let mut skipped = Vec::new();
        for pack in self.packs.iter().filter(|p| p.applies_to(sectors)) {
            for rule in &pack.rules {
                let decided = decision
                    .reasons
                    .iter()
                    .any(|r| r.pack == pack.name() && r.rule == rule.name);
                if decided {
                    continue;
                }
                let why = if !rule.actions.contains(&action) {
                    format!("does not apply to action `{action}`")
                } else if !rule.resources.contains(&kind) {
                    format!("does not apply to {} resources", kind.as_str())
                } else {
                    "ran, and its conditions did not match".to_owned()
                };
                skipped.push(Skipped {
                    pack: pack.name().to_owned(),
                    rule: rule.name.clone(),
                    why,
                });
            }
            for p in &pack.plugins {
                let rule = p.decl.rule_id();
                if decision
                    .reasons
                    .iter()
                    .any(|r| r.pack == pack.name() && r.rule == rule)
                {
                    continue;
                }
                let why = match (p.applies(action, kind), p.decl.kind) {
                    (false, _) => format!(
                        "does not apply to action `{action}` on {} resources",
                        kind.as_str()
                    ),
                    (true, PluginKind::Attributes) => "provided attributes to the rules".to_owned(),
                    (true, PluginKind::Check) => "ran, and did not apply".to_owned(),
                };
                skipped.push(Skipped {
                    pack: pack.name().to_owned(),
                    rule,
                    why,
                });
            }
        }
        Explanation { decision, skipped }
    }
}

/// Where the record that this exact set passed its tests lives: in the
/// private plugin cache, named by SHA-256 over every file of every pack
/// and over the running program's size and time (a rebuilt program tests
/// again). `None` without a cache.
// INVARIANT: a pack set skips its tests only if these very bytes passed
// them under this very program, as recorded in a folder only this account
// can write (the same trust as the compiled plugins beside it).
fn tested_stamp(dirs: &[PathBuf]) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let cache = plugin::cache_dir()?;
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let mut h = Sha256::new();
    h.update(meta.len().to_le_bytes());
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    h.update(modified.as_nanos().to_le_bytes());
    for dir in dirs {
        let mut files = Vec::new();
        collect_files(dir, &mut files).ok()?;
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).ok()?;
            let name = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            h.update(dir.to_string_lossy().as_bytes());
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
    }
    Some(cache.join("tested").join(hex::encode(h.finalize())))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The pack folders (those with a `pack.toml`) directly under `root`,
/// sorted.
pub fn pack_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("pack.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// What a rule's outcome adds to a decision, if anything.
// INVARIANT: a failed rule is an `Error` reason, which `Decision::combine`
// turns into a denial (fail closed).
fn reason_of(
    pack: &Pack,
    rule: &Rule,
    said: std::result::Result<Option<Outcome>, String>,
) -> Option<Reason> {
    let reason = |effect, message: String, fields| Reason {
        pack: pack.name().to_owned(),
        rule: rule.name.clone(),
        effect,
        message,
        fields,
    };
    match said {
        Ok(None) => None,
        Ok(Some(Outcome::Allow(m))) => Some(reason(RuleEffect::Allow, m, Vec::new())),
        Ok(Some(Outcome::Deny(m))) => Some(reason(RuleEffect::Deny, m, Vec::new())),
        Ok(Some(Outcome::Mask(fields, m))) => Some(reason(RuleEffect::Mask, m, fields)),
        Err(e) => {
            tracing::warn!(pack = pack.name(), rule = %rule.name, error = %e, "rule failed; denying");
            Some(reason(
                RuleEffect::Error,
                format!("rule failed, so the request is denied: {e}"),
                Vec::new(),
            ))
        }
    }
}

/// A failed plugin call: it denies, and says which plugin and why.
// INVARIANT: a plugin failure is an `Error` reason, which
// `Decision::combine` turns into a denial (fail closed).
fn plugin_failed(pack: &Pack, plugin: &Plugin, failure: &PluginFailure) -> Reason {
    tracing::warn!(pack = pack.name(), plugin = plugin.name(), %failure, "plugin failed; denying");
    Reason {
        pack: pack.name().to_owned(),
        rule: plugin.decl.rule_id(),
        effect: RuleEffect::Error,
        message: format!(
            "plugin `{}` failed, so the request is denied: {failure}",
            plugin.name()
        ),
        fields: Vec::new(),
    }
}

/// The packs in force, swapped atomically on reload.
// INVARIANT: `current` only ever holds a set whose packs all compiled and
// passed their tests; a failed reload leaves it untouched.
#[derive(Debug)]
pub struct Rules {
    root: PathBuf,
    current: RwLock<Arc<RuleSet>>,
}

impl Rules {
    /// Loads the packs under `root`.
    pub fn load(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let set = RuleSet::load_dir(&root)?;
        Ok(Self {
            root,
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// The packs in force now.
    pub fn current(&self) -> Arc<RuleSet> {
        // A poisoned lock only means a reader panicked; the Arc inside is intact.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads from disk; on any error the previous packs stay in force.
    pub fn reload(&self) -> Result<Arc<RuleSet>> {
        let set = Arc::new(RuleSet::load_dir(&self.root)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = set.clone();
        Ok(set)
    }
}

impl Decider for RuleSet {
    fn decide_including(&self, include: &dyn Fn(&Pack) -> bool, facts: Facts) -> Decision {
        self.decide_with(include, facts)
    }
}
