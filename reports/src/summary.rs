//! The audit summary of a period: accesses per worker, customer and
//! action, denials, exports, unusual activity, and two charts (accesses per day, denials per worker).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use custodia_engine::Organisation;
use custodia_engine::audit::{ChainedEvent, EventKind};
use custodia_engine::rules::Effect;

use crate::chart::Chart;
use crate::i18n::{Catalogue, Lang};
use crate::{CSS, Result};

struct CountTable {
    title: &'static str,
    label: &'static str,
    rows: Vec<(String, String)>,
}

/// One audit period of one organisation: what the summary is built from.
#[derive(Debug, Clone, Copy)]
pub struct SummaryInput<'a> {
    pub organisation: &'a Organisation,
    /// The period's events, oldest first.
    pub events: &'a [ChainedEvent],
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// When the document is made (printed on it; fixed for reproducible output).
    pub now: DateTime<Utc>,
}

/// The view both formats render.
struct SummaryView {
    t: &'static Catalogue,
    css: &'static str,
    org_name: String,
    org_slug: String,
    period: String,
    total: String,
    denied_total: String,
    generated: String,
    /// Accesses per day, then denials per worker: SVG text.
    per_day: String,
    denied_chart: String,
    tables: Vec<CountTable>,
    exports: Vec<(String, String, String, String, String)>,
    unusual: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "summary.html")]
struct SummaryHtml {
    p: SummaryView,
}

#[derive(Template)]
#[template(path = "summary.typ")]
struct SummaryTyp {
    p: SummaryView,
}

/// The `limit` largest counts, largest first (ties by name).
fn top(map: HashMap<String, i64>, limit: usize) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = map.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(limit);
    rows
}

fn formatted(rows: &[(String, i64)], lang: Lang) -> Vec<(String, String)> {
    rows.iter()
        .map(|(k, n)| (k.clone(), lang.number(*n)))
        .collect()
}

/// A worker's day is unusual when it is far above their median day.
fn unusual_days(
    per_worker_day: &BTreeMap<(String, NaiveDate), i64>,
) -> Vec<(String, NaiveDate, i64)> {
    let mut days: HashMap<&str, Vec<i64>> = HashMap::new();
    for ((worker, _), n) in per_worker_day {
        days.entry(worker.as_str()).or_default().push(*n);
    }
    let medians: HashMap<&str, i64> = days
        .into_iter()
        .map(|(w, mut counts)| {
            counts.sort_unstable();
            (w, counts[counts.len() / 2])
        })
        .collect();
    per_worker_day
        .iter()
        .filter(|((w, _), n)| **n >= 10 && **n > 3 * medians.get(w.as_str()).copied().unwrap_or(0))
        .map(|((w, d), n)| (w.clone(), *d, *n))
        .collect()
}

/// Renders the audit summary as one self-contained HTML document.
pub fn summary_html(input: &SummaryInput<'_>, lang: Lang) -> Result<String> {
    Ok(SummaryHtml {
        p: view(input, lang)?,
    }
    .render()?)
}

/// Renders the audit summary as PDF (typst, fonts embedded); the same
/// input gives the same bytes.
pub fn summary_pdf(input: &SummaryInput<'_>, lang: Lang) -> Result<Vec<u8>> {
    let markup = SummaryTyp {
        p: view(input, lang)?,
    }
    .render()?;
    crate::pdf::compile(markup, input.now.date_naive())
}

fn view(input: &SummaryInput<'_>, lang: Lang) -> Result<SummaryView> {
    let t = lang.catalogue();
    let (mut per_worker, mut per_customer, mut per_action, mut denied) = (
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
        HashMap::new(),
    );
    let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut per_worker_day: BTreeMap<(String, NaiveDate), i64> = BTreeMap::new();
    let mut exports = Vec::new();
    let mut denied_total = 0;
    for e in input.events {
        let ev = &e.event;
        let worker = ev.worker.clone().unwrap_or_else(|| "-".into());
        if ev.decision == Some(Effect::Deny) {
            denied_total += 1;
            *denied.entry(worker).or_insert(0) += 1;
            continue;
        }
        // Documents Custodia wrote (reports) have no customer but are exports.
        if matches!(
            ev.kind,
            EventKind::Export | EventKind::Download | EventKind::Print
        ) {
            exports.push((
                lang.time(ev.at),
                worker.clone(),
                ev.action.clone().unwrap_or_default(),
                ev.customer.clone().unwrap_or_default(),
                ev.document
                    .clone()
                    .or_else(|| ev.resource.clone())
                    .or_else(|| ev.detail.clone())
                    .unwrap_or_default(),
            ));
        }
        let Some(customer) = &ev.customer else {
            continue;
        };
        let day = ev.at.date_naive();
        *per_worker.entry(worker.clone()).or_insert(0) += 1;
        *per_customer.entry(customer.clone()).or_insert(0) += 1;
        *per_action
            .entry(ev.action.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *per_day.entry(day).or_insert(0) += 1;
        *per_worker_day.entry((worker, day)).or_insert(0) += 1;
    }
    let denied = top(denied, 50);
    Ok(SummaryView {
        t,
        css: CSS,
        org_name: input.organisation.name.clone(),
        org_slug: input.organisation.slug.to_string(),
        period: format!("{} – {}", lang.time(input.from), lang.time(input.to)),
        total: lang.number(i64::try_from(input.events.len()).unwrap_or(i64::MAX)),
        denied_total: lang.number(denied_total),
        generated: lang.time(input.now),
        per_day: Chart::per_day(t.accesses_over_time, &per_day, lang).svg()?,
        denied_chart: Chart::per_name(t.denied_by_worker, &denied, lang).svg()?,
        tables: vec![
            CountTable {
                title: t.per_worker,
                label: t.worker,
                rows: formatted(&top(per_worker, 50), lang),
            },
            CountTable {
                title: t.per_action,
                label: t.actions,
                rows: formatted(&top(per_action, 20), lang),
            },
            CountTable {
                title: t.per_customer,
                label: t.customer,
                rows: formatted(&top(per_customer, 20), lang),
            },
            CountTable {
                title: t.denied_by_worker,
                label: t.worker,
                rows: formatted(&denied, lang),
            },
        ],
        exports,
        unusual: unusual_days(&per_worker_day)
            .into_iter()
            .map(|(w, d, n)| (w, lang.date(d), lang.number(n)))
            .collect(),
    })
}
