//! Documents from live data: breach scope and audit summary, es and en.

use custodia_engine::Backend;

use crate::Custodia;

/// Renders an organisation's dossier and returns its HTML.
fn dossier(c: &Custodia, org: &str, lang: &str) -> String {
    let out = c.path(&format!("dossier-{org}-{lang}.html"));
    c.ok(&[
        "report",
        "dossier",
        "--org",
        org,
        "--lang",
        lang,
        "-o",
        out.to_str().expect("path"),
    ]);
    std::fs::read_to_string(&out).expect("dossier")
}

fn decide(c: &Custodia, worker: &str, action: &str, resource: &str) {
    c.ok(&[
        "decide",
        "--worker",
        worker,
        "--action",
        action,
        "--resource",
        resource,
        "--context",
        "time=2026-11-20T10:00:00Z",
    ]);
}

#[test]
fn breach_report_lists_the_customers_touched_in_both_languages() {
    let c = Custodia::demo(Backend::Sqlite);
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
            "2026-11-19",
            "--to",
            "2026-11-21",
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

#[test]
fn hostile_names_are_escaped_in_documents() {
    let c = Custodia::demo(Backend::Sqlite);
    let export = c.ok(&["export", "--org", "tienda-verde"]);
    let hostile = export.replace(
        "name = \"Tienda Verde Online\"",
        "name = \"<script>alert(1)</script> #set text(red) *bold*\"",
    );
    let file = c.path("hostile.toml");
    std::fs::write(&file, hostile).expect("write");
    c.ok(&["import", "--replace", file.to_str().expect("path")]);
    c.ok(&[
        "decide",
        "--worker",
        "beatriz",
        "--action",
        "view",
        "--resource",
        "customer:T-4001",
        "--context",
        "time=2026-11-20T10:00:00Z",
    ]);
    let out = c.path("summary.html");
    c.ok(&[
        "report",
        "audit",
        "--org",
        "tienda-verde",
        "--from",
        "2026-11-01",
        "--to",
        "2026-12-01",
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

#[test]
fn demo_dossiers_are_complete_in_both_languages() {
    let c = Custodia::demo(Backend::Sqlite);
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
            let html = dossier(&c, org, lang);
            for s in sections {
                assert!(html.contains(s), "{org} {lang}: no `{s}`");
            }
            assert!(
                html.contains(worker) && html.contains(provider),
                "{org} {lang}"
            );
        }
    }
}

#[test]
fn missing_art30_fields_and_overdue_reviews_are_pending_actions() {
    let c = Custodia::demo(Backend::Sqlite);
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
}

#[test]
fn an_edited_audit_log_turns_the_chain_evidence_red() {
    let c = Custodia::demo(Backend::Sqlite);
    c.ok(&[
        "decide",
        "--worker",
        "ana",
        "--action",
        "view",
        "--resource",
        "customer:C-1001",
    ]);
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
}
