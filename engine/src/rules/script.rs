//! The Rhai sandbox rules run in, and the read-only view of a request
//! that scripts see as `worker`, `action`, `resource` and `context`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rhai::{AST, Array, Caches, Dynamic, Engine, EvalAltResult, ImmutableString, Scope};

pub use super::facts::Facts;
use super::request::{Action, ResourceKind};
use crate::domain::{Area, Customer, GrantAccess, Restriction, Worker};

/// Hard limits on one rule's run. A rule that hits one fails closed.
pub mod limits {
    use std::time::Duration;

    pub const MAX_OPERATIONS: u64 = 100_000;
    pub const MAX_CALL_LEVELS: usize = 16;
    pub const MAX_EXPR_DEPTH: usize = 64;
    pub const MAX_FN_EXPR_DEPTH: usize = 32;
    pub const MAX_STRING_SIZE: usize = 16 * 1024;
    pub const MAX_ARRAY_SIZE: usize = 1024;
    pub const MAX_MAP_SIZE: usize = 1024;
    pub const MAX_VARIABLES: usize = 256;
    /// Wall-clock backstop for one rule. The operation count is the limit
    /// that decides: it is the same on an idle and on a saturated machine,
    /// so the same request gets the same decision. The clock only catches
    /// what operations do not count (a slow host call), and is generous
    /// because a descheduled thread keeps counting wall-clock time.
    pub const WALL_CLOCK: Duration = Duration::from_secs(1);
    /// The clock is read once per this many operations, not on every one.
    pub const CLOCK_EVERY: u64 = 1024;
}

thread_local! {
    /// When the rule running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// What a rule returned.
#[derive(Debug, Clone)]
pub enum Outcome {
    Allow(String),
    Deny(String),
    Mask(Vec<String>, String),
}

/// A request as its rules see it: the facts, and the strings rules
/// compare most, made once per request on first use; a getter then hands
/// out a shared copy instead of a new string per read.
#[derive(Debug)]
struct Subject {
    facts: Arc<Facts>,
    area_name: OnceLock<ImmutableString>,
    doc_type_name: OnceLock<ImmutableString>,
    specialty_name: OnceLock<ImmutableString>,
}

impl std::ops::Deref for Subject {
    type Target = Facts;
    fn deref(&self) -> &Facts {
        &self.facts
    }
}

impl Subject {
    fn new(facts: Arc<Facts>) -> Self {
        Self {
            facts,
            area_name: OnceLock::new(),
            doc_type_name: OnceLock::new(),
            specialty_name: OnceLock::new(),
        }
    }

    fn area(&self) -> ImmutableString {
        let name = || self.area_str().unwrap_or_default().into();
        self.area_name.get_or_init(name).clone()
    }

    fn area_str(&self) -> Option<&str> {
        self.facts.area.as_ref().map(|a| a.name.as_str())
    }

    fn doc_type(&self) -> ImmutableString {
        let name = || {
            let doc = self.facts.document.as_ref();
            doc.map_or("", |d| d.doc_type.as_str()).into()
        };
        self.doc_type_name.get_or_init(name).clone()
    }

    fn specialty(&self) -> ImmutableString {
        let name = || {
            let area = self.area_str().unwrap_or_default();
            area.strip_prefix("clinical:").unwrap_or_default().into()
        };
        self.specialty_name.get_or_init(name).clone()
    }
}

/// The name of one of a closed set of values (actions, resource kinds),
/// made once for every request, not once per read.
fn interned<K: Copy + PartialEq + Send + Sync>(
    names: &'static OnceLock<Vec<(K, ImmutableString)>>,
    all: &[K],
    name: fn(K) -> &'static str,
    key: K,
) -> ImmutableString {
    let names = names.get_or_init(|| all.iter().map(|&k| (k, name(k).into())).collect());
    names
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| name(key).into(), |(_, n)| n.clone())
}

fn kind_name(kind: ResourceKind) -> ImmutableString {
    static NAMES: OnceLock<Vec<(ResourceKind, ImmutableString)>> = OnceLock::new();
    interned(&NAMES, &ResourceKind::ALL, ResourceKind::as_str, kind)
}

fn action_name(action: Action) -> ImmutableString {
    static NAMES: OnceLock<Vec<(Action, ImmutableString)>> = OnceLock::new();
    interned(&NAMES, &Action::ALL, Action::as_str, action)
}

#[derive(Debug, Clone)]
pub struct WorkerView(Arc<Subject>);
#[derive(Debug, Clone)]
pub struct ResourceView(Arc<Subject>);
#[derive(Debug, Clone)]
pub struct CustomerView(Arc<Subject>);

impl CustomerView {
    /// Reads the customer. A `CustomerView` is only made for facts that
    /// have one (see the `customer` getter); the default is never seen.
    fn with<T: Default>(&self, read: impl FnOnce(&Customer) -> T) -> T {
        self.0.customer.as_ref().map(read).unwrap_or_default()
    }
}
#[derive(Debug, Clone)]
pub struct ContextView(Arc<Subject>, Arc<PluginAttributes>);

/// What the pack's attribute providers returned for a request, keyed
/// `<plugin>.<attribute>`.
pub type PluginAttributes = std::collections::BTreeMap<String, String>;

/// The property names scripts may read, by object (for the linter).
pub const PROPERTIES: &[&str] = &[
    // worker
    "login",
    "name",
    "level",
    "departments",
    "roles",
    "specialties",
    "active",
    // resource
    "kind",
    "customer",
    "area",
    "area_privacy",
    "area_locked",
    "area_unlocked",
    "specialty",
    "doc_type",
    "document",
    // resource.customer
    "id",
    "privacy",
    "existing_customer",
    "allows_marketing",
    "opted_out",
    "has_consent",
    "opt_out_offered",
    "blocked",
    "restricted",
    // context
    "similar_products",
    "channel",
    "purpose",
    "hour",
    "weekday",
    "address",
];

fn strings(items: &[String]) -> Array {
    items
        .iter()
        .map(|s| Dynamic::from(ImmutableString::from(s.as_str())))
        .collect()
}

fn has(items: &[String], wanted: &str) -> bool {
    items.iter().any(|s| s == wanted)
}

fn grant_allows(worker: &Worker, scope: &str, needed: &str) -> bool {
    worker
        .grants
        .iter()
        .any(|g| g.scope == scope && (needed == "read" || g.access == GrantAccess::Edit))
}

/// The names scripts see at compile time; values come at run time.
pub const VARIABLES: [&str; 4] = ["worker", "action", "resource", "context"];

/// Builds the sandboxed engine every rule is compiled and run with.
// INVARIANT: scripts get no I/O, no eval, no modules, and bounded
// operations, depth, sizes and time; every limit makes the rule fail,
// and a failed rule denies (see `Decision::combine`).
pub fn engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits::MAX_OPERATIONS)
        .set_max_call_levels(limits::MAX_CALL_LEVELS)
        .set_max_expr_depths(limits::MAX_EXPR_DEPTH, limits::MAX_FN_EXPR_DEPTH)
        .set_max_string_size(limits::MAX_STRING_SIZE)
        .set_max_array_size(limits::MAX_ARRAY_SIZE)
        .set_max_map_size(limits::MAX_MAP_SIZE)
        .set_max_variables(limits::MAX_VARIABLES)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true);
    engine.disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.on_progress(|ops| {
        if ops % limits::CLOCK_EVERY != 0 {
            return None;
        }
        let expired = DEADLINE.with(|d| d.get().is_some_and(|deadline| Instant::now() > deadline));
        expired.then(|| Dynamic::from("wall-clock limit exceeded"))
    });
    register_outcomes(&mut engine);
    register_membership(&mut engine);
    register_worker(&mut engine);
    register_resource(&mut engine);
    register_context(&mut engine);
    engine
}

fn register_outcomes(engine: &mut Engine) {
    engine.register_type_with_name::<Outcome>("Outcome");
    engine.register_fn("allow", |reason: &str| Outcome::Allow(reason.to_owned()));
    engine.register_fn("deny", |reason: &str| Outcome::Deny(reason.to_owned()));
    engine.register_fn("mask", |fields: Array, reason: &str| {
        let fields = fields.into_iter().map(|f| f.to_string()).collect();
        Outcome::Mask(fields, reason.to_owned())
    });
}

/// `list.contains(s)` and `s in list` for a list of strings, natively:
/// the generic version calls `==` through the engine for every element.
/// Same answer: only an equal string matches.
fn register_membership(engine: &mut Engine) {
    engine.register_fn("contains", |list: &mut Array, wanted: ImmutableString| {
        list.iter().any(|item| {
            item.read_lock::<ImmutableString>()
                .is_some_and(|s| *s == wanted)
        })
    });
}

fn register_worker(engine: &mut Engine) {
    engine.register_type_with_name::<WorkerView>("Worker");
    engine.register_get("login", |w: &mut WorkerView| w.0.worker.login.to_string());
    engine.register_get("name", |w: &mut WorkerView| w.0.worker.name.clone());
    engine.register_get("level", |w: &mut WorkerView| {
        i64::from(w.0.worker.level.get())
    });
    engine.register_get("departments", |w: &mut WorkerView| {
        strings(&w.0.worker.departments)
    });
    engine.register_get("roles", |w: &mut WorkerView| strings(&w.0.worker.roles));
    engine.register_get("specialties", |w: &mut WorkerView| {
        strings(&w.0.worker.specialties)
    });
    engine.register_get("active", |w: &mut WorkerView| w.0.worker.active);
    engine.register_fn("in_department", |w: &mut WorkerView, d: &str| {
        has(&w.0.worker.departments, d)
    });
    engine.register_fn("has_role", |w: &mut WorkerView, r: &str| {
        has(&w.0.worker.roles, r)
    });
    engine.register_fn("has_specialty", |w: &mut WorkerView, s: &str| {
        has(&w.0.worker.specialties, s)
    });
    engine.register_fn("has_grant", |w: &mut WorkerView, scope: &str| {
        grant_allows(&w.0.worker, scope, "read")
    });
    engine.register_fn(
        "has_grant",
        |w: &mut WorkerView, scope: &str, access: &str| grant_allows(&w.0.worker, scope, access),
    );
}

fn register_resource(engine: &mut Engine) {
    engine.register_type_with_name::<ResourceView>("Resource");
    engine.register_get("kind", |r: &mut ResourceView| kind_name(r.0.kind));
    engine.register_get("customer", |r: &mut ResourceView| CustomerView(r.0.clone()));
    engine.register_get("area", |r: &mut ResourceView| r.0.area());
    engine.register_get("area_privacy", |r: &mut ResourceView| {
        r.0.area.as_ref().map_or(0, |a| a.privacy.rank())
    });
    engine.register_get("area_locked", |r: &mut ResourceView| {
        r.0.area.as_ref().is_some_and(Area::is_locked)
    });
    engine.register_get("area_unlocked", |r: &mut ResourceView| {
        r.0.area
            .as_ref()
            .is_some_and(|a| r.0.context.unlocked.contains(&a.name))
    });
    engine.register_get("specialty", |r: &mut ResourceView| r.0.specialty());
    engine.register_get("doc_type", |r: &mut ResourceView| r.0.doc_type());
    engine.register_get("document", |r: &mut ResourceView| {
        r.0.document
            .as_ref()
            .map_or_else(String::new, |d| d.id.to_string())
    });

    engine.register_type_with_name::<CustomerView>("Customer");
    engine.register_get("id", |c: &mut CustomerView| c.with(|c| c.id.to_string()));
    engine.register_get("privacy", |c: &mut CustomerView| {
        c.with(|c| c.privacy.rank())
    });
    engine.register_get("existing_customer", |c: &mut CustomerView| {
        c.with(|c| c.existing_customer)
    });
    engine.register_get("allows_marketing", |c: &mut CustomerView| {
        c.with(|c| c.communications.allows_marketing())
    });
    engine.register_get("opted_out", |c: &mut CustomerView| {
        c.with(|c| c.communications.opt_out.is_some())
    });
    engine.register_get("has_consent", |c: &mut CustomerView| {
        c.with(|c| c.communications.consent.is_some())
    });
    engine.register_get("opt_out_offered", |c: &mut CustomerView| {
        c.with(|c| c.communications.opt_out_offered.is_some())
    });
    engine.register_get("blocked", |c: &mut CustomerView| {
        c.with(|c| c.restriction == Some(Restriction::Blocked))
    });
    engine.register_get("restricted", |c: &mut CustomerView| {
        c.with(|c| c.restriction == Some(Restriction::Restricted))
    });
    engine.register_fn("is_assigned_to", |c: &mut CustomerView, w: WorkerView| {
        c.with(|c| c.is_assigned_to(&w.0.worker.login))
    });
    engine.register_fn("attr", |c: &mut CustomerView, name: &str| {
        c.with(|c| c.attributes.get(name).cloned().unwrap_or_default())
    });
}

fn register_context(engine: &mut Engine) {
    engine.register_type_with_name::<ContextView>("Context");
    engine.register_get("channel", |c: &mut ContextView| c.0.context.channel.clone());
    engine.register_get("purpose", |c: &mut ContextView| {
        c.0.context.purpose.clone().unwrap_or_default()
    });
    engine.register_get("hour", |c: &mut ContextView| c.0.context.hour());
    engine.register_get("similar_products", |c: &mut ContextView| {
        c.0.context.similar_products
    });
    // A provider's attribute, or `()` when the provider did not run or
    // did not return it (rules compare with a value, so `()` never matches).
    engine.register_fn(
        "plugin",
        |c: &mut ContextView, plugin: &str, name: &str| -> Dynamic {
            c.1.get(&format!("{plugin}.{name}"))
                .map_or(Dynamic::UNIT, |v| {
                    Dynamic::from(ImmutableString::from(v.as_str()))
                })
        },
    );
    engine.register_get("weekday", |c: &mut ContextView| c.0.context.weekday());
    engine.register_get("address", |c: &mut ContextView| {
        c.0.context.address.clone().unwrap_or_default()
    });
}

/// The scope used to compile rules: the four names exist, so strict
/// variables catches any other free name at compile time.
pub fn compile_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    for name in VARIABLES {
        scope.push(name, ());
    }
    scope
}

/// The scope a request's rules run in. Constants: a rule cannot change
/// what the next rule sees.
pub fn run_scope(facts: Arc<Facts>, attributes: Arc<PluginAttributes>) -> Scope<'static> {
    let subject = Arc::new(Subject::new(facts));
    let mut scope = Scope::new();
    scope.push_constant("worker", WorkerView(subject.clone()));
    scope.push_constant("action", action_name(subject.action));
    scope.push_constant("resource", ResourceView(subject.clone()));
    scope.push_constant("context", ContextView(subject, attributes));
    scope
}

/// Runs one compiled rule in `scope`, within the limits. `Ok(None)` means
/// the rule did not apply (returned nothing).
///
/// `caches` holds the functions Rhai has resolved, shared by the rules of
/// one decision: a fresh cache per rule resolved every call anew, 13% of a
/// legal decision (BENCHMARKS.md, "One function cache per decision").
pub fn run(
    engine: &Engine,
    caches: &mut Caches,
    scope: &mut Scope<'static>,
    ast: &AST,
) -> Result<Option<Outcome>, String> {
    let before = scope.len();
    DEADLINE.with(|d| d.set(Some(Instant::now() + limits::WALL_CLOCK)));
    // INVARIANT: a rule that defines functions gets caches of its own: a
    // cached resolution could otherwise name another rule's function of
    // the same name. Every rule gets a fresh runtime state, so the
    // operation limit counts each rule from zero.
    let result = if ast.iter_functions().next().is_some() {
        engine.eval_ast_with_scope::<Dynamic>(scope, ast)
    } else {
        let mut global = engine.new_global_runtime_state();
        #[allow(deprecated, reason = "the one call that takes caches from its caller")]
        engine.eval_statements_raw(&mut global, caches, scope, ast.statements())
    };
    DEADLINE.with(|d| d.set(None));
    scope.rewind(before);
    match result {
        Ok(value) if value.is_unit() => Ok(None),
        Ok(value) => match value.try_cast::<Outcome>() {
            Some(outcome) => Ok(Some(outcome)),
            None => Err("returned a value that is not allow(), deny(), mask() or nothing".into()),
        },
        Err(e) => Err(describe(&e)),
    }
}

fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorTerminated(..) => format!(
            "stopped by the wall-clock backstop of {:?} before its operation limit of {} \
             (a slow host call or an overloaded machine)",
            limits::WALL_CLOCK,
            limits::MAX_OPERATIONS
        ),
        other => other.to_string(),
    }
}

/// Names a script calls or reads that the sandbox does not provide.
pub fn unknown_names(engine: &Engine, source: &str) -> Vec<String> {
    let known_fns: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|sig| sig.split('(').next())
        .map(|name| {
            name.trim_start_matches("get$")
                .trim_start_matches("set$")
                .to_owned()
        })
        .chain(
            [
                "allow",
                "deny",
                "mask",
                "if",
                "while",
                "for",
                "switch",
                "return",
                "fn",
                "loop",
                "in",
                "print",
                "debug",
                "type_of",
                "is_def_var",
                "is_def_fn",
                "Fn",
                "call",
                "curry",
            ]
            .map(str::to_owned),
        )
        .collect();
    let defined: BTreeSet<&str> = source
        .split("fn ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next().map(str::trim))
        .collect();
    let mut unknown = BTreeSet::new();
    for (name, dotted, called) in identifiers(source) {
        let fine = if called {
            known_fns.contains(name) || defined.contains(name)
        } else {
            !dotted || PROPERTIES.contains(&name) || known_fns.contains(name)
        };
        if !fine {
            unknown.insert(if called {
                format!("{name}()")
            } else {
                format!(".{name}")
            });
        }
    }
    unknown.into_iter().collect()
}

/// (identifier, preceded by a dot, followed by a call) outside strings and comments.
fn identifiers(source: &str) -> Vec<(&str, bool, bool)> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let dotted = source[..start].trim_end().ends_with('.');
            let called = source[i..].trim_start().starts_with('(');
            found.push((&source[start..i], dotted, called));
        } else {
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_decided_on_equal_strings_only() {
        let engine = engine();
        let eval = |script: &str| engine.eval::<bool>(script).expect("script runs");
        assert!(eval(r#"["a", "b"].contains("b")"#));
        assert!(eval(r#""b" in ["a", "b"]"#));
        assert!(!eval(r#"["a", "b"].contains("c")"#));
        assert!(!eval(r#"[1, 2].contains("1")"#));
        assert!(!eval(r#"[].contains("")"#));
    }
}
