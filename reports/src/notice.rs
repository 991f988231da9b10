//! The GDPR art. 34 notice to the people a breach affects: plain
//! language, what happened, what it may mean, what was done, whom to
//! contact. The mail guard sends it as a transactional message.

use askama::Template;
use custodia_engine::{Breach, Contact, Organisation};

use crate::Result;
use crate::i18n::{Catalogue, Lang};

/// A rendered notice: subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachNotice {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What both bodies show.
struct NoticeView<'a> {
    t: &'static Catalogue,
    org: &'a Organisation,
    name: &'a str,
    when: String,
    nature: &'a str,
    data: String,
    consequences: &'a str,
    measures: &'a str,
    contact: String,
}

#[derive(Template)]
#[template(path = "breach_notice.txt")]
struct NoticeText<'a> {
    v: &'a NoticeView<'a>,
}

#[derive(Template)]
#[template(path = "breach_notice.html")]
struct NoticeHtml<'a> {
    v: &'a NoticeView<'a>,
    css: &'static str,
}

/// "Name · email · phone".
pub(crate) fn contact_line(c: &Contact) -> String {
    let mut line = c.name.clone();
    for detail in [&c.email, &c.phone].into_iter().flatten() {
        line.push_str(&format!(" · {detail}"));
    }
    line
}

/// The art. 34 notice of `breach` for `name`, in `lang`. The contact is
/// the DPO where there is one, else the controller.
pub fn breach_notice(
    org: &Organisation,
    breach: &Breach,
    name: &str,
    lang: Lang,
) -> Result<BreachNotice> {
    let t = lang.catalogue();
    let view = NoticeView {
        t,
        org,
        name,
        when: lang.time(breach.aware_at),
        nature: &breach.nature,
        data: breach.data_categories.join(", "),
        consequences: breach.consequences.as_deref().unwrap_or(t.n_unknown),
        measures: breach.measures.as_deref().unwrap_or(t.n_unknown),
        contact: contact_line(org.dpo.as_ref().unwrap_or(&org.controller)),
    };
    Ok(BreachNotice {
        subject: format!("{}: {}", org.name, t.n_subject).replace(['\r', '\n'], " "),
        text: NoticeText { v: &view }.render()?,
        html: NoticeHtml {
            v: &view,
            css: crate::CSS,
        }
        .render()?,
    })
}
