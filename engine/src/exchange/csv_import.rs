//! CSV import of customers and workers. Lists inside a cell are separated
//! by `;`. Unknown columns are refused so that a typo never drops data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::domain::*;
use crate::error::{Error, Result};

/// Which kind of rows a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Customers,
    Workers,
}

const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "name",
    "tax_id",
    "email",
    "phone",
    "address",
    "privacy",
    "assigned",
    "existing_customer",
    "consent_source",
    "consent_date",
    "opt_out_date",
    "opt_out_channel",
    "opt_out_offered_date",
    "opt_out_offered_channel",
    "areas",
];
const WORKER_COLUMNS: &[&str] = &[
    "login",
    "name",
    "level",
    "departments",
    "roles",
    "specialties",
    "email",
];

/// One CSV record with its header, giving located errors.
struct Record<'a> {
    path: &'a Path,
    line: usize,
    headers: &'a csv::StringRecord,
    record: csv::StringRecord,
}

impl Record<'_> {
    fn error(&self, message: String) -> Error {
        Error::Input {
            path: self.path.to_owned(),
            line: self.line,
            message,
        }
    }

    /// A cell, trimmed; empty cells count as absent.
    fn get(&self, column: &str) -> Option<&str> {
        let i = self.headers.iter().position(|h| h == column)?;
        self.record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }

    fn required(&self, column: &str) -> Result<&str> {
        self.get(column)
            .ok_or_else(|| self.error(format!("field `{column}` is required")))
    }

    fn parsed<T: std::str::FromStr>(&self, column: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.get(column)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| self.error(format!("field `{column}`: cannot read `{v}`: {e}")))
            })
            .transpose()
    }

    fn list<T: std::str::FromStr>(&self, column: &str) -> Result<Vec<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.get(column).map_or(Ok(Vec::new()), |cell| {
            cell.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|e| {
                        self.error(format!("field `{column}`: cannot read `{s}`: {e}"))
                    })
                })
                .collect()
        })
    }

    /// A text column and a date column that are given together or not at
    /// all (a consent and its date, an opt-out and its channel...).
    fn dated(&self, text: &str, date: &str) -> Result<Option<(String, chrono::NaiveDate)>> {
        match (self.get(text), self.parsed(date)?) {
            (Some(text), Some(date)) => Ok(Some((text.to_owned(), date))),
            (None, None) => Ok(None),
            _ => Err(self.error(format!("fields `{text}` and `{date}` go together"))),
        }
    }

    fn flag(&self, column: &str, default: bool) -> Result<bool> {
        match self.get(column) {
            None => Ok(default),
            Some("yes" | "true" | "1" | "si" | "sí") => Ok(true),
            Some("no" | "false" | "0") => Ok(false),
            Some(other) => Err(self.error(format!(
                "field `{column}`: expected yes or no, got `{other}`"
            ))),
        }
    }
}

/// Reads every record, checking the header first. `f` turns a record into
/// a row; the first error stops the import.
fn read_records<T>(
    path: &Path,
    text: &str,
    allowed: &[&str],
    mut f: impl FnMut(&Record<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e
            .position()
            .map_or(1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        Error::Input {
            path: path.to_owned(),
            line,
            message: format!("malformed CSV: {}", e.kind_message()),
        }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let header_error = |message| Error::Input {
        path: path.to_owned(),
        line: 1,
        message,
    };
    if let Some(unknown) = headers.iter().find(|h| !allowed.contains(h)) {
        return Err(header_error(format!(
            "unknown column `{unknown}` (expected some of: {})",
            allowed.join(", ")
        )));
    }
    if let Some(dup) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| headers.iter().take(*i).any(|x| x == *h))
    {
        return Err(header_error(format!("column `{}` appears twice", dup.1)));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record
            .position()
            .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        rows.push(f(&Record {
            path,
            line,
            headers: &headers,
            record,
        })?);
    }
    Ok(rows)
}

trait KindMessage {
    fn kind_message(&self) -> String;
}

impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("expected {expected_len} fields, found {len}")
            }
            csv::ErrorKind::Utf8 { err, .. } => {
                format!("field {} is not valid UTF-8", err.field() + 1)
            }
            _ => self.to_string(),
        }
    }
}

/// Parses a customers CSV. `workers` are the logins that exist, `existing`
/// the customer ids already in the store (an import never overwrites).
pub fn parse_customers_csv(
    path: &Path,
    text: &str,
    workers: &BTreeSet<WorkerLogin>,
    existing: &BTreeSet<CustomerId>,
) -> Result<Vec<Customer>> {
    let mut seen = BTreeSet::new();
    read_records(path, text, CUSTOMER_COLUMNS, |r| {
        let id: CustomerId = r
            .required("id")?
            .parse()
            .map_err(|e| r.error(format!("field `id`: {e}")))?;
        if existing.contains(&id) {
            return Err(r.error(format!("customer `{id}` already exists in the store")));
        }
        if !seen.insert(id.clone()) {
            return Err(r.error(format!("duplicate customer id `{id}`")));
        }
        let assigned: Vec<WorkerLogin> = r.list("assigned")?;
        if let Some(unknown) = assigned.iter().find(|w| !workers.contains(*w)) {
            return Err(r.error(format!("field `assigned`: unknown worker `{unknown}`")));
        }
        let consent = r
            .dated("consent_source", "consent_date")?
            .map(|(source, date)| Consent { source, date });
        let opt_out = r
            .dated("opt_out_channel", "opt_out_date")?
            .map(|(channel, date)| OptOut { date, channel });
        let opt_out_offered = r
            .dated("opt_out_offered_channel", "opt_out_offered_date")?
            .map(|(channel, date)| OptOutOffer { date, channel });
        let areas = r
            .list::<AreaName>("areas")?
            .into_iter()
            .map(|name| Area {
                name,
                privacy: PrivacyLevel::Medium,
                password_hash: None,
                content: None,
            })
            .collect();
        Ok(Customer {
            id,
            name: r.required("name")?.to_owned(),
            tax_id: r.get("tax_id").map(str::to_owned),
            email: r.get("email").map(str::to_owned),
            phone: r.get("phone").map(str::to_owned),
            address: r.get("address").map(str::to_owned),
            privacy: r.parsed("privacy")?.unwrap_or_default(),
            assigned,
            // INVARIANT: an existing customer only when the file says so
            // (LSSI-CE art. 21.2 is an exception, never a default).
            existing_customer: r.flag("existing_customer", false)?,
            communications: Communications {
                consent,
                opt_out,
                opt_out_offered,
            },
            attributes: BTreeMap::new(),
            areas,
            restriction: None,
        })
    })
}

/// Parses a workers CSV. `existing` are the logins already in the store.
/// Passwords are never imported from CSV: set them with `custodia passwd`.
pub fn parse_workers_csv(
    path: &Path,
    text: &str,
    existing: &BTreeSet<WorkerLogin>,
) -> Result<Vec<Worker>> {
    let mut seen = BTreeSet::new();
    read_records(path, text, WORKER_COLUMNS, |r| {
        let login: WorkerLogin = r
            .required("login")?
            .parse()
            .map_err(|e| r.error(format!("field `login`: {e}")))?;
        if existing.contains(&login) {
            return Err(r.error(format!("worker `{login}` already exists in the store")));
        }
        if !seen.insert(login.clone()) {
            return Err(r.error(format!("duplicate worker login `{login}`")));
        }
        let level: u8 = r
            .parsed("level")?
            .ok_or_else(|| r.error("field `level` is required".into()))?;
        let level = Level::try_from(level).map_err(|e| r.error(format!("field `level`: {e}")))?;
        Ok(Worker {
            login,
            name: r.required("name")?.to_owned(),
            level,
            departments: r.list("departments")?,
            roles: r.list("roles")?,
            specialties: r.list("specialties")?,
            grants: Vec::new(),
            email: r.get("email").map(str::to_owned),
            password_hash: None,
            active: true,
        })
    })
}
