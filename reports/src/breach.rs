//! The breach-scope report: who was touched, how, and whether data left.

use askama::Template;
use chrono::{DateTime, Utc};
use custodia_engine::Organisation;
use custodia_engine::audit::BreachScope;

use crate::i18n::{Catalogue, Lang};
use crate::{CSS, Result};

struct Row {
    customer: String,
    accesses: String,
    first: String,
    last: String,
    actions: String,
    areas: String,
    documents: String,
    exfiltrated: bool,
    data_left: &'static str,
}

/// The view both formats render.
struct BreachView {
    t: &'static Catalogue,
    css: &'static str,
    org_name: String,
    org_slug: String,
    window: String,
    filters: Vec<(&'static str, String)>,
    touched: String,
    allowed: String,
    denied: String,
    exfiltrated: String,
    /// The DPO or other contact point (art. 33(3)(b)).
    contact: String,
    generated: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "breach.html")]
struct BreachHtml {
    p: BreachView,
}

#[derive(Template)]
#[template(path = "breach.typ")]
struct BreachTyp {
    p: BreachView,
}

fn join(items: &std::collections::BTreeSet<String>) -> String {
    items.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Renders a breach scope as one self-contained HTML document; `now` is
/// the time printed on it.
pub fn breach_html(
    org: &Organisation,
    scope: &BreachScope,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<String> {
    Ok(BreachHtml {
        p: view(org, scope, now, lang),
    }
    .render()?)
}

/// Renders a breach scope as PDF, ready to attach to a notification; the
/// same scope and `now` give the same bytes.
pub fn breach_pdf(
    org: &Organisation,
    scope: &BreachScope,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<Vec<u8>> {
    let markup = BreachTyp {
        p: view(org, scope, now, lang),
    }
    .render()?;
    crate::pdf::compile(markup, now.date_naive())
}

fn view(org: &Organisation, scope: &BreachScope, now: DateTime<Utc>, lang: Lang) -> BreachView {
    let t = lang.catalogue();
    let filters = [
        (t.worker, &scope.worker),
        (t.customer, &scope.customer),
        (t.address, &scope.address),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.clone().map(|v| (label, v)))
    .collect();
    let count = |n: usize| lang.number(i64::try_from(n).unwrap_or(i64::MAX));
    BreachView {
        t,
        css: CSS,
        org_name: org.name.clone(),
        org_slug: org.slug.to_string(),
        window: format!("{} – {}", lang.time(scope.from), lang.time(scope.to)),
        filters,
        touched: count(scope.customers.len()),
        allowed: lang.number(scope.allowed_accesses),
        denied: lang.number(scope.denied_attempts),
        exfiltrated: count(scope.customers.iter().filter(|c| c.exfiltrated).count()),
        contact: crate::notice::contact_line(org.dpo.as_ref().unwrap_or(&org.controller)),
        generated: lang.time(now),
        rows: scope
            .customers
            .iter()
            .map(|c| Row {
                customer: c.customer.clone(),
                accesses: lang.number(c.accesses),
                first: lang.time(c.first_access),
                last: lang.time(c.last_access),
                actions: join(&c.actions),
                areas: join(&c.areas),
                documents: join(&c.documents),
                exfiltrated: c.exfiltrated,
                data_left: if c.exfiltrated { t.yes } else { t.no },
            })
            .collect(),
    }
}
