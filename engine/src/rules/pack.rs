//! Rule packs: a folder with `pack.toml`, `rules/*.rhai` and `tests/*.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{AST, Engine};
use serde::Deserialize;

use super::native::Lowered;
use super::plugin::{Plugin, PluginDecl, PluginKind};
use super::request::{Action, ResourceKind};
use super::script;
use crate::domain::{FieldValue, Sector};
use crate::error::{Error, Result};
use crate::source::{line_of, read_text};

/// `pack.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// The sector the pack serves; none means every organisation.
    #[serde(default)]
    pub sector: Option<Sector>,
    pub version: String,
    pub description: String,
    /// Packs whose rules this pack's tests run with (usually `base`).
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default)]
    pub document_types: Vec<String>,
    /// The typed fields each area holds: `[fields.personal]`,
    /// `marital_status = "text"`. Every area also has free-text notes.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, FieldType>>,
    /// Pyramid level names, `"1" = "trainee"`...
    #[serde(default)]
    pub levels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<RuleDecl>,
    /// WebAssembly plugins (see `plugin`).
    #[serde(default)]
    pub plugins: Vec<PluginDecl>,
}

impl Manifest {
    /// Reads and parses the `pack.toml` of the pack in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("pack.toml");
        let text = read_text(&path)?;
        crate::source::parse_toml(&path, &text)
    }
}

/// The type of an area field, as a pack declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// Yes or no.
    Flag,
}

impl FieldType {
    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Flag => "flag",
        }
    }

    /// Whether `value` fits; the error says what was expected.
    pub fn check(self, value: &FieldValue) -> std::result::Result<(), String> {
        let fits = match (self, value) {
            (FieldType::Text, FieldValue::Text(_))
            | (FieldType::Number, FieldValue::Number(_))
            | (FieldType::Flag, FieldValue::Flag(_)) => true,
            (FieldType::Date, FieldValue::Text(t)) => t.parse::<chrono::NaiveDate>().is_ok(),
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(format!("expected {}, found `{value}`", self.describe()))
        }
    }

    /// Parses a value from text (CSV cells, the edit command).
    pub fn parse(self, text: &str) -> std::result::Result<FieldValue, String> {
        let value = match self {
            FieldType::Text | FieldType::Date => FieldValue::Text(text.to_owned()),
            FieldType::Number => FieldValue::Number(
                text.trim()
                    .parse()
                    .map_err(|_| format!("expected {}, found `{text}`", self.describe()))?,
            ),
            FieldType::Flag => FieldValue::Flag(match text.trim() {
                "yes" | "true" | "si" | "sí" => true,
                "no" | "false" => false,
                _ => return Err(format!("expected {}, found `{text}`", self.describe())),
            }),
        };
        self.check(&value)?;
        Ok(value)
    }

    fn describe(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "a whole number",
            FieldType::Date => "a date (YYYY-MM-DD)",
            FieldType::Flag => "yes or no",
        }
    }
}

/// One rule as declared in `pack.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDecl {
    pub name: String,
    /// Defaults to `rules/<name>.rhai`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    pub description: String,
    /// The actions the rule is about; `["*"]` for all.
    pub actions: Vec<String>,
    /// The resource kinds the rule is about; `["*"]` for all.
    pub resources: Vec<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub actions: BTreeSet<Action>,
    pub resources: BTreeSet<ResourceKind>,
    pub ast: AST,
    /// The rule lowered to native code, if it could be: it then runs
    /// without Rhai's interpreter, deciding the same.
    pub(crate) native: Option<Lowered>,
}

impl Rule {
    /// Whether the rule runs natively, without Rhai's interpreter.
    pub fn is_lowered(&self) -> bool {
        self.native.is_some()
    }
}

/// A loaded, compiled pack.
#[derive(Debug, Clone)]
pub struct Pack {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub rules: Vec<Rule>,
    pub plugins: Vec<Arc<Plugin>>,
}

impl Pack {
    /// The pack's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Whether the pack applies to an organisation with these sectors.
    pub fn applies_to(&self, sectors: &[Sector]) -> bool {
        self.manifest.sector.is_none_or(|s| sectors.contains(&s))
    }

    /// Reads, lints and compiles a pack. Does not run its tests.
    pub fn load(engine: &Engine, dir: &Path) -> Result<Self> {
        let manifest_path = dir.join("pack.toml");
        let manifest = Manifest::read(dir)?;
        let declared_error = |message: String| Error::File {
            path: manifest_path.clone(),
            message,
        };
        let mut names = BTreeSet::new();
        let mut rules = Vec::new();
        for decl in &manifest.rules {
            if !names.insert(decl.name.as_str()) {
                return Err(declared_error(format!(
                    "rule `{}` is declared twice",
                    decl.name
                )));
            }
            let actions =
                parse_set(&decl.actions, &Action::ALL, |a| a.as_str()).map_err(|bad| {
                    declared_error(format!("rule `{}`: undeclared action `{bad}`", decl.name))
                })?;
            let resources = parse_resources(&decl.resources).map_err(|bad| {
                declared_error(format!(
                    "rule `{}`: unknown resource kind `{bad}`",
                    decl.name
                ))
            })?;
            let file = dir.join(
                decl.file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("rules/{}.rhai", decl.name))),
            );
            let source = read_text(&file)?;
            check_source(engine, &file, &source, &actions)?;
            let ast = engine
                .compile_with_scope(&script::compile_scope(), &source)
                .map_err(|e| Error::Input {
                    path: file.clone(),
                    line: e.1.line().unwrap_or(1),
                    message: e.0.to_string(),
                })?;
            rules.push(Rule {
                name: decl.name.clone(),
                description: decl.description.clone(),
                actions,
                resources,
                native: Lowered::lower(&ast),
                ast,
            });
        }
        if let Some(area) = manifest.fields.keys().find(|a| !manifest.areas.contains(a)) {
            return Err(declared_error(format!(
                "fields declared for `{area}`, which is not in `areas`"
            )));
        }
        check_undeclared_files(dir, &manifest)?;
        let plugins = load_plugins(dir, &manifest, &manifest_path)?;
        Ok(Pack {
            manifest,
            dir: dir.to_owned(),
            rules,
            plugins,
        })
    }
}

/// Verifies, compiles and pre-links the pack's plugins.
fn load_plugins(dir: &Path, manifest: &Manifest, manifest_path: &Path) -> Result<Vec<Arc<Plugin>>> {
    let mut names = BTreeSet::new();
    let mut plugins = Vec::new();
    for decl in &manifest.plugins {
        let declared_error = |message: String| Error::File {
            path: manifest_path.to_owned(),
            message: format!("plugin `{}`: {message}", decl.name),
        };
        if !names.insert(decl.name.as_str()) {
            return Err(declared_error("declared twice".into()));
        }
        let actions = parse_set(&decl.actions, &Action::ALL, |a| a.as_str())
            .map_err(|bad| declared_error(format!("undeclared action `{bad}`")))?;
        let resources = parse_resources(&decl.resources)
            .map_err(|bad| declared_error(format!("unknown resource kind `{bad}`")))?;
        if decl.kind == PluginKind::Check && !decl.provides.is_empty() {
            return Err(declared_error("a check provides no attributes".into()));
        }
        plugins.push(Arc::new(Plugin::load(
            dir,
            decl.clone(),
            actions,
            resources,
        )?));
    }
    Ok(plugins)
}

/// Parses declared resource kinds. `*` means a customer's record
/// (customer, area, document) and `office` the firm's own records, so that
/// a sector rule written for records never runs on the audit log or a
/// campaign, where there is no customer to look at.
fn parse_resources(names: &[String]) -> Result<BTreeSet<ResourceKind>, String> {
    let mut kinds = BTreeSet::new();
    for name in names {
        match name.as_str() {
            "*" => kinds.extend(ResourceKind::RECORD),
            "office" => kinds.extend(ResourceKind::OFFICE),
            _ => kinds.extend(parse_set(
                std::slice::from_ref(name),
                &ResourceKind::ALL,
                ResourceKind::as_str,
            )?),
        }
    }
    Ok(kinds)
}

/// Parses declared names against the known ones; `*` means all.
fn parse_set<T: Copy + Ord>(
    names: &[String],
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<BTreeSet<T>, String> {
    if names.iter().any(|n| n == "*") {
        return Ok(all.iter().copied().collect());
    }
    names
        .iter()
        .map(|n| {
            all.iter()
                .copied()
                .find(|x| name(*x) == n)
                .ok_or_else(|| n.clone())
        })
        .collect()
}

/// The linter: unknown helpers or properties, and comparisons with actions
/// the rule does not declare (which could never match).
fn check_source(
    engine: &Engine,
    file: &Path,
    source: &str,
    actions: &BTreeSet<Action>,
) -> Result<()> {
    let located = |needle: &str, message: String| Error::Input {
        path: file.to_owned(),
        line: source
            .find(needle)
            .map_or(1, |at| line_of(source.as_bytes(), at)),
        message,
    };
    if let Some(name) = script::unknown_names(engine, source).into_iter().next() {
        let needle = name.trim_start_matches('.').trim_end_matches("()");
        return Err(located(
            needle,
            format!("unknown helper or property `{name}`"),
        ));
    }
    for (at, _) in source.match_indices("action ==") {
        let rest = source[at + "action ==".len()..].trim_start();
        let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) else {
            continue;
        };
        let known = literal.parse::<Action>().ok();
        if !known.is_some_and(|a| actions.contains(&a)) {
            return Err(located(
                &format!("\"{literal}\""),
                format!(
                    "compares `action` with `{literal}`, which this rule does not declare in pack.toml"
                ),
            ));
        }
    }
    Ok(())
}

/// A script in `rules/` that `pack.toml` does not declare would silently
/// never run: refuse it.
fn check_undeclared_files(dir: &Path, manifest: &Manifest) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join("rules")) else {
        return Ok(());
    };
    let declared: BTreeSet<PathBuf> = manifest
        .rules
        .iter()
        .map(|r| {
            r.file
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("rules/{}.rhai", r.name)))
        })
        .collect();
    for entry in entries.flatten() {
        let relative = Path::new("rules").join(entry.file_name());
        if relative.extension().is_some_and(|e| e == "rhai") && !declared.contains(&relative) {
            return Err(Error::File {
                path: dir.join(&relative),
                message: "script is not declared in pack.toml, so it would never run".into(),
            });
        }
    }
    Ok(())
}
