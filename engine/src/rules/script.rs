//! The Rhai sandbox rules run in, and the read-only view of a request
//! that scripts see as `worker`, `action`, `resource` and `context`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rhai::{AST, Array, Caches, Dynamic, Engine, EvalAltResult, ImmutableString, Scope};

pub use super::facts::Facts;
use super::property::{
    Object, Property, Read, assigned_to, customer_attribute, grant_allows, has, plugin_attribute,
};
use super::request::Action;

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

/// The name of an action as rules see it, made once for the process, not
/// once per request.
fn action_name(action: Action) -> ImmutableString {
    static NAMES: OnceLock<Vec<ImmutableString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| Action::ALL.iter().map(|a| a.as_str().into()).collect());
    Action::ALL
        .iter()
        .position(|&a| a == action)
        .and_then(|i| names.get(i).cloned())
        .unwrap_or_else(|| action.as_str().into())
}

/// `worker`, as scripts see it: properties only, nothing to change.
#[derive(Debug, Clone)]
pub struct WorkerView(Arc<Facts>);
/// `resource`, as scripts see it.
#[derive(Debug, Clone)]
pub struct ResourceView(Arc<Facts>);
/// `resource.customer`, as scripts see it.
#[derive(Debug, Clone)]
pub struct CustomerView(Arc<Facts>);
/// `context`, as scripts see it, with what the providers returned.
#[derive(Debug, Clone)]
pub struct ContextView(Arc<Facts>, Arc<PluginAttributes>);

/// What the pack's attribute providers returned for a request, keyed
/// `<plugin>.<attribute>`.
pub type PluginAttributes = std::collections::BTreeMap<String, String>;

fn strings(items: &[String]) -> Array {
    items
        .iter()
        .map(|s| Dynamic::from(ImmutableString::from(s.as_str())))
        .collect()
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
    register_properties(&mut engine);
    register_methods(&mut engine);
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

/// Every property, as a getter on its object's type.
fn register_properties(engine: &mut Engine) {
    engine.register_type_with_name::<WorkerView>("Worker");
    engine.register_type_with_name::<ResourceView>("Resource");
    engine.register_type_with_name::<CustomerView>("Customer");
    engine.register_type_with_name::<ContextView>("Context");
    for &p in Property::ALL {
        let name = p.name();
        match p.object() {
            Object::Worker => engine.register_get(name, move |w: &mut WorkerView| dynamic(p, &w.0)),
            Object::Resource => {
                engine.register_get(name, move |r: &mut ResourceView| dynamic(p, &r.0))
            }
            Object::Customer => {
                engine.register_get(name, move |c: &mut CustomerView| dynamic(p, &c.0))
            }
            Object::Context => {
                engine.register_get(name, move |c: &mut ContextView| dynamic(p, &c.0))
            }
        };
    }
}

/// A property's value as Rhai holds it.
fn dynamic(p: Property, facts: &Arc<Facts>) -> Dynamic {
    match p.read(facts) {
        Read::Bool(b) => b.into(),
        Read::Int(i) => i.into(),
        Read::Str(s) => ImmutableString::from(s).into(),
        Read::Strings(items) => strings(items).into(),
        Read::Customer => Dynamic::from(CustomerView(facts.clone())),
    }
}

fn register_methods(engine: &mut Engine) {
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
    engine.register_fn("is_assigned_to", |c: &mut CustomerView, w: WorkerView| {
        assigned_to(&c.0, &w.0.worker)
    });
    engine.register_fn("attr", |c: &mut CustomerView, name: &str| {
        ImmutableString::from(customer_attribute(&c.0, name))
    });
    // A provider's attribute, or `()` when the provider did not run or
    // did not return it (rules compare with a value, so `()` never matches).
    engine.register_fn(
        "plugin",
        |c: &mut ContextView, plugin: &str, name: &str| -> Dynamic {
            plugin_attribute(&c.1, plugin, name)
                .map_or(Dynamic::UNIT, |v| ImmutableString::from(v).into())
        },
    );
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
    let mut scope = Scope::new();
    scope.push_constant("worker", WorkerView(facts.clone()));
    scope.push_constant("action", action_name(facts.action));
    scope.push_constant("resource", ResourceView(facts.clone()));
    scope.push_constant("context", ContextView(facts, attributes));
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
            !dotted || Property::named(name).is_some() || known_fns.contains(name)
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
