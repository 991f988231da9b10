//! Legal fidelity: the LSSI-CE art. 21.2 exception, unsubscribe links,
//! unsubscribe replies, dated Robinson lists, art. 34 notices, and the
//! dossier's new sections, as an inspection would check them.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::mail::{SmtpSink, campaign_file, send_args};
use crate::reports::{dossier_pdf_text, pdf_text, render_dossier};
use crate::{Custodia, json, on_both_backends};

/// The plan of `campaign` in bufete-ruiz, as JSON.
fn plan(c: &Custodia, campaign: &str) -> Value {
    json(&c.ok(&["mail", "plan", "--org", "bufete-ruiz", campaign, "--json"]))
}

/// The verdict on `address` in a plan: the exclusion (or "kept") and its detail.
fn verdict(plan: &Value, address: &str) -> (String, String) {
    let r = plan["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("`{address}` is not in the plan"));
    (
        r["excluded"].as_str().unwrap_or("kept").to_owned(),
        r["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Writes a campaign file for bufete-ruiz's customers; `similar` says
/// whether it declares similar products, `text` is its text body.
fn campaign(c: &Custodia, id: &str, similar: bool, text: &str, html: Option<&str>) -> PathBuf {
    let path = c.path(&format!("{id}.toml"));
    let html = html
        .map(|h| format!("html = '''{h}'''\n"))
        .unwrap_or_default();
    std::fs::write(
        &path,
        format!(
            "id = \"{id}\"\nname = \"{id}\"\nsender = \"marta\"\nfrom = \"Bufete Ruiz <novedades@bufete-ruiz.example>\"\nsubject = \"Hola {{{{ name }}}}\"\nlegal_basis = \"LSSI-CE art. 21.2\"\nsimilar_products = {similar}\naudience = \"customers\"\ntext = '''{text}'''\n{html}"
        ),
    )
    .expect("campaign file");
    path
}

/// `mail create` for bufete-ruiz.
fn create(c: &Custodia, file: &Path) -> std::process::Output {
    c.run(&[
        "mail",
        "create",
        "--org",
        "bufete-ruiz",
        file.to_str().expect("path"),
    ])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const WITH_LINK: &str = "Hola {{ name }}. Baja: {{ unsubscribe_url }}";

fn count(c: &Custodia, kind: &str) -> i64 {
    c.count(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = '{kind}'"
    ))
}

fn import_customers(c: &Custodia, csv: &str) {
    let path = c.path("customers.csv");
    std::fs::write(&path, csv).expect("csv");
    c.ok(&[
        "import",
        "--org",
        "bufete-ruiz",
        "--customers",
        path.to_str().expect("path"),
    ]);
}

on_both_backends! {
fn a_csv_customer_without_existing_customer_or_consent_gets_no_campaign(backend) {
    let c = Custodia::demo(backend);
    import_customers(&c, "id,name,email\nC-9001,Nuevo Cliente,nuevo.cliente@correo.example\n");
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let (excluded, detail) = verdict(&plan(&c, "novedades-2026-12"), "nuevo.cliente@correo.example");
    assert_eq!(excluded, "no_consent");
    assert!(detail.contains("not an existing customer"), "{detail}");
}
}

on_both_backends! {
fn the_existing_customer_exception_needs_an_opt_out_offered_at_collection_and_a_campaign_about_similar_products(backend) {
    let c = Custodia::demo(backend);
    import_customers(
        &c,
        "id,name,email,existing_customer,opt_out_offered_date,opt_out_offered_channel\n\
         C-9101,Con Oferta,con.oferta@correo.example,yes,2025-04-02,contract clause\n\
         C-9102,Sin Oferta,sin.oferta@correo.example,yes,,\n",
    );
    let similar = campaign(&c, "similar", true, WITH_LINK, None);
    let other = campaign(&c, "other", false, WITH_LINK, None);
    for file in [&similar, &other] {
        assert!(create(&c, file).status.success());
    }
    let similar = plan(&c, "similar");
    assert_eq!(verdict(&similar, "con.oferta@correo.example").0, "kept");
    let (excluded, detail) = verdict(&similar, "sin.oferta@correo.example");
    assert_eq!(excluded, "no_consent");
    assert!(detail.contains("no opt-out was offered"), "{detail}");
    let (excluded, detail) = verdict(&plan(&c, "other"), "con.oferta@correo.example");
    assert_eq!(excluded, "no_consent");
    assert!(detail.contains("does not declare similar products"), "{detail}");
    // The rule says the same as the plan, with its reason.
    let decision = c.decide("marta", "send", "customer:C-9101", &[]);
    assert_eq!(decision["decision"], "deny", "{decision}");
    assert!(decision.to_string().contains("not about similar products"), "{decision}");
}
}

#[test]
fn a_campaign_without_an_unsubscribe_link_in_each_body_is_refused_at_create() {
    let c = Custodia::demo(custodia_engine::Backend::Sqlite);
    let no_text = campaign(&c, "no-text-link", true, "Hola {{ name }}.", None);
    let err = stderr(&create(&c, &no_text));
    assert!(
        err.contains("campaign `no-text-link`: the text body has no unsubscribe link"),
        "{err}"
    );
    assert!(err.contains("List-Unsubscribe headers alone"), "{err}");
    // A link behind a condition false for some recipients is no link.
    let hidden = campaign(
        &c,
        "no-html-link",
        true,
        WITH_LINK,
        Some(
            "<p>Hola</p>{% if name == 'nadie' %}<a href=\"{{ unsubscribe_url }}\">baja</a>{% endif %}",
        ),
    );
    let err = stderr(&create(&c, &hidden));
    assert!(
        err.contains("the HTML body has no unsubscribe link"),
        "{err}"
    );
    for id in ["no-text-link", "no-html-link"] {
        let err = c.fails(&["mail", "plan", "--org", "bufete-ruiz", id]);
        assert!(err.contains("not found"), "{err}");
    }
    assert_eq!(count(&c, "campaign"), 0);
}

/// A message as a mail program would write it.
fn message(from: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: unsubscribe@bufete-ruiz.example\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{}@mua.example>\r\n{extra_headers}\r\n{body}\r\n",
        subject.len() + from.len()
    )
}

/// A Maildir folder holding `messages`.
fn maildir(root: &Path, messages: &[String]) -> PathBuf {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).expect("maildir");
    }
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(
            root.join("new").join(format!("17640000{i:02}.M1P1.host")),
            m,
        )
        .expect("message");
    }
    root.to_owned()
}

/// The unsubscribe token of the message sent to `address`.
fn token_sent_to(smtp: &SmtpSink, address: &str) -> String {
    let (_, text) = smtp
        .messages()
        .into_iter()
        .find(|(to, _)| to == address)
        .unwrap_or_else(|| panic!("no message to {address}"));
    let unfolded = text.replace("\r\n ", " ").replace("\n ", " ");
    unfolded
        .split("?subject=")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("mailto subject")
        .to_owned()
}

fn import_mailbox(c: &Custodia, path: &Path) -> Value {
    json(&c.ok(&[
        "optout",
        "import-mailbox",
        "--org",
        "bufete-ruiz",
        path.to_str().expect("path"),
        "--json",
    ]))
}

on_both_backends! {
fn unsubscribe_replies_from_a_maildir_or_an_mbox_become_opt_outs_once(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    c.ok(&send_args(&smtp, &[]));
    let (replier, forwarded) = ("javier.lopez1@bufete-ruiz.correo.example", "carmen.diaz2@bufete-ruiz.correo.example");
    let token = token_sent_to(&smtp, forwarded);
    let messages = [
        message(&format!("Javier <{replier}>"), "Re: Novedades legales", "", "Baja, por favor."),
        // Replied from another address: the token names the one mailed.
        message("Carmen <carmen.personal@otro.example>", &token, "", ""),
        message(
            "Mail Delivery System <MAILER-DAEMON@mx.example>",
            "Undelivered Mail Returned to Sender",
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--",
        ),
        message("Vacaciones <ausente@correo.example>", "Fuera de la oficina", "Auto-Submitted: auto-replied\r\n", "Vuelvo el lunes."),
    ];
    let folder = maildir(&c.path("Maildir"), &messages);
    let before = count(&c, "opt_out");
    let first = import_mailbox(&c, &folder);
    assert_eq!(first["messages"], 4, "{first}");
    assert_eq!(first["opted_out"], 3, "{first}");
    assert_eq!(first["skipped"].as_array().expect("skipped").len(), 2, "{first}");
    assert_eq!(count(&c, "opt_out"), before + 3);
    let list = c.ok(&["optout", "export", "--org", "bufete-ruiz"]);
    for address in [replier, forwarded, "carmen.personal@otro.example"] {
        assert!(list.contains(address), "{address} not opted out:\n{list}");
    }
    assert!(!list.contains("ausente@correo.example") && !list.to_lowercase().contains("mailer-daemon"));

    // Idempotent: the same mailbox again changes nothing and records nothing.
    let again = import_mailbox(&c, &folder);
    assert_eq!((again["opted_out"].as_u64(), again["already"].as_u64()), (Some(0), Some(3)), "{again}");
    assert_eq!(count(&c, "opt_out"), before + 3);

    // An mbox file works the same way.
    let mbox = c.path("unsubscribe.mbox");
    std::fs::write(
        &mbox,
        format!(
            "From irene@correo.example Tue Nov 24 10:00:00 2026\n{}\nFrom martina@correo.example Tue Nov 24 10:05:00 2026\n{}",
            message("Irene <irene.otra@correo.example>", "baja", "", "Baja."),
            message("Martina <martina.otra@correo.example>", "baja", "", "Baja."),
        ),
    )
    .expect("mbox");
    let from_mbox = import_mailbox(&c, &mbox);
    assert_eq!((from_mbox["messages"].as_u64(), from_mbox["opted_out"].as_u64()), (Some(2), Some(2)), "{from_mbox}");
}
}

fn robinson(c: &Custodia, org: &str, downloaded: &str, extra: &[&str]) -> std::process::Output {
    let file = c.path("robinson.txt");
    std::fs::write(&file, "alguien@correo.example\n").expect("robinson");
    c.command()
        .args(extra)
        .args(["robinson", "--org", org, "--downloaded", downloaded])
        .arg(&file)
        .output()
        .expect("run custodia")
}

on_both_backends! {
fn a_robinson_list_is_dated_audited_per_firm_and_refused_once_stale(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let today = Utc::now().date_naive();
    let fresh = plan(&c, "novedades-2026-12");
    assert_eq!(fresh["robinson"]["downloaded"], today.to_string(), "{}", fresh["robinson"]);

    let old = (today - Duration::days(100)).to_string();
    let before = count(&c, "robinson");
    assert!(robinson(&c, "bufete-ruiz", &old, &[]).status.success());
    assert_eq!(count(&c, "robinson"), before + 1);
    let detail = c.count(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'robinson' AND detail LIKE '%downloaded on {old}%1 entries'"
    ));
    assert_eq!(detail, 1);
    let err = c.fails(&["mail", "plan", "--org", "bufete-ruiz", "novedades-2026-12"]);
    assert!(err.contains(&format!("downloaded on {old}, 100 days ago, more than the 90 days allowed")), "{err}");
    // The age is configurable; another firm's list is its own.
    let relaxed = c.ok(&["--robinson-max-age", "120", "mail", "plan", "--org", "bufete-ruiz", "novedades-2026-12"]);
    assert!(relaxed.contains(&format!("Robinson list downloaded on {old} (1 entries)")), "{relaxed}");
    assert_eq!(
        c.count(&format!("SELECT COUNT(*) FROM robinson_lists WHERE org = 'clinica-norte' AND downloaded_on = '{today}'")),
        1
    );
    let future = robinson(&c, "bufete-ruiz", &(today + Duration::days(1)).to_string(), &[]);
    assert!(String::from_utf8_lossy(&future.stderr).contains("is in the future"));
    assert!(robinson(&c, "bufete-ruiz", &today.to_string(), &[]).status.success());
    plan(&c, "novedades-2026-12");
}
}

on_both_backends! {
fn the_dossier_shows_campaigns_exclusions_the_robinson_list_and_opt_outs_in_both_languages(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    c.ok(&["optout", "add", "--org", "bufete-ruiz", "maria.lopez@correo.example", "--channel", "phone"]);
    let report = json(&c.ok(&send_args(&smtp, &[])));
    let sent = report["sent"].as_u64().expect("sent");
    let downloaded = Utc::now().date_naive().format("%d/%m/%Y").to_string();
    let es = dossier_pdf_text(&c, "bufete-ruiz", "es");
    for expected in [
        "Comunicaciones comerciales",
        &format!("Lista Robinson en vigor descargada el {downloaded} (3 entradas)"),
        "Lista Robinson consultada",
        "novedades-2026-12",
        &format!(" {sent} "),
        "Exclusiones por motivo",
        "dado de baja",
        "sin consentimiento ni excepción del art. 21.2",
        "Bajas recibidas",
        "phone",
        "Mensajes enviados a una dirección después de su baja: 0",
    ] {
        assert!(es.contains(expected), "Spanish dossier lacks `{expected}`:\n{es}");
    }
    let en = dossier_pdf_text(&c, "bufete-ruiz", "en");
    for expected in ["Commercial communications", "Robinson list checked", "opted out", "Messages sent to an address after its opt-out: 0"] {
        assert!(en.contains(expected), "English dossier lacks `{expected}`:\n{en}");
    }
    // The check can fail: an opt-out dated before a message that went out.
    let (to, _) = smtp.messages().into_iter().next().expect("a message");
    c.tamper(&format!(
        "UPDATE customers SET opt_out_date = '2020-01-01', opt_out_channel = 'letter' WHERE org = 'bufete-ruiz' AND lower(email) = '{to}'"
    ));
    let es = dossier_pdf_text(&c, "bufete-ruiz", "es");
    assert!(es.contains("Mensajes enviados a una dirección después de su baja: 1"), "{es}");
}
}

on_both_backends! {
fn the_art_34_notice_reaches_affected_customers_despite_their_opt_out_and_only_once(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["optout", "add", "--org", "bufete-ruiz", "maria.lopez@correo.example"]);
    let args = [
        "mail", "breach-notice", "--org", "bufete-ruiz", "--breach", "BR-2026-01",
        "--from", "Protecdata <dpo@protecdata.example>", "--smtp", &smtp.url, "--json",
    ];
    let first = json(&c.ok(&args));
    assert_eq!(first["sent"], 1, "{first}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let (to, text) = &messages[0];
    assert_eq!(to, "maria.lopez@correo.example");
    assert!(text.contains("Message-ID: <breach-BR-2026-01."), "{text}");
    assert!(!text.contains("List-Unsubscribe"), "a notice is not marketing:\n{text}");
    let second = json(&c.ok(&args));
    assert_eq!((second["sent"].as_u64(), second["already_sent"].as_u64()), (Some(0), Some(1)));
    assert_eq!(smtp.count(), 1);
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'notice' AND customer = 'C-1001'"),
        1
    );
    // A breach that names nobody affected is refused, not sent to no one.
    let err = c.fails(&[
        "mail", "breach-notice", "--org", "bufete-ruiz", "--breach", "BR-2026-02",
        "--from", "Protecdata <dpo@protecdata.example>", "--smtp", &smtp.url,
    ]);
    assert!(err.contains("names no affected customer"), "{err}");
}
}

#[test]
fn the_art_34_notice_says_what_happened_what_it_means_what_was_done_and_whom_to_contact() {
    let c = Custodia::demo(custodia_engine::Backend::Sqlite);
    let preview = |lang: &str| {
        c.ok(&[
            "mail",
            "breach-notice",
            "--org",
            "bufete-ruiz",
            "--breach",
            "BR-2026-01",
            "--lang",
            lang,
            "--preview",
        ])
    };
    let es = preview("es");
    for expected in [
        "Aviso importante sobre la seguridad de sus datos personales",
        "Qué ha ocurrido",
        "A laptop with synced client emails was stolen from a car",
        "Qué puede suponer para usted",
        "Possible disclosure of case details",
        "Qué hemos hecho y qué le recomendamos",
        "Protecdata Consultores · dpo@protecdata.example",
        "Agencia Española de Protección de Datos",
        "no una comunicación comercial",
    ] {
        assert!(es.contains(expected), "`{expected}` missing:\n{es}");
    }
    let en = preview("en");
    assert!(
        en.contains("What happened") && en.contains("What it may mean for you"),
        "{en}"
    );
}

#[test]
fn the_breach_scope_report_names_the_contact_point() {
    let c = Custodia::demo(custodia_engine::Backend::Sqlite);
    let out = c.path("breach.html");
    c.ok(&[
        "report",
        "breach",
        "--org",
        "bufete-ruiz",
        "--customer",
        "C-1001",
        "--from",
        "2026-01-01",
        "--to",
        "2027-01-01",
        "-o",
        out.to_str().expect("path"),
    ]);
    let html = std::fs::read_to_string(out).expect("report");
    assert!(
        html.contains("Contacto para la notificación (art. 33.3.b) RGPD)"),
        "{html}"
    );
    assert!(
        html.contains("Protecdata Consultores · dpo@protecdata.example"),
        "{html}"
    );
}

on_both_backends! {
fn the_demo_dossier_shows_the_new_legal_sections_in_both_languages(backend) {
    let c = Custodia::demo(backend);
    let es = dossier_pdf_text(&c, "bufete-ruiz", "es");
    for expected in [
        "Sectores jurídico",
        "Ana Martín (ana) 4 jurídico abogado/a",
        "expediente",
        "La excepción del art. 30.5 RGPD no aplica",
        "datos penales (art. 10)",
        "Contrato de encargo (art. 28.3) 15/01/2024",
        "Subencargados Datacentro Meseta, S.A. (off-site backup storage, Spain): autorizado el 15/01/2024",
        "Análisis de riesgos",
        "Nivel de riesgo: medio",
        "Revisión mensual del registro de accesos",
        "Compromisos de confidencialidad del personal",
        "Marta Vidal (marta) sin compromiso de confidencialidad firmado",
        "Trabajador `marta`: sin compromiso de confidencialidad firmado art. 5 LOPDGDD; art. 32.4 RGPD",
        "Violaciones de seguridad (arts. 33 y 34 RGPD)",
        "Plazo de notificación (72 h) 07/05/2026 09:30 UTC",
        "No notificada: improbable que entrañe un riesgo",
        "Comunicada a los afectados (art. 34) sí",
    ] {
        assert!(es.contains(expected), "Spanish dossier lacks `{expected}`:\n{es}");
    }
    // Pack descriptions are the packs' own English; the labels are ours.
    assert!(es.contains("no ve: expediente") && !es.contains("ve: case-file"), "{es}");
    assert!(!es.contains("RGPD/GDPR"), "{es}");
    let en = dossier_pdf_text(&c, "bufete-ruiz", "en");
    for expected in [
        "Sectors legal",
        "case file",
        "The GDPR art. 30(5) exemption does not apply",
        "Processing contract (art. 28(3)) 2024-01-15",
        "Risk analysis",
        "Monthly review of the access log",
        "Staff confidentiality agreements",
        "Personal data breaches (GDPR arts. 33 and 34)",
        "Notification deadline (72 h) 2026-05-07 09:30 UTC",
        "Not notified: unlikely to result in a risk",
        "LOPDGDD art. 5; GDPR art. 32(4)",
    ] {
        assert!(en.contains(expected), "English dossier lacks `{expected}`:\n{en}");
    }
    // A breach with the 72 hours running is pending with its deadline.
    c.ok(&[
        "add", "breach", "--org", "bufete-ruiz", "--id", "BR-OPEN", "--aware-at", "2026-11-25T08:00:00Z",
        "--nature", "Ransomware on the NAS",
    ]);
    let es = dossier_pdf_text(&c, "bufete-ruiz", "es");
    assert!(es.contains("Brecha `BR-OPEN`: notificar a la autoridad antes de 28/11/2026 08:00 UTC art. 33.1 RGPD"), "{es}");
}
}

/// Every word's right edge on the first page of a PDF, in points, with
/// the page width (pdftotext -bbox).
fn word_right_edges(pdf: &Path) -> (f64, Vec<(String, f64)>) {
    let out = std::process::Command::new("pdftotext")
        .args(["-bbox", "-f", "1", "-l", "1"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let html = String::from_utf8(out.stdout).expect("UTF-8");
    let attr = |tag: &str, name: &str| -> f64 {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let width = html
        .split("<page ")
        .nth(1)
        .map(|p| attr(p, "width"))
        .expect("page width");
    let words = html
        .split("<word ")
        .skip(1)
        .map(|w| {
            let text = w
                .split('>')
                .nth(1)
                .and_then(|t| t.split('<').next())
                .unwrap_or_default();
            (text.to_owned(), attr(w, "xMax"))
        })
        .collect();
    (width, words)
}

#[test]
fn long_hashes_on_the_dossier_cover_wrap_inside_the_page_margin() {
    let c = Custodia::demo(custodia_engine::Backend::Sqlite);
    c.decide("ana", "view", "customer:C-1001", &[]);
    let pdf = render_dossier(&c, "bufete-ruiz", "es", "pdf");
    let (width, words) = word_right_edges(&pdf);
    // A4 is 595 pt wide and the margins are 2 cm (56.7 pt).
    assert!((width - 595.3).abs() < 1.0, "{width}");
    let past: Vec<_> = words.iter().filter(|(_, x)| *x > width - 56.0).collect();
    assert!(past.is_empty(), "words past the right margin: {past:?}");
    // The hash is whole once the invisible break opportunities are gone.
    let text = pdf_text(&pdf).replace(['\u{200b}', ' '], "");
    let after = text
        .split("Cadenadeauditoríasecuencia")
        .nth(1)
        .and_then(|rest| rest.split('·').nth(1))
        .expect("the chain head on the cover");
    let hash: String = after.chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(hash.len(), 64, "{after}");
}

#[test]
fn register_entries_of_the_new_kinds_come_from_the_command_line_and_name_known_workers() {
    let c = Custodia::demo(custodia_engine::Backend::Sqlite);
    let add = |args: &[&str]| {
        let mut all = vec!["add"];
        all.extend_from_slice(args);
        c.run(&all)
    };
    let added = |args: &[&str]| {
        let out = add(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    let unknown = add(&[
        "log-review",
        "--org",
        "bufete-ruiz",
        "--id",
        "LR-X",
        "--date",
        "2026-11-20",
        "--reviewer",
        "nadie",
        "--findings",
        "ok",
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("worker `nadie` not found"));
    added(&[
        "confidentiality",
        "--org",
        "bufete-ruiz",
        "--id",
        "CF-marta",
        "--worker",
        "marta",
        "--signed",
        "2026-11-20",
    ]);
    added(&[
        "risk",
        "--org",
        "bufete-ruiz",
        "--id",
        "RK-2027",
        "--date",
        "2026-11-20",
        "--level",
        "low",
        "--method",
        "INCIBE checklist",
    ]);
    added(&[
        "provider",
        "--org",
        "bufete-ruiz",
        "--id",
        "P-CRM",
        "--name",
        "CRM Global",
        "--service",
        "CRM",
        "--personal-data",
        "--next-review",
        "2027-06-01",
        "--sub-processor",
        "Hosting Inc|servers|US",
    ]);
    added(&[
        "provider",
        "--org",
        "bufete-ruiz",
        "--id",
        "P-CAFE",
        "--name",
        "Cafetera",
        "--service",
        "coffee",
        "--next-review",
        "2027-06-01",
    ]);
    let es = dossier_pdf_text(&c, "bufete-ruiz", "es");
    assert!(!es.contains("Trabajador `marta`: sin compromiso"), "{es}");
    assert!(
        es.contains("Nivel de riesgo: bajo · Método: INCIBE checklist"),
        "{es}"
    );
    for expected in [
        "Proveedor `P-CRM` (CRM Global): encargado del tratamiento sin contrato firmado art. 28.3 RGPD",
        "subencargado sin autorización escrita: Hosting Inc",
        "Hosting Inc (servers, US): SIN AUTORIZACIÓN",
        "Proveedor `P-CAFE` (Cafetera): no consta si trata datos personales por cuenta nuestra art. 28 RGPD",
    ] {
        assert!(es.contains(expected), "`{expected}` missing:\n{es}");
    }
}
