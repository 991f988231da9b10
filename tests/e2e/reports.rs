//! Documents from live data: dossier, audit summary and breach scope,
//! HTML and PDF, es and en.

use std::path::PathBuf;

use crate::{Custodia, on_both_backends};

/// Renders an organisation's dossier and returns its HTML.
pub fn dossier(c: &Custodia, org: &str, lang: &str) -> String {
    let out = render_dossier(c, org, lang, "html");
    std::fs::read_to_string(&out).expect("dossier")
}

/// The date dossiers are made at in these tests (2026-11-26 12:00 UTC):
/// reviews, deadlines and certificates are judged against it, not against
/// the day the tests happen to run.
pub const DOSSIER_DATE: &str = "1795694400";

pub fn render_dossier(c: &Custodia, org: &str, lang: &str, format: &str) -> std::path::PathBuf {
    let out = c.path(&format!("dossier-{org}-{lang}.{format}"));
    let run = c
        .command()
        .env("SOURCE_DATE_EPOCH", DOSSIER_DATE)
        .env("CUSTODIA_AS", crate::officer(org))
        .args([
            "report", "dossier", "--org", org, "--lang", lang, "--format", format, "-o",
        ])
        .arg(&out)
        .output()
        .expect("run custodia");
    assert!(
        run.status.success(),
        "report dossier failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// Renders the dossier as PDF and reads its text back.
pub fn dossier_pdf_text(c: &Custodia, org: &str, lang: &str) -> String {
    pdf_text(&render_dossier(c, org, lang, "pdf"))
}

/// A PDF's text, read back with pdftotext (poppler-utils, installed by
/// ./test.sh), whitespace collapsed.
pub fn pdf_text(pdf: &std::path::Path) -> String {
    let bytes = std::fs::read(pdf).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (apt-get install poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 text")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A decision whose request says 2026-11-20 in office hours (the rules'
/// time); the audit log stamps it with the real clock.
fn decide(c: &Custodia, worker: &str, action: &str, resource: &str) {
    c.decide(
        worker,
        action,
        resource,
        &["--context", "time=2026-11-20T10:00:00Z"],
    );
}

on_both_backends! {
fn breach_report_lists_the_customers_touched_in_both_languages(backend) {
    let c = Custodia::demo(backend);
    decide(&c, "carlos", "view", "document:D-1001-2");
    decide(&c, "carlos", "export", "document:D-1001-2");
    decide(&c, "carlos", "view", "document:D-1002-1");
    decide(&c, "carlos", "view", "customer:C-1001/personal"); // denied
    for (lang, title, yes) in [
        ("es", "Informe de alcance de la brecha", ">sí<"),
        ("en", "Breach scope report", ">yes<"),
    ] {
        let out = c.path(&format!("breach-{lang}.html"));
        c.ok(&[
            "report",
            "breach",
            "--org",
            "bufete-ruiz",
            "--worker",
            "carlos",
            "--from",
            "2026-01-01",
            "--to",
            "2100-01-01",
            "--lang",
            lang,
            "-o",
            out.to_str().expect("path"),
        ]);
        let html = std::fs::read_to_string(&out).expect("report");
        assert!(html.contains(title), "{lang}");
        assert!(
            html.contains("<td>C-1001</td>") && html.contains("<td>C-1002</td>"),
            "{html}"
        );
        assert!(html.contains(yes), "C-1001's invoice was exported: {html}");
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "self-contained"
        );
    }
}
}

/// `report <kind> --org <org> <args> --format <format>` over all time, at
/// a fixed document time; returns the file written.
fn render_report(c: &Custodia, kind: &str, org: &str, args: &[&str], format: &str) -> PathBuf {
    render_until(c, kind, org, args, format, "2100-01-01")
}

/// [`render_report`] over events until `to`.
fn render_until(
    c: &Custodia,
    kind: &str,
    org: &str,
    args: &[&str],
    format: &str,
    to: &str,
) -> PathBuf {
    let lang = if kind == "breach" { "es" } else { "en" };
    let out = c.path(&format!("{kind}-{org}.{format}"));
    let mut command = vec![
        "report",
        kind,
        "--org",
        org,
        "--from",
        "2000-01-01",
        "--to",
        to,
        "--lang",
        lang,
        "--format",
        format,
        "-o",
        out.to_str().expect("path"),
    ];
    command.extend_from_slice(args);
    let status = c
        .command_with(&command)
        .env("SOURCE_DATE_EPOCH", "1795000000")
        .status()
        .expect("run custodia");
    assert!(status.success(), "custodia {command:?} failed");
    out
}

on_both_backends! {
fn audit_summary_and_breach_scope_render_as_reproducible_pdfs(backend) {
    let c = Custodia::demo(backend);
    decide(&c, "ana", "view", "customer:C-1001");
    decide(&c, "carlos", "export", "document:D-1001-2");
    decide(&c, "carlos", "view", "customer:C-1001/personal"); // denied
    decide(&c, "carlos", "view", "customer:C-1001/personal"); // denied
    decide(&c, "luis", "view", "customer:C-1001/personal"); // denied
    // Rendering is itself audited: fix the period before the first one.
    let until = chrono::Utc::now().to_rfc3339();
    let render =
        |kind, args: &[&str], format| render_until(&c, kind, "bufete-ruiz", args, format, &until);

    let html = std::fs::read_to_string(render("audit", &[], "html")).expect("html");
    assert_eq!(html.matches("<svg").count(), 2, "two inline charts: {html}");
    assert!(
        html.contains("<title>carlos: 2</title>"),
        "denials chart: {html}"
    );

    let first = render("audit", &[], "pdf");
    let summary = pdf_text(&first);
    for expected in [
        "Audit summary",
        "Bufete Ruiz Abogados",
        "Accesses per day",
        "Denied attempts per worker carlos 2 luis 1",
        "Exports, downloads and prints",
        "D-1001-2",
    ] {
        assert!(
            summary.contains(expected),
            "summary PDF lacks `{expected}`: {summary}"
        );
    }
    let bytes = std::fs::read(&first).expect("pdf");
    let again = render("audit", &[], "pdf");
    assert_eq!(
        std::fs::read(again).expect("pdf"),
        bytes,
        "same data, same bytes"
    );

    let breach = pdf_text(&render_report(
        &c,
        "breach",
        "bufete-ruiz",
        &["--worker", "carlos"],
        "pdf",
    ));
    for expected in [
        "Informe de alcance de la brecha",
        "carlos",
        "C-1001",
        "D-1001-2",
        "Intentos denegados 2",
    ] {
        assert!(
            breach.contains(expected),
            "breach PDF lacks `{expected}`: {breach}"
        );
    }
    // Each document written is an export in the chain, and the next
    // summary lists it.
    let events = c.ok(&["--json", "audit", "query", "--org", "bufete-ruiz"]);
    assert_eq!(
        events
            .matches("audit summary report (pdf, en) written to")
            .count(),
        2,
        "{events}"
    );
    assert!(
        events.contains("breach scope report (pdf, es) written to"),
        "{events}"
    );
    let later = std::fs::read_to_string(render_report(&c, "audit", "bufete-ruiz", &[], "html"))
        .expect("html");
    assert!(
        later.contains("breach scope report (pdf, es) written to"),
        "{later}"
    );
    c.ok(&["audit", "verify", "--org", "bufete-ruiz"]);
}
}

on_both_backends! {
fn hostile_names_are_escaped_in_documents(backend) {
    let c = Custodia::demo(backend);
    let export = c.ok(&["export", "--org", "tienda-verde"]);
    let hostile = export.replace(
        "name = \"Tienda Verde Online\"",
        "name = \"<script>alert(1)</script> #set text(red) *bold*\"",
    );
    let file = c.path("hostile.toml");
    std::fs::write(&file, hostile).expect("write");
    c.ok(&["import", "--replace", file.to_str().expect("path")]);
    decide(&c, "beatriz", "view", "customer:T-4001");
    let out = c.path("summary.html");
    c.ok(&[
        "report",
        "audit",
        "--org",
        "tienda-verde",
        "--from",
        "2026-01-01",
        "--to",
        "2100-01-01",
        "-o",
        out.to_str().expect("path"),
    ]);
    let html = std::fs::read_to_string(&out).expect("report");
    assert!(!html.contains("<script>"), "unescaped markup");
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(html.contains("<svg"), "inline chart");
    assert!(html.contains("beatriz"));
    let pdf = pdf_text(&render_report(&c, "audit", "tienda-verde", &[], "pdf"));
    assert!(
        pdf.contains("<script>alert(1)</script> #set text(red) *bold*"),
        "markup in a name is printed as text: {pdf}"
    );
    let html = dossier(&c, "tienda-verde", "es");
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "unescaped markup in the dossier"
    );
    assert!(
        html.contains("#set text(red) *bold*"),
        "typst-like text is kept as text"
    );
}
}

on_both_backends! {
fn demo_dossiers_are_complete_in_both_languages(backend) {
    let c = Custodia::demo(backend);
    for (org, worker, provider) in [
        ("bufete-ruiz", "Ana Martín", "Sistemas Castilla"),
        ("clinica-norte", "Dr. Javier García", "SaludSoft Cloud"),
    ] {
        for (lang, sections) in [
            (
                "es",
                [
                    "Expediente de Protección de Datos",
                    "Registro de actividades de tratamiento",
                    "Proveedores y acuerdos",
                    "Medidas de seguridad y evidencias",
                    "Acciones pendientes",
                    "Reglas de acceso en vigor",
                ],
            ),
            (
                "en",
                [
                    "Data Protection Dossier",
                    "Records of processing activities",
                    "Providers and service levels",
                    "Security measures and evidence",
                    "Pending actions",
                    "Access rules in force",
                ],
            ),
        ] {
            for (format, text) in [
                ("html", dossier(&c, org, lang)),
                ("pdf", dossier_pdf_text(&c, org, lang)),
            ] {
                for s in sections {
                    assert!(text.contains(s), "{org} {lang} {format}: no `{s}`");
                }
                assert!(
                    text.contains(worker) && text.contains(provider),
                    "{org} {lang} {format}: {text}"
                );
            }
        }
    }
}
}

on_both_backends! {
fn the_dossier_cover_names_the_signed_checkpoint_it_was_built_from(backend) {
    let c = Custodia::demo(backend);
    let key = c.ok(&["audit", "public-key"]);
    let key = key.split_whitespace().last().expect("a public key");
    let html = dossier(&c, "bufete-ruiz", "en");
    let row = html
        .lines()
        .find(|l| l.contains("Latest signed checkpoint"))
        .expect("a checkpoint row");
    // The import and the Robinson list download are the first two events.
    assert!(row.contains("sequence 2 ·"), "{row}");
    assert!(row.contains(&format!("key {key} · signature ")), "{row}");
}
}

on_both_backends! {
fn missing_art30_fields_and_overdue_reviews_are_pending_actions(backend) {
    let c = Custodia::demo(backend);
    let html = dossier(&c, "bufete-ruiz", "en");
    // RA-02 has no retention period; P-NAS was due for review on 2026-11-01.
    assert!(
        html.contains("Activity `RA-02`: missing field erasure time limit"),
        "{html}"
    );
    assert!(
        html.contains("Provider `P-NAS` (Sistemas Castilla, S.L.): periodic review overdue"),
        "{html}"
    );
    assert!(!html.contains("Activity `RA-01`"), "RA-01 is complete");
    assert!(html.contains("REVIEW OVERDUE"));
    let pdf = dossier_pdf_text(&c, "bufete-ruiz", "en");
    for expected in [
        "Activity `RA-02`: missing field erasure time limit",
        "Provider `P-NAS` (Sistemas Castilla, S.L.): periodic review overdue",
        "REVIEW OVERDUE",
    ] {
        assert!(pdf.contains(expected), "PDF lacks `{expected}`: {pdf}");
    }
}
}

on_both_backends! {
fn an_edited_audit_log_turns_the_chain_evidence_red(backend) {
    let c = Custodia::demo(backend);
    decide(&c, "ana", "view", "customer:C-1001");
    let before = dossier(&c, "bufete-ruiz", "en");
    assert!(
        before.contains("<td class=\"ok\">intact"),
        "chain evidence should be green first"
    );
    c.tamper("UPDATE audit_events SET worker = 'elena' WHERE org = 'bufete-ruiz' AND seq = 2");
    let after = dossier(&c, "bufete-ruiz", "en");
    assert!(
        after.contains("<td class=\"alert\">BROKEN at sequence 2: edited"),
        "{after}"
    );
    assert!(after.contains("The audit log does not verify"));
    let pdf = dossier_pdf_text(&c, "bufete-ruiz", "en");
    assert!(pdf.contains("BROKEN at sequence 2: edited"), "{pdf}");
    assert!(pdf.contains("The audit log does not verify"), "{pdf}");
}
}

on_both_backends! {
fn the_pdf_dossier_is_reproducible_and_hostile_names_stay_text(backend) {
    let c = Custodia::demo(backend);
    let export = c.ok(&["export", "--org", "tienda-verde"]);
    // TOML literal strings: the names reach the store exactly as written.
    let customer = r#"<script>alert(1)</script> #set text(red) *bold*"#;
    let provider = r#"Evil "] #panic("boom") $x^2$ \ <b>@ref"#;
    let hostile = export
        .replace(
            "name = \"Tienda Verde Online\"",
            &format!("name = '{customer}'"),
        )
        .replace("name = \"HostingMed\"", &format!("name = '{provider}'"));
    assert_ne!(hostile, export);
    let file = c.path("hostile.toml");
    std::fs::write(&file, hostile).expect("write");
    c.ok(&["import", "--replace", file.to_str().expect("path")]);
    let pdf = dossier_pdf_text(&c, "tienda-verde", "en");
    assert!(pdf.contains(customer), "{pdf}");
    assert!(pdf.contains(provider), "{pdf}");

    // Same data, same bytes (SOURCE_DATE_EPOCH fixes the report's date).
    // Writing a dossier appends its export to the log, so the second one is
    // rendered from a copy of the store taken before the first.
    let snapshot = c.snapshot();
    let render = |store: &Custodia, name: &str| {
        let out = c.path(name);
        let status = store
            .command()
            .args(["report", "dossier", "--org", "tienda-verde", "--as", "hugo"])
            .args(["--format", "pdf", "-o"])
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "1795435200")
            .status()
            .expect("custodia");
        assert!(status.success());
        std::fs::read(out).expect("pdf")
    };
    assert_eq!(
        render(&c, "a.pdf"),
        render(&snapshot, "b.pdf"),
        "two renders of the same data differ"
    );
}
}

on_both_backends! {
fn the_dossier_says_what_each_worker_may_see(backend) {
    let c = Custodia::demo(backend);
    let html = dossier(&c, "bufete-ruiz", "en");
    // The assistant: administrative data only, as the seed guide asks.
    assert!(
        html.contains("<td>sees: customer record, administrative; does not see: case file, financial, personal</td>"),
        "{html}"
    );
    // The lawyer in charge of C-1001: the case file stays closed until unlocked.
    assert!(html.contains("does not see: case file</td>"), "{html}");
    let pdf = dossier_pdf_text(&c, "bufete-ruiz", "es");
    assert!(pdf.contains("Qué puede ver"), "{pdf}");
    assert!(
        pdf.contains("ve: ficha del cliente, administrativa"),
        "{pdf}"
    );
}
}

/// The dossier of bufete-ruiz in English as of 2026-11-23, with `extra`
/// arguments; returns the HTML and the PDF's text.
fn dossier_as_of_2026_11_23(c: &Custodia, extra: &[&str]) -> (String, String) {
    let render = |format: &str| {
        let out = c.path(&format!("dossier-dated.{format}"));
        let status = c
            .command()
            .args([
                "report",
                "dossier",
                "--org",
                "bufete-ruiz",
                "--lang",
                "en",
                "--as",
                "rocio",
            ])
            .args(["--format", format, "-o", out.to_str().expect("path")])
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1795392000")
            .status()
            .expect("run custodia");
        assert!(status.success(), "dossier {format} failed");
        out
    };
    let html = std::fs::read_to_string(render("html")).expect("html");
    (html, pdf_text(&render("pdf")))
}

on_both_backends! {
fn tls_certificates_show_their_expiry_and_a_near_one_is_pending(backend) {
    let c = Custodia::demo(backend);
    let fixture = |name: &str| {
        crate::repo()
            .join("tests/fixtures/tls")
            .join(name)
            .display()
            .to_string()
    };
    let (www, mail, old) = (
        fixture("www-valid.pem"),
        fixture("mail-expiring.pem"),
        fixture("old-expired.pem"),
    );
    let (html, pdf) = dossier_as_of_2026_11_23(
        &c,
        &["--tls-cert", &www, "--tls-cert", &mail, "--tls-cert", &old],
    );
    assert!(
        html.contains(&format!(
            "<td class=\"ok\">CN=www.bufete-ruiz.example ({www}): expires on 2027-03-01 (98 days)"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<td class=\"alert\">CN=mail.bufete-ruiz.example ({mail}): expires on 2026-12-05 (12 days)"
        )),
        "{html}"
    );
    assert!(html.contains("EXPIRED on 2021-01-01"), "{html}");
    for (pending, in_pdf) in [
        (
            "TLS certificate `CN=mail.bufete-ruiz.example`: expires on 2026-12-05 (12 days)",
            "example`: expires on 2026-12-05 (12 days) GDPR art. 32(1)(a)",
        ),
        (
            "TLS certificate `CN=old.bufete-ruiz.example`: EXPIRED on 2021-01-01",
            "example`: EXPIRED on 2021-01-01 GDPR art. 32(1)(a)",
        ),
    ] {
        assert!(html.contains(pending), "HTML lacks `{pending}`");
        // typst may hyphenate the host name; the pending row's tail is whole.
        assert!(pdf.contains(in_pdf), "PDF lacks `{in_pdf}`: {pdf}");
    }
    assert!(
        !html.contains("TLS certificate `CN=www"),
        "a healthy one is not pending"
    );

    let none = c.path("none.pem");
    std::fs::write(&none, "not a certificate").expect("write");
    let out = c.path("never.html");
    let err = c.fails(&[
        "report",
        "dossier",
        "--org",
        "bufete-ruiz",
        "--tls-cert",
        none.to_str().expect("path"),
        "-o",
        out.to_str().expect("path"),
    ]);
    assert!(
        err.contains(&format!(
            "tls certificate `{}`: no `BEGIN CERTIFICATE` block",
            none.display()
        )),
        "{err}"
    );
    assert!(!out.exists(), "no dossier from a bad certificate");
}
}

on_both_backends! {
fn encryption_evidence_turns_green_once_a_measure_is_recorded(backend) {
    let c = Custodia::demo(backend);
    let (before, _) = dossier_as_of_2026_11_23(&c, &[]);
    assert!(
        before
            .contains("<td class=\"alert\">1/1 backups encrypted; no encryption measure recorded"),
        "{before}"
    );
    c.ok(&[
        "add",
        "measure",
        "--org",
        "bufete-ruiz",
        "--id",
        "M-DISK",
        "--name",
        "Full-disk encryption (LUKS)",
        "--category",
        "encryption",
    ]);
    let (after, pdf) = dossier_as_of_2026_11_23(&c, &[]);
    assert!(
        after.contains("<td class=\"ok\">1/1 backups encrypted; Full-disk encryption (LUKS)"),
        "{after}"
    );
    assert!(
        pdf.contains("1/1 backups encrypted; Full-disk encryption (LUKS)"),
        "{pdf}"
    );
}
}

#[test]
fn the_information_clause_of_an_activity_renders_in_layers_and_names_what_is_missing() {
    let c = Custodia::demo(crate::Backend::Sqlite);
    let clause = |activity: &str, lang: &str, format: &str| {
        let out = c.path(&format!("clause-{activity}-{lang}.{format}"));
        let args = [
            "report",
            "clause",
            "--org",
            "bufete-ruiz",
            "--activity",
            activity,
            "--lang",
            lang,
            "--format",
            format,
            "-o",
            out.to_str().expect("path"),
        ];
        (c.run(&args), out)
    };
    let (run, html) = clause("RA-01", "es", "html");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(html).expect("clause");
    for point in [
        "Responsable",
        "Finalidad",
        "Legitimación",
        "Destinatarios",
        "Derechos",
        "Información adicional",
    ] {
        assert!(
            html.contains(&format!("<th scope=\"row\">{point}</th>")),
            "basic layer: {point}"
        );
    }
    assert!(
        html.contains("5 years after the case is closed"),
        "the retention, from the register"
    );
    assert!(
        html.contains("dpo@protecdata.example"),
        "rights go to the DPO"
    );
    let (run, pdf) = clause("RA-01", "en", "pdf");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Basic information") && text.contains("What are your rights?"),
        "{text}"
    );
    // RA-02 has no retention in the register: no clause with a gap.
    let (run, _) = clause("RA-02", "es", "html");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && err.contains("`RA-02`") && err.contains("`retention`"),
        "{err}"
    );
    let (run, _) = clause("RA-99", "es", "html");
    assert!(String::from_utf8_lossy(&run.stderr).contains("`RA-99`"));
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'export' AND detail LIKE 'information clause%'"),
        2,
        "each clause written is a recorded export"
    );
}
