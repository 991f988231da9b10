//! Bar charts as SVG text: the HTML documents inline it, and typst draws
//! the very same SVG in the PDFs, so both formats show one picture.

use std::collections::BTreeMap;

use askama::Template;
use chrono::NaiveDate;

use crate::Result;
use crate::i18n::Lang;

struct Bar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    /// The tooltip: what the bar counts.
    title: String,
}

struct Label {
    x: i64,
    y: i64,
    end: bool,
    text: String,
}

/// One chart. Values are escaped for XML by askama's HTML escaper.
#[derive(Template)]
#[template(path = "chart.svg")]
pub(crate) struct Chart {
    label: String,
    width: i64,
    height: i64,
    bars: Vec<Bar>,
    labels: Vec<Label>,
}

const DAY_STEP: i64 = 14;
const DAY_BAR_AREA: i64 = 130;
const ROW_STEP: i64 = 18;
const NAME_WIDTH: i64 = 150;
const BAR_WIDTH: i64 = 300;

/// `n` scaled to `span` against `max`, at least one unit so that a
/// non-zero count never vanishes.
fn scaled(n: i64, max: i64, span: i64) -> i64 {
    (n * span / max.max(1)).max(1)
}

impl Chart {
    /// One vertical bar per day, a date under every seventh.
    pub(crate) fn per_day(label: &str, counts: &BTreeMap<NaiveDate, i64>, lang: Lang) -> Self {
        let max = counts.values().copied().max().unwrap_or(1);
        let mut bars = Vec::new();
        let mut labels = Vec::new();
        for (i, (day, n)) in (0..).zip(counts) {
            let h = scaled(*n, max, DAY_BAR_AREA);
            bars.push(Bar {
                x: i * DAY_STEP,
                y: DAY_BAR_AREA - h,
                w: DAY_STEP - 2,
                h,
                title: format!("{}: {}", lang.date(*day), lang.number(*n)),
            });
            if i % 7 == 0 {
                labels.push(Label {
                    x: i * DAY_STEP,
                    y: DAY_BAR_AREA + 20,
                    end: false,
                    text: lang.day_month(*day),
                });
            }
        }
        let days = i64::try_from(counts.len()).unwrap_or(i64::MAX / DAY_STEP);
        Chart {
            label: label.to_owned(),
            width: (days * DAY_STEP).max(200),
            height: DAY_BAR_AREA + 30,
            bars,
            labels,
        }
    }

    /// One horizontal bar per name, in the order given, the count after it.
    pub(crate) fn per_name(label: &str, counts: &[(String, i64)], lang: Lang) -> Self {
        let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(1);
        let mut bars = Vec::new();
        let mut labels = Vec::new();
        for (i, (name, n)) in (0..).zip(counts) {
            let (y, w) = (i * ROW_STEP, scaled(*n, max, BAR_WIDTH));
            let count = lang.number(*n);
            bars.push(Bar {
                x: NAME_WIDTH,
                y: y + 3,
                w,
                h: ROW_STEP - 6,
                title: format!("{name}: {count}"),
            });
            labels.push(Label {
                x: NAME_WIDTH - 6,
                y: y + ROW_STEP - 5,
                end: true,
                text: name.clone(),
            });
            labels.push(Label {
                x: NAME_WIDTH + w + 6,
                y: y + ROW_STEP - 5,
                end: false,
                text: count,
            });
        }
        let rows = i64::try_from(counts.len()).unwrap_or(0).max(1);
        Chart {
            label: label.to_owned(),
            width: NAME_WIDTH + BAR_WIDTH + 80,
            height: rows * ROW_STEP,
            bars,
            labels,
        }
    }

    /// The chart as one `<svg>` element.
    pub(crate) fn svg(&self) -> Result<String> {
        Ok(self.render()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_a_chart_are_escaped_and_bars_scale_to_the_largest() {
        let counts = [("<script>".to_owned(), 10), ("ana".to_owned(), 5)];
        let svg = Chart::per_name("denied", &counts, Lang::En)
            .svg()
            .expect("renders");
        assert!(
            svg.contains("&#60;script&#62;") || svg.contains("&lt;script&gt;"),
            "{svg}"
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains(&format!("width=\"{BAR_WIDTH}\"")), "{svg}");
        assert!(
            svg.contains(&format!("width=\"{}\"", BAR_WIDTH / 2)),
            "{svg}"
        );
    }

    #[test]
    fn a_day_with_one_access_still_shows_a_bar() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).expect("date");
        let counts = BTreeMap::from([(day(1), 1000), (day(2), 1)]);
        let svg = Chart::per_day("per day", &counts, Lang::Es)
            .svg()
            .expect("renders");
        assert!(svg.contains("height=\"1\""), "{svg}");
        assert!(svg.contains("02/11/2026: 1"), "{svg}");
        assert!(svg.contains("01/11/2026: 1.000"), "{svg}");
    }
}
