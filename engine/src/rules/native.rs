//! Rules lowered from Rhai's syntax tree to a small tree of our own, and
//! run without Rhai's interpreter.
//!
//! Most rules are a few `let`s and `if`s over properties, comparisons,
//! memberships and `allow`/`deny`/`mask`. Rhai interprets each of those
//! steps through its general machinery (function resolution, `Dynamic`
//! values, operation counting); here they are plain matches on the facts.
//!
//! Lowering is a speed-up, never a second meaning: anything this module
//! does not do exactly as Rhai would (an unknown call, a type it does not
//! model, an error) makes it give up with [`Fallback`], and the rule runs
//! in Rhai as before ([`super::script::run`]), from the start. Rules have
//! no effects besides the value they return, so running one again is safe.

use std::borrow::Cow;

use rhai::{
    AST, ASTFlags, Dynamic, Expr as RhaiExpr, FnCallExpr, ImmutableString, Stmt as RhaiStmt,
};

use super::facts::Facts;
use super::property::{self, Object, Property, Read};
use super::script::{Outcome, PluginAttributes, VARIABLES, limits};

/// A rule lowered to native code. Built only for rules whose every
/// statement and expression this module models.
#[derive(Debug, Clone)]
pub struct Lowered {
    body: Vec<Stmt>,
    /// How many `let`s the rule has: each gets a slot of its own.
    slots: usize,
}

/// The rule needs Rhai: this module does not model what it met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

type Run<T> = Result<T, Fallback>;

#[derive(Debug, Clone)]
enum Stmt {
    Let(usize, Expr),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    Block(Vec<Stmt>),
    Expr(Expr),
    Return(Option<Expr>),
}

#[derive(Debug, Clone)]
enum Expr {
    Unit,
    Bool(bool),
    Int(i64),
    Text(ImmutableString),
    List(Vec<String>),
    Local(usize),
    /// One of the four names every rule sees.
    Object(Object),
    Action,
    Get(Box<Expr>, Property),
    Call(Call, Vec<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// The functions and operators lowered rules may call, by name and arity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Allow,
    Deny,
    Mask,
    Contains,
    InDepartment,
    HasRole,
    HasSpecialty,
    HasGrant,
    IsAssignedTo,
    Attr,
    Plugin,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
}

/// The most arguments a lowered call takes, its receiver included.
const MAX_ARGS: usize = 3;

impl Call {
    /// The call of `name` with `arity` arguments; none takes more than
    /// [`MAX_ARGS`].
    fn named(name: &str, arity: usize) -> Option<Call> {
        Some(match (name, arity) {
            ("allow", 1) => Call::Allow,
            ("deny", 1) => Call::Deny,
            ("mask", 2) => Call::Mask,
            ("contains", 2) => Call::Contains,
            ("in_department", 2) => Call::InDepartment,
            ("has_role", 2) => Call::HasRole,
            ("has_specialty", 2) => Call::HasSpecialty,
            ("has_grant", 2 | 3) => Call::HasGrant,
            ("is_assigned_to", 2) => Call::IsAssignedTo,
            ("attr", 2) => Call::Attr,
            ("plugin", 3) => Call::Plugin,
            ("!", 1) => Call::Not,
            ("==", 2) => Call::Eq,
            ("!=", 2) => Call::Ne,
            ("<", 2) => Call::Lt,
            ("<=", 2) => Call::Le,
            (">", 2) => Call::Gt,
            (">=", 2) => Call::Ge,
            ("+", 2) => Call::Add,
            _ => return None,
        })
    }
}

/// The largest rule lowered, in syntax-tree nodes.
// INVARIANT: lowered rules have no loops, no functions of their own and
// at most this many nodes, so Rhai could never stop one at its operation
// limit (100,000) or its wall-clock backstop: running it natively, with
// neither, decides the same.
const MAX_NODES: usize = 4096;

/// Names in scope while lowering: the rule's `let`s, innermost last.
struct Lowering {
    names: Vec<(ImmutableString, usize)>,
    slots: usize,
    nodes: usize,
}

impl Lowered {
    /// Lowers a compiled rule, or `None` if it uses anything this module
    /// does not model (it then always runs in Rhai).
    pub fn lower(ast: &AST) -> Option<Lowered> {
        if ast.iter_functions().next().is_some() {
            return None;
        }
        let mut l = Lowering {
            names: Vec::new(),
            slots: 0,
            nodes: 0,
        };
        let body = l.block(ast.statements())?;
        let fits = l.nodes <= MAX_NODES && l.slots + VARIABLES.len() <= limits::MAX_VARIABLES;
        fits.then_some(Lowered {
            body,
            slots: l.slots,
        })
    }

    /// Runs the rule on a request: what Rhai would return, or [`Fallback`]
    /// when only Rhai can say.
    pub fn run(&self, facts: &Facts, attributes: &PluginAttributes) -> Run<Option<Outcome>> {
        let mut run = Running {
            facts,
            attributes,
            locals: vec![Value::Unit; self.slots],
        };
        let value = match run.block(&self.body)? {
            Flow::Next(v) | Flow::Return(v) => v,
        };
        match value {
            Value::Unit => Ok(None),
            Value::Outcome(o) => Ok(Some(*o)),
            // Rhai words the error.
            _ => Err(Fallback),
        }
    }
}

impl Lowering {
    fn block(&mut self, stmts: &[RhaiStmt]) -> Option<Vec<Stmt>> {
        let outer = self.names.len();
        let lowered = stmts.iter().map(|s| self.stmt(s)).collect();
        self.names.truncate(outer);
        lowered
    }

    fn stmt(&mut self, stmt: &RhaiStmt) -> Option<Stmt> {
        self.nodes += 1;
        Some(match stmt {
            RhaiStmt::Var(x, ..) => {
                let (name, value, _) = &**x;
                let value = self.expr(value)?;
                let slot = self.slots;
                self.slots += 1;
                self.names.push((name.name.clone(), slot));
                Stmt::Let(slot, value)
            }
            RhaiStmt::If(x, ..) => Stmt::If(
                self.expr(&x.expr)?,
                self.block(x.body.statements())?,
                self.block(x.branch.statements())?,
            ),
            RhaiStmt::Block(b) => Stmt::Block(self.block(b.statements())?),
            RhaiStmt::Expr(e) => Stmt::Expr(self.expr(e)?),
            RhaiStmt::FnCall(call, _) => Stmt::Expr(self.call(call, None)?),
            RhaiStmt::Noop(_) => Stmt::Expr(Expr::Unit),
            // `throw` is a `Return` marked `BREAK`.
            RhaiStmt::Return(value, flags, _) if !flags.contains(ASTFlags::BREAK) => {
                let value = match value {
                    Some(v) => Some(self.expr(v)?),
                    None => None,
                };
                Stmt::Return(value)
            }
            _ => return None,
        })
    }

    fn expr(&mut self, expr: &RhaiExpr) -> Option<Expr> {
        self.nodes += 1;
        Some(match expr {
            RhaiExpr::Unit(_) => Expr::Unit,
            RhaiExpr::BoolConstant(b, _) => Expr::Bool(*b),
            RhaiExpr::IntegerConstant(i, _) => Expr::Int(*i),
            RhaiExpr::StringConstant(s, _) => Expr::Text(s.clone()),
            RhaiExpr::Array(items, _) => Expr::List(strings(items.iter().map(|i| match i {
                RhaiExpr::StringConstant(s, _) => Some(s.to_string()),
                _ => None,
            }))?),
            RhaiExpr::DynamicConstant(value, _) => constant(value)?,
            // Modules are off (`no_module`): a name has no namespace.
            RhaiExpr::Variable(x, _, _) => self.variable(&x.1)?,
            RhaiExpr::Dot(x, flags, _) if !flags.contains(ASTFlags::NEGATED) => {
                let receiver = self.expr(&x.lhs)?;
                self.chain(receiver, &x.rhs)?
            }
            RhaiExpr::FnCall(call, _) => self.call(call, None)?,
            RhaiExpr::And(items, _) => {
                Expr::And(items.iter().map(|e| self.expr(e)).collect::<Option<_>>()?)
            }
            RhaiExpr::Or(items, _) => {
                Expr::Or(items.iter().map(|e| self.expr(e)).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }

    fn variable(&self, name: &str) -> Option<Expr> {
        if let Some((_, slot)) = self.names.iter().rev().find(|(n, _)| n == name) {
            return Some(Expr::Local(*slot));
        }
        Some(match name {
            "worker" => Expr::Object(Object::Worker),
            "resource" => Expr::Object(Object::Resource),
            "context" => Expr::Object(Object::Context),
            "action" => Expr::Action,
            _ => return None,
        })
    }

    /// `receiver.rest`, where `rest` is a property, a method call, or a
    /// longer chain starting with one.
    fn chain(&mut self, receiver: Expr, rest: &RhaiExpr) -> Option<Expr> {
        self.nodes += 1;
        match rest {
            RhaiExpr::Property(x, _) => {
                let property = Property::named(&x.2)?;
                Some(Expr::Get(Box::new(receiver), property))
            }
            RhaiExpr::MethodCall(call, _) => self.call(call, Some(receiver)),
            RhaiExpr::Dot(x, flags, _) if !flags.contains(ASTFlags::NEGATED) => {
                let inner = self.chain(receiver, &x.lhs)?;
                self.chain(inner, &x.rhs)
            }
            _ => None,
        }
    }

    fn call(&mut self, call: &FnCallExpr, receiver: Option<Expr>) -> Option<Expr> {
        if call.capture_parent_scope {
            return None;
        }
        let mut args: Vec<Expr> = receiver.into_iter().collect();
        for arg in call.args.iter() {
            args.push(self.expr(arg)?);
        }
        // INVARIANT: a lowered call has at most `MAX_ARGS` arguments, which
        // `Running::expr` gathers on the stack.
        if args.len() > MAX_ARGS {
            return None;
        }
        let lowered = Call::named(&call.name, args.len())?;
        Some(Expr::Call(lowered, args))
    }
}

/// A literal list of strings, if Rhai would make it without hitting a
/// size limit.
fn strings(items: impl Iterator<Item = Option<String>>) -> Option<Vec<String>> {
    let items: Vec<String> = items.collect::<Option<_>>()?;
    checked(Value::List(&items)).ok()?;
    Some(items)
}

/// A constant Rhai's optimiser folded: lowered only if it is a value
/// this module models.
fn constant(value: &Dynamic) -> Option<Expr> {
    if let Ok(b) = value.as_bool() {
        return Some(Expr::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Some(Expr::Int(i));
    }
    if let Ok(s) = value.clone().into_immutable_string() {
        return Some(Expr::Text(s));
    }
    let items = value.clone().into_array().ok()?;
    let items = items.into_iter().map(|i| i.into_string().ok());
    Some(Expr::List(strings(items)?))
}

/// A value while a lowered rule runs.
#[derive(Debug, Clone)]
enum Value<'a> {
    Unit,
    Bool(bool),
    Int(i64),
    Text(Cow<'a, str>),
    List(&'a [String]),
    Object(Object),
    /// Boxed: it is made once per rule at most, and it would double the
    /// size of every other value.
    Outcome(Box<Outcome>),
}

impl<'a> From<Read<'a>> for Value<'a> {
    fn from(read: Read<'a>) -> Self {
        match read {
            Read::Bool(b) => Value::Bool(b),
            Read::Int(i) => Value::Int(i),
            Read::Str(s) => Value::Text(Cow::Borrowed(s)),
            Read::Strings(items) => Value::List(items),
            Read::Customer => Value::Object(Object::Customer),
        }
    }
}

enum Flow<'a> {
    Next(Value<'a>),
    Return(Value<'a>),
}

struct Running<'a> {
    facts: &'a Facts,
    attributes: &'a PluginAttributes,
    locals: Vec<Value<'a>>,
}

impl<'a> Running<'a> {
    fn block(&mut self, stmts: &'a [Stmt]) -> Run<Flow<'a>> {
        let mut last = Value::Unit;
        for stmt in stmts {
            match self.stmt(stmt)? {
                Flow::Next(value) => last = value,
                done @ Flow::Return(_) => return Ok(done),
            }
        }
        Ok(Flow::Next(last))
    }

    fn stmt(&mut self, stmt: &'a Stmt) -> Run<Flow<'a>> {
        Ok(Flow::Next(match stmt {
            Stmt::Let(slot, expr) => {
                let value = self.expr(expr)?;
                *self.locals.get_mut(*slot).ok_or(Fallback)? = value;
                Value::Unit
            }
            Stmt::If(condition, then, otherwise) => {
                let branch = if self.bool(condition)? {
                    then
                } else {
                    otherwise
                };
                return self.block(branch);
            }
            Stmt::Block(stmts) => return self.block(stmts),
            Stmt::Expr(expr) => self.expr(expr)?,
            Stmt::Return(value) => {
                let value = value.as_ref().map_or(Ok(Value::Unit), |v| self.expr(v))?;
                return Ok(Flow::Return(value));
            }
        }))
    }

    fn bool(&mut self, expr: &'a Expr) -> Run<bool> {
        match self.expr(expr)? {
            Value::Bool(b) => Ok(b),
            _ => Err(Fallback),
        }
    }

    fn expr(&mut self, expr: &'a Expr) -> Run<Value<'a>> {
        Ok(match expr {
            Expr::Unit => Value::Unit,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Text(s) => Value::Text(Cow::Borrowed(s.as_str())),
            Expr::List(items) => Value::List(items),
            Expr::Local(slot) => self.locals.get(*slot).ok_or(Fallback)?.clone(),
            Expr::Object(object) => Value::Object(*object),
            Expr::Action => Value::Text(Cow::Borrowed(self.facts.action.as_str())),
            Expr::Get(receiver, property) => {
                match self.expr(receiver)? {
                    Value::Object(o) if o == property.object() => {}
                    _ => return Err(Fallback),
                }
                checked(property.read(self.facts).into())?
            }
            Expr::And(items) => {
                for item in items {
                    if !self.bool(item)? {
                        return Ok(Value::Bool(false));
                    }
                }
                Value::Bool(true)
            }
            Expr::Or(items) => {
                for item in items {
                    if self.bool(item)? {
                        return Ok(Value::Bool(true));
                    }
                }
                Value::Bool(false)
            }
            Expr::Call(call, args) => {
                // At most `MAX_ARGS` (INVARIANT in `Lowering::call`): the
                // arguments fit without an allocation per call.
                let mut values: [Option<Value<'a>>; MAX_ARGS] = Default::default();
                for (value, arg) in values.iter_mut().zip(args) {
                    *value = Some(self.expr(arg)?);
                }
                self.call(*call, values)?
            }
        })
    }

    fn call(&self, call: Call, args: [Option<Value<'a>>; MAX_ARGS]) -> Run<Value<'a>> {
        use Value as V;
        let facts = self.facts;
        let worker = &facts.worker;
        let [a, b, c] = args;
        let value = match (call, a, b, c) {
            (Call::Allow, Some(V::Text(r)), None, None) => {
                V::Outcome(Box::new(Outcome::Allow(r.into_owned())))
            }
            (Call::Deny, Some(V::Text(r)), None, None) => {
                V::Outcome(Box::new(Outcome::Deny(r.into_owned())))
            }
            (Call::Mask, Some(V::List(fields)), Some(V::Text(r)), None) => {
                V::Outcome(Box::new(Outcome::Mask(fields.to_vec(), r.into_owned())))
            }
            (Call::Contains, Some(V::List(items)), Some(V::Text(wanted)), None) => {
                V::Bool(property::has(items, &wanted))
            }
            (Call::InDepartment, Some(V::Object(Object::Worker)), Some(V::Text(d)), None) => {
                V::Bool(property::has(&worker.departments, &d))
            }
            (Call::HasRole, Some(V::Object(Object::Worker)), Some(V::Text(r)), None) => {
                V::Bool(property::has(&worker.roles, &r))
            }
            (Call::HasSpecialty, Some(V::Object(Object::Worker)), Some(V::Text(s)), None) => {
                V::Bool(property::has(&worker.specialties, &s))
            }
            (Call::HasGrant, Some(V::Object(Object::Worker)), Some(V::Text(scope)), access) => {
                let access = match access {
                    None => Cow::Borrowed("read"),
                    Some(V::Text(access)) => access,
                    Some(_) => return Err(Fallback),
                };
                V::Bool(property::grant_allows(worker, &scope, &access))
            }
            (
                Call::IsAssignedTo,
                Some(V::Object(Object::Customer)),
                Some(V::Object(Object::Worker)),
                None,
            ) => V::Bool(property::assigned_to(facts, worker)),
            (Call::Attr, Some(V::Object(Object::Customer)), Some(V::Text(name)), None) => {
                V::Text(Cow::Borrowed(property::customer_attribute(facts, &name)))
            }
            (
                Call::Plugin,
                Some(V::Object(Object::Context)),
                Some(V::Text(p)),
                Some(V::Text(n)),
            ) => match property::plugin_attribute(self.attributes, &p, &n) {
                Some(value) => V::Text(Cow::Borrowed(value)),
                None => V::Unit,
            },
            (Call::Not, Some(V::Bool(b)), None, None) => V::Bool(!b),
            (Call::Add, Some(a), Some(b), None) => add(a, b)?,
            (op, Some(a), Some(b), None) => V::Bool(compare(op, &a, &b)?),
            _ => return Err(Fallback),
        };
        checked(value)
    }
}

/// Rhai's `+` for the values lowered rules make.
fn add<'a>(a: Value<'a>, b: Value<'a>) -> Run<Value<'a>> {
    match (a, b) {
        (Value::Int(a), Value::Int(b)) => a.checked_add(b).map(Value::Int).ok_or(Fallback),
        (Value::Text(a), Value::Text(b)) => {
            let mut joined = a.into_owned();
            joined.push_str(&b);
            Ok(Value::Text(Cow::Owned(joined)))
        }
        // Rhai adds `()` to a string as nothing.
        (Value::Text(s), Value::Unit) | (Value::Unit, Value::Text(s)) => Ok(Value::Text(s)),
        // Rhai adds a number or a truth value to a string as it prints it.
        (Value::Text(s), Value::Int(i)) => Ok(Value::Text(Cow::Owned(format!("{s}{i}")))),
        (Value::Int(i), Value::Text(s)) => Ok(Value::Text(Cow::Owned(format!("{i}{s}")))),
        (Value::Text(s), Value::Bool(b)) => Ok(Value::Text(Cow::Owned(format!("{s}{b}")))),
        (Value::Bool(b), Value::Text(s)) => Ok(Value::Text(Cow::Owned(format!("{b}{s}")))),
        _ => Err(Fallback),
    }
}

/// Rhai's built-in comparisons for the values lowered rules make.
fn compare(op: Call, a: &Value<'_>, b: &Value<'_>) -> Run<bool> {
    use std::cmp::Ordering;
    let order: Option<Ordering> = match (a, b) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) if matches!(op, Call::Eq | Call::Ne) => Some(a.cmp(b)),
        (Value::Text(a), Value::Text(b)) if matches!(op, Call::Eq | Call::Ne) => Some(if a == b {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        // Rhai: `()` equals only `()`, and is neither below nor above it.
        (Value::Unit, Value::Unit) => return Ok(op == Call::Eq),
        // Rhai: values of different non-numeric types are never equal,
        // and neither is below or above the other.
        (
            Value::Unit | Value::Bool(_) | Value::Int(_) | Value::Text(_),
            Value::Unit | Value::Bool(_) | Value::Int(_) | Value::Text(_),
        ) if std::mem::discriminant(a) != std::mem::discriminant(b) => {
            return Ok(op == Call::Ne);
        }
        _ => None,
    };
    let order = order.ok_or(Fallback)?;
    Ok(match op {
        Call::Eq => order.is_eq(),
        Call::Ne => order.is_ne(),
        Call::Lt => order.is_lt(),
        Call::Le => order.is_le(),
        Call::Gt => order.is_gt(),
        Call::Ge => order.is_ge(),
        _ => return Err(Fallback),
    })
}

/// Rhai stops a rule that makes a string or a list over its size limits;
/// a lowered rule hands such a rule back to Rhai, which words the error.
fn checked(value: Value<'_>) -> Run<Value<'_>> {
    let fits = match &value {
        Value::Text(s) => s.len() <= limits::MAX_STRING_SIZE,
        Value::List(items) => {
            items.len() <= limits::MAX_ARRAY_SIZE
                && items.iter().map(String::len).sum::<usize>() <= limits::MAX_STRING_SIZE
        }
        _ => true,
    };
    if fits { Ok(value) } else { Err(Fallback) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::exchange::OrgFile;
    use crate::rules::{RuleSet, script};
    use crate::testkit;

    /// A weekday morning.
    fn morning() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
            .single()
            .expect("time")
    }

    /// Every request of `org`'s workers on its records, as facts.
    fn facts_of(org: &OrgFile) -> Vec<Arc<Facts>> {
        let requests = testkit::every_request(org, &testkit::records_of(org), &[morning()]);
        let facts = requests
            .iter()
            .map(|r| Facts::from_file(org, r).expect("facts"));
        facts.map(Arc::new).collect()
    }

    /// What Rhai's interpreter says of `ast` on `facts`.
    fn by_rhai(
        ast: &AST,
        facts: &Arc<Facts>,
        attributes: &Arc<PluginAttributes>,
    ) -> Result<Option<Outcome>, String> {
        thread_local! {
            static ENGINE: rhai::Engine = script::engine();
        }
        let mut scope = script::run_scope(facts.clone(), attributes.clone());
        ENGINE.with(|engine| script::run(engine, &mut rhai::Caches::new(), &mut scope, ast))
    }

    fn compile(source: &str) -> AST {
        script::engine()
            .compile_with_scope(&script::compile_scope(), source)
            .expect("compiles")
    }

    /// The outcome as a comparable string.
    fn said(result: &Result<Option<Outcome>, String>) -> String {
        format!("{result:?}")
    }

    #[test]
    fn every_shipped_rule_runs_natively_and_says_what_rhai_says() {
        let dirs = crate::rules::pack_dirs(&testkit::repo_root().join("plugins/packs"));
        let dirs = dirs.expect("packs");
        let set = RuleSet::compile(&dirs).expect("packs compile");
        let no_attributes = Arc::new(PluginAttributes::new());
        let mut compared = 0;
        for org in ["bufete-ruiz.toml", "clinica-norte.toml"].map(testkit::demo_org) {
            for facts in facts_of(&org) {
                for rule in set.packs().iter().flat_map(|p| &p.rules) {
                    let lowered = rule.native.as_ref().expect("lowered");
                    let natively = lowered.run(&facts, &no_attributes);
                    let natively =
                        natively.unwrap_or_else(|_| panic!("`{}` fell back to Rhai", rule.name));
                    assert_eq!(
                        said(&Ok(natively)),
                        said(&by_rhai(&rule.ast, &facts, &no_attributes)),
                        "`{}`",
                        rule.name
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    /// Snippets on the edges of Rhai's semantics: each runs natively (no
    /// fallback) and says what Rhai says.
    #[test]
    fn rhai_semantics_hold_natively_on_their_edges() {
        let facts = facts_of(&testkit::demo_org("bufete-ruiz.toml")).swap_remove(0);
        let mut attributes = PluginAttributes::new();
        attributes.insert("clock.open".into(), "yes".into());
        let attributes = Arc::new(attributes);
        for source in [
            // `()` from a provider that said nothing: never equal, adds as nothing.
            r#"if context.plugin("clock", "closed") != "yes" { deny("now " + context.plugin("clock", "closed") + ".") }"#,
            r#"if context.plugin("clock", "open") == "yes" { allow("open") }"#,
            r#"if context.plugin("clock", "x") == () { allow("unit equals unit") }"#,
            r#"if context.plugin("clock", "x") < "a" || context.plugin("clock", "x") >= "a" { allow("ordered") } else { deny("neither") }"#,
            // Different types are never equal, and neither is below the other.
            r#"if worker.level == "5" { allow("equal") } else if worker.level != "5" { deny("unequal") }"#,
            r#"if true == 1 { allow("x") }"#,
            // Shadowing, block scope, `return`, the value of the last statement.
            r#"let x = 1; let x = x + 1; if x == 2 { let y = "two"; allow(y) }"#,
            r#"let a = 1; { let a = 2; } if a == 1 { allow("outer a") }"#,
            r#"if worker.level >= 0 { return deny("early"); } allow("late")"#,
            r#"return;"#,
            r#"if false { allow("x") } let z = 3;"#,
            r#"if false { allow("x") } else if true { mask(["phone", "address"], "masked") }"#,
            // Membership, both spellings, and methods called as functions.
            r#"if "view" in ["view", "edit"] && ["a"].contains("a") && !("b" in ["a"]) { allow(action) }"#,
            r#"if has_role(worker, "lawyer") || worker.has_grant("case-file", "edit") { allow("r") } else { deny("r") }"#,
            r#"let c = resource.customer; if c.is_assigned_to(worker) { allow(c.id + "/" + c.attr("missing")) } else { deny(c.id) }"#,
            r#"if worker.roles.contains("lawyer") { mask(worker.roles, "own roles") }"#,
            // Constants Rhai's optimiser folds.
            r#"const ROLES = ["lawyer", "partner"]; const N = 2 + 3; if N == 5 && ROLES.contains("partner") { allow("folded " + N) }"#,
            r#"deny(resource.kind + " " + resource.area + " " + resource.doc_type + " " + worker.login)"#,
            r#"deny("level " + worker.level + ", active " + worker.active + "; " + 7 + " " + true + "!")"#,
        ] {
            let ast = compile(source);
            let lowered = Lowered::lower(&ast).unwrap_or_else(|| panic!("not lowered: {source}"));
            let natively = lowered.run(&facts, &attributes);
            let natively = natively.unwrap_or_else(|_| panic!("fell back: {source}"));
            assert_eq!(
                said(&Ok(natively)),
                said(&by_rhai(&ast, &facts, &attributes)),
                "{source}"
            );
        }
    }

    /// What lowering does not model goes to Rhai, and Rhai's answer, error
    /// included, is the rule's.
    #[test]
    fn what_lowering_does_not_model_is_left_to_rhai() {
        let facts = facts_of(&testkit::demo_org("bufete-ruiz.toml")).swap_remove(0);
        let attributes = Arc::new(PluginAttributes::new());
        for source in [
            "let i = 0; while i < 3 { i += 1; } allow(\"looped\")",
            "fn verdict() { allow(\"mine\") } verdict()",
            "let x = 1; x = 2; allow(\"assigned\")",
        ] {
            assert!(
                Lowered::lower(&compile(source)).is_none(),
                "lowered: {source}"
            );
        }
        let long = format!("\"{}\"", "x".repeat(limits::MAX_STRING_SIZE / 2 + 1));
        for source in [
            // Errors: Rhai words them.
            "worker.level",
            "allow(worker.level)",
            "if worker.level { allow(\"x\") }",
            "if worker.has_role(1) { allow(\"x\") }",
            "resource.login",
            "9223372036854775807 + worker.level",
            &format!("deny({long} + {long})"),
        ] {
            let ast = compile(source);
            let lowered = Lowered::lower(&ast).unwrap_or_else(|| panic!("not lowered: {source}"));
            assert_eq!(
                lowered.run(&facts, &attributes).err(),
                Some(Fallback),
                "{source}"
            );
            let rhai = by_rhai(&ast, &facts, &attributes);
            assert!(rhai.is_err(), "{source}: {rhai:?}");
        }
    }
}
