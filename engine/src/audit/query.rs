//! Reading the audit log: filtered queries and breach scoping.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::chain::{EVENT_FIELDS, event_from_row};
use super::event::{ChainedEvent, micros};
use super::lookup::{self, Lookup};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::rules::Effect;
use crate::store::{Backend, Store};

/// Filters for `audit query`; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub worker: Option<String>,
    pub customer: Option<String>,
    pub action: Option<String>,
    pub decision: Option<Effect>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
}

/// The rows a query reads (`audit_events`, or on SQLite those a lookup
/// table names) and a WHERE clause on them with numbered placeholders,
/// for both backends.
struct Filter {
    backend: Backend,
    /// The lookup the rows are read through, and its value's placeholder.
    lookup: Option<(Lookup, usize)>,
    clauses: Vec<String>,
    /// The clauses on `at`, which also narrow a lookup's entries.
    window: Vec<String>,
    text: Vec<String>,
    numbers: Vec<i64>,
}

impl Filter {
    fn new(org: &OrgSlug, backend: Backend) -> Self {
        Self {
            backend,
            lookup: None,
            clauses: vec!["org = $1".into()],
            window: Vec::new(),
            text: vec![org.to_string()],
            numbers: Vec::new(),
        }
    }

    fn placeholder(&self) -> usize {
        self.text.len() + self.numbers.len() + 1
    }

    // Text parameters are bound before numbers; placeholders are numbered
    // in that order, so text must be added before any number.
    fn text(&mut self, column: &str, value: Option<&str>) {
        if let Some(v) = value {
            debug_assert!(self.numbers.is_empty(), "text filters come first");
            self.clauses
                .push(format!("{column} = ${}", self.placeholder()));
            self.text.push(v.to_owned());
        }
    }

    /// `column = $k` on a looked-up column; on SQLite the rows are read
    /// through the first such lookup's entries ([`lookup::source`]).
    fn lookup(&mut self, lookup: Lookup, value: Option<&str>) {
        if value.is_some() && self.lookup.is_none() && lookup::kept_apart(self.backend) {
            self.lookup = Some((lookup, self.placeholder()));
        }
        self.text(lookup.column(), value);
    }

    fn time(&mut self, op: &str, value: Option<DateTime<Utc>>) {
        if let Some(v) = value {
            let clause = format!("at {op} ${}", self.placeholder());
            self.clauses.push(clause.clone());
            self.window.push(clause);
            self.numbers.push(micros(v));
        }
    }

    /// `FROM … WHERE …`.
    fn sql(&self) -> String {
        let from = match self.lookup {
            Some((lookup, value)) => lookup::source(lookup, value, &self.window),
            None => "audit_events".into(),
        };
        format!("FROM {from} WHERE {}", self.clauses.join(" AND "))
    }

    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for t in &self.text {
            q = q.bind(t.as_str());
        }
        for n in &self.numbers {
            q = q.bind(*n);
        }
        q
    }
}

/// One customer whose data a breach window touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TouchedCustomer {
    pub customer: String,
    pub actions: BTreeSet<String>,
    pub areas: BTreeSet<String>,
    pub documents: BTreeSet<String>,
    pub first_access: DateTime<Utc>,
    pub last_access: DateTime<Utc>,
    pub accesses: i64,
    /// Whether data left Custodia (export, download or print).
    pub exfiltrated: bool,
}

/// Who and what a breach window touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreachScope {
    pub org: String,
    pub worker: Option<String>,
    pub customer: Option<String>,
    pub address: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub customers: Vec<TouchedCustomer>,
    pub allowed_accesses: i64,
    pub denied_attempts: i64,
}

/// Filters for breach scoping: a window and at least one of worker,
/// customer, address.
#[derive(Debug, Clone)]
pub struct BreachQuery {
    pub worker: Option<String>,
    pub customer: Option<String>,
    pub address: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn time(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| Error::corrupt(format!("audit time {micros}")))
}

impl Store {
    /// Events matching `q`, oldest first.
    pub async fn query_audit(&self, org: &OrgSlug, q: &AuditQuery) -> Result<Vec<ChainedEvent>> {
        let mut f = Filter::new(org, self.backend());
        f.lookup(Lookup::Customer, q.customer.as_deref());
        f.lookup(Lookup::Worker, q.worker.as_deref());
        f.text("action", q.action.as_deref());
        f.text("decision", q.decision.map(Effect::as_str));
        f.time(">=", q.from);
        f.time("<", q.to);
        let limit = q
            .limit
            .map(|l| format!(" LIMIT {}", l.max(0)))
            .unwrap_or_default();
        let sql = format!("SELECT {EVENT_FIELDS} {} ORDER BY seq{limit}", f.sql());
        let rows = f.bind(sqlx::query(&sql)).fetch_all(self.pool()).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The customers whose data was touched in a window, with how.
    pub async fn breach_scope(&self, org: &OrgSlug, q: &BreachQuery) -> Result<BreachScope> {
        if q.worker.is_none() && q.customer.is_none() && q.address.is_none() {
            return Err(Error::InvalidValue {
                kind: "breach query",
                value: String::new(),
                reason: "needs --worker, --customer or --address",
            });
        }
        let mut f = Filter::new(org, self.backend());
        f.lookup(Lookup::Customer, q.customer.as_deref());
        f.lookup(Lookup::Worker, q.worker.as_deref());
        f.text("address", q.address.as_deref());
        f.time(">=", Some(q.from));
        f.time("<", Some(q.to));
        let sql = format!(
            "SELECT customer, action, area, document, decision, MIN(at) AS first, MAX(at) AS last, COUNT(*) AS n
             {} AND customer IS NOT NULL
             GROUP BY customer, action, area, document, decision",
            f.sql()
        );
        let rows = f.bind(sqlx::query(&sql)).fetch_all(self.pool()).await?;
        let mut touched: BTreeMap<String, TouchedCustomer> = BTreeMap::new();
        let (mut allowed, mut denied) = (0, 0);
        for row in rows {
            let n: i64 = row.try_get("n")?;
            if row.try_get::<Option<String>, _>("decision")?.as_deref() != Some("allow") {
                denied += n;
                continue;
            }
            allowed += n;
            let customer: String = row.try_get("customer")?;
            let (first, last) = (time(row.try_get("first")?)?, time(row.try_get("last")?)?);
            let entry = touched
                .entry(customer.clone())
                .or_insert_with(|| TouchedCustomer {
                    customer,
                    actions: BTreeSet::new(),
                    areas: BTreeSet::new(),
                    documents: BTreeSet::new(),
                    first_access: first,
                    last_access: last,
                    accesses: 0,
                    exfiltrated: false,
                });
            let action: Option<String> = row.try_get("action")?;
            entry.exfiltrated |= matches!(action.as_deref(), Some("export" | "download" | "print"));
            entry.actions.extend(action);
            entry
                .areas
                .extend(row.try_get::<Option<String>, _>("area")?);
            entry
                .documents
                .extend(row.try_get::<Option<String>, _>("document")?);
            entry.first_access = entry.first_access.min(first);
            entry.last_access = entry.last_access.max(last);
            entry.accesses += n;
        }
        Ok(BreachScope {
            org: org.to_string(),
            worker: q.worker.clone(),
            customer: q.customer.clone(),
            address: q.address.clone(),
            from: q.from,
            to: q.to,
            customers: touched.into_values().collect(),
            allowed_accesses: allowed,
            denied_attempts: denied,
        })
    }
}
