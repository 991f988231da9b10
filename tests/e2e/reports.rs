//! Documents from live data: breach scope and audit summary, es and en.

use custodia_engine::Backend;

use crate::Custodia;

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
}
