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
    /// Records a document handed over outside a file (a web download),
    /// before it is handed over.
    pub async fn record_document_export(&self, export: &DocumentExport<'_>) -> Result<Receipt> {
        self.record_export_to(export, "handed over".into()).await
    }

    async fn record_export_to(
        &self,
        export: &DocumentExport<'_>,
        destination: String,
    ) -> Result<Receipt> {
        let mut event = AuditEvent::new(EventKind::Export, chrono::Utc::now());
        event.worker = export.worker.map(ToString::to_string);
        event.action = Some("export".into());
        event.channel = Some(export.channel.to_owned());
        event.detail = Some(format!("{} {destination}", export.what));
        Ok(self.audit().append(export.org, event).await?)
    }

    /// Records the export, then writes `bytes` to `path`. A document whose
    /// export cannot be recorded is not written.
    pub async fn write_document(
        &self,
        export: &DocumentExport<'_>,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Receipt> {
        let destination = format!("written to `{}`", path.display());
        let receipt = self.record_export_to(export, destination).await?;
        std::fs::write(path, bytes).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(receipt)
    }
}

/// The formats a data export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Csv => "csv",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = custodia_engine::Error;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "xlsx" => Ok(Self::Xlsx),
            "csv" => Ok(Self::Csv),
            _ => Err(custodia_engine::Error::InvalidValue {
                kind: "export format",
                value: s.to_owned(),
                reason: "expected xlsx or csv",
            }),
        }
    }
}

/// What a worker asks to take out.
#[derive(Debug, Clone)]
pub struct DataExport<'a> {
    pub org: &'a OrgSlug,
    pub reader: &'a crate::Reader,
    /// The customers; empty for every customer the worker may export.
    pub customers: &'a [custodia_engine::CustomerId],
    pub format: ExportFormat,
    /// Why (required: purpose limitation, GDPR art. 5(1)(b)).
    pub purpose: &'a str,
}

/// The rows of an export, as the worker may see them, and its watermark.
#[derive(Debug, Clone)]
pub struct ExportTable {
    pub watermark: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Custodia {
    /// Builds a data export: each customer's `export` decided (all must be
    /// allowed, or nothing goes out), then read through the rules so that
    /// only what the worker may see is in it, then recorded as one `export`
    /// event whose watermark the file carries. The caller writes the file.
    pub async fn export_data(
        &self,
        export: &DataExport<'_>,
        destination: &str,
    ) -> Result<ExportTable> {
        if export.purpose.trim().is_empty() {
            return Err(Error::Field {
                field: "purpose".into(),
                reason: "an export needs a purpose".into(),
            });
        }
        let scope = self.store().org(export.org).await?;
        let customers = if export.customers.is_empty() {
            scope.customers().await?.into_iter().map(|c| c.id).collect()
        } else {
            export.customers.to_vec()
        };
        let mut allowed = Vec::new();
        let mut denied = Vec::new();
        for id in &customers {
            let request = custodia_engine::rules::Request {
                worker: export.reader.worker.clone(),
                action: custodia_engine::rules::Action::Export,
                resource: custodia_engine::rules::ResourceRef::Customer(id.clone()),
                context: export.reader.context.clone(),
            };
            if self.decide(export.org, &request).await?.answer.is_allowed() {
                allowed.push(id.clone());
            } else {
                denied.push(id.to_string());
            }
        }
        // INVARIANT: an export naming a customer the worker may not export
        // writes nothing; an export of "everything" takes what is allowed.
        let refused = !export.customers.is_empty() && !denied.is_empty();
        if refused || allowed.is_empty() {
            return Err(Error::Denied {
                worker: export.reader.worker.to_string(),
                action: "export".into(),
                resource: if denied.is_empty() {
                    "any customer".into()
                } else {
                    denied.join(", ")
                },
                why: "the rules do not allow this export".into(),
            });
        }
        let mut table = ExportTable {
            watermark: String::new(),
            columns: Vec::new(),
            rows: Vec::new(),
        };
        let mut records = Vec::new();
        for id in &allowed {
            records.push(self.read_record(export.org, export.reader, id).await?);
        }
        table.columns = columns(&records);
        for record in &records {
            table.rows.push(row(&table.columns, record));
        }
        let at = chrono::Utc::now();
        let mut event = AuditEvent::new(EventKind::Export, at);
        event.worker = Some(export.reader.worker.to_string());
        event.action = Some("export".into());
        event.channel = Some(export.reader.context.channel.clone());
        event.detail = Some(format!(
            "{} customers as {} to {destination}; purpose: {}",
            allowed.len(),
            export.format.as_str(),
            export.purpose
        ));
        let receipt = self.audit().append(export.org, event).await?;
        table.watermark = format!(
            "Exported by {} from {} on {} for: {} (audit event {}); confidential, GDPR art. 32",
            export.reader.worker,
            export.org,
            at.format("%Y-%m-%d %H:%M UTC"),
            export.purpose,
            receipt.seq
        );
        Ok(table)
    }
}

/// Every column any record shows: record fields, then `area.field`.
fn columns(records: &[crate::RecordView]) -> Vec<String> {
    let mut columns = vec!["customer".to_owned()];
    let mut push = |name: String| {
        if !columns.contains(&name) {
            columns.push(name);
        }
    };
    for record in records {
        for field in &record.fields {
            push(field.name.clone());
        }
        for area in &record.areas {
            if let crate::AreaState::Open { fields, .. } = &area.state {
                for field in fields {
                    push(format!("{}.{}", area.name, field.name));
                }
                push(format!("{}.notes", area.name));
            }
        }
    }
    columns
}

/// One record's cells, in column order; hidden values say so, never what they are.
fn row(columns: &[String], record: &crate::RecordView) -> Vec<String> {
    let mut cells: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    cells.insert("customer".into(), record.customer.to_string());
    let cell = |shown: &crate::Shown| match shown {
        crate::Shown::Shown { value } => value.clone(),
        crate::Shown::Masked { .. } => "[masked]".into(),
        crate::Shown::Empty => String::new(),
    };
    for field in &record.fields {
        cells.insert(field.name.clone(), cell(&field.shown));
    }
    for area in &record.areas {
        if let crate::AreaState::Open { fields, notes } = &area.state {
            for field in fields {
                cells.insert(format!("{}.{}", area.name, field.name), cell(&field.shown));
            }
            cells.insert(format!("{}.notes", area.name), cell(notes));
        }
    }
    columns
        .iter()
        .map(|c| cells.remove(c).unwrap_or_default())
        .collect()
}

impl ExportTable {
    /// The export as CSV: the watermark as a first comment line.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut out = format!("# {}\n", self.watermark).into_bytes();
        let mut writer = csv::Writer::from_writer(&mut out);
        let failed = |e: csv::Error| Error::Field {
            field: "csv".into(),
            reason: e.to_string(),
        };
        writer.write_record(&self.columns).map_err(failed)?;
        for row in &self.rows {
            writer.write_record(row).map_err(failed)?;
        }
        writer.flush().map_err(|e| Error::Field {
            field: "csv".into(),
            reason: e.to_string(),
        })?;
        drop(writer);
        Ok(out)
    }

    /// The export as an xlsx workbook: the watermark in the first row, in
    /// every printed page's header and in the document properties.
    pub fn to_xlsx(&self) -> Result<Vec<u8>> {
        use rust_xlsxwriter::{DocProperties, Format, Workbook};
        let failed = |e: rust_xlsxwriter::XlsxError| Error::Field {
            field: "xlsx".into(),
            reason: e.to_string(),
        };
        let mut workbook = Workbook::new();
        workbook.set_properties(
            &DocProperties::new()
                .set_title("Custodia export")
                .set_comment(&self.watermark)
                .set_keywords("confidential"),
        );
        let sheet = workbook.add_worksheet();
        sheet.set_name("export").map_err(failed)?;
        sheet.set_header(format!("&C{}", self.watermark.replace('&', "&&")));
        let bold = Format::new().set_bold();
        sheet
            .write_string_with_format(0, 0, &self.watermark, &bold)
            .map_err(failed)?;
        for (c, name) in self.columns.iter().enumerate() {
            let col = u16::try_from(c).map_err(|_| Error::Field {
                field: "xlsx".into(),
                reason: "too many columns".into(),
            })?;
            sheet
                .write_string_with_format(1, col, name, &bold)
                .map_err(failed)?;
            for (r, row) in self.rows.iter().enumerate() {
                let line = u32::try_from(r + 2).map_err(|_| Error::Field {
                    field: "xlsx".into(),
                    reason: "too many rows".into(),
                })?;
                sheet.write_string(line, col, &row[c]).map_err(failed)?;
            }
        }
        workbook.save_to_buffer().map_err(failed)
    }
}
