//! The application core's promises, through the binary: a change and its
//! audit event commit together or not at all (failure points and
//! SIGKILL), the writer's clock stamps events, keys are never replaced
//! silently, and the CLI's small manners.

use std::process::Stdio;
use std::time::{Duration, Instant};

use custodia_engine::Backend;
use custodia_engine::audit::Cosigner;
use custodia_engine::testkit::cosign;
use serde_json::Value;

use crate::{Custodia, on_both_backends};

/// The four kinds of change the issue names, as commands, with how to
/// count what each one writes.
fn changes(
    c: &Custodia,
    n: usize,
) -> Vec<(&'static str, Vec<String>, Option<&'static str>, String)> {
    let csv = c.path(&format!("customers-{n}.csv"));
    std::fs::write(
        &csv,
        format!("id,name,email,privacy,existing_customer\nC-9{n:03},Nueva Clienta {n},nueva{n}@correo.example,low,true\n"),
    )
    .expect("write csv");
    let owned = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    vec![
        (
            "import",
            owned(&[
                "import",
                "--org",
                "bufete-ruiz",
                "--customers",
                csv.to_str().expect("path"),
            ]),
            None,
            format!(
                "SELECT COUNT(*) FROM customers WHERE org = 'bufete-ruiz' AND id = 'C-9{n:03}'"
            ),
        ),
        (
            "add",
            owned(&[
                "add",
                "provider",
                "--org",
                "bufete-ruiz",
                "--id",
                &format!("P-F{n}"),
                "--name",
                "Nube",
                "--service",
                "mail",
            ]),
            None,
            format!(
                "SELECT COUNT(*) FROM register_entries WHERE org = 'bufete-ruiz' AND id = 'P-F{n}'"
            ),
        ),
        (
            "unlock",
            owned(&[
                "unlock",
                "--worker",
                "ana",
                "--area",
                "customer:C-1001/case-file",
                "--password-stdin",
            ]),
            Some("expediente-1001\n"),
            "SELECT COUNT(*) FROM area_unlocks WHERE org = 'bufete-ruiz'".to_owned(),
        ),
        (
            "opt-out",
            owned(&[
                "optout",
                "add",
                "--org",
                "bufete-ruiz",
                &format!("baja{n}@correo.example"),
            ]),
            None,
            format!(
                "SELECT COUNT(*) FROM opt_outs WHERE org = 'bufete-ruiz' AND address = 'baja{n}@correo.example'"
            ),
        ),
    ]
}

fn run(
    c: &Custodia,
    args: &[String],
    stdin: Option<&str>,
    fault: Option<&str>,
) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = c.command_with(&args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(fault) = fault {
        command.env("CUSTODIA_FAULT", fault);
    }
    let mut child = command.spawn().expect("start custodia");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("password");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("custodia ran")
}

/// Events that are not decisions: the ones a change writes.
const CHANGE_EVENTS: &str = "SELECT COUNT(*) FROM audit_events WHERE kind <> 'decision'";

on_both_backends! {
    fn a_failure_between_a_change_and_its_event_leaves_neither(backend) {
        let c = Custodia::demo(backend);
        for (round, fault) in ["before-audit", "before-commit", "before-audit:abort"].into_iter().enumerate() {
            for (name, args, stdin, rows) in changes(&c, round) {
                let (events, data) = (c.count(CHANGE_EVENTS), c.count(&rows));
                let out = run(&c, &args, stdin, Some(fault));
                assert!(!out.status.success(), "{name} with {fault} must fail");
                if !fault.ends_with(":abort") {
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(err.contains("injected fault"), "{name}: {err}");
                }
                assert_eq!(c.count(&rows), data, "{name} with {fault}: the change was written");
                assert_eq!(c.count(CHANGE_EVENTS), events, "{name} with {fault}: an event was written");
            }
        }
        // Without a fault, each change lands with exactly one event.
        for (name, args, stdin, rows) in changes(&c, 9) {
            let (events, data) = (c.count(CHANGE_EVENTS), c.count(&rows));
            let out = run(&c, &args, stdin, None);
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(c.count(&rows), data + 1, "{name}");
            assert_eq!(c.count(CHANGE_EVENTS), events + 1, "{name}");
        }
        c.ok(&["audit", "verify"]);
    }

    fn sigkill_at_any_moment_leaves_each_change_with_its_event(backend) {
        let c = Custodia::demo(backend);
        // How long one `add` takes here, to aim the kills across its whole run.
        let t = Instant::now();
        c.ok(&["add", "provider", "--org", "bufete-ruiz", "--id", "P-K-TIMING", "--name", "n", "--service", "s"]);
        let span = t.elapsed().as_millis().max(50) as u64;
        let mut killed_mid_run = 0;
        for i in 0..16u64 {
            let mut child = c
                .command_with(&["add", "provider", "--org", "bufete-ruiz", "--id", &format!("P-K{i}"), "--name", "n", "--service", "s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start");
            // Spread the kills over the run: early, middle, around the commit.
            std::thread::sleep(Duration::from_millis(span * (i + 1) / 16));
            if child.try_wait().expect("wait").is_none() {
                killed_mid_run += 1;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(killed_mid_run >= 8, "only {killed_mid_run} kills landed mid-run");
        let entries = c.count("SELECT COUNT(*) FROM register_entries WHERE org = 'bufete-ruiz' AND id LIKE 'P-K%' AND id <> 'P-K-TIMING'");
        let events = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'register' AND detail LIKE 'added provider `P-K%' AND detail NOT LIKE '%TIMING%'");
        assert_eq!(entries, events, "every provider written has its event, and no event lacks its provider");
        for i in 0..16 {
            let entry = c.count(&format!("SELECT COUNT(*) FROM register_entries WHERE org = 'bufete-ruiz' AND id = 'P-K{i}'"));
            let event = c.count(&format!("SELECT COUNT(*) FROM audit_events WHERE detail = 'added provider `P-K{i}`'"));
            assert_eq!(entry, event, "P-K{i}");
        }
        c.ok(&["audit", "verify"]);
    }
}

/// For each kind of change: what its rows and its events look like, to
/// count both after a series of kills.
const KILL_LEDGER: [(&str, &str, &str); 4] = [
    (
        "import",
        "SELECT COUNT(*) FROM customers WHERE org = 'bufete-ruiz' AND id LIKE 'C-91%'",
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'import' AND detail LIKE '%customers-1%'",
    ),
    (
        "add",
        "SELECT COUNT(*) FROM register_entries WHERE org = 'bufete-ruiz' AND id LIKE 'P-F1%'",
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'register' AND detail LIKE 'added provider `P-F1%'",
    ),
    (
        "unlock",
        "SELECT COUNT(*) FROM area_unlocks WHERE org = 'bufete-ruiz'",
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'unlock'",
    ),
    (
        "opt-out",
        "SELECT COUNT(*) FROM opt_outs WHERE org = 'bufete-ruiz' AND address LIKE 'baja1%'",
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'opt_out' AND detail = 'custodia optout add' AND resource LIKE 'address:~%'",
    ),
];

on_both_backends! {
    fn sigkill_during_each_kind_of_change_keeps_rows_and_events_together(backend) {
        let c = Custodia::demo(backend);
        for (kind, rows_sql, events_sql) in KILL_LEDGER {
            let (rows, events) = (c.count(rows_sql), c.count(events_sql));
            let mut completed = 0;
            for round in 0..6usize {
                let (_, args, stdin, _) = changes(&c, 100 + round)
                    .into_iter()
                    .find(|(name, ..)| *name == kind)
                    .expect("a change of this kind");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut child = c
                    .command_with(&args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start");
                if let Some(text) = stdin {
                    use std::io::Write;
                    let _ = child.stdin.take().expect("stdin").write_all(text.as_bytes());
                }
                drop(child.stdin.take());
                // From early in start-up to around the commit.
                std::thread::sleep(Duration::from_millis(150 * round as u64 + 50));
                if child.try_wait().expect("wait").is_some() {
                    completed += 1;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            assert!(completed < 6, "{kind}: no kill landed mid-run");
            assert_eq!(
                c.count(rows_sql) - rows,
                c.count(events_sql) - events,
                "{kind}: rows written and events written differ after the kills"
            );
        }
        c.ok(&["audit", "verify"]);
    }
}

on_both_backends! {
fn a_request_time_drives_the_rules_but_never_dates_the_event(backend) {
    let c = Custodia::demo(backend);
    let before = chrono::Utc::now().timestamp_micros();
    c.decide(
        "ana",
        "view",
        "customer:C-1001",
        &["--context", "time=2000-01-01T10:00:00Z"],
    );
    let at =
        c.count("SELECT at FROM audit_events WHERE kind = 'decision' ORDER BY seq DESC LIMIT 1");
    let claimed = c.count(
        "SELECT request_time FROM audit_events WHERE kind = 'decision' ORDER BY seq DESC LIMIT 1",
    );
    assert!(
        at >= before - 1_000_000,
        "event dated {at}, before the command ran ({before})"
    );
    assert_eq!(
        claimed, 946_720_800_000_000,
        "the request's own time, kept apart"
    );
}
}

on_both_backends! {
fn a_missing_audit_key_is_an_error_naming_the_file_once_events_exist(backend) {
    let c = Custodia::demo(backend);
    // Beside an SQLite file; in the working folder for a server database.
    let name = match backend {
        Backend::Sqlite => "custodia.db.audit-key",
        Backend::Postgres => "custodia-audit.key",
    };
    let key = c.path(name);
    std::fs::rename(&key, c.path("moved-away")).expect("move the key");
    let err = c.fails(&[
        "decide",
        "--worker",
        "ana",
        "--action",
        "view",
        "--resource",
        "customer:C-1001",
    ]);
    assert!(
        err.contains("audit signing key") && err.contains(name),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made");
    std::fs::rename(c.path("moved-away"), &key).expect("restore");
    c.ok(&["audit", "verify"]);
}
}

on_both_backends! {
fn a_default_deny_says_why_in_json(backend) {
    let c = Custodia::demo(backend);
    // Nothing allows a trainee to delete a customer: denied by default.
    let v: Value = c.decide("luis", "delete", "customer:C-1001", &[]);
    assert_eq!(v["decision"], "deny");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty(), "{v}");
    let text = v.to_string();
    assert!(text.contains("denied by default"), "{text}");
}
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let c = Custodia::demo(Backend::Sqlite);
    let mut child = c
        .command()
        .args([
            "explain",
            "--worker",
            "ana",
            "--action",
            "view",
            "--resource",
            "customer:C-1001",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    // Close our end at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}

/// Truncates `org`'s chain to `keep` events and makes the database agree:
/// checkpoints after it deleted, the head row moved back.
fn truncate_like_an_attacker(c: &Custodia, org: &str, keep: i64) {
    c.tamper(&format!(
        "DELETE FROM audit_events WHERE org = '{org}' AND seq > {keep}"
    ));
    c.tamper(&format!(
        "DELETE FROM audit_checkpoints WHERE org = '{org}' AND seq > {keep}"
    ));
    c.tamper(&format!(
        "UPDATE audit_heads SET seq = {keep}, hash = (SELECT hash FROM audit_events WHERE org = '{org}' AND seq = {keep}) WHERE org = '{org}'"
    ));
}

on_both_backends! {
fn a_log_truncated_in_the_database_fails_verify_without_flags_and_stops_audited_actions(backend) {
    let c = Custodia::demo(backend);
    for resource in ["customer:C-1001", "customer:C-1002", "customer:C-1003", "customer:C-1004"] {
        c.decide("ana", "view", resource, &[]);
    }
    assert!(c.ok(&["audit", "verify"]).lines().all(|l| l.starts_with("ok ")));
    // Six events: the demo's import and Robinson list, four decisions.
    truncate_like_an_attacker(&c, "bufete-ruiz", 3);

    let out = c.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BROKEN  bufete-ruiz: at sequence 4: truncated: the chain ends at 3 but a witnessed checkpoint shows it reached 6"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("ok ")).count(), 4, "the other firms are intact");

    // Nothing audited happens on top of a forged head.
    let err = c.fails(&["decide", "--worker", "ana", "--action", "view", "--resource", "customer:C-1001"]);
    assert!(err.contains("refused") && err.contains("witnessed checkpoint"), "{err}");
    assert_eq!(c.count("SELECT seq FROM audit_heads WHERE org = 'bufete-ruiz'"), 3);
    let witness = std::fs::read_to_string(witness_file(&c, backend)).expect("witness");
    assert!(witness.lines().any(|l| l.contains("\"kind\":\"alarm\"") && l.contains("bufete-ruiz")), "{witness}");

    // Nor is the forged log pruned: the core refuses before removing anything.
    let err = c.fails(&["audit", "prune", "--org", "bufete-ruiz", "--keep-days", "730", "--reason", "yearly"]);
    assert!(err.contains("refused"), "{err}");
    assert_eq!(c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'prune'"), 0);
    assert_eq!(c.count("SELECT MIN(seq) FROM audit_events WHERE org = 'bufete-ruiz'"), 1);
}

fn checkpoints_go_to_a_chosen_witness_file_and_command_and_verify_reads_several(backend) {
    let c = Custodia::new(backend);
    let witness = c.path("elsewhere.jsonl");
    let copied = c.path("copied.jsonl");
    let cmd = format!("cat >> '{}'", copied.display());
    let with = |args: &[&str]| {
        let mut all = vec!["--witness", witness.to_str().expect("path"), "--witness-cmd", &cmd];
        all.extend_from_slice(args);
        c.ok(&all)
    };
    with(&["demo"]);
    let written = std::fs::read_to_string(&witness).expect("witness file");
    assert_eq!(written.lines().count(), 5, "one checkpoint per demo firm: {written}");
    assert_eq!(std::fs::read_to_string(&copied).expect("command output"), written);
    assert!(!witness_file(&c, backend).exists(), "nothing in the default place");
    // Without the witness, verify refuses to pretend.
    let err = c.fails(&["audit", "verify"]);
    assert!(err.contains("witness file") && err.contains("not found"), "{err}");
    assert!(with(&["audit", "verify"]).lines().all(|l| l.starts_with("ok ")));
    // A second copy read alongside: a checkpoint only it holds still counts.
    c.decide("ana", "view", "customer:C-1001", &["--witness", copied.to_str().expect("path")]);
    truncate_like_an_attacker(&c, "bufete-ruiz", 1);
    let out = c.run(&[
        "--witness", witness.to_str().expect("path"),
        "audit", "verify", "--org", "bufete-ruiz",
        "--witness-file", copied.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("truncated"));
}
}

on_both_backends! {
fn a_witness_cosigns_a_checkpoint_and_verify_trusts_it_without_the_witness_file(backend) {
    let c = Custodia::demo(backend);
    c.decide("ana", "view", "customer:C-1001", &[]);
    c.decide("ana", "view", "customer:C-1002", &[]);
    // The note goes to a witness outside the firm, which cosigns it.
    let note = c.ok(&["audit", "checkpoint", "--org", "bufete-ruiz", "--note"]);
    assert!(note.starts_with("custodia/audit/bufete-ruiz\n"), "{note}");
    assert!(note.contains("\n\n\u{2014} custodia-audit "), "{note}");
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let vkey = Cosigner::new("witness.example/w1", key.verifying_key()).expect("name").vkey();
    let cosigned = c.path("cosigned.txt");
    let file = cosigned.to_str().expect("path");
    std::fs::write(&cosigned, cosign(&note, "witness.example/w1", &key, 1_800_000_000)).expect("write");
    let stored = c.ok(&["audit", "cosign", file, "--cosigner", &vkey]);
    assert!(stored.contains("`witness.example/w1` cosigned the checkpoint of bufete-ruiz at"), "{stored}");
    // A line by another key under the witness's name is refused.
    let forged = c.path("forged.txt");
    let other = ed25519_dalek::SigningKey::from_bytes(&[10; 32]);
    std::fs::write(&forged, cosign(&note, "witness.example/w1", &other, 1_800_000_000)).expect("write");
    let err = c.fails(&["audit", "cosign", forged.to_str().expect("path"), "--cosigner", &vkey]);
    assert!(err.contains("no valid cosignature by `witness.example/w1`"), "{err}");
    let ok = c.ok(&["audit", "verify", "--org", "bufete-ruiz", "--cosigner", &vkey]);
    assert!(ok.starts_with("ok ") && ok.contains("1 cosignatures"), "{ok}");
    // A cosignature edited in the database is named, in JSON too.
    c.tamper("UPDATE audit_cosignatures SET line = replace(line, 'w1 ', 'w1 A')");
    let out = c.run(&["audit", "verify", "--org", "bufete-ruiz", "--cosigner", &vkey, "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = crate::json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(reports[0]["broken"]["kind"], "bad_cosignature", "{reports}");
    c.tamper("UPDATE audit_cosignatures SET line = replace(line, 'w1 A', 'w1 ')");
    assert!(c.ok(&["audit", "verify", "--org", "bufete-ruiz", "--cosigner", &vkey]).starts_with("ok "));

    // The witness file is lost and the log truncated behind Custodia's back.
    std::fs::remove_file(witness_file(&c, backend)).expect("the witness file goes");
    truncate_like_an_attacker(&c, "bufete-ruiz", 2);
    let err = c.fails(&["audit", "verify", "--org", "bufete-ruiz"]);
    assert!(err.contains("witness file") && err.contains("not found"), "{err}");
    let out = c.run(&["audit", "verify", "--org", "bufete-ruiz", "--cosigner", &vkey]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN  bufete-ruiz") && text.contains("truncated"), "{text}");
}
}

/// The default witness file: beside the audit key.
fn witness_file(c: &Custodia, backend: Backend) -> std::path::PathBuf {
    c.path(match backend {
        Backend::Sqlite => "custodia.db.audit-key.witness",
        Backend::Postgres => "custodia-audit.key.witness",
    })
}
