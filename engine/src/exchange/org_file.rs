//! The organisation file: one TOML document holding an organisation and
//! everything it owns, as `custodia import` reads and `export` writes it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::ImportSummary;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::source::line_of;

/// The file format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// An organisation and everything it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFile {
    pub format: u32,
    pub organisation: Organisation,
    #[serde(default)]
    pub workers: Vec<Worker>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub registers: Registers,
}

/// The ids of a file and where they are, read in a second, lenient pass
/// only to point errors at a line.
#[derive(Deserialize, Default)]
struct Located {
    #[serde(default)]
    workers: Vec<LocatedEntry>,
    #[serde(default)]
    customers: Vec<LocatedEntry>,
    #[serde(default)]
    documents: Vec<LocatedEntry>,
}

#[derive(Deserialize)]
struct LocatedEntry {
    #[serde(alias = "login")]
    id: Spanned<String>,
}

/// A problem found while checking a parsed file: which section, which
/// entry (by index), and what is wrong.
struct Problem {
    section: &'static str,
    index: usize,
    message: String,
}

impl OrgFile {
    /// Parses and checks a file's text. Every error names the line.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: OrgFile = crate::source::parse_toml(path, text)?;
        if let Err(problem) = file.check() {
            let located: Located = toml::from_str(text).unwrap_or_default();
            let entries = match problem.section {
                "workers" => &located.workers,
                "customers" => &located.customers,
                _ => &located.documents,
            };
            let line = entries
                .get(problem.index)
                .map_or(1, |e| line_of(text.as_bytes(), e.id.span().start));
            return Err(Error::Input {
                path: path.to_owned(),
                line,
                message: problem.message,
            });
        }
        Ok(file)
    }

    /// Reads, parses and checks a file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = super::read_text(path)?;
        Self::parse(path, &text)
    }

    /// The file as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::corrupt(format!("cannot write TOML: {e}")))
    }

    /// Sorts every list into its canonical order (by id), the order
    /// `export` writes, so that equal data gives equal files.
    pub fn normalise(&mut self) {
        self.workers.sort_by(|a, b| a.login.cmp(&b.login));
        self.customers.sort_by(|a, b| a.id.cmp(&b.id));
        for c in &mut self.customers {
            c.assigned.sort();
        }
        self.documents.sort_by(|a, b| a.id.cmp(&b.id));
        self.registers.sort();
    }

    /// Counts of what the file holds.
    pub fn summary(&self) -> ImportSummary {
        let r = &self.registers;
        ImportSummary {
            organisation: self.organisation.slug.to_string(),
            workers: self.workers.len(),
            customers: self.customers.len(),
            documents: self.documents.len(),
            register_entries: r.len(),
        }
    }

    /// Cross-entry checks serde cannot do: unique ids, references that
    /// resolve. The first problem found is reported.
    fn check(&self) -> Result<(), Problem> {
        let problem = |section, index, message| Problem {
            section,
            index,
            message,
        };
        if self.format != FORMAT_VERSION {
            return Err(problem(
                "workers",
                usize::MAX,
                format!(
                    "unsupported format `{}`: this build reads format {FORMAT_VERSION}",
                    self.format
                ),
            ));
        }
        let logins = unique(self.workers.iter().map(|w| w.login.as_str()))
            .map_err(|(i, id)| problem("workers", i, format!("duplicate worker login `{id}`")))?;
        unique(self.customers.iter().map(|c| c.id.as_str()))
            .map_err(|(i, id)| problem("customers", i, format!("duplicate customer id `{id}`")))?;
        unique(self.documents.iter().map(|d| d.id.as_str()))
            .map_err(|(i, id)| problem("documents", i, format!("duplicate document id `{id}`")))?;

        let mut areas: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (i, c) in self.customers.iter().enumerate() {
            let names = unique(c.areas.iter().map(|a| a.name.as_str())).map_err(|(_, name)| {
                problem(
                    "customers",
                    i,
                    format!("customer `{}` has area `{name}` twice", c.id),
                )
            })?;
            areas.insert(c.id.as_str(), names);
            if let Some(w) = c.assigned.iter().find(|w| !logins.contains(w.as_str())) {
                return Err(problem(
                    "customers",
                    i,
                    format!("customer `{}` is assigned to unknown worker `{w}`", c.id),
                ));
            }
        }
        for (i, d) in self.documents.iter().enumerate() {
            let Some(customer_areas) = areas.get(d.customer.as_str()) else {
                return Err(problem(
                    "documents",
                    i,
                    format!(
                        "document `{}` belongs to unknown customer `{}`",
                        d.id, d.customer
                    ),
                ));
            };
            if !customer_areas.contains(d.area.as_str()) {
                return Err(problem(
                    "documents",
                    i,
                    format!(
                        "document `{}` is in area `{}`, which customer `{}` does not have",
                        d.id, d.area, d.customer
                    ),
                ));
            }
        }
        self.check_registers(&logins)
    }

    fn check_registers(&self, logins: &BTreeSet<&str>) -> Result<(), Problem> {
        let r = &self.registers;
        let mut seen = BTreeSet::new();
        for entry in r.entries() {
            let (kind, id) = (entry.kind(), entry.id());
            let problem = |message: String| Problem {
                section: "registers",
                index: usize::MAX,
                message,
            };
            if !seen.insert((kind.as_str(), id.to_string())) {
                return Err(problem(format!("duplicate {} id `{id}`", kind.noun())));
            }
            if let Some(w) = entry
                .workers()
                .into_iter()
                .find(|w| !logins.contains(w.as_str()))
            {
                return Err(problem(format!(
                    "{} `{id}` names unknown worker `{w}`",
                    kind.noun()
                )));
            }
        }
        Ok(())
    }
}

/// The set of ids, or the index and value of the first repeated one.
fn unique<'a>(ids: impl Iterator<Item = &'a str>) -> Result<BTreeSet<&'a str>, (usize, &'a str)> {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            return Err((i, id));
        }
    }
    Ok(seen)
}
