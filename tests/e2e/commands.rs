//! README commands and options, each run through the binary: checkpoints
//! and trusted keys, key files, mail pacing across runs, audit queries and
//! breach scoping, opt-out imports, register entries, exports, settings
//! from the environment, and re-imports that keep opt-outs.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use custodia_engine::Backend;
use serde_json::Value;

use crate::mail::SmtpSink;
use crate::{Custodia, json, on_both_backends, repo};

/// Both output streams of a finished command, for messages.
fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A campaign of tienda-verde to the first `n` recipients `big` would
/// keep, written as `<id>.toml` with a CSV audience; returns its path.
fn small_campaign(c: &Custodia, id: &str, n: usize, extra: &str) -> String {
    let list = c.ok(&["mail", "plan", "--org", "tienda-verde", "all", "--list"]);
    let kept: Vec<&str> = list
        .lines()
        .filter(|l| l.starts_with("  ") && l.trim_end().ends_with(" kept"))
        .filter_map(|l| l.split_whitespace().next())
        .take(n)
        .collect();
    assert_eq!(kept.len(), n, "{list}");
    let csv = c.path(&format!("{id}.csv"));
    std::fs::write(&csv, format!("email,name\n{}\n", kept.join(",x\n") + ",x")).expect("csv");
    let toml = c.path(&format!("{id}.toml"));
    std::fs::write(
        &toml,
        format!(
            "id = \"{id}\"\nname = \"{id}\"\nsender = \"alvaro\"\n\
             from = \"Tienda Verde <ofertas@tiendaverde.example>\"\nsubject = \"Ofertas\"\n\
             text = \"Hola {{{{ name }}}}. Baja: {{{{ unsubscribe_url }}}}\"\nlegal_basis = \"consent\"\naudience = \"{}\"\n{extra}",
            csv.display()
        ),
    )
    .expect("toml");
    toml.display().to_string()
}

/// The campaign every tienda-verde customer would get, to list who is kept.
fn all_customers_campaign(c: &Custodia) {
    let toml = c.path("all.toml");
    std::fs::write(
        &toml,
        "id = \"all\"\nname = \"all\"\nsender = \"alvaro\"\n\
         from = \"Tienda Verde <ofertas@tiendaverde.example>\"\nsubject = \"Ofertas\"\n\
         text = \"Hola. Baja: {{ unsubscribe_url }}\"\nlegal_basis = \"consent\"\naudience = \"customers\"\n",
    )
    .expect("toml");
    c.ok(&[
        "mail",
        "create",
        "--org",
        "tienda-verde",
        toml.to_str().expect("path"),
    ]);
}

/// Runs `mail send` for a tienda-verde campaign; how long it took.
fn send(c: &Custodia, smtp: &SmtpSink, campaign: &str, extra: &[&str]) -> Duration {
    let start = Instant::now();
    let mut args = vec![
        "mail",
        "send",
        "--org",
        "tienda-verde",
        campaign,
        "--smtp",
        &smtp.url,
        "--public-url",
        "https://custodia.example",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    c.ok(&args);
    start.elapsed()
}

on_both_backends! {
fn a_checkpoint_exported_to_a_file_anchors_verify_and_only_the_right_key_passes(backend) {
    let c = Custodia::demo(backend);
    for resource in ["customer:C-1001", "customer:C-1001/personal", "document:D-1001-1"] {
        c.decide("ana", "view", resource, &[]);
    }
    let key = c.ok(&["audit", "public-key"]).trim().to_owned();
    assert_eq!(key.len(), 64, "{key}");
    let file = c.path("checkpoint.json");
    c.ok(&["audit", "checkpoint", "--org", "bufete-ruiz", "-o", file.to_str().expect("path")]);
    let checkpoint = json(&std::fs::read_to_string(&file).expect("checkpoint file"));
    assert_eq!(checkpoint["org"], "bufete-ruiz");
    assert_eq!(checkpoint["public_key"], key.as_str());

    let verify = |extra: &[&str]| {
        let mut args = vec!["audit", "verify", "--org", "bufete-ruiz"];
        args.extend_from_slice(extra);
        c.run(&args)
    };
    assert!(verify(&["--public-key", &key]).status.success());
    assert!(verify(&["--from-checkpoint", file.to_str().expect("path")]).status.success());

    // Another store's key does not verify this chain's checkpoints.
    let other = Custodia::demo(Backend::Sqlite);
    let other_key = other.ok(&["audit", "public-key"]).trim().to_owned();
    assert_ne!(other_key, key);
    let out = verify(&["--public-key", &other_key]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("BROKEN  bufete-ruiz"), "{}", said(&out));

    // A checkpoint file edited to point at another head is refused.
    let mut forged = checkpoint.clone();
    forged["head_hash"] = Value::String("ab".repeat(32));
    let forged_file = c.path("forged.json");
    std::fs::write(&forged_file, forged.to_string()).expect("write");
    let out = verify(&["--from-checkpoint", forged_file.to_str().expect("path")]);
    assert!(!out.status.success(), "{}", said(&out));
    let not_json = c.path("not.json");
    std::fs::write(&not_json, "{").expect("write");
    let out = verify(&["--from-checkpoint", not_json.to_str().expect("path")]);
    assert!(said(&out).contains("is not an exported checkpoint"), "{}", said(&out));
}

fn the_audit_key_is_private_and_goes_where_audit_key_says(backend) {
    let c = Custodia::new(backend);
    std::fs::create_dir(c.path("keys")).expect("mkdir");
    let key = c.path("keys/audit.key");
    let key_arg = key.to_str().expect("path");
    let demo = repo().join("plugins/demo/bufete-ruiz.toml");
    c.ok(&["--audit-key", key_arg, "init"]);
    c.ok(&["--audit-key", key_arg, "import", demo.to_str().expect("path")]);
    let mode = std::fs::metadata(&key).expect("key written").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let stray: Vec<_> = std::fs::read_dir(c.dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("audit-key"))
        .collect();
    assert!(stray.is_empty(), "a key beside the store as well: {stray:?}");

    assert!(c.ok(&["--audit-key", key_arg, "audit", "verify"]).starts_with("ok "));
    // The same through the environment.
    let out = c.command().env("CUSTODIA_AUDIT_KEY", &key).args(["audit", "verify"]).output().expect("run");
    assert!(out.status.success(), "{}", said(&out));
    // Without it, the default file is missing: an error naming it.
    let err = c.fails(&["audit", "verify"]);
    assert!(err.contains("audit-key"), "{err}");
    // A key others can read is refused.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = c.fails(&["--audit-key", key_arg, "decide", "--worker", "ana", "--action", "view", "--resource", "customer:C-1001"]);
    assert!(err.contains("audit.key"), "{err}");
}

fn mail_send_keeps_its_window_across_runs_its_rate_and_waits_for_the_schedule_on_request(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    all_customers_campaign(&c);
    let first = small_campaign(&c, "first", 6, "");
    let second = small_campaign(&c, "second", 6, "");
    for file in [&first, &second] {
        c.ok(&["mail", "create", "--org", "tienda-verde", file]);
    }
    // 8 per 4 s, across runs: the second run's last four wait for the
    // first run's messages to leave the window.
    let window = ["--window-max", "8", "--window", "4", "--rate", "1000"];
    let start = Instant::now();
    let took_first = send(&c, &smtp, "first", &window);
    send(&c, &smtp, "second", &window);
    let both = start.elapsed();
    assert_eq!(smtp.count(), 12);
    assert!(took_first < Duration::from_secs(3), "the first run fits the window: {took_first:?}");
    assert!(both >= Duration::from_secs(4), "12 messages at 8 per 4 s took {both:?}");

    // --rate 10 over 21 messages: 20 gaps of 100 ms at least.
    let paced = small_campaign(&c, "paced", 21, "");
    c.ok(&["mail", "create", "--org", "tienda-verde", &paced]);
    let took = send(&c, &smtp, "paced", &["--rate", "10"]);
    assert!(took >= Duration::from_secs(2), "21 messages at 10/s took {took:?}");
    assert_eq!(smtp.count(), 33);

    // A campaign due in 12 s: refused without --wait, sent after its time
    // with it (12 s leave room for a busy machine between the two runs).
    let due = chrono::Utc::now() + chrono::Duration::seconds(12);
    let later = small_campaign(&c, "later", 2, &format!("schedule = \"{}\"\n", due.to_rfc3339()));
    c.ok(&["mail", "create", "--org", "tienda-verde", &later]);
    let refused = c.fails(&["mail", "send", "--org", "tienda-verde", "later", "--smtp", &smtp.url, "--public-url", "https://custodia.example"]);
    assert!(refused.contains("scheduled for"), "{refused}");
    assert_eq!(smtp.count(), 33);
    send(&c, &smtp, "later", &["--wait"]);
    assert!(chrono::Utc::now() >= due, "sent before its time");
    assert_eq!(smtp.count(), 35);
}

fn audit_query_filters_and_breach_scoping_answer_through_the_binary(backend) {
    let c = Custodia::demo(backend);
    c.decide("ana", "view", "customer:C-1001", &[]);
    c.decide("ana", "export", "document:D-1001-1", &[]);
    c.decide("luis", "view", "customer:C-1001/personal", &[]);
    c.decide("luis", "view", "customer:C-1001", &[]);
    c.decide("elena", "view", "customer:C-1002", &[]);
    let query = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["audit", "query", "--org", "bufete-ruiz", "--json"];
        args.extend_from_slice(extra);
        json(&c.ok(&args)).as_array().expect("events").clone()
    };
    let field = |events: &[Value], name: &str| -> Vec<String> {
        events.iter().map(|e| e[name].as_str().unwrap_or("-").to_owned()).collect()
    };
    assert_eq!(query(&[]).len(), 7, "import + Robinson list + five decisions");
    assert_eq!(field(&query(&["--worker", "luis"]), "worker"), ["luis", "luis"]);
    assert_eq!(field(&query(&["--customer", "C-1002"]), "resource"), ["customer:C-1002"]);
    assert_eq!(field(&query(&["--action", "export"]), "resource"), ["document:D-1001-1"]);
    assert_eq!(field(&query(&["--decision", "deny"]), "resource"), ["customer:C-1001/personal"]);
    assert_eq!(query(&["--limit", "2"]).len(), 2);
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(query(&["--from", &hour_ago, "--to", &in_an_hour]).len(), 7);
    assert!(query(&["--from", &in_an_hour]).is_empty());
    let csv = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--worker", "ana", "--csv"]);
    assert_eq!(csv.lines().count(), 3, "a header and ana's two events: {csv}");

    let scope = json(&c.ok(&[
        "audit", "breach", "--org", "bufete-ruiz", "--worker", "luis",
        "--from", &hour_ago, "--to", &in_an_hour, "--json",
    ]));
    let touched: Vec<&str> = scope["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["customer"].as_str().expect("id"))
        .collect();
    assert_eq!(touched, ["C-1001"], "{scope}");
    assert_eq!(scope["denied_attempts"], 1, "{scope}");
    let csv = c.ok(&[
        "audit", "breach", "--org", "bufete-ruiz", "--worker", "ana",
        "--from", &hour_ago, "--to", &in_an_hour, "--csv",
    ]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].starts_with("C-1001,2,") && rows[1].ends_with(",yes"), "{csv}");
    let err = c.fails(&["audit", "breach", "--org", "bufete-ruiz", "--from", "yesterday", "--to", &in_an_hour]);
    assert!(err.contains("yesterday"), "{err}");
}

fn optout_import_plan_list_add_breach_and_export_to_a_file(backend) {
    let c = Custodia::demo(backend);
    let plan = |list: bool| {
        let mut args = vec!["mail", "plan", "--org", "tienda-verde", "all"];
        if list {
            args.push("--list");
        }
        c.ok(&args)
    };
    all_customers_campaign(&c);
    let listed = plan(true);
    let kept: Vec<&str> = listed
        .lines()
        .filter(|l| l.starts_with("  ") && l.trim_end().ends_with(" kept"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let summary = plan(false);
    let counted: usize = summary
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .expect("kept count");
    assert_eq!(kept.len(), counted, "--list shows every kept recipient");
    assert!(listed.lines().count() > summary.lines().count());

    // A bad line refuses the whole file.
    let file = c.path("bajas.txt");
    std::fs::write(&file, format!("{}\nnot an address\n", kept[0])).expect("write");
    let err = c.fails(&["optout", "import", "--org", "tienda-verde", file.to_str().expect("path")]);
    assert!(err.contains("bajas.txt") && err.contains("line 2"), "{err}");
    assert!(!c.ok(&["optout", "export", "--org", "tienda-verde"]).contains(kept[0]));
    std::fs::write(&file, format!("{}\n{}\n", kept[0], kept[1])).expect("write");
    c.ok(&["optout", "import", "--org", "tienda-verde", file.to_str().expect("path")]);
    let list = c.ok(&["optout", "export", "--org", "tienda-verde"]);
    assert!(list.contains(kept[0]) && list.contains(kept[1]), "{list}");
    let after = plan(true);
    for address in &kept[..2] {
        let line = after.lines().find(|l| l.contains(address)).expect("listed");
        assert!(line.contains("opted_out"), "{line}");
    }

    c.ok(&[
        "add", "breach", "--org", "tienda-verde", "--id", "B-09",
        "--aware-at", "2026-11-20T10:00:00Z", "--nature", "lost laptop",
        "--category", "contact",
    ]);
    let out = c.path("tienda.toml");
    c.ok(&["export", "--org", "tienda-verde", "-o", out.to_str().expect("path")]);
    let written = std::fs::read_to_string(&out).expect("export file");
    assert_eq!(written, c.ok(&["export", "--org", "tienda-verde"]));
    assert!(written.contains("B-09") && written.contains("lost laptop"), "the breach is exported");
    let registered = json(&c.ok(&["audit", "query", "--org", "tienda-verde", "--json"]));
    assert!(
        registered.as_array().expect("events").iter().any(|e| e["kind"] == "register"
            && e["detail"].as_str().is_some_and(|d| d.contains("B-09"))),
        "{registered}"
    );
}

fn settings_come_from_the_environment_and_verbose_logs_no_secret(backend) {
    let c = Custodia::demo(backend);
    // CUSTODIA_DB instead of --db.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["export", "--org", "bufete-ruiz"])
        .env("CUSTODIA_DB", &c.db)
        .current_dir(c.dir.path())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), c.ok(&["export", "--org", "bufete-ruiz"]));

    // CUSTODIA_TLS_CERTS puts the certificates' expiry in the dossier.
    let cert = repo().join("tests/fixtures/tls/www-valid.pem");
    let html = c.path("dossier.html");
    let out = c
        .command()
        .env("CUSTODIA_TLS_CERTS", &cert)
        .env("SOURCE_DATE_EPOCH", crate::reports::DOSSIER_DATE)
        .env("CUSTODIA_AS", "rocio")
        .args(["report", "dossier", "--org", "bufete-ruiz", "--lang", "en", "-o"])
        .arg(&html)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", said(&out));
    let text = std::fs::read_to_string(&html).expect("dossier");
    assert!(text.contains("www.bufete-ruiz.example"), "the certificate is in the dossier");

    // --verbose logs to stderr, quiet by default, and never a password.
    let unlock = ["unlock", "--worker", "ana", "--area", "customer:C-1001/case-file", "--password-stdin"];
    let quiet = c.run_with_stdin(&unlock, "expediente-1001\n");
    assert!(quiet.status.success(), "{}", said(&quiet));
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
    let verbose = c.run_with_stdin(&[&["--verbose"][..], &unlock[..]].concat(), "expediente-1001\n");
    assert!(verbose.status.success(), "{}", said(&verbose));
    let log = String::from_utf8_lossy(&verbose.stderr);
    assert!(log.contains("DEBUG") || log.contains("INFO"), "{log}");
    assert!(!log.contains("expediente-1001"), "the password reached the log");
}

fn a_re_import_keeps_the_opt_outs_recorded_since(backend) {
    // GDPR art. 21(3): an objection to marketing outlives a data refresh.
    let c = Custodia::demo(backend);
    let export = c.ok(&["export", "--org", "bufete-ruiz"]);
    let record = export
        .split("[[customers]]")
        .find(|block| block.contains("id = \"C-1001\""))
        .expect("C-1001 exported");
    let email = record
        .lines()
        .find_map(|l| l.trim().strip_prefix("email = \""))
        .map(|e| e.trim_end_matches('"').to_owned())
        .expect("C-1001 has an email");
    c.ok(&["optout", "add", "--org", "bufete-ruiz", &email]);
    let demo = repo().join("plugins/demo/bufete-ruiz.toml");
    assert!(!std::fs::read_to_string(&demo).expect("demo").contains("opt_out_date = 2026-11-26"));
    c.ok(&["import", "--replace", demo.to_str().expect("path")]);
    assert!(c.ok(&["optout", "export", "--org", "bufete-ruiz"]).contains(&email));
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &repo().join("plugins/demo/campaigns/novedades.toml").display().to_string()]);
    let plan = c.ok(&["mail", "plan", "--org", "bufete-ruiz", "novedades-2026-12", "--list"]);
    let line = plan.lines().find(|l| l.contains(&email)).expect("listed");
    assert!(line.contains("opted_out"), "{line}");
}
}

on_both_backends! {
fn an_event_is_proven_in_the_log_and_the_log_to_extend_an_older_head_with_only_the_public_key(backend) {
    let c = Custodia::demo(backend);
    for resource in ["customer:C-1001", "customer:C-1002", "customer:C-1003"] {
        c.decide("ana", "view", resource, &[]);
    }
    let key = c.ok(&["audit", "public-key"]).trim().to_owned();
    let proof = c.path("proof.json");
    let p = proof.to_str().expect("path");
    c.ok(&["audit", "prove", "--org", "bufete-ruiz", "--seq", "3", "-o", p]);
    let file = json(&std::fs::read_to_string(&proof).expect("proof"));
    assert!(file["checkpoint"].as_str().expect("note").starts_with("custodia/audit/bufete-ruiz\n5\n"), "{file}");
    // Checked by someone who has neither the log nor the database.
    let stranger = Custodia::new(Backend::Sqlite);
    let checked = stranger.ok(&["audit", "check-proof", p, "--public-key", &key]);
    assert!(checked.starts_with("ok      event 3 ("), "{checked}");
    let other_key = Custodia::demo(Backend::Sqlite).ok(&["audit", "public-key"]).trim().to_owned();
    let out = stranger.run(&["audit", "check-proof", p, "--public-key", &other_key]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    let mut forged = file.clone();
    forged["seq"] = serde_json::json!(2);
    let forged_path = c.path("forged.json");
    std::fs::write(&forged_path, forged.to_string()).expect("write");
    let out = stranger.run(&["audit", "check-proof", forged_path.to_str().expect("path"), "--public-key", &key]);
    assert!(said(&out).contains("INVALID"), "{}", said(&out));

    // More events later: today's log extends the head in the proof file.
    c.decide("luis", "view", "customer:C-1001", &[]);
    let later = c.path("later.json");
    c.ok(&["audit", "consistency", "--org", "bufete-ruiz", "--from", p, "-o", later.to_str().expect("path")]);
    let checked = stranger.ok(&["audit", "check-proof", later.to_str().expect("path"), "--public-key", &key]);
    assert!(checked.contains("of 6 events extends its earlier state of 5 events"), "{checked}");
    // History rewritten in the database: no consistency proof verifies.
    c.tamper(&format!(
        "UPDATE audit_events SET hash = '{}' WHERE org = 'bufete-ruiz' AND seq = 2",
        "ab".repeat(32)
    ));
    let rewritten = c.path("rewritten.json");
    c.ok(&["audit", "consistency", "--org", "bufete-ruiz", "--from", p, "-o", rewritten.to_str().expect("path")]);
    let out = stranger.run(&["audit", "check-proof", rewritten.to_str().expect("path"), "--public-key", &key]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("does not extend"), "{}", said(&out));
}
}

#[test]
fn rules_bench_times_a_request_with_the_decision_it_reaches_and_audits_nothing() {
    let c = Custodia::demo(Backend::Sqlite);
    let bench = |resource: &str, runs: &str, extra: &[&str]| {
        let mut args = vec!["rules", "bench", "--worker", "luis", "--action", "view"];
        args.extend(["--resource", resource, "--runs", runs]);
        args.extend_from_slice(extra);
        c.ok(&args)
    };
    let events = || c.count("SELECT COUNT(*) FROM audit_events");
    let before = events();
    let out = json(&bench("customer:C-1001/personal", "300", &["--json"]));
    assert_eq!(events(), before, "a benchmark accesses no one's data");
    let decided = c.decide("luis", "view", "customer:C-1001/personal", &[]);
    assert_eq!(out["decision"]["decision"], decided["decision"]);
    assert_eq!(
        (out["runs"].as_u64(), out["warmup"].as_u64()),
        (Some(300), Some(30))
    );
    let (p50, p99) = (
        out["p50_us"].as_f64().expect("p50"),
        out["p99_us"].as_f64().expect("p99"),
    );
    assert!(p50 > 0.0 && p99 >= p50, "{out}");
    assert!(out["decisions_per_second"].as_f64().expect("rate") > 0.0);
    let text = bench("customer:C-1001", "50", &[]);
    assert!(
        text.contains("luis view customer:C-1001: Allow (50 runs after 5 to warm up)"),
        "{text}"
    );
    assert!(text.contains("decisions/s (one thread)"), "{text}");
}
