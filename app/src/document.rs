//! Documents that take personal data out of Custodia (the dossier, audit
//! summaries, breach reports): recorded as exports before they exist.

use std::path::Path;

use custodia_engine::audit::{AuditEvent, EventKind, Receipt};
use custodia_engine::{OrgSlug, WorkerLogin};

use crate::Custodia;
use crate::error::{Error, Result};

/// One document about to leave Custodia.
#[derive(Debug, Clone)]
pub struct DocumentExport<'a> {
    pub org: &'a OrgSlug,
    /// Who asked for it, when known (the CLI runs as the operator).
    pub worker: Option<&'a WorkerLogin>,
    /// What it is, e.g. "dossier report (pdf, es)".
    pub what: String,
    pub channel: &'a str,
}

impl Custodia {
    /// Records the export, then writes `bytes` to `path`. A document whose
    /// export cannot be recorded is not written.
    pub async fn write_document(
        &self,
        export: &DocumentExport<'_>,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Receipt> {
        let mut event = AuditEvent::new(EventKind::Export, chrono::Utc::now());
        event.worker = export.worker.map(ToString::to_string);
        event.action = Some("export".into());
        event.channel = Some(export.channel.to_owned());
        event.detail = Some(format!("{} written to `{}`", export.what, path.display()));
        let receipt = self.audit().append(export.org, event).await?;
        std::fs::write(path, bytes).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(receipt)
    }
}
