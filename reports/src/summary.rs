//! The audit summary of a period: accesses per worker, customer and
//! action, denials, exports, unusual activity, and a chart.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use custodia_engine::Organisation;
use custodia_engine::audit::{ChainedEvent, EventKind};
use custodia_engine::rules::Effect;

use crate::i18n::{Catalogue, Lang};
use crate::{CSS, Result};

struct Bar {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    label: String,
    value: String,
}

struct Label {
    x: usize,
    y: usize,
    text: String,
}

struct CountTable {
    title: &'static str,
    label: &'static str,
    rows: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "summary.html")]
struct SummaryPage {
    t: &'static Catalogue,
    css: &'static str,
    org_name: String,
    org_slug: String,
    period: String,
    total: String,
    denied_total: String,
    generated: String,
    chart_width: usize,
    chart_height: usize,
    bars: Vec<Bar>,
    bar_labels: Vec<Label>,
    tables: Vec<CountTable>,
    exports: Vec<(String, String, String, String, String)>,
    unusual: Vec<(String, String, String)>,
}

const CHART_HEIGHT: usize = 160;
const BAR_AREA: usize = 130;

fn sorted_counts(map: HashMap<String, i64>, lang: Lang, limit: usize) -> Vec<(String, String)> {
    let mut rows: Vec<(String, i64)> = map.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.into_iter()
        .take(limit)
        .map(|(k, n)| (k, lang.number(n)))
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

/// Renders the audit summary of `events` (one period of one organisation).
pub fn summary_html(
    org: &Organisation,
    events: &[ChainedEvent],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lang: Lang,
) -> Result<String> {
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
    for e in events {
        let ev = &e.event;
        let worker = ev.worker.clone().unwrap_or_else(|| "-".into());
        if ev.decision == Some(Effect::Deny) {
            denied_total += 1;
            *denied.entry(worker).or_insert(0) += 1;
            continue;
        }
        if ev.customer.is_none() {
            continue;
        }
        let day = ev.at.date_naive();
        *per_worker.entry(worker.clone()).or_insert(0) += 1;
        *per_customer
            .entry(ev.customer.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *per_action
            .entry(ev.action.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *per_day.entry(day).or_insert(0) += 1;
        *per_worker_day.entry((worker.clone(), day)).or_insert(0) += 1;
        if matches!(
            ev.kind,
            EventKind::Export | EventKind::Download | EventKind::Print
        ) {
            exports.push((
                lang.time(ev.at),
                worker,
                ev.action.clone().unwrap_or_default(),
                ev.customer.clone().unwrap_or_default(),
                ev.document
                    .clone()
                    .or_else(|| ev.resource.clone())
                    .unwrap_or_default(),
            ));
        }
    }
    let max = per_day.values().copied().max().unwrap_or(1).max(1);
    let width = (per_day.len() * 14).max(200);
    let bars = per_day
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let h = usize::try_from(*n * i64::try_from(BAR_AREA).unwrap_or(1) / max)
                .unwrap_or(0)
                .max(1);
            Bar {
                x: i * 14,
                y: BAR_AREA - h,
                w: 12,
                h,
                label: day.to_string(),
                value: lang.number(*n),
            }
        })
        .collect();
    let bar_labels = per_day
        .keys()
        .enumerate()
        .filter(|(i, _)| i % 7 == 0)
        .map(|(i, day)| Label {
            x: i * 14,
            y: CHART_HEIGHT - 10,
            text: day.format("%d/%m").to_string(),
        })
        .collect();
    let page = SummaryPage {
        t,
        css: CSS,
        org_name: org.name.clone(),
        org_slug: org.slug.to_string(),
        period: format!("{} – {}", lang.time(from), lang.time(to)),
        total: lang.number(i64::try_from(events.len()).unwrap_or(i64::MAX)),
        denied_total: lang.number(denied_total),
        generated: lang.time(Utc::now()),
        chart_width: width,
        chart_height: CHART_HEIGHT,
        bars,
        bar_labels,
        tables: vec![
            CountTable {
                title: t.per_worker,
                label: t.worker,
                rows: sorted_counts(per_worker, lang, 50),
            },
            CountTable {
                title: t.per_action,
                label: t.actions,
                rows: sorted_counts(per_action, lang, 20),
            },
            CountTable {
                title: t.per_customer,
                label: t.customer,
                rows: sorted_counts(per_customer, lang, 20),
            },
            CountTable {
                title: t.denied_by_worker,
                label: t.worker,
                rows: sorted_counts(denied, lang, 50),
            },
        ],
        exports,
        unusual: unusual_days(&per_worker_day)
            .into_iter()
            .map(|(w, d, n)| (w, d.to_string(), lang.number(n)))
            .collect(),
    };
    Ok(page.render()?)
}
