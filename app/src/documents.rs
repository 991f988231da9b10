//! Documents Custodia holds: imported from a folder by a mapping of path
//! patterns, sealed into the blob store, and given back only through a
//! `download` decision, audited. A worker who may not see a document
//! never learns where it came from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use custodia_engine::audit::{AuditEvent, EventKind, Receipt};
use custodia_engine::rules::{Action, ResourceRef};
use custodia_engine::{
    CustomerId, Document, DocumentId, DocumentType, Location, LocationKind, OrgSlug,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Custodia;
use crate::error::{Error, Result};
use crate::record::Reader;

/// `MAPPING.toml`: which files are which documents of which customer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Files to leave out (`*.tmp`), matched against the file name.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Tried in order; the first whose pattern matches a file decides it.
    pub rules: Vec<MappingRule>,
}

/// One rule: a path pattern relative to the folder, with `{customer}`
/// (a customer id), `{title}` and `*` inside segments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRule {
    pub pattern: String,
    #[serde(rename = "type")]
    pub doc_type: DocumentType,
    pub area: custodia_engine::AreaName,
}

impl Mapping {
    /// Reads a mapping file; errors name its line.
    pub fn read(path: &Path) -> Result<Self> {
        let text = custodia_engine::exchange::read_text(path)?;
        Ok(custodia_engine::source::parse_toml(path, &text)?)
    }

    /// The rule and captures for a relative path, if any rule matches.
    fn decide(&self, relative: &str) -> Option<(&MappingRule, BTreeMap<String, String>)> {
        self.rules
            .iter()
            .find_map(|rule| capture(&rule.pattern, relative).map(|c| (rule, c)))
    }

    fn ignores(&self, name: &str) -> bool {
        self.ignore.iter().any(|p| capture(p, name).is_some())
    }
}

/// Matches `path` against `pattern` segment by segment; returns the
/// captures of `{name}` placeholders.
fn capture(pattern: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    if pattern.len() != path.len() {
        return None;
    }
    let mut captures = BTreeMap::new();
    for (p, s) in pattern.iter().zip(&path) {
        if !segment(p, s, &mut captures) {
            return None;
        }
    }
    Some(captures)
}

/// One segment: literals, `*` (anything) and `{name}` (anything, kept). A
/// placeholder takes the shortest text that lets the rest match, so put
/// `{customer}` in a folder of its own or before a character ids never hold.
fn segment(pattern: &str, text: &str, captures: &mut BTreeMap<String, String>) -> bool {
    if pattern.is_empty() {
        return text.is_empty();
    }
    let (name, rest) = if let Some(rest) = pattern.strip_prefix('*') {
        (None, rest)
    } else if let Some(open) = pattern.strip_prefix('{') {
        let Some((name, rest)) = open.split_once('}') else {
            return false;
        };
        (Some(name), rest)
    } else {
        let literal_end = pattern.find(['*', '{']).unwrap_or(pattern.len());
        let literal = &pattern[..literal_end];
        return text
            .strip_prefix(literal)
            .is_some_and(|t| segment(&pattern[literal_end..], t, captures));
    };
    // Try the shortest capture first that lets the rest match.
    for end in (1..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let mut attempt = captures.clone();
        if let Some(name) = name {
            attempt.insert(name.to_owned(), text[..end].to_owned());
        }
        if segment(rest, &text[end..], &mut attempt) {
            *captures = attempt;
            return true;
        }
    }
    false
}

/// Every file under `root`, as sorted relative paths with `/`.
fn files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| custodia_engine::Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| custodia_engine::Error::Io {
                path: dir.clone(),
                source: e,
            })?;
            let path = entry.path();
            // The entry's own type: a symbolic link to a folder is not
            // followed, so a link loop cannot make the walk endless.
            let kind = entry.file_type().map_err(|e| custodia_engine::Error::Io {
                path: path.clone(),
                source: e,
            })?;
            if kind.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                let relative = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((relative, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A stable id for an imported file: the customer and a hash of its path.
fn document_id(customer: &CustomerId, relative: &str) -> Result<DocumentId> {
    let hash = hex::encode(&Sha256::digest(relative.as_bytes())[..5]);
    Ok(DocumentId::new(format!("D-{customer}-{hash}"))?)
}

/// What a document import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DocumentImport {
    pub documents: usize,
    pub bytes: u64,
    pub ignored: usize,
}

impl Custodia {
    /// Imports every file under `folder` as the mapping says: all checked
    /// first (each error names the file), then sealed and indexed in one
    /// transaction with one audit event. Nothing is half-imported.
    pub async fn import_documents(
        &self,
        org: &OrgSlug,
        folder: &Path,
        mapping: &Mapping,
    ) -> Result<DocumentImport> {
        let scope = self.store().org(org).await?;
        let customers: BTreeMap<CustomerId, custodia_engine::Customer> = scope
            .customers()
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let existing: BTreeSet<DocumentId> =
            scope.documents().await?.into_iter().map(|d| d.id).collect();
        let types = self.rules().document_types(&scope.organisation().sectors);
        let mut ignored = 0;
        let mut documents = Vec::new();
        for (relative, path) in files(folder)? {
            let name = relative.rsplit('/').next().unwrap_or(&relative);
            if mapping.ignores(name) {
                ignored += 1;
                continue;
            }
            let bad = |reason: String| Error::Field {
                field: format!("`{}`", path.display()),
                reason,
            };
            let (rule, captures) = mapping.decide(&relative).ok_or_else(|| {
                bad("matches no rule of the mapping (add a rule or an ignore pattern)".into())
            })?;
            let customer_text = captures
                .get("customer")
                .ok_or_else(|| bad(format!("rule `{}` names no {{customer}}", rule.pattern)))?;
            let customer: CustomerId = customer_text
                .parse()
                .map_err(|e: custodia_engine::Error| bad(e.to_string()))?;
            let record = customers
                .get(&customer)
                .ok_or_else(|| bad(format!("customer `{customer}` does not exist in `{org}`")))?;
            if record.area(&rule.area).is_none() {
                return Err(bad(format!(
                    "customer `{customer}` has no area `{}`",
                    rule.area
                )));
            }
            if !types.contains(rule.doc_type.as_str()) {
                return Err(bad(format!(
                    "document type `{}` is not declared by the packs (declared: {})",
                    rule.doc_type,
                    types.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let id = document_id(&customer, &relative)?;
            if existing.contains(&id) {
                return Err(bad(format!("already imported as document `{id}`")));
            }
            let bytes = std::fs::read(&path).map_err(|source| custodia_engine::Error::Io {
                path: path.clone(),
                source,
            })?;
            let title = captures.get("title").cloned().unwrap_or_else(|| {
                name.rsplit_once('.')
                    .map_or(name, |(stem, _)| stem)
                    .to_owned()
            });
            let document = Document {
                id,
                customer,
                area: rule.area.clone(),
                doc_type: rule.doc_type.clone(),
                title,
                location: Location {
                    kind: LocationKind::Local,
                    path: path.display().to_string(),
                },
                held: None,
            };
            documents.push((document, bytes));
        }
        let bytes = documents.iter().map(|(_, b)| b.len() as u64).sum();
        let mut event = AuditEvent::new(EventKind::Import, chrono::Utc::now());
        event.detail = Some(format!(
            "documents from `{}`: {} files, {bytes} bytes, {ignored} ignored",
            folder.display(),
            documents.len()
        ));
        let blobs = self.config().blob_store()?;
        let count = scope.import_documents(&documents, &blobs, event).await?;
        Ok(DocumentImport {
            documents: count,
            bytes,
            ignored,
        })
    }

    /// Gives a document's bytes to a worker the rules allow to download it:
    /// decided (audited), then a `download` event naming the destination,
    /// then the bytes. Denied, it is an error that shows no path.
    pub async fn download(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        id: &DocumentId,
        destination: &str,
    ) -> Result<(Document, zeroize::Zeroizing<Vec<u8>>, Receipt)> {
        let request = custodia_engine::rules::Request {
            worker: reader.worker.clone(),
            action: Action::Download,
            resource: ResourceRef::Document(id.clone()),
            context: reader.context.clone(),
        };
        let (_, facts) = self.require_with_facts(org, &request).await?;
        let document = facts
            .document
            .ok_or_else(|| custodia_engine::Error::NotFound {
                org: org.to_string(),
                kind: "document",
                id: id.to_string(),
            })?;
        let scope = self.store().org(org).await?;
        let bytes = scope
            .document_bytes(&document, &self.config().blob_store()?)
            .await?;
        let mut event = AuditEvent::new(EventKind::Download, chrono::Utc::now());
        event.worker = Some(reader.worker.to_string());
        event.action = Some(Action::Download.to_string());
        event.resource = Some(request.resource.to_string());
        event.customer = Some(document.customer.to_string());
        event.area = Some(document.area.to_string());
        event.document = Some(id.to_string());
        event.channel = Some(reader.context.channel.clone());
        event.detail = Some(format!(
            "{} bytes (sha256 {}) to {destination}",
            bytes.len(),
            hex::encode(Sha256::digest(bytes.as_slice()))
        ));
        let receipt = self.audit().append(org, event).await?;
        Ok((document, bytes, receipt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_customers_and_titles() {
        let c = capture(
            "{customer}/contratos/{title}.pdf",
            "C-1001/contratos/arras 2026.pdf",
        )
        .expect("match");
        assert_eq!(c.get("customer").map(String::as_str), Some("C-1001"));
        assert_eq!(c.get("title").map(String::as_str), Some("arras 2026"));
        assert!(capture("{customer}/contratos/{title}.pdf", "C-1001/facturas/x.pdf").is_none());
        assert!(
            capture("{customer}/*.pdf", "C-1001/a/b.pdf").is_none(),
            "one segment each"
        );
        assert!(capture("*.tmp", "notes.tmp").is_some());
        assert!(capture("*.tmp", "notes.txt").is_none());
        let c = capture("exp-{customer}-{title}.txt", "exp-C-1002-demanda.txt").expect("match");
        assert_eq!(
            c.get("customer").map(String::as_str),
            Some("C"),
            "shortest first"
        );
    }
}
