//! The seed guides' scenarios, decided by `custodia decide` on the demo store.

use std::path::Path;
use std::time::{Duration, Instant};

use custodia_engine::Backend;
use serde_json::Value;

use crate::{Custodia, on_both_backends};

/// (worker, action, resource, expected decision, a rule that must have decided)
const SCENARIOS: &[(&str, &str, &str, &str, &str)] = &[
    // Divorce case: only the lawyer in charge sees the whole file.
    (
        "ana",
        "view",
        "customer:C-1001",
        "allow",
        "legal/lawyer-in-charge",
    ),
    (
        "ana",
        "view",
        "customer:C-1001/personal",
        "allow",
        "legal/lawyer-in-charge",
    ),
    (
        "ana",
        "view",
        "customer:C-1001/case-file",
        "deny",
        "base/password-closed-area",
    ),
    (
        "pablo",
        "view",
        "customer:C-1001",
        "deny",
        "legal/lawyer-not-on-case",
    ),
    (
        "pablo",
        "view",
        "customer:C-1001/personal",
        "deny",
        "legal/lawyer-not-on-case",
    ),
    // The assistant: administrative areas, no personal information.
    (
        "luis",
        "view",
        "customer:C-1001/administrative",
        "allow",
        "legal/assistant-administrative",
    ),
    (
        "luis",
        "view",
        "customer:C-1001/personal",
        "deny",
        "legal/assistant-no-personal-information",
    ),
    (
        "luis",
        "view",
        "document:D-1001-3",
        "deny",
        "legal/assistant-no-personal-information",
    ),
    // Support never sees accounting; accountants see invoices, not court filings.
    (
        "sofia",
        "view",
        "customer:C-1001/financial",
        "deny",
        "base/support-never-sees-accounting",
    ),
    (
        "sofia",
        "view",
        "document:D-1001-2",
        "deny",
        "base/support-never-sees-accounting",
    ),
    (
        "carlos",
        "view",
        "document:D-1001-2",
        "allow",
        "legal/accounting-invoices",
    ),
    (
        "carlos",
        "view",
        "document:D-1002-2",
        "deny",
        "legal/accounting-no-case-data",
    ),
    // Export control: accounting exports invoices; an assistant exports nothing.
    (
        "carlos",
        "export",
        "document:D-1001-2",
        "allow",
        "legal/accounting-invoices",
    ),
    (
        "luis",
        "export",
        "document:D-1001-1",
        "deny",
        "base/export-control",
    ),
    (
        "luis",
        "print",
        "document:D-1001-1",
        "deny",
        "base/export-control",
    ),
    // Marketing and the opt-out list.
    (
        "marta",
        "send",
        "customer:C-1001",
        "allow",
        "base/marketing-send",
    ),
    (
        "marta",
        "send",
        "customer:C-1002",
        "deny",
        "base/marketing-send",
    ),
    // The clinic: each specialist sees their own specialty; grants are read-only.
    (
        "garcia",
        "view",
        "customer:P-2001/clinical:cardiology",
        "allow",
        "health/own-specialty",
    ),
    (
        "garcia",
        "view",
        "customer:P-2001/clinical:dermatology",
        "deny",
        "health/other-specialty",
    ),
    (
        "ortiz",
        "view",
        "document:D-2001-2",
        "allow",
        "health/own-specialty",
    ),
    (
        "ruiz",
        "view",
        "customer:P-2001/clinical:cardiology",
        "allow",
        "health/granted-specialty-read",
    ),
    (
        "ruiz",
        "edit",
        "customer:P-2001/clinical:cardiology",
        "deny",
        "health/grant-is-read-only",
    ),
    (
        "recepcion",
        "view",
        "customer:P-2001/administrative",
        "allow",
        "health/reception-administrative",
    ),
    (
        "recepcion",
        "view",
        "customer:P-2001/clinical:cardiology",
        "deny",
        "health/reception-no-clinical-data",
    ),
    // Document types: contracts vs invoices vs court filings.
    (
        "marc",
        "view",
        "document:D-5001-3",
        "allow",
        "architecture/administration-contracts-and-invoices",
    ),
    (
        "pau",
        "view",
        "document:D-5001-3",
        "deny",
        "architecture/drafting-no-finances",
    ),
];

/// `[[case]]` tables in every pack's test files, counted from the text.
fn pack_cases(packs: &Path) -> usize {
    let mut n = 0;
    for pack in std::fs::read_dir(packs).expect("packs").flatten() {
        let Ok(files) = std::fs::read_dir(pack.path().join("tests")) else {
            continue;
        };
        for file in files.flatten() {
            let text = std::fs::read_to_string(file.path()).expect("test file");
            n += text.lines().filter(|l| l.trim() == "[[case]]").count();
        }
    }
    n
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the shipped packs in the store's folder, with the demo files
/// their tests point to (`../../../demo/`); returns the packs folder.
pub fn copy_packs(c: &Custodia) -> std::path::PathBuf {
    let plugins = crate::repo().join("plugins");
    let copy = c.path("plugins");
    copy_dir(&plugins.join("packs"), &copy.join("packs"));
    copy_dir(&plugins.join("demo"), &copy.join("demo"));
    copy.join("packs")
}

/// Audit events of `org` of one kind, oldest first.
fn events_of(c: &Custodia, org: &str, kind: &str) -> Vec<Value> {
    let all: Value =
        serde_json::from_str(&c.ok(&["audit", "query", "--org", org, "--json"])).expect("json");
    all.as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// Waits until `org` has `n` events of `kind`; returns them.
fn wait_for_events(c: &Custodia, org: &str, kind: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = events_of(c, org, kind);
        if events.len() >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{} `{kind}` events, waited for {n}",
            events.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hup(server: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
}

/// luis asks the server about himself; the decision as JSON.
fn luis_views(addr: &str, token: &str) -> Value {
    let ask = r#"{"action":"view","resource":"customer:C-1001"}"#;
    let (status, body) =
        crate::http_auth(addr, "POST", "/v1/decisions", Some(ask), Some(token)).expect("decide");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

fn the_rule_names(decision: &Value) -> Vec<String> {
    decision["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["pack"].as_str().unwrap_or(""),
                r["rule"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn rules_check_and_test_report_like_a_test_runner() {
    let c = Custodia::new(Backend::Sqlite);
    let packs = crate::repo().join("plugins/packs");
    let out = c.ok(&["rules", "check", packs.to_str().expect("path")]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{out}"
    );
    // Every shipped rule is lowered to native code.
    assert!(!out.contains("interpreter"), "{out}");
    let out = c.ok(&["rules", "test", packs.to_str().expect("path")]);
    let cases = pack_cases(&packs);
    assert!(cases >= 120, "{cases} cases counted");
    assert_eq!(
        out.lines().last(),
        Some(format!("{cases} passed, 0 failed").as_str()),
        "{out}"
    );

    // One case expecting the wrong answer: reported by name, exit non-zero.
    let copy = copy_packs(&c);
    let file = copy.join("base/tests/pyramid.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    let broken = text.replacen("expect = \"deny\"", "expect = \"allow\"", 1);
    assert_ne!(broken, text);
    std::fs::write(&file, broken).expect("write");
    let out = c.run(&["rules", "test", copy.to_str().expect("path")]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL base :: "), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some(format!("{} passed, 1 failed", cases - 1).as_str()),
        "{stdout}"
    );

    // A rule with a loop is not lowered, and `rules check` says so.
    let legal = copy.join("legal");
    let mut manifest = std::fs::read_to_string(legal.join("pack.toml")).expect("manifest");
    manifest.push_str(
        "\n[[rules]]\nname = \"counted\"\ndescription = \"loops\"\nactions = [\"view\"]\nresources = [\"customer\"]\n",
    );
    std::fs::write(legal.join("pack.toml"), manifest).expect("write manifest");
    let counted = "let i = 0; while i < 3 { i += 1; } if i == 4 { deny(\"never\") }";
    std::fs::write(legal.join("rules/counted.rhai"), counted).expect("write rule");
    let out = c.ok(&["rules", "check", copy.to_str().expect("path")]);
    let interpreted: Vec<&str> = out.lines().filter(|l| l.contains("interpreter")).collect();
    assert_eq!(interpreted.len(), 1, "{out}");
    assert!(interpreted[0].contains("legal/counted"), "{out}");
}

on_both_backends! {
fn seed_scenarios_are_decided_as_the_guides_describe(backend) {
    let c = Custodia::demo(backend);
    let mut failures = Vec::new();
    for &(worker, action, resource, expected, rule) in SCENARIOS {
        let decision = c.decide(worker, action, resource, &[]);
        if decision["decision"] != expected || !the_rule_names(&decision).iter().any(|r| r == rule) {
            failures.push(format!(
                "{worker} {action} {resource}: expected {expected} by {rule}, got {decision}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every decision above is in the audit log, and the chain verifies.
    let legal = SCENARIOS
        .iter()
        .filter(|s| s.2.starts_with("customer:C") || s.2.starts_with("document:D-100"))
        .count();
    assert!(legal > 0);
    let decisions = events_of(&c, "bufete-ruiz", "decision").len()
        + events_of(&c, "bufete-ruiz", "export").len();
    assert_eq!(decisions, legal);
    assert_eq!(events_of(&c, "bufete-ruiz", "import").len(), 1, "the demo import is audited");
    let verify = c.ok(&["audit", "verify"]);
    let lines: Vec<&str> = verify.lines().collect();
    assert_eq!(lines.len(), 5, "one line per demo organisation: {verify}");
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{verify}");
}

fn the_assistant_sees_the_record_with_personal_fields_masked(backend) {
    let c = Custodia::demo(backend);
    let d = c.decide("luis", "view", "customer:C-1001", &[]);
    assert_eq!(d["decision"], "allow");
    assert_eq!(
        d["mask"],
        serde_json::json!(["address", "attributes", "phone", "tax_id"])
    );
}

fn a_closed_area_opens_only_with_its_password_and_wrong_passwords_lock_it(backend) {
    let c = Custodia::demo(backend);
    let view = |worker: &str| c.decide(worker, "view", "customer:C-1001/case-file", &[])["decision"].clone();
    let unlock = |worker: &'static str| -> [&'static str; 6] {
        ["unlock", "--worker", worker, "--area", "customer:C-1001/case-file", "--password-stdin"]
    };
    assert_eq!(view("ana"), "deny");

    // Another lawyer may not even try.
    let err = c.fails_with_stdin(&unlock("pablo"), "expediente-1001\n");
    assert!(err.contains("may not unlock"), "{err}");

    // Five wrong passwords lock the still-closed area for that worker:
    // even the right password is then refused, and it stays closed.
    for _ in 0..5 {
        let err = c.fails_with_stdin(&unlock("ana"), "not-the-password\n");
        assert!(err.contains("area not unlocked"), "{err}");
        assert_eq!(view("ana"), "deny");
    }
    let out = c.run_with_stdin(&unlock("ana"), "expediente-1001\n");
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("too many wrong passwords"), "{said}");
    assert_eq!(view("ana"), "deny", "the right password after the lockout opens nothing");
    let failed: Vec<Value> = events_of(&c, "bufete-ruiz", "unlock_failed")
        .iter()
        .map(|e| serde_json::from_str(e["detail"].as_str().expect("detail")).expect("json detail"))
        .collect();
    let outcomes: Vec<&str> = failed.iter().map(|d| d["outcome"].as_str().expect("outcome")).collect();
    assert_eq!(outcomes, ["wrong_password", "wrong_password", "wrong_password", "wrong_password", "wrong_password", "rate_limited"]);
    assert_eq!(failed[4]["attempts_left"], 0);
    assert!(events_of(&c, "bufete-ruiz", "unlock").is_empty());

    // The lockout is per worker: the partner opens it with the password.
    c.ok_with_stdin(&unlock("elena"), "expediente-1001\n");
    assert_eq!(view("elena"), "allow");
    assert_eq!(view("ana"), "deny");
    let opened = events_of(&c, "bufete-ruiz", "unlock");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["worker"], "elena");
}

fn sighup_reloads_a_changed_pack_and_keeps_the_old_ones_when_the_new_are_broken(backend) {
    let c = Custodia::demo(backend);
    let packs = copy_packs(&c);
    let (mut server, addr) = crate::crash::start_server_with(&c, &["--packs", packs.to_str().expect("path")]);
    let luis = crate::crash::login(&addr, "luis", "demo-luis");
    assert_eq!(luis_views(&addr, &luis)["decision"], "allow");

    // A new pack that sends luis on leave.
    let leave = packs.join("leave");
    std::fs::create_dir_all(leave.join("rules")).expect("mkdir");
    std::fs::write(
        leave.join("pack.toml"),
        "name = \"leave\"\nversion = \"1.0.0\"\ndescription = \"workers on leave\"\n\n\
         [[rules]]\nname = \"luis-on-leave\"\ndescription = \"luis is on leave\"\n\
         actions = [\"view\"]\nresources = [\"customer\"]\n",
    )
    .expect("pack");
    let rule = leave.join("rules/luis-on-leave.rhai");
    std::fs::write(&rule, "if worker.login == \"luis\" { deny(\"on leave\") }").expect("rule");
    hup(&server);
    let reloads = wait_for_events(&c, "bufete-ruiz", "rules_reload", 1);
    assert_eq!(reloads[0]["decision"], "allow", "{}", reloads[0]);
    assert!(reloads[0]["detail"].as_str().expect("detail").contains("leave 1.0.0"), "{}", reloads[0]);
    let after = luis_views(&addr, &luis);
    assert_eq!(after["decision"], "deny");
    assert!(the_rule_names(&after).contains(&"leave/luis-on-leave".to_owned()), "{after}");

    // A broken pack: refused, audited, and the packs in force stay.
    std::fs::write(&rule, "if worker.login == \"luis\" { deny(\"on leave\") ").expect("rule");
    hup(&server);
    let reloads = wait_for_events(&c, "bufete-ruiz", "rules_reload", 2);
    assert_eq!(reloads[1]["decision"], "deny", "{}", reloads[1]);
    assert!(reloads[1]["detail"].as_str().expect("detail").starts_with("refused, previous packs kept"), "{}", reloads[1]);
    let kept = luis_views(&addr, &luis);
    assert_eq!(kept["decision"], "deny");
    assert!(the_rule_names(&kept).contains(&"leave/luis-on-leave".to_owned()), "{kept}");
    assert_eq!(crate::http(&addr, "GET", "/healthz", None).map(|r| r.0), Some(200), "still serving");
    server.kill().expect("stop");
    let _ = server.wait();
}
fn the_api_answers_only_logged_in_workers_about_themselves_and_audits_logins(backend) {
    use crate::{http, http_auth};
    let c = Custodia::demo(backend);
    let (mut server, addr) = crate::crash::start_server(&c);
    let ask = r#"{"worker":"luis","action":"view","resource":"customer:C-1001/personal"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/decisions", Some(ask)).map(|r| r.0),
        Some(401),
        "no session, no answer"
    );

    let wrong = r#"{"login":"luis","password":"not-his"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(wrong)).map(|r| r.0),
        Some(401)
    );
    let nobody = r#"{"login":"nobody","password":"whatever1"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(nobody)).map(|r| r.0),
        Some(401),
        "unknown logins look the same"
    );

    let luis = crate::crash::login(&addr, "luis", "demo-luis");
    let (status, body) =
        http_auth(&addr, "POST", "/v1/decisions", Some(ask), Some(&luis)).expect("decide");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["decision"], "deny");
    assert!(v["audit"]["seq"].as_i64().is_some());

    let as_ana = r#"{"worker":"ana","action":"view","resource":"customer:C-1001/personal"}"#;
    assert_eq!(
        http_auth(&addr, "POST", "/v1/decisions", Some(as_ana), Some(&luis)).map(|r| r.0),
        Some(403),
        "luis may not ask as ana"
    );
    assert_eq!(
        http_auth(&addr, "POST", "/v1/decisions", Some(ask), Some("0000")).map(|r| r.0),
        Some(401),
        "forged token"
    );

    // Five failures in a window lock the account for a while.
    for _ in 0..5 {
        http(
            &addr,
            "POST",
            "/v1/login",
            Some(r#"{"login":"pablo","password":"guess-guess"}"#),
        );
    }
    let good = r#"{"login":"pablo","password":"demo-pablo"}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/login", Some(good)).map(|r| r.0),
        Some(429)
    );
    server.kill().expect("stop");
    let _ = server.wait();

    let events = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--csv"]);
    assert!(
        events.lines().any(|l| l.contains(",login,luis,")),
        "{events}"
    );
    let failed: Vec<String> = events_of(&c, "bufete-ruiz", "login_failed")
        .iter()
        .map(|e| format!("{} {}", e["worker"].as_str().unwrap_or("-"), e["detail"].as_str().unwrap_or("-")))
        .collect();
    // luis's wrong password, pablo's five, and pablo's right one refused
    // during the back-off; the unknown login belongs to no organisation.
    assert_eq!(
        failed,
        ["luis -", "pablo -", "pablo -", "pablo -", "pablo -", "pablo -", "pablo rate limited"]
    );
    assert!(
        !events.contains("demo-luis") && !events.contains("not-his"),
        "passwords never reach the log"
    );
}

fn audit_verify_names_each_edit_made_in_the_database_and_exits_non_zero(backend) {
    let c = Custodia::demo(backend);
    for resource in [
        "customer:C-1001",
        "customer:C-1001/personal",
        "document:D-1001-1",
    ] {
        c.decide("ana", "view", resource, &[]);
    }
    // Events 1 and 2 are the demo's import and Robinson list; event 6 is a
    // deny, which an attacker would rather see as an allow.
    assert_eq!(c.decide("luis", "view", "customer:C-1001/personal", &[])["decision"], "deny");
    let verify = || c.run(&["audit", "verify", "--org", "bufete-ruiz"]);
    assert!(String::from_utf8_lossy(&verify().stdout).starts_with("ok "));
    c.tamper("CREATE TABLE saved AS SELECT * FROM audit_events");
    let edits = [
        ("decision", "'allow'", 6),
        ("at", "at - 3600000000", 3),
        ("rules", "'base/partner-oversight'", 6),
        ("detail", "'routine check'", 2),
        ("worker", "'pablo'", 3),
    ];
    for (column, value, seq) in edits {
        let row = format!("org = 'bufete-ruiz' AND seq = {seq}");
        c.tamper(&format!("UPDATE audit_events SET {column} = {value} WHERE {row}"));
        let out = verify();
        assert_eq!(out.status.code(), Some(2), "{column}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("BROKEN  bufete-ruiz: at sequence {seq}: edited")),
            "{column}: {text}"
        );
        c.tamper(&format!(
            "UPDATE audit_events SET {column} = (SELECT {column} FROM saved WHERE {row}) WHERE {row}"
        ));
        assert_eq!(verify().status.code(), Some(0), "{column} restored");
    }
}
}
