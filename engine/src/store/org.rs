//! One organisation's view of the store.

use std::collections::HashMap;

use super::Store;
use super::query::Bind;
use super::rows::*;
use crate::audit::{AuditEvent, Change, EventKind};
use crate::domain::*;
use crate::error::{Error, Result};

/// Everything of one organisation. Every query binds its slug.
// INVARIANT: no method of `OrgStore` runs a query without `org = $1`
// bound to `self.org.slug`; this is what keeps firms apart.
#[derive(Debug, Clone)]
pub struct OrgStore {
    pub(super) store: Store,
    org: Organisation,
}

impl OrgStore {
    pub(super) fn new(store: Store, org: Organisation) -> Self {
        Self { store, org }
    }

    /// The organisation itself.
    pub fn organisation(&self) -> &Organisation {
        &self.org
    }

    /// The organisation's slug.
    pub fn slug(&self) -> &OrgSlug {
        &self.org.slug
    }

    /// The store this view reads from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn not_found(&self, kind: &'static str, id: &str) -> Error {
        Error::NotFound {
            org: self.org.slug.to_string(),
            kind,
            id: id.to_owned(),
        }
    }

    /// All workers, by login.
    pub async fn workers(&self) -> Result<Vec<Worker>> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE org = $1 ORDER BY login");
        let binds = [Bind::Text(self.org.slug.as_str())];
        self.store.fetch(&sql, &binds, worker_from_row).await
    }

    /// One worker.
    pub async fn worker(&self, login: &WorkerLogin) -> Result<Worker> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE org = $1 AND login = $2");
        let binds = [
            Bind::Text(self.org.slug.as_str()),
            Bind::Text(login.as_str()),
        ];
        self.store
            .fetch_optional(&sql, &binds, worker_from_row)
            .await?
            .ok_or_else(|| self.not_found("worker", login.as_str()))
    }

    /// All customers with their areas and assignments, by id.
    pub async fn customers(&self) -> Result<Vec<Customer>> {
        self.load_customers(&Selection::All).await
    }

    /// One customer with areas and assignments.
    pub async fn customer(&self, id: &CustomerId) -> Result<Customer> {
        self.load_customers(&Selection::One(id))
            .await?
            .pop()
            .ok_or_else(|| self.not_found("customer", id.as_str()))
    }

    /// The next candidates of a listing, by id: what a worker *might* see,
    /// before the rules decide. The query only narrows (search text, the
    /// indexed assignment pre-filter); it never decides anything.
    pub async fn customer_candidates(&self, query: &CandidateQuery<'_>) -> Result<Vec<Customer>> {
        self.load_customers(&Selection::Page(query)).await
    }

    async fn load_customers(&self, selection: &Selection<'_>) -> Result<Vec<Customer>> {
        let slug = self.org.slug.as_str();
        let (ids, values) = match selection {
            // A page's ids first, once: the three reads below then look
            // them up by key instead of each re-running the search and the
            // pre-filter.
            Selection::Page(_) => {
                let (sql, values) = selection.ids();
                let found = self
                    .store
                    .fetch(&sql, &binds(slug, &values), |row| row.text("id"))
                    .await?;
                if found.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> =
                    (2..found.len() + 2).map(|n| format!("${n}")).collect();
                (placeholders.join(", "), found)
            }
            _ => selection.ids(),
        };
        let binds = binds(slug, &values);

        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE org = $1 AND id IN ({ids}) ORDER BY id"
        );
        let mut customers = self.store.fetch(&sql, &binds, customer_from_row).await?;
        let index: HashMap<CustomerId, usize> = customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let place = |customer: &CustomerId, what: &str| {
            index
                .get(customer)
                .copied()
                .ok_or_else(|| Error::corrupt(format!("{what} of unknown customer `{customer}`")))
        };

        let sql = format!(
            "SELECT customer, name, privacy, password_hash FROM areas WHERE org = $1 AND customer IN ({ids}) ORDER BY customer, position"
        );
        for (customer, area) in self.store.fetch(&sql, &binds, area_from_row).await? {
            customers[place(&customer, "area")?].areas.push(area);
        }

        let sql = format!(
            "SELECT customer, worker FROM customer_assignments WHERE org = $1 AND customer IN ({ids}) ORDER BY customer, worker"
        );
        let assignments = self
            .store
            .fetch(&sql, &binds, |row| {
                Ok((
                    CustomerId::new(row.text("customer")?)?,
                    WorkerLogin::new(row.text("worker")?)?,
                ))
            })
            .await?;
        for (customer, worker) in assignments {
            customers[place(&customer, "assignment")?]
                .assigned
                .push(worker);
        }
        Ok(customers)
    }

    /// The documents of one customer, by id.
    pub async fn documents_of(&self, customer: &CustomerId) -> Result<Vec<Document>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org = $1 AND customer = $2 ORDER BY id"
        );
        let binds = [
            Bind::Text(self.org.slug.as_str()),
            Bind::Text(customer.as_str()),
        ];
        self.store.fetch(&sql, &binds, document_from_row).await
    }

    /// All documents, by id.
    pub async fn documents(&self) -> Result<Vec<Document>> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org = $1 ORDER BY id");
        let binds = [Bind::Text(self.org.slug.as_str())];
        self.store.fetch(&sql, &binds, document_from_row).await
    }

    /// One document.
    pub async fn document(&self, id: &DocumentId) -> Result<Document> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE org = $1 AND id = $2");
        let binds = [Bind::Text(self.org.slug.as_str()), Bind::Text(id.as_str())];
        self.store
            .fetch_optional(&sql, &binds, document_from_row)
            .await?
            .ok_or_else(|| self.not_found("document", id.as_str()))
    }

    /// Every register entry, grouped by register, each sorted by id.
    pub async fn registers(&self) -> Result<Registers> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, body FROM register_entries WHERE org = $1 ORDER BY kind, id",
        )
        .bind(self.org.slug.as_str())
        .fetch_all(self.store.pool())
        .await?;
        let mut registers = Registers::default();
        for (kind, body) in rows {
            let kind = RegisterKind::parse(&kind)
                .ok_or_else(|| Error::corrupt(format!("register kind `{kind}`")))?;
            let entry = kind
                .decode(&body)
                .map_err(|e| Error::corrupt(format!("{} entry: {e}", kind.noun())))?;
            registers.push(entry);
        }
        Ok(registers)
    }

    /// Records one register entry with its audit event, in one
    /// transaction. An entry with the same id is an error unless `replace`
    /// is set; a training's attendees must be workers of the organisation.
    /// Returns whether an entry was replaced.
    pub async fn add_register_entry(&self, entry: &RegisterEntry, replace: bool) -> Result<bool> {
        let (org, kind, id) = (self.org.slug.as_str(), entry.kind(), entry.id());
        let mut change = Change::begin(&self.store, &self.org.slug).await?;
        let tx = change.tx();
        {
            for login in entry.workers() {
                let known: Option<(String,)> =
                    sqlx::query_as("SELECT login FROM workers WHERE org = $1 AND login = $2")
                        .bind(org)
                        .bind(login.as_str())
                        .fetch_optional(&mut **tx)
                        .await?;
                if known.is_none() {
                    return Err(self.not_found("worker", login.as_str()));
                }
            }
        }
        let removed =
            sqlx::query("DELETE FROM register_entries WHERE org = $1 AND kind = $2 AND id = $3")
                .bind(org)
                .bind(kind.as_str())
                .bind(id.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
        if removed > 0 && !replace {
            // Returning drops the change uncommitted: the delete is rolled back.
            return Err(Error::EntryExists {
                org: org.to_owned(),
                kind: kind.noun(),
                id: id.to_string(),
            });
        }
        insert_register_entry(tx, &self.org.slug, kind, id, entry).await?;
        let verb = if removed > 0 { "replaced" } else { "added" };
        let mut event = AuditEvent::new(EventKind::Register, chrono::Utc::now());
        event.detail = Some(format!("{verb} {} `{id}`", kind.noun()));
        change.record(event);
        change.commit().await?;
        Ok(removed > 0)
    }
}

/// What a listing asks the store for: the candidates after `after`, at
/// most `limit`, narrowed by search text and the assignment pre-filter.
#[derive(Debug, Clone, Copy)]
pub struct CandidateQuery<'a> {
    /// Only ids after this one (keyset pagination).
    pub after: Option<&'a CustomerId>,
    /// Text the id or the name contains, case-insensitively.
    pub search: Option<&'a str>,
    /// Only customers assigned to this worker (indexed).
    pub assigned_to: Option<&'a WorkerLogin>,
    pub limit: u32,
}

/// Which customers [`OrgStore::load_customers`] reads.
enum Selection<'a> {
    All,
    One(&'a CustomerId),
    Page(&'a CandidateQuery<'a>),
}

impl Selection<'_> {
    /// A subquery of the selected ids (`$1` is the organisation) and the
    /// values for its further placeholders, in order.
    fn ids(&self) -> (String, Vec<String>) {
        let all = "SELECT id FROM customers WHERE org = $1".to_owned();
        match self {
            Selection::All => (all, Vec::new()),
            Selection::One(id) => (format!("{all} AND id = $2"), vec![id.to_string()]),
            Selection::Page(q) => {
                // With the pre-filter, the worker's assignments drive the
                // page (an index range in id order); without, every
                // customer in id order.
                let (mut sql, id) = match q.assigned_to {
                    Some(_) => (
                        "SELECT c.id FROM customer_assignments a JOIN customers c \
                         ON c.org = a.org AND c.id = a.customer \
                         WHERE a.org = $1 AND a.worker = $2"
                            .to_owned(),
                        "a.customer",
                    ),
                    None => (
                        "SELECT c.id FROM customers c WHERE c.org = $1".to_owned(),
                        "c.id",
                    ),
                };
                let mut binds: Vec<String> = q.assigned_to.iter().map(|w| w.to_string()).collect();
                let next = |value: String, binds: &mut Vec<String>| {
                    binds.push(value);
                    binds.len() + 1
                };
                if let Some(after) = q.after {
                    let n = next(after.to_string(), &mut binds);
                    sql.push_str(&format!(" AND {id} > ${n}"));
                }
                if let Some(text) = q.search.filter(|t| !t.trim().is_empty()) {
                    let n = next(like_pattern(text), &mut binds);
                    sql.push_str(&format!(
                        " AND (LOWER(c.id) LIKE ${n} ESCAPE '\\' OR LOWER(c.name) LIKE ${n} ESCAPE '\\')"
                    ));
                }
                sql.push_str(&format!(" ORDER BY {id} LIMIT {}", q.limit));
                (sql, binds)
            }
        }
    }
}

/// `%text%`, lowercased, with LIKE's wildcards in the text taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The organisation as `$1` and `values` after it.
fn binds<'a>(org: &'a str, values: &'a [String]) -> Vec<Bind<'a>> {
    std::iter::once(Bind::Text(org))
        .chain(values.iter().map(|v| Bind::Text(v)))
        .collect()
}
