//! The mail guard against a real SMTP server (Python's aiosmtpd, started
//! here; `./test.sh` installs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Custodia, http, on_both_backends, repo};

/// An aiosmtpd handler that keeps each message byte for byte (aiosmtpd's
/// own Mailbox handler re-serialises messages, which would break DKIM).
const RAW_MAILDIR: &str = r#"
import itertools, os

class RawMaildir:
    def __init__(self, path):
        self.path = path
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.counter = itertools.count()

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(*args)

    async def handle_DATA(self, server, session, envelope):
        name = f"{os.getpid()}.{next(self.counter)}"
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.path, "new", name))
        return "250 OK"
"#;

/// A local SMTP server writing every message into a Maildir.
pub struct SmtpSink {
    _server: crate::Helper,
    pub url: String,
    maildir: PathBuf,
}

impl SmtpSink {
    pub fn start(dir: &Path) -> Self {
        let port = crate::free_port();
        let maildir = dir.join("maildir");
        std::fs::write(dir.join("rawsink.py"), RAW_MAILDIR).expect("handler");
        let server = crate::Helper::start(
            Command::new("/usr/bin/python3")
                .args([
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "rawsink.RawMaildir",
                ])
                .arg(&maildir)
                .env("PYTHONPATH", dir),
            port,
            "aiosmtpd (apt-get install python3-aiosmtpd)",
        );
        Self {
            _server: server,
            url: format!("smtp://127.0.0.1:{port}"),
            maildir,
        }
    }

    /// How many messages have arrived (without reading them).
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir.join(sub)).ok())
            .map(Iterator::count)
            .sum()
    }

    /// Every message received: (recipient, raw text).
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).expect("message");
                let to = text
                    .lines()
                    .find_map(|l| l.strip_prefix("To: "))
                    .map(|t| {
                        t.rsplit('<')
                            .next()
                            .unwrap_or(t)
                            .trim_end_matches('>')
                            .trim()
                            .to_owned()
                    })
                    .unwrap_or_default();
                out.push((to, text));
            }
        }
        out
    }
}

pub fn campaign_file() -> String {
    repo()
        .join("plugins/demo/campaigns/novedades.toml")
        .display()
        .to_string()
}

/// The addresses a plan (`mail plan --json`) keeps, in its order.
fn kept_addresses(plan: &Value) -> Vec<String> {
    plan["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter(|r| r["excluded"].is_null())
        .map(|r| r["address"].as_str().expect("address").to_owned())
        .collect()
}

fn plan(c: &Custodia) -> Value {
    serde_json::from_str(&c.ok(&[
        "mail",
        "plan",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--json",
    ]))
    .expect("plan json")
}

on_both_backends! {
fn messages_reach_exactly_the_kept_recipients_with_unsubscribe_headers(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    // An opt-out and a Robinson entry before planning.
    c.ok(&[
        "optout",
        "add",
        "--org",
        "bufete-ruiz",
        "Maria.Lopez@CORREO.example",
    ]);
    let plan = plan(&c);
    let kept = kept_addresses(&plan);
    assert_eq!(plan["kept"].as_u64(), Some(kept.len() as u64));
    // The demo firm has 27 customers who opted out and 16 who never
    // consented and are outside the LSSI-CE art. 21.2 exception: not
    // existing customers, or never offered an opt-out at collection
    // (plugins/demo/bufete-ruiz.toml and its generated ones).
    assert_eq!(plan["excluded"], serde_json::json!({"no_consent": 16, "opted_out": 27}));
    assert!(!kept.iter().any(|a| a.starts_with("maria.lopez@")));

    let out = c.ok(&send_args(&smtp, &[]));
    let report: Value = serde_json::from_str(&out).expect("report");
    assert_eq!(report["sent"].as_u64(), Some(kept.len() as u64), "{out}");

    let messages = smtp.messages();
    let mut received: Vec<String> = messages.iter().map(|(to, _)| to.clone()).collect();
    received.sort();
    let mut expected = kept.clone();
    expected.sort();
    assert_eq!(received, expected);
    for (_, text) in &messages {
        assert!(
            text.contains("List-Unsubscribe: <https://custodia.example/u/"),
            "{text}"
        );
        assert!(
            text.contains("mailto:unsubscribe@bufete-ruiz.example"),
            "{text}"
        );
        assert!(
            text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("Message-ID: <novedades-2026-12.")),
            "{text}"
        );
    }

    // Sending again sends nothing: nobody gets a second copy.
    let again: Value = serde_json::from_str(&c.ok(&[
        "mail",
        "resume",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--smtp",
        &smtp.url,
        "--public-url",
        "https://custodia.example",
        "--json",
    ]))
    .expect("json");
    assert_eq!(again["sent"].as_u64(), Some(0));
    assert_eq!(smtp.messages().len(), kept.len());

    // Every send is audited.
    let sends: Value = serde_json::from_str(&c.ok(&[
        "audit",
        "query",
        "--org",
        "bufete-ruiz",
        "--action",
        "send",
        "--json",
    ]))
    .expect("json");
    let sent_events = sends
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "send")
        .count();
    assert_eq!(sent_events, kept.len());
}
}

on_both_backends! {
fn an_unsubscribe_link_works_once_signed_and_forged_ones_change_nothing(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let (mut server, addr) = crate::crash::start_server(&c);
    c.ok(&[
        "mail",
        "send",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--smtp",
        &smtp.url,
        "--public-url",
        &format!("http://{addr}"),
        "--rate",
        "1000",
    ]);
    let (to, text) = smtp.messages().into_iter().next().expect("a message");
    let link = text
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.split('>').next())
        .expect("link")
        .to_owned();
    let path = link.split_once(&addr).expect("our server").1.to_owned();

    // GET and HEAD show a page and change nothing.
    let (status, body) = http(&addr, "GET", &path, None).expect("get");
    assert_eq!(status, 200);
    assert!(body.contains("<form method=\"post\">"));
    let (status, body) = http(&addr, "HEAD", &path, None).expect("head");
    assert_eq!(status, 200);
    assert!(body.is_empty(), "HEAD has no body: {body}");
    assert!(
        !c.ok(&["optout", "export", "--org", "bufete-ruiz"])
            .contains(&to)
    );

    // A forged token (one hex digit changed) is a 404 and changes nothing.
    let mut forged = path.clone();
    let last = forged.pop().expect("char");
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(http(&addr, "POST", &forged, None).expect("post").0, 404);
    assert!(
        !c.ok(&["optout", "export", "--org", "bufete-ruiz"])
            .contains(&to)
    );

    // The real one-click POST opts out at once.
    let (status, _) = http(&addr, "POST", &path, Some("List-Unsubscribe=One-Click")).expect("post");
    assert_eq!(status, 200);
    server.kill().expect("stop");
    let _ = server.wait();
    assert!(
        c.ok(&["optout", "export", "--org", "bufete-ruiz"])
            .contains(&to)
    );
    let events = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--csv"]);
    assert!(
        events
            .lines()
            .any(|l| l.contains(",opt_out,") && l.contains(",address:~") && l.contains("email link")),
        "{events}"
    );
    assert!(!events.contains(&to), "`{to}` in clear in the audit log: {events}");
}
}

on_both_backends! {
fn a_campaign_killed_mid_send_and_resumed_sends_nobody_two_copies(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let kept = plan(&c)["kept"].as_u64().expect("kept") as usize;
    let send_args = [
        "--db",
        &c.db,
        "mail",
        "send",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--smtp",
        &smtp.url,
        "--public-url",
        "https://custodia.example",
        "--rate",
        "50",
        "--concurrency",
        "4",
    ];
    let in_the_maildir = || smtp.count();
    // Each of five runs is killed once a few more messages have arrived,
    // so every kill lands mid-send; the sixth finishes.
    for round in 0..6 {
        let before = in_the_maildir();
        let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
            .args(send_args)
            .current_dir(c.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("send");
        if round == 5 {
            assert!(child.wait().expect("finish").success(), "the final resume must finish");
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while in_the_maildir() < before + 3 {
            assert!(Instant::now() < deadline, "round {round}: no progress");
            assert!(child.try_wait().expect("poll").is_none(), "round {round}: ended before the kill");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let arrived = in_the_maildir();
        assert!(arrived < kept, "round {round}: the kill came after the last message ({arrived} of {kept})");
    }
    let received = smtp.messages();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (to, _) in &received {
        *copies.entry(to.clone()).or_default() += 1;
    }
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "second copies: {twice:?}");

    // Every kept recipient is accounted for: sent, or reported uncertain.
    let status: Value = serde_json::from_str(&c.ok(&[
        "mail",
        "status",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--json",
    ]))
    .expect("json");
    let count = |state: &str| status["states"][state].as_u64().unwrap_or(0) as usize;
    assert_eq!(count("pending") + count("sending"), 0, "{status}");
    assert_eq!(
        count("sent") + count("uncertain") + count("failed"),
        kept,
        "{status}"
    );
    assert_eq!(count("failed"), 0, "{status}");
    // What arrived is what was sent, plus at most the uncertain ones.
    assert!(
        received.len() >= count("sent") && received.len() <= count("sent") + count("uncertain"),
        "received {} {status}",
        received.len()
    );
}
}

on_both_backends! {
fn an_opt_out_posted_during_a_5000_recipient_campaign_stops_every_later_message(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    // 5,000 consenting customers of the shop; the last one will opt out.
    let mut csv = String::from("id,name,email,consent_source,consent_date\n");
    for i in 0..5000 {
        csv.push_str(&format!(
            "T-{:05},Cliente {i},cliente{i}@tienda.example,checkout,2026-01-01\n",
            20000 + i
        ));
    }
    let csv_path = c.path("clientes.csv");
    std::fs::write(&csv_path, csv).expect("csv");
    c.ok(&[
        "import",
        "--org",
        "tienda-verde",
        "--customers",
        csv_path.to_str().expect("path"),
    ]);
    let victim = "cliente4999@tienda.example";

    // A one-recipient campaign gives us the victim's real unsubscribe link.
    std::fs::write(
        c.path("one.csv"),
        format!("email,name\n{victim},Cliente 4999\n"),
    )
    .expect("csv");
    let campaign = |id: &str, audience: &str| {
        format!(
            "id = \"{id}\"\nname = \"{id}\"\nsender = \"alvaro\"\nfrom = \"Tienda Verde <ofertas@tiendaverde.example>\"\nsubject = \"Ofertas\"\ntext = \"Hola {{{{ name }}}}. Baja: {{{{ unsubscribe_url }}}}\"\nlegal_basis = \"consent\"\naudience = \"{audience}\"\n"
        )
    };
    std::fs::write(c.path("one.toml"), campaign("one", "one.csv")).expect("toml");
    std::fs::write(c.path("big.toml"), campaign("big", "customers")).expect("toml");
    c.ok(&[
        "mail",
        "create",
        "--org",
        "tienda-verde",
        c.path("one.toml").to_str().expect("path"),
    ]);
    c.ok(&[
        "mail",
        "create",
        "--org",
        "tienda-verde",
        c.path("big.toml").to_str().expect("path"),
    ]);
    let (mut server, addr) = crate::crash::start_server(&c);
    let public = format!("http://{addr}");
    c.ok(&[
        "mail",
        "send",
        "--org",
        "tienda-verde",
        "one",
        "--smtp",
        &smtp.url,
        "--public-url",
        &public,
    ]);
    let (_, first) = smtp
        .messages()
        .into_iter()
        .next()
        .expect("the victim's message");
    let link = first
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.split('>').next())
        .expect("link")
        .to_owned();
    let path = link.split_once(&addr).expect("our server").1.to_owned();

    let planned: Value = serde_json::from_str(&c.ok(&[
        "mail", "plan", "--org", "tienda-verde", "big", "--json",
    ]))
    .expect("plan json");
    let kept = planned["kept"].as_u64().expect("kept") as usize;
    assert!(kept > 5000, "{kept}");
    let mut sender = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args([
            "--db",
            &c.db,
            "mail",
            "send",
            "--org",
            "tienda-verde",
            "big",
            "--smtp",
            &smtp.url,
            "--public-url",
            &public,
            "--rate",
            "2000",
            "--concurrency",
            "8",
        ])
        .current_dir(c.dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("send big");
    // Wait until the campaign is well under way, then opt out.
    let deadline = Instant::now() + Duration::from_secs(120);
    while smtp.count() < 1000 {
        assert!(Instant::now() < deadline, "the campaign did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) =
        http(&addr, "POST", &path, Some("List-Unsubscribe=One-Click")).expect("unsubscribe");
    assert_eq!(status, 200);
    let victim_copies = |msgs: &[(String, String)]| {
        msgs.iter()
            .filter(|(to, text)| to == victim && text.contains("Ofertas"))
            .count()
    };
    let at_answer = victim_copies(&smtp.messages());
    assert!(sender.wait().expect("sender").success());
    server.kill().expect("stop");
    let _ = server.wait();

    let all = smtp.messages();
    assert_eq!(
        victim_copies(&all),
        at_answer,
        "a message reached the address after the opt-out was answered"
    );
    let status: Value =
        serde_json::from_str(&c.ok(&["mail", "status", "--org", "tienda-verde", "big", "--json"]))
            .expect("json");
    let sent = status["states"]["sent"].as_u64().unwrap_or(0) as usize;
    // Everyone kept at planning got `big`, but the victim if the opt-out
    // came before their turn.
    let victim_got_big = all
        .iter()
        .filter(|(to, text)| to == victim && text.contains("Message-ID: <big."))
        .count();
    assert!(victim_got_big <= 1);
    assert_eq!(sent, kept - 1 + victim_got_big, "{status}");
    // Everyone else got exactly one copy of `big`.
    let big: Vec<_> = all
        .iter()
        .filter(|(_, text)| text.contains("Message-ID: <big."))
        .collect();
    assert_eq!(big.len(), sent);
}
}

on_both_backends! {
fn robinson_entries_exclude_everyone_without_consent_to_this_sender(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let before = plan(&c);
    // One existing customer without consent, one consenting customer.
    let kept = kept_addresses(&before);
    let pick = |consent: bool| -> String {
        kept.iter()
            .find(|a| (*a == "maria.lopez@correo.example") == consent)
            .expect("a kept recipient")
            .clone()
    };
    let consenting = pick(true);
    let existing_only = {
        let export = c.ok(&["export", "--org", "bufete-ruiz"]);
        // A generated customer with no consent block and not opted out.
        kept.iter()
            .find(|a| {
                let at = export.find(&format!("email = \"{a}\"")).expect("in export");
                let block = &export[at..export[at..]
                    .find("[[customers]]")
                    .map_or(export.len(), |e| at + e)];
                !block.contains("[customers.communications.consent]")
            })
            .expect("an existing customer without consent")
            .clone()
    };
    let hash = |a: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("02{a}").as_bytes()))
    };
    std::fs::write(
        c.path("robinson.txt"),
        format!(
            "# official format\n{}\n{}\n",
            hash(&existing_only),
            hash(&consenting)
        ),
    )
    .expect("write");
    let today = chrono::Utc::now().date_naive().to_string();
    let import = |file: &str| {
        c.run(&["robinson", "--org", "bufete-ruiz", "--downloaded", &today, c.path(file).to_str().expect("path")])
    };
    assert!(import("robinson.txt").status.success());
    let after = plan(&c);
    let verdict = |p: &Value, a: &str| -> Value {
        p["recipients"]
            .as_array()
            .expect("r")
            .iter()
            .find(|r| r["address"] == a)
            .expect("listed")["excluded"]
            .clone()
    };
    assert_eq!(
        verdict(&after, &existing_only),
        "robinson",
        "existing customers are checked too (LOPDGDD art. 23.4)"
    );
    assert!(
        verdict(&after, &consenting).is_null(),
        "consent to this sender exempts from the Robinson list"
    );
    assert_eq!(
        after["kept"].as_u64().expect("kept") + 1,
        before["kept"].as_u64().expect("kept")
    );

    // A malformed Robinson file is refused whole.
    std::fs::write(
        c.path("bad.txt"),
        format!("{}\nnot an address\n", hash("x@y.example")),
    )
    .expect("write");
    let err = String::from_utf8(import("bad.txt").stderr).expect("UTF-8");
    assert!(err.contains("bad.txt: line 2"), "{err}");
    assert_eq!(plan(&c)["kept"], after["kept"], "the list in force is unchanged");
}
}

on_both_backends! {
fn bad_campaign_input_is_refused_and_nothing_is_sent(backend) {
    let c = Custodia::demo(backend);
    let base = std::fs::read_to_string(campaign_file()).expect("campaign");
    std::fs::write(
        c.path("broken.toml"),
        base.replace("{{ name }}:", "{{ name "),
    )
    .expect("write");
    let err = c.fails(&[
        "mail",
        "create",
        "--org",
        "bufete-ruiz",
        c.path("broken.toml").to_str().expect("path"),
    ]);
    assert!(err.contains("template `"), "{err}");
    let err = c.fails(&["mail", "plan", "--org", "bufete-ruiz", "no-such-campaign"]);
    assert!(
        err.contains("campaign `no-such-campaign` not found"),
        "{err}"
    );
    std::fs::write(
        c.path("list.csv"),
        "email,name\nok@x.example,Ok\n\"broken,row\n",
    )
    .expect("write");
    std::fs::write(
        c.path("list.toml"),
        base.replace("audience = \"customers\"", "audience = \"list.csv\""),
    )
    .expect("write");
    let err = c.fails(&[
        "mail",
        "create",
        "--org",
        "bufete-ruiz",
        c.path("list.toml").to_str().expect("path"),
    ]);
    assert!(err.contains("list.csv"), "{err}");
    let err = c.fails(&["mail", "plan", "--org", "bufete-ruiz", "novedades-2026-12"]);
    assert!(err.contains("not found"), "nothing was half-created: {err}");
}
}

on_both_backends! {
fn an_opt_out_is_lifted_only_with_a_recorded_new_consent(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    c.ok(&[
        "optout",
        "add",
        "--org",
        "bufete-ruiz",
        "outsider@otro.example",
    ]);
    c.ok(&[
        "optout",
        "add",
        "--org",
        "bufete-ruiz",
        "maria.lopez@correo.example",
    ]);
    let verdict = |address: &str| -> Value {
        plan(&c)["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .find(|r| r["address"] == address)
            .expect("listed")["excluded"]
            .clone()
    };
    assert_eq!(verdict("maria.lopez@correo.example"), "opted_out");
    // Without a consent there is nothing to lift it with.
    let err = c.fails(&[
        "optout",
        "remove",
        "--org",
        "bufete-ruiz",
        "maria.lopez@correo.example",
    ]);
    assert!(err.contains("--consent-source"), "{err}");
    c.ok(&[
        "optout",
        "remove",
        "--org",
        "bufete-ruiz",
        "maria.lopez@correo.example",
        "--consent-source",
        "signed form",
        "--consent-date",
        "2026-11-23",
    ]);
    assert!(verdict("maria.lopez@correo.example").is_null());
    let list = c.ok(&["optout", "export", "--org", "bufete-ruiz"]);
    assert!(
        list.contains("outsider@otro.example") && !list.contains("maria.lopez"),
        "{list}"
    );
    let events = c.ok(&["audit", "query", "--org", "bufete-ruiz", "--csv"]);
    let opt_outs: Vec<&str> = events.lines().filter(|l| l.contains(",opt_out,")).collect();
    assert_eq!(opt_outs.len(), 3, "two opt-outs and one lift: {events}");
    // Each names its address by a keyed pseudonym, never in clear: the
    // same address gets the same one (maria's opt-out and its lift).
    let references: Vec<&str> = opt_outs
        .iter()
        .map(|l| {
            l.split(',')
                .find(|f| f.starts_with("address:~"))
                .unwrap_or_else(|| panic!("no pseudonym in `{l}`"))
        })
        .collect();
    assert_eq!(references.iter().map(|r| r.len()).collect::<Vec<_>>(), [41; 3]);
    assert_ne!(references[0], references[1], "two addresses, two pseudonyms");
    assert_eq!(references[1], references[2], "the lift names maria's opt-out");
    for address in ["outsider@otro.example", "maria.lopez@correo.example"] {
        assert!(!events.contains(address), "`{address}` in clear: {events}");
    }
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE resource LIKE '%@%' OR detail LIKE '%@%' OR worker LIKE '%@%' OR customer LIKE '%@%'"),
        0,
        "no event carries an email address"
    );
}
}

/// `send` arguments for the demo campaign at a fast rate.
pub fn send_args<'a>(smtp: &'a SmtpSink, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "mail",
        "send",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--smtp",
        &smtp.url,
        "--public-url",
        "https://custodia.example",
        "--rate",
        "1000",
        "--concurrency",
        "8",
        "--json",
    ];
    args.extend_from_slice(extra);
    args
}

/// Verifies each message's DKIM signature with dkimpy (Debian's
/// python3-dkim), an implementation independent of ours, against `dns_txt`
/// as the published record: one verdict per message, in order.
fn dkim_verdicts(messages: &[String], dns_txt: &str) -> Vec<bool> {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:06}.eml")), m).expect("write message");
    }
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os, sys, dkim\n\
             txt = sys.argv[1].encode()\n\
             for name in sorted(os.listdir(sys.argv[2])):\n\
             \x20   raw = open(os.path.join(sys.argv[2], name), 'rb').read()\n\
             \x20   print(dkim.verify(raw, dnsfunc=lambda n, timeout=5: txt))",
            dns_txt,
        ])
        .arg(dir.path())
        .output()
        .expect("python3 with dkim (apt-get install python3-dkim)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l == "True")
        .collect()
}

on_both_backends! {
fn dkim_signatures_verify_and_cover_both_list_unsubscribe_headers(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    let key = c.path("dkim.pem");
    let genrsa = Command::new("openssl")
        // PKCS#8, what `openssl genrsa` writes today: read as it is.
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(genrsa.success());
    let public = Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .stderr(Stdio::null())
        .output()
        .expect("openssl rsa -pubout");
    let dns_txt = format!("v=DKIM1; k=rsa; p={}", base64_encode(&public.stdout));
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let key = key.to_str().expect("path");
    let out = c.ok(&send_args(
        &smtp,
        &["--dkim-selector", "custodia", "--dkim-key", key],
    ));
    let report: Value = serde_json::from_str(&out).expect("report");
    let messages = smtp.messages();
    assert!(!messages.is_empty());
    assert_eq!(report["sent"].as_u64(), Some(messages.len() as u64));
    for (_, text) in &messages {
        let signed = dkim_tag(text, "h").to_ascii_lowercase();
        let signed: Vec<&str> = signed.split(':').map(str::trim).collect();
        assert_eq!(dkim_tag(text, "d"), "bufete-ruiz.example");
        assert_eq!(dkim_tag(text, "s"), "custodia");
        for header in [
            "from",
            "subject",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(signed.contains(&header), "{header} not signed: {signed:?}");
        }
    }
    let texts: Vec<String> = messages.iter().map(|(_, t)| t.clone()).collect();
    assert!(!texts.is_empty());
    let verdicts = dkim_verdicts(&texts, &dns_txt);
    assert_eq!(verdicts.len(), texts.len(), "one verdict per message");
    assert!(verdicts.iter().all(|ok| *ok), "a signature does not verify");
    // The signature covers the unsubscribe headers: changing either breaks it.
    let forged: Vec<String> = texts
        .iter()
        .flat_map(|t| {
            [
                t.replacen("https://custodia.example/u/", "https://evil.example/u/", 1),
                t.replacen(
                    "List-Unsubscribe=One-Click",
                    "List-Unsubscribe=Two-Clicks",
                    1,
                ),
            ]
        })
        .collect();
    assert!(
        forged.iter().all(|f| texts.iter().all(|t| t != f)),
        "the forgeries changed something"
    );
    assert_eq!(forged.len(), 2 * texts.len());
    let verdicts = dkim_verdicts(&forged, &dns_txt);
    assert_eq!(verdicts.len(), forged.len(), "one verdict per forgery");
    assert!(verdicts.iter().all(|ok| !ok), "a forged unsubscribe header still verifies");
    // An unreadable key is refused with a clear error, nothing sent.
    std::fs::write(
        c.path("pkcs8.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let err = c.fails(&send_args(
        &smtp,
        &[
            "--dkim-selector",
            "custodia",
            "--dkim-key",
            c.path("pkcs8.pem").to_str().expect("path"),
        ],
    ));
    assert!(err.contains("unreadable PKCS#8 RSA key"), "{err}");
}
}

/// A tag of the message's DKIM-Signature header, unfolded.
fn dkim_tag(message: &str, tag: &str) -> String {
    let mut lines = message
        .lines()
        .skip_while(|l| !l.starts_with("DKIM-Signature:"));
    let mut header = lines.next().unwrap_or_default().to_owned();
    header.extend(lines.take_while(|l| l.starts_with([' ', '\t'])));
    header
        .trim_start_matches("DKIM-Signature:")
        .split(';')
        .find_map(|t| {
            t.trim()
                .strip_prefix(&format!("{tag}="))
                .map(|v| v.split_whitespace().collect())
        })
        .unwrap_or_default()
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

on_both_backends! {
fn a_scheduled_campaign_is_not_sent_before_its_time(backend) {
    let c = Custodia::demo(backend);
    let smtp = SmtpSink::start(c.dir.path());
    let base = std::fs::read_to_string(campaign_file()).expect("campaign");
    std::fs::write(
        c.path("later.toml"),
        base.replace(
            "audience = \"customers\"",
            "audience = \"customers\"\nschedule = \"2999-01-01T09:00:00+01:00\"",
        ),
    )
    .expect("write");
    c.ok(&[
        "mail",
        "create",
        "--org",
        "bufete-ruiz",
        c.path("later.toml").to_str().expect("path"),
    ]);
    let err = c.fails(&send_args(&smtp, &[]));
    assert!(
        err.contains("scheduled for 2999-01-01 08:00:00 UTC"),
        "{err}"
    );
    assert!(smtp.messages().is_empty());
    let status = c.ok(&[
        "mail",
        "status",
        "--org",
        "bufete-ruiz",
        "novedades-2026-12",
        "--json",
    ]);
    let status: Value = serde_json::from_str(&status).expect("status");
    assert_eq!(
        status["states"],
        serde_json::json!({}),
        "nothing queued: {status}"
    );

    std::fs::write(
        c.path("bad.toml"),
        base.replace("id = \"novedades-2026-12\"", "id = \"bad-date\"")
            .replace(
                "audience = \"customers\"",
                "audience = \"customers\"\nschedule = \"next tuesday\"",
            ),
    )
    .expect("write");
    let err = c.fails(&[
        "mail",
        "create",
        "--org",
        "bufete-ruiz",
        c.path("bad.toml").to_str().expect("path"),
    ]);
    assert!(
        err.contains("bad.toml: line 12: schedule `next tuesday`"),
        "{err}"
    );
}
}

on_both_backends! {
fn a_plan_streamed_line_by_line_gives_the_verdicts_the_whole_plan_keeps(backend) {
    let c = Custodia::demo(backend);
    // Three chunks of the planner and a bit, with duplicates across them.
    let n = 70_000;
    let mut audience: Vec<String> = (0..n)
        .map(|i| match i {
            40_000 => "persona10@lista.example".to_owned(),
            69_998 => "PERSONA5@Lista.Example".to_owned(),
            _ => format!("persona{i}@lista.example"),
        })
        .collect();
    audience.push("no-at-sign".to_owned());
    let mut csv = String::from("email,name\n");
    for (i, email) in audience.iter().enumerate() {
        csv.push_str(&format!("{email},P {i}\n"));
    }
    std::fs::write(c.path("lista.csv"), csv).expect("csv");
    std::fs::write(
        c.path("lista.toml"),
        "id = \"lista\"\nname = \"lista\"\nsender = \"alvaro\"\nfrom = \"Tienda Verde <ofertas@tiendaverde.example>\"\nsubject = \"Ofertas\"\ntext = \"Hola. Baja: {{ unsubscribe_url }}\"\nlegal_basis = \"consent\"\naudience = \"lista.csv\"\n",
    )
    .expect("toml");
    c.ok(&["mail", "create", "--org", "tienda-verde", c.path("lista.toml").to_str().expect("path")]);
    c.ok(&["optout", "add", "--org", "tienda-verde", "persona50000@lista.example"]);

    let whole: Value = serde_json::from_str(&c.ok(&[
        "--json", "mail", "plan", "--org", "tienda-verde", "lista",
    ]))
    .expect("plan json");
    let kept_verdicts: Vec<(String, String)> = whole["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| {
            let verdict = r["excluded"].as_str().unwrap_or("kept").to_owned();
            (r["address"].as_str().expect("address").to_owned(), verdict)
        })
        .collect();
    assert_eq!(kept_verdicts.len(), n + 1);

    let listed = c.ok(&["mail", "plan", "--org", "tienda-verde", "lista", "--list"]);
    let streamed: Vec<(String, String)> = listed
        .lines()
        .take_while(|l| !l.starts_with("campaign `lista`"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let address = words.next().expect("address").to_owned();
            (address, words.next().expect("verdict").to_owned())
        })
        .collect();
    assert_eq!(streamed, kept_verdicts, "the same verdicts, in the same order");
    let in_order: Vec<String> = audience
        .iter()
        .map(|a| a.replace("@Lista.Example", "@lista.example"))
        .collect();
    let addresses: Vec<String> = streamed.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(addresses, in_order, "the audience's order, domains lowercased");
    let verdict = |i: usize| streamed[i].1.as_str();
    assert_eq!(verdict(10), verdict(11), "the first of two is judged like its neighbours");
    assert_eq!(verdict(40_000), "duplicate");
    assert_eq!(verdict(69_998), "duplicate", "duplicates are found across chunks, whatever the case");
    assert_eq!(verdict(50_000), "opted_out");
    assert_eq!(verdict(n), "invalid_address");

    // The totals printed after the lines are the whole plan's.
    let summary = &listed[listed.find("campaign `lista`").expect("totals")..];
    assert!(summary.contains(&format!("{} kept", whole["kept"])), "{summary}");
    for (reason, count) in whole["excluded"].as_object().expect("excluded") {
        assert!(summary.contains(&format!("excluded, {reason}: {count}")), "{summary}");
    }
    assert_eq!(whole["excluded"]["duplicate"], 2);
}
}

/// Postfix's `smtp-sink` (Debian's postfix; `./test.sh` installs it): a
/// server that offers PIPELINING, writing each transaction it accepts to
/// a file of its own, envelope first (`X-Rcpt-Args: <address>`).
struct PostfixSink {
    _server: crate::Helper,
    url: String,
    /// A folder of its own: smtp-sink drops root for `nobody`, who could
    /// not enter the test's private folder.
    dump: tempfile::TempDir,
}

impl PostfixSink {
    fn start() -> Self {
        let port = crate::free_port();
        let dump = tempfile::tempdir().expect("dump folder");
        std::fs::set_permissions(
            dump.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .expect("dump folder for nobody");
        let server = crate::Helper::start(
            Command::new("/usr/sbin/smtp-sink")
                .args(["-u", "nobody", "-d"])
                .arg(format!("{}/%Y%m%d%H%M%S.", dump.path().display()))
                .arg(format!("127.0.0.1:{port}"))
                .arg("64"),
            port,
            "smtp-sink (apt-get install postfix)",
        );
        Self {
            _server: server,
            url: format!("smtp://127.0.0.1:{port}"),
            dump,
        }
    }

    /// The recipient of each transaction received, sorted.
    fn recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.dump.path())
            .expect("dump folder")
            .flatten()
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("dump");
                text.lines()
                    .find_map(|l| l.strip_prefix("X-Rcpt-Args: <"))
                    .and_then(|l| l.split('>').next())
                    .expect("recipient")
                    .to_owned()
            })
            .collect();
        out.sort();
        out
    }
}

on_both_backends! {
fn a_pipelining_postfix_server_gets_each_kept_recipient_once(backend) {
    let c = Custodia::demo(backend);
    let sink = PostfixSink::start();
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let plan = plan(&c);
    let mut kept = kept_addresses(&plan);
    kept.sort();
    assert!(kept.len() > 50, "{}", kept.len());
    let out = c.ok(&[
        "mail", "send", "--org", "bufete-ruiz", "novedades-2026-12", "--smtp", &sink.url,
        "--public-url", "https://custodia.example", "--rate", "1000", "--concurrency", "4", "--json",
    ]);
    let report: Value = serde_json::from_str(&out).expect("report");
    assert_eq!(report["sent"].as_u64(), Some(kept.len() as u64), "{out}");
    assert_eq!(report["failed"].as_u64(), Some(0), "{out}");
    // smtp-sink writes a file when the transaction ends; the last may
    // land just after the client's QUIT.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.recipients().len() < kept.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sink.recipients(), kept, "each kept recipient once, nobody else");
}
}

on_both_backends! {
fn a_resume_sends_from_the_outbox_only_while_the_robinson_list_is_in_force(backend) {
    let c = Custodia::demo(backend);
    c.ok(&["mail", "create", "--org", "bufete-ruiz", &campaign_file()]);
    let kept = plan(&c)["kept"].as_u64().expect("kept");
    // Nothing listens here: the first send writes the outbox, fails its
    // first twenty messages and pauses.
    let nowhere = format!("smtp://127.0.0.1:{}", crate::free_port());
    let send = |smtp: &str, verb: &str| {
        c.run(&[
            "mail", verb, "--org", "bufete-ruiz", "novedades-2026-12", "--smtp", smtp,
            "--public-url", "https://custodia.example", "--rate", "1000", "--concurrency", "1",
            "--json",
        ])
    };
    let paused = send(&nowhere, "send");
    assert!(!paused.status.success());
    assert!(String::from_utf8_lossy(&paused.stderr).contains("paused"), "{paused:?}");
    let status: Value = serde_json::from_str(&c.ok(&[
        "mail", "status", "--org", "bufete-ruiz", "novedades-2026-12", "--json",
    ]))
    .expect("status");
    let pending = status["states"]["pending"].as_u64().expect("pending");
    assert!(pending > 0 && pending < kept, "{status}");

    // A resume with the list gone stale is refused, as a first send would be.
    std::fs::write(c.path("old.txt"), "# official format\n").expect("list");
    let old = c.path("old.txt");
    c.ok(&["robinson", "--org", "bufete-ruiz", "--downloaded", "2020-01-01", old.to_str().expect("path")]);
    let smtp = SmtpSink::start(c.dir.path());
    let refused = send(&smtp.url, "resume");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("was downloaded on 2020-01-01"), "{err}");
    assert_eq!(smtp.count(), 0, "nothing sent on a stale list");

    // With the list in force again, the resume sends what the outbox holds.
    let today = chrono::Utc::now().date_naive().to_string();
    c.ok(&["robinson", "--org", "bufete-ruiz", "--downloaded", &today, old.to_str().expect("path")]);
    let resumed = send(&smtp.url, "resume");
    assert!(resumed.status.success(), "{resumed:?}");
    let report: Value = serde_json::from_slice(&resumed.stdout).expect("report");
    assert_eq!(report["sent"].as_u64(), Some(pending), "{report}");
    assert_eq!(smtp.count() as u64, pending);
}
}
