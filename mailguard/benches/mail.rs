//! Mail guard benchmarks (a plain harness: these are throughput figures,
//! not micro-benchmarks). Run: `cargo bench -p custodia-mailguard --bench mail`.
//!
//! Planning: `MAIL_BENCH_RECIPIENTS` (default 1,000,000) listed recipients
//! against `MAIL_BENCH_OPT_OUTS` (1,000,000) opt-outs and
//! `MAIL_BENCH_ROBINSON` (1,000,000) Robinson hashes, on SQLite. Sending: `MAIL_BENCH_MESSAGES` (20,000) consenting
//! customers to postfix's `smtp-sink` on localhost (`apt-get install
//! postfix`), pooled connections, with and without DKIM.

#![allow(clippy::expect_used, clippy::panic, reason = "benchmarks fail loudly")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custodia_engine::audit::{AuditConfig, AuditLog, Signer};
use custodia_engine::exchange::OrgFile;
use custodia_engine::rules::RuleSet;
use custodia_engine::testkit::{repo_root, size_from_env};
use custodia_engine::{OrgSlug, Store};
use custodia_mailguard::{
    Address, Audience, Campaign, DkimSigner, Exclusion, ListedRecipient, SendConfig, TokenKey,
    plan, plan_each, suppression,
};

/// Peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// An online shop with `customers` consenting customers.
fn shop(customers: usize) -> String {
    let mut toml = String::from(
        r#"format = 1
[organisation]
slug = "tienda"
name = "Tienda"
sectors = ["ecommerce"]
controller = { name = "Raúl", email = "privacidad@tienda.example" }

[[workers]]
login = "alvaro"
name = "Álvaro"
level = 2
departments = ["marketing"]
roles = ["marketing"]
"#,
    );
    for i in 0..customers {
        let _ = write!(
            toml,
            "\n[[customers]]\nid = \"T-{i}\"\nname = \"Cliente {i}\"\nemail = \"cliente{i}@shop.example\"\nprivacy = \"low\"\ncommunications = {{ consent = {{ source = \"checkout\", date = \"2026-01-02\" }} }}\nareas = [{{ name = \"administrative\", privacy = \"low\" }}]\n"
        );
    }
    toml
}

fn campaign(id: &str, audience: Audience) -> Campaign {
    Campaign {
        id: id.into(),
        name: "Rebajas".into(),
        sender: "alvaro".parse().expect("login"),
        from: "Tienda <hola@shop.example>".into(),
        reply_to: None,
        subject: "Rebajas para {{ name }}".into(),
        text: "Hola {{ name }}, rebajas. Baja: {{ unsubscribe_url }}".into(),
        html: Some("<p>Hola {{ name }}</p><a href=\"{{ unsubscribe_url }}\">baja</a>".into()),
        legal_basis: "consent".into(),
        similar_products: false,
        audience,
        schedule: None,
    }
}

struct Fixture {
    store: Store,
    org: OrgSlug,
    rules: RuleSet,
    _dir: tempfile::TempDir,
}

async fn fixture(customers: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, org, rules) = shop_store(dir.path(), Some(customers)).await;
    Fixture {
        store,
        org,
        rules,
        _dir: dir,
    }
}

/// The shop's store in `dir`: created with `customers` customers, or
/// opened as an earlier call left it (`None`), with its master key file.
async fn shop_store(dir: &Path, customers: Option<usize>) -> (Store, OrgSlug, RuleSet) {
    use custodia_engine::vault::{MasterRing, MasterSource};
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let key = dir.join("master.key");
    let ring = match customers {
        Some(_) => MasterRing::create(&key),
        None => MasterRing::load(&key),
    }
    .expect("master key");
    let store =
        Store::init(&url)
            .await
            .expect("store")
            .with_vault(Arc::new(custodia_engine::Vault::new(
                MasterSource::File(key),
                ring,
            )));
    if let Some(customers) = customers {
        let file = OrgFile::parse(Path::new("shop.toml"), &shop(customers)).expect("org file");
        store.import(&file, false, "test").await.expect("import");
    }
    let rules = RuleSet::load_dir(&repo_root().join("plugins/packs")).expect("packs");
    (store, "tienda".parse().expect("slug"), rules)
}

/// Fills the shop's suppression and Robinson lists for the plan bench:
/// every other listed recipient opted out, the rest of the opt-outs are
/// addresses outside the audience; one listed recipient in ten is on the
/// Robinson list, the rest of it is people outside the audience. What it
/// builds to import them is dropped on return.
async fn fill_plan_lists(
    store: &Store,
    org: &OrgSlug,
    recipients: usize,
    opt_outs: usize,
    robinson_size: usize,
) {
    let suppressed: Vec<Address> = (0..opt_outs)
        .map(|i| {
            let local = if i % 2 == 0 && i < recipients {
                format!("r{i}")
            } else {
                format!("other{i}")
            };
            Address::parse(&format!("{local}@list.example")).expect("address")
        })
        .collect();
    let started = Instant::now();
    suppression::import_opt_outs(store, org, &suppressed, "import", "bench")
        .await
        .expect("opt-outs");
    println!(
        "setup: {opt_outs} opt-outs imported in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let robinson: String = (0..robinson_size)
        .map(|i| {
            if i % 10 == 1 && i < recipients {
                format!("r{i}@list.example\n")
            } else {
                format!("robinson{i}@elsewhere.example\n")
            }
        })
        .collect();
    let today = chrono::Utc::now().date_naive();
    suppression::import_robinson(store, org, Path::new("robinson.txt"), &robinson, today)
        .await
        .expect("robinson");
}

/// The parts of a plan timed alone (their results dropped on return).
async fn plan_breakdown(store: &Store, slug: &OrgSlug, campaign: &Campaign) {
    let t = Instant::now();
    let set = suppression::suppressed_set(store, slug).await.expect("set");
    println!(
        "  breakdown: loading the suppression list ({}) alone {:?}",
        set.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let rob = suppression::robinson_hashes(store, slug)
        .await
        .expect("rob");
    println!(
        "  breakdown: loading Robinson ({}) alone {:?}",
        rob.len(),
        t.elapsed()
    );
    let t = Instant::now();
    if let Audience::List(l) = &campaign.audience {
        let n = l
            .iter()
            .filter(|r| Address::parse(&r.email).is_ok())
            .count();
        println!(
            "  breakdown: normalising {n} addresses on one core {:?}",
            t.elapsed()
        );
    }
    let t = Instant::now();
    let org = store.org(slug).await.expect("org");
    let _c = org.customers().await.expect("c");
    println!("  breakdown: loading the customers {:?}", t.elapsed());
}

/// Resident memory now, in MiB; the peak (`VmHWM`) starts again from
/// here, so the next figure's peak is its own.
fn fresh_peak() -> f64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident memory");
    peak_rss_mib()
}

/// `plan-setup DIR`: builds the plan bench's store in a process of its
/// own, so that the million addresses it imports leave nothing behind in
/// the measured process's heap.
async fn plan_setup(dir: &Path) {
    let recipients = size_from_env("MAIL_BENCH_RECIPIENTS", 1_000_000);
    let opt_outs = size_from_env("MAIL_BENCH_OPT_OUTS", 1_000_000);
    let robinson_size = size_from_env("MAIL_BENCH_ROBINSON", 1_000_000);
    let (store, org, _) = shop_store(dir, Some(2_000)).await;
    fill_plan_lists(&store, &org, recipients, opt_outs, robinson_size).await;
    store.close().await;
}

/// Five runs of a plan: the median and best time, and the peak resident
/// memory from the first run on. The campaign, its audience held in
/// memory, is the plan's input and stays inside the figure.
async fn time_plans(
    label: &str,
    mut run: impl AsyncFnMut() -> (usize, BTreeMap<Exclusion, usize>),
) {
    let before = fresh_peak();
    let mut times = Vec::new();
    let mut outcome = None;
    for _ in 0..5 {
        let started = Instant::now();
        outcome = Some(run().await);
        times.push(started.elapsed());
    }
    times.sort();
    let (kept, excluded) = outcome.expect("five runs");
    println!(
        "{label}: median {:.0} ms, min {:.0} ms; kept {kept}, excluded {excluded:?}; peak RSS {:.0} MiB (the process held {before:.0} MiB before planning, its input included)",
        times[2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        peak_rss_mib()
    );
}

async fn bench_plan() {
    let recipients = size_from_env("MAIL_BENCH_RECIPIENTS", 1_000_000);
    let opt_outs = size_from_env("MAIL_BENCH_OPT_OUTS", 1_000_000);
    let robinson_size = size_from_env("MAIL_BENCH_ROBINSON", 1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    // `MAIL_BENCH_PLAN_STORE=DIR` keeps the store in DIR and builds it only
    // once (for profiling the plan alone).
    let kept = std::env::var_os("MAIL_BENCH_PLAN_STORE").map(std::path::PathBuf::from);
    let at = kept.as_deref().unwrap_or(dir.path());
    if !at.join("bench.db").exists() {
        let setup = Command::new(std::env::current_exe().expect("this bench"))
            .arg("plan-setup")
            .arg(at)
            .status()
            .expect("plan setup");
        assert!(setup.success(), "plan setup: {setup}");
    }
    let (store, slug, rules) = shop_store(at, None).await;
    // The shop's customers are listed too, so the rules engine decides
    // `send` for each of them.
    let mut list: Vec<ListedRecipient> = (0..recipients.saturating_sub(2_000))
        .map(|i| ListedRecipient {
            email: format!("R{i}@List.Example"),
            name: format!("R {i}"),
        })
        .collect();
    list.extend((0..2_000).map(|i| ListedRecipient {
        email: format!("cliente{i}@shop.example"),
        name: format!("Cliente {i}"),
    }));
    let audience = list.len();
    let campaign = campaign("plan-bench", Audience::List(list));
    let org = store.org(&slug).await.expect("org");
    let sizes =
        format!("{recipients} recipients vs {opt_outs} opt-outs + {robinson_size} Robinson hashes");
    // The verdicts streamed and counted: what `mail plan` and the
    // campaign page need.
    time_plans(&format!("plan: {sizes}"), async || {
        let mut listed = 0_usize;
        let summary = plan_each(&org, &campaign, &rules, 90, |_| listed += 1)
            .await
            .expect("plan");
        assert_eq!(listed, audience, "every recipient gets a verdict");
        (summary.kept, summary.excluded)
    })
    .await;
    // Every verdict kept in memory: what `mail plan --json` and a send's
    // outbox take.
    time_plans(&format!("plan, every verdict kept: {sizes}"), async || {
        let p = plan(&org, &campaign, &rules, 90).await.expect("plan");
        (p.summary.kept, p.summary.excluded)
    })
    .await;
    plan_breakdown(&store, &slug, &campaign).await;
}

/// postfix's `smtp-sink`: accepts and discards every message.
struct Sink(Child, u16);

impl Sink {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("/usr/sbin/smtp-sink")
            .args(["-u", "nobody", &format!("127.0.0.1:{port}"), "256"])
            .stdout(Stdio::null())
            .spawn()
            .expect("smtp-sink (apt-get install postfix)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child, port)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rsa_key(dir: &Path) -> String {
    let path = dir.join("dkim.pem");
    let ok = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&path)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl genrsa");
    std::fs::read_to_string(path).expect("key")
}

async fn bench_send() {
    let messages = size_from_env("MAIL_BENCH_MESSAGES", 20_000);
    let concurrency = size_from_env("MAIL_BENCH_CONCURRENCY", 32);
    let f = fixture(messages).await;
    let sink = Sink::start();
    // Signed, as the application's: sends are audited under its pseudonyms.
    let signer = Signer::create(&f._dir.path().join("audit.key")).expect("audit key");
    let audit = AuditLog::spawn(
        f.store.clone(),
        Some(Arc::new(signer)),
        AuditConfig::default(),
    );
    let key = TokenKey::create(&f._dir.path().join("mail.key")).expect("token key");
    let org = f.store.org(&f.org).await.expect("org");
    let dkim_rsa = Arc::new(
        DkimSigner::new("bench", "shop.example", &rsa_key(f._dir.path())).expect("rsa key"),
    );
    let today = chrono::Utc::now().date_naive();
    suppression::import_robinson(&f.store, &f.org, Path::new("robinson.txt"), "", today)
        .await
        .expect("robinson");
    // An Ed25519 key (RFC 8463): lettre reads the base64 of its 32-byte seed.
    let seed: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7 % 251).expect("byte"));
    let ed25519_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, seed);
    let dkim_ed25519 =
        Arc::new(DkimSigner::new("bench", "shop.example", &ed25519_key).expect("ed25519 key"));
    for (label, dkim) in [
        ("no DKIM", None),
        ("DKIM Ed25519", Some(dkim_ed25519)),
        ("DKIM RSA-2048", Some(dkim_rsa)),
    ] {
        let campaign = campaign(&format!("send-{}", label.len()), Audience::Customers);
        let config = SendConfig {
            smtp_url: format!("smtp://127.0.0.1:{}", sink.1),
            public_url: "https://custodia.example".into(),
            rate_per_second: 1_000_000,
            concurrency,
            window: None,
            max_error_rate: 0.1,
            dkim,
            wait_for_schedule: false,
            robinson_max_age_days: 90,
        };
        campaign.create(&f.store, &f.org).await.expect("campaign");
        fresh_peak();
        let started = Instant::now();
        let report =
            custodia_mailguard::send(&org, &campaign, &f.rules, &audit, &key, &config, &|_| {})
                .await
                .expect("send");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report.sent, messages, "{report:?}");
        println!(
            "send ({label}): {messages} messages in {seconds:.2} s = {:.0} messages/s (concurrency {concurrency}, durable outbox + audit); peak RSS {:.0} MiB",
            messages as f64 / seconds,
            peak_rss_mib()
        );
    }
    audit.shutdown().await.expect("audit shutdown");
}

/// The peer: lettre's own pooled transport (no `TCP_NODELAY`) sending
/// the same number of plain messages, with no outbox and no audit, so it
/// does strictly less work than `send` per message.
async fn bench_lettre_alone() {
    use lettre::transport::smtp::PoolConfig;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let messages = size_from_env("MAIL_BENCH_MESSAGES", 20_000);
    let concurrency = size_from_env("MAIL_BENCH_CONCURRENCY", 32);
    let sink = Sink::start();
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&format!("smtp://127.0.0.1:{}", sink.1))
            .expect("url")
            .pool_config(PoolConfig::new().max_size(u32::try_from(concurrency).expect("size")))
            .build();
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..messages {
        let message = Message::builder()
            .from("Tienda <hola@shop.example>".parse().expect("from"))
            .to(format!("cliente{i}@shop.example").parse().expect("to"))
            .subject("Rebajas")
            .body(format!(
                "Hola Cliente {i}, rebajas. Baja: https://custodia.example/u/x"
            ))
            .expect("message");
        let (transport, permit) = (
            transport.clone(),
            slots.clone().acquire_owned().await.expect("slot"),
        );
        tasks.spawn(async move {
            transport.send(message).await.expect("sent");
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "peer, lettre's pooled transport alone (no outbox, no audit): {messages} messages in {seconds:.2} s = {:.0} messages/s (concurrency {concurrency})",
        messages as f64 / seconds
    );
}

/// Signing alone: messages/s of `DkimSigner::sign` on 1 and 2 threads
/// for RSA-2048 and Ed25519, beside `openssl speed` on this machine in
/// the same run (the issue's yardstick: 90% of OpenSSL's RSA-2048 rate).
fn bench_dkim() {
    let dir = tempfile::tempdir().expect("dir");
    let rsa = DkimSigner::new("bench", "shop.example", &rsa_key(dir.path())).expect("rsa key");
    let seed: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7 % 251).expect("byte"));
    let ed25519 = DkimSigner::new(
        "bench",
        "shop.example",
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, seed),
    )
    .expect("ed25519 key");
    // A campaign message as `send` formats it: headers, then a
    // plain-and-HTML body of about 2 KiB.
    let mut message = String::from(
        "From: Tienda Verde <news@shop.example>\r\nTo: maria@example.com\r\nSubject: Autumn offers\r\n\
Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c1.0001@shop.example>\r\n\
List-Unsubscribe: <https://custodia.example/u/abcdef>, <mailto:unsubscribe@shop.example?subject=abcdef>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    for i in 0..40 {
        let _ = write!(
            message,
            "Line {i} of the autumn offers, with a few words more.\r\n"
        );
    }
    let message = message.into_bytes();
    for (label, signer) in [("RSA-2048", &rsa), ("Ed25519", &ed25519)] {
        for threads in [1, 2] {
            let run_for = Duration::from_secs(3);
            let start = Instant::now();
            let signed: usize = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let mut n = 0;
                            while start.elapsed() < run_for {
                                std::hint::black_box(
                                    signer.sign(&message, 1_800_000_000).expect("signed"),
                                );
                                n += 1;
                            }
                            n
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("thread")).sum()
            });
            println!(
                "dkim sign ({label}, {threads} thread{}): {:.0} messages/s",
                if threads == 1 { "" } else { "s" },
                signed as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    for args in [
        &["speed", "-seconds", "3", "rsa2048"][..],
        &["speed", "-seconds", "3", "-multi", "2", "rsa2048"][..],
        &["speed", "-seconds", "3", "ed25519"][..],
    ] {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl speed");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("rsa 2048") || l.contains("Ed25519"))
            .collect();
        println!("openssl {}: {}", args.join(" "), lines.join(" | "));
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [first, dir, ..] = &args[..] {
        if first == "plan-setup" {
            runtime.block_on(plan_setup(Path::new(dir)));
            return;
        }
    }
    let which = args.into_iter().find(|a| !a.starts_with('-'));
    if which.as_deref().is_none_or(|w| "plan".contains(w)) {
        runtime.block_on(bench_plan());
    }
    if which.as_deref().is_none_or(|w| "dkim".contains(w)) {
        bench_dkim();
    }
    if which.as_deref().is_none_or(|w| "send".contains(w)) {
        runtime.block_on(bench_lettre_alone());
        runtime.block_on(bench_send());
    }
}
