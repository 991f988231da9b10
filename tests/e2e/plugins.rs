//! The example WebAssembly plugins change decisions on the demo store, and
//! `custodia plugins` lists and checks them.

use custodia_engine::Backend;
use serde_json::Value;

use crate::decisions::copy_dir;
use crate::{Custodia, on_both_backends, repo};

/// A copy of the shipped packs with one pack's plugins (and the cases that
/// exercise them) taken out: the same rules, no plugin.
fn packs_without_plugins(c: &Custodia, pack: &str, cases: &str) -> String {
    // Pack cases find their worlds in ../../../demo: copy both.
    let copy = c.dir.path().join("without-plugins");
    copy_dir(&repo().join("plugins/demo"), &copy.join("demo"));
    let root = copy.join("packs");
    copy_dir(&repo().join("plugins/packs"), &root);
    let manifest = root.join(pack).join("pack.toml");
    let text = std::fs::read_to_string(&manifest).expect("pack.toml");
    let cut = text
        .find("\n[[plugins]]")
        .expect("the pack declares a plugin");
    let without = text[..cut]
        .rsplit_once("\n#")
        .map_or(&text[..cut], |(keep, _)| keep);
    std::fs::write(&manifest, without).expect("write pack.toml");
    std::fs::remove_file(root.join(pack).join("tests").join(cases)).expect("remove plugin cases");
    root.display().to_string()
}

/// `custodia explain` of a request in `org`, with the packs in `packs`
/// (the default folder when `None`), and `extra` arguments.
fn explain(
    c: &Custodia,
    packs: Option<&str>,
    org: &str,
    (worker, action, resource): (&str, &str, &str),
    extra: &[&str],
) -> Value {
    let mut more = vec!["--org", org];
    if let Some(packs) = packs {
        more.extend(["--packs", packs]);
    }
    more.extend_from_slice(extra);
    c.ask("explain", worker, action, resource, &more)
}

fn reasons(explained: &Value) -> String {
    explained["reasons"].to_string()
}

on_both_backends! {
fn the_closed_case_plugin_makes_a_closed_file_read_only_except_for_the_partner(backend) {
    let c = Custodia::demo(backend);
    let ask = |packs: Option<&str>, worker: &str, action: &str, resource: &str| {
        explain(&c, packs, "bufete-ruiz", (worker, action, resource), &[])
    };
    let edit = ask(None, "pablo", "edit", "document:D-1002-2");
    assert_eq!(edit["decision"], "deny", "{edit}");
    assert!(
        reasons(&edit).contains(
            "case `C-1002` is closed: its file is read-only for everyone but the partner"
        ),
        "{edit}"
    );
    assert!(reasons(&edit).contains("plugin:closed-case"), "{edit}");
    assert_eq!(
        ask(None, "pablo", "view", "document:D-1002-2")["decision"],
        "allow"
    );
    assert_eq!(
        ask(None, "elena", "edit", "document:D-1002-2")["decision"],
        "allow"
    );
    assert_eq!(
        ask(None, "ana", "edit", "document:D-1001-1")["decision"],
        "allow"
    );

    // The same packs without the plugin: the lawyer in charge could edit.
    let plain = packs_without_plugins(&c, "legal", "closed-case.toml");
    let edit = ask(Some(&plain), "pablo", "edit", "document:D-1002-2");
    assert_eq!(edit["decision"], "allow", "{edit}");
}
}

on_both_backends! {
fn the_office_hours_plugin_opens_the_agenda_only_in_office_hours(backend) {
    let c = Custodia::demo(backend);
    let at = |packs: Option<&str>, time: &str| {
        let context = format!("time={time}");
        explain(
            &c,
            packs,
            "clinica-norte",
            ("recepcion", "view", "document:D-2001-4"),
            &["--context", &context],
        )
    };
    // Monday 23 November 2026, Madrid (UTC+1).
    assert_eq!(at(None, "2026-11-23T10:00:00Z")["decision"], "allow");
    let night = at(None, "2026-11-23T22:30:00Z");
    assert_eq!(night["decision"], "deny", "{night}");
    assert!(
        reasons(&night).contains("reception sees the agenda only in office hours (now mon 23:30)"),
        "{night}"
    );
    let explained = night["skipped"].to_string();
    assert!(explained.contains("plugin:office-hours"), "{night}");

    let plain = packs_without_plugins(&c, "health", "reception.toml");
    // Without the provider the rule reads no `open` attribute: it denies
    // (fail closed), at any hour.
    assert_eq!(at(Some(&plain), "2026-11-23T10:00:00Z")["decision"], "deny");
}
}

#[test]
fn plugins_are_listed_with_their_pins_and_checked() {
    let c = Custodia::new(Backend::Sqlite);
    let listed: Value = serde_json::from_str(&c.ok(&["plugins", "list", "--json"])).expect("json");
    let names: Vec<String> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            format!("{}/{} {} {}", p["pack"], p["plugin"], p["kind"], p["pin"]).replace('"', "")
        })
        .collect();
    assert_eq!(
        names,
        [
            "health/office-hours attribute-provider matches",
            "legal/closed-case check matches"
        ]
    );
    let checked = c.ok(&["plugins", "check"]);
    assert!(
        checked.contains("ok  legal/closed-case: sha256 verified, compiled, implements `check`"),
        "{checked}"
    );
}
