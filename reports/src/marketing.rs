//! The dossier's marketing section (LSSI-CE arts. 21-22, LOPDGDD art.
//! 23): campaigns sent, exclusions per reason, the Robinson lists used,
//! opt-outs received and whether any message reached someone after theirs.

use std::collections::BTreeMap;

use custodia_engine::{MarketingHistory, RobinsonList};

use crate::i18n::Lang;

/// The section, in words.
#[derive(Debug)]
pub(crate) struct MarketingView {
    /// id, name, created, sent, excluded, Robinson list, similar products.
    pub campaigns: Vec<[String; 7]>,
    pub exclusions: Vec<(String, String)>,
    pub robinson: (String, bool),
    pub opt_outs: Vec<(String, String, String)>,
    pub after_opt_out: (String, bool),
}

fn download(lang: Lang, list: &RobinsonList) -> String {
    let t = lang.catalogue();
    format!(
        "{} {} ({} {})",
        t.downloaded_on,
        lang.date(list.downloaded),
        lang.number(i64::try_from(list.entries).unwrap_or(i64::MAX)),
        t.entries
    )
}

fn count(lang: Lang, n: u64) -> String {
    lang.number(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(crate) fn view(input: &MarketingHistory, lang: Lang) -> MarketingView {
    let t = lang.catalogue();
    let mut exclusions: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &input.campaigns {
        for (reason, n) in &c.excluded {
            *exclusions.entry(reason).or_default() += n;
        }
    }
    MarketingView {
        campaigns: input
            .campaigns
            .iter()
            .map(|c| {
                [
                    c.id.clone(),
                    c.name.clone(),
                    lang.time(c.created),
                    count(lang, c.sent),
                    count(lang, c.excluded.values().sum()),
                    c.robinson
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |r| download(lang, r)),
                    if c.similar_products { t.yes } else { t.no }.to_owned(),
                ]
            })
            .collect(),
        exclusions: exclusions
            .into_iter()
            .map(|(reason, n)| (lang.label(reason), count(lang, n)))
            .collect(),
        robinson: input.robinson.as_ref().map_or_else(
            || (t.no_robinson.to_owned(), false),
            |r| (download(lang, r), true),
        ),
        opt_outs: input
            .opt_outs
            .iter()
            .map(|o| (o.month.clone(), o.channel.clone(), count(lang, o.count)))
            .collect(),
        after_opt_out: (
            count(lang, input.sent_after_opt_out),
            input.sent_after_opt_out == 0,
        ),
    }
}
