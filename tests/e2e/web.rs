//! The web UI in a real headless Chromium, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, started by each test and
//! killed with it, browser included):
//! logins, records through the rules, unlocking, refused exports, the
//! breach wizard to a PDF, a campaign sent with its progress, unsubscribe
//! links, and forms without their anti-forgery token. Every page visited
//! is screenshotted into `target/screenshots/`, and a test fails on any
//! console error.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custodia_engine::Backend;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::crash::start_server_with;
use crate::mail::SmtpSink;
use crate::{Custodia, Helper};

/// A server, a ChromeDriver and a browser session on it.
struct Browser {
    client: Client,
    base: String,
    addr: String,
    name: &'static str,
    shots: usize,
    _driver: Helper,
    _server: Helper,
    /// Chromium's user data folder, removed with the browser.
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    // Killing ChromeDriver alone left its Chromium running after each
    // test, a dozen browsers per test run. The browser's processes are
    // the ones that use its profile folder; they stay in the test's
    // process group, so Ctrl-C still reaches them too.
    fn drop(&mut self) {
        let pids: Vec<String> = processes_using(self.profile.path())
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
    }
}

/// Processes whose command line mentions `path`: (pid, command line).
fn processes_using(path: &Path) -> Vec<(String, String)> {
    let needle = path.display().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.to_owned();
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
        .filter(|(_, cmdline)| cmdline.contains(&needle))
        .collect()
}

/// `POST /session/{id}/se/log`: ChromeDriver's browser console log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_owned()),
        )
    }
}

fn screenshots() -> PathBuf {
    let dir = crate::repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    dir
}

impl Browser {
    async fn start(c: &Custodia, extra: &[&str], name: &'static str) -> Self {
        let (server, addr) = start_server_with(c, extra);
        let port = crate::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (apt-get install chromium-driver)");
        crate::wait_listening(port, "chromedriver", Duration::from_secs(20));
        let profile = tempfile::tempdir().expect("profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,1000",
                    "--lang=es-ES", "--accept-lang=es-ES",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("browser session");
        Self {
            client,
            base: format!("http://{addr}"),
            addr,
            name,
            shots: 0,
            _driver: Helper(driver),
            _server: Helper(server),
            profile,
        }
    }

    /// Saves a screenshot and fails on any console error so far.
    async fn check(&mut self, step: &str) {
        self.check_allowing(step, None).await;
    }

    /// The same, where the page itself was meant to answer with `status`
    /// (a refusal page): the browser logs that load, and only that, as an
    /// error.
    async fn check_allowing(&mut self, step: &str, status: Option<u16>) {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let file = screenshots().join(format!("{}-{:02}-{step}.png", self.name, self.shots));
        std::fs::write(&file, png).expect("write screenshot");
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("console log");
        let errors: Vec<&Value> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| {
                let expected = status.map(|s| format!("status of {s} "));
                !(e["source"] == "network"
                    && expected
                        .is_some_and(|x| e["message"].as_str().unwrap_or_default().contains(&x)))
            })
            .collect();
        assert!(errors.is_empty(), "console errors at {step}: {errors:?}");
    }

    async fn goto(&mut self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("goto");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .click()
            .await
            .expect("click");
    }

    /// Clicks something that loads a new page, and waits until it has:
    /// WebDriver's click does not wait for the navigation it starts.
    async fn submit(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("page");
        self.click(css).await;
        self.wait_for_new_page(old).await;
    }

    async fn wait_for_new_page(&self, old: fantoccini::elements::Element) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "no new page was loaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .text()
            .await
            .expect("text")
    }

    /// How the record page shows an area: `ok`, `locked` or `denied`.
    async fn area_state(&self, area: &str) -> String {
        self.client
            .find(Locator::Css(&format!("#area-{area}")))
            .await
            .expect("area")
            .attr("data-state")
            .await
            .expect("attr")
            .unwrap_or_default()
    }

    async fn source(&self) -> String {
        self.client.source().await.expect("source")
    }

    async fn login(&mut self, login: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.submit("form[action='/login'] button").await;
    }

    /// The session cookie, to fetch what a browser would download.
    async fn session(&self) -> String {
        let cookie = self
            .client
            .get_named_cookie("custodia_session")
            .await
            .expect("session cookie");
        format!("custodia_session={}", cookie.value())
    }
}

/// A raw HTTP exchange with cookies: (status, headers, body bytes).
pub fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = form.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}{}Content-Length: {}\r\n\r\n{body}",
        cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default(),
        form.map(|_| "Content-Type: application/x-www-form-urlencoded\r\n")
            .unwrap_or_default(),
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// The anti-forgery token of the first form on a page.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_owned()
}

/// Runs a blocking helper (which starts its own runtime) off the test's runtime.
fn outside<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("helper thread"))
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn no_browser_outlives_its_test() {
    let c = Custodia::demo(Backend::Sqlite);
    let profile = run(async {
        let mut b = Browser::start(&c, &[], "cleanup").await;
        b.goto("/").await;
        let profile = b.profile.path().to_owned();
        assert!(
            !processes_using(&profile).is_empty(),
            "Chromium runs with the test's profile"
        );
        profile
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_using(&profile).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_using(&profile), Vec::<(String, String)>::new());
}

#[test]
fn login_with_a_wrong_then_a_right_password() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "login").await;
        b.goto("/customers").await;
        assert!(
            b.source().await.contains("id=\"password\""),
            "sent to the login page"
        );
        b.check("login-form").await;
        b.login("luis", "not-his-password").await;
        let error = b.text("#login-error").await;
        assert!(error.contains("incorrectos"), "{error}");
        b.check("wrong-password").await;
        b.login("luis", "demo-luis").await;
        let url = b.client.current_url().await.expect("url");
        assert_eq!(url.path(), "/customers");
        assert!(b.text("#customers").await.contains("C-1001"));
        b.check("logged-in").await;
    });
    let failures = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'login_failed'");
    assert_eq!(failures, 1, "the wrong password is audited");
    let listings = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'list'");
    assert_eq!(listings, 1, "the customer list is one audited event");
}

#[test]
fn assistant_sees_the_personal_area_closed_and_the_lawyer_sees_it_whole() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "record").await;
        b.login("luis", "demo-luis").await;
        b.goto("/customers/C-1001").await;
        assert_eq!(b.area_state("personal").await, "denied");
        let phone = b
            .client
            .find(Locator::Css("[data-field='phone']"))
            .await
            .expect("phone");
        assert_eq!(
            phone.attr("class").await.expect("class").as_deref(),
            Some("masked")
        );
        assert!(
            !b.source().await.contains("600 100 001"),
            "the masked phone never reaches the page"
        );
        b.check("assistant-record").await;
        b.submit("#area-personal a").await;
        assert!(
            b.source()
                .await
                .contains("assistants see no personal information")
        );
        b.check("assistant-why").await;

        b.goto("/login").await;
        b.login("ana", "demo-ana").await;
        b.goto("/customers/C-1001").await;
        assert_eq!(b.area_state("personal").await, "ok");
        assert!(b.text("#area-personal").await.contains("marital_status"));
        assert!(
            b.source().await.contains("600 100 001"),
            "the lawyer in charge sees the phone"
        );
        // Documents by type, one heading per type she may see.
        let docs = b.text("#docs").await;
        assert!(b.text("#type-contract").await == "contract", "{docs}");
        assert!(b.text("#type-invoice").await == "invoice", "{docs}");
        b.check("lawyer-record").await;
    });
}

#[test]
fn lawyer_unlocks_a_closed_area_with_its_password_and_sees_the_expiry() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "unlock").await;
        b.login("ana", "demo-ana").await;
        b.goto("/customers/C-1001").await;
        assert_eq!(b.area_state("case-file").await, "locked");
        b.fill("#pw-case-file", "wrong-password").await;
        b.submit("#area-case-file button").await;
        assert!(
            b.text("#area-case-file")
                .await
                .contains("Intentos restantes")
        );
        b.check("wrong-area-password").await;
        b.fill("#pw-case-file", "expediente-1001").await;
        b.submit("#area-case-file button").await;
        assert_eq!(b.area_state("case-file").await, "ok");
        assert!(
            b.text("#area-case-file")
                .await
                .contains("Desbloqueada hasta")
        );
        b.check("unlocked").await;
    });
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'unlock'"),
        1
    );
    assert_eq!(
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'unlock_failed'"),
        1
    );
}

#[test]
fn export_is_refused_to_a_worker_without_the_right() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "export").await;
        b.login("luis", "demo-luis").await;
        b.goto("/customers/C-1001").await;
        assert!(
            b.client.find(Locator::Css("#export-button")).await.is_err(),
            "no export button where the rules refuse the export"
        );
        b.check("no-export-button").await;
        // Posted anyway, with a valid token: refused by the rules.
        let cookie = b.session().await;
        let (_, _, page) = exchange(&b.addr, "GET", "/customers/C-1001", Some(&cookie), None);
        let csrf = csrf_of(&String::from_utf8_lossy(&page));
        let form = format!("csrf={csrf}&purpose=curiosity&format=csv");
        let (status, _, body) = exchange(
            &b.addr,
            "POST",
            "/customers/C-1001/export",
            Some(&cookie),
            Some(&form),
        );
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("may not export"));

        b.goto("/login").await;
        b.login("ana", "demo-ana").await;
        b.goto("/customers/C-1001").await;
        assert!(b.client.find(Locator::Css("#export-button")).await.is_ok());
        b.check("export-button").await;
    });
}

#[test]
fn officer_runs_the_breach_wizard_to_a_pdf_with_the_keyboard_alone() {
    let c = Custodia::demo(Backend::Sqlite);
    c.ok(&["read", "--worker", "luis", "--resource", "customer:C-1001"]);
    run(async {
        let mut b = Browser::start(&c, &[], "breach").await;
        b.login("rocio", "demo-rocio").await;
        b.goto("/officer").await;
        assert!(b.text("#chain-state").await.contains('✓'));
        let pending = b.text("section[aria-labelledby=pending]").await;
        assert!(
            pending.contains("RA-02"),
            "the register's pending actions: {pending}"
        );
        b.check("dashboard").await;
        // Keyboard alone from here to the recorded breach.
        tab_to(&b, "breach-wizard-link").await;
        type_and_enter(&b, "").await;
        let since = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M");
        let until = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M");
        tab_to(&b, "worker").await;
        type_here(&b, "luis").await;
        tab_to(&b, "since").await;
        type_here(&b, &since.to_string()).await;
        tab_to(&b, "until").await;
        type_and_enter(&b, &until.to_string()).await;
        let touched = b.text("#touched-count").await;
        assert!(touched.starts_with('1'), "{touched}");
        b.check("customers-touched").await;
        tab_to(&b, "nature").await;
        type_here(&b, "Portátil de Luis extraviado").await;
        tab_to(&b, "record-button").await;
        type_and_enter(&b, "").await;
        let page = b.text("main").await;
        assert!(page.contains("Brecha registrada"), "{page}");
        b.check("breach-recorded").await;
        let link = b
            .client
            .find(Locator::Css("#breach-pdf"))
            .await
            .expect("pdf link")
            .attr("href")
            .await
            .expect("href")
            .expect("href value");
        let cookie = b.session().await;
        let (status, head, pdf) = exchange(&b.addr, "GET", &link, Some(&cookie), None);
        assert_eq!(status, 200, "{head}");
        assert!(pdf.starts_with(b"%PDF"), "a PDF");
        let file = c.path("breach.pdf");
        std::fs::write(&file, &pdf).expect("pdf");
        let text = Command::new("pdftotext")
            .arg(&file)
            .arg("-")
            .output()
            .expect("pdftotext");
        assert!(String::from_utf8_lossy(&text.stdout).contains("C-1001"));

        // The newest event, written since the last checkpoint, edited behind
        // the server's back: the dashboard's check of the events since the
        // witnessed checkpoint names it.
        b.goto("/officer").await;
        let checked = b.text("#chain-checked").await;
        assert!(
            checked.contains(" #"),
            "checked from a witnessed checkpoint: {checked}"
        );
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&c.db)
            .await
            .expect("open the database directly");
        let edited = sqlx::query(
            "UPDATE audit_events SET worker = 'elena' WHERE org = 'bufete-ruiz' \
             AND seq = (SELECT MAX(seq) FROM audit_events WHERE org = 'bufete-ruiz') \
             AND seq > (SELECT MAX(seq) FROM audit_checkpoints WHERE org = 'bufete-ruiz') \
             RETURNING seq",
        )
        .fetch_one(&pool)
        .await
        .expect("an event after the last checkpoint");
        let seq: i64 = sqlx::Row::get(&edited, 0);
        pool.close().await;
        b.goto("/officer").await;
        assert!(b.text("#chain-state").await.contains('✗'));
        let checked = b.text("#chain-checked").await;
        assert!(
            checked.contains(&format!(" {seq}: evento modificado")),
            "{checked}"
        );
        b.check("dashboard-chain-broken").await;
    });
    let breaches = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'register'");
    assert!(breaches >= 1, "the breach record is audited");
}

#[test]
fn marketing_sends_a_campaign_and_unsubscribe_needs_a_post() {
    let c = Custodia::demo(Backend::Sqlite);
    let sink = SmtpSink::start(c.dir.path());
    run(async {
        let mut b = Browser::start(&c, &["--smtp", &sink.url], "marketing").await;
        b.login("marta", "demo-marta").await;
        b.goto("/marketing").await;
        b.check("campaigns").await;
        b.submit("#new-campaign").await;
        b.fill("#id", "Bad Id").await;
        b.submit("#save-campaign").await;
        assert!(b.text("#id-error").await.contains("lowercase"));
        assert!(b.text("#name-error").await.contains("required"));
        b.check("editor-errors").await;
        b.fill("#id", "boletin-web").await;
        b.fill("#name", "Boletín de prueba").await;
        b.fill("#from", "Bufete Ruiz <novedades@bufete-ruiz.example>")
            .await;
        b.fill("#subject", "Novedades para {{ name }}").await;
        b.fill("#legal_basis", "consent (GDPR art. 6(1)(a))").await;
        b.click("input[name='similar_products']").await;
        b.submit("#save-campaign").await;
        let kept: usize = b.text("#kept strong").await.parse().expect("recipients");
        assert!(kept > 0);
        assert!(b.client.find(Locator::Css("#exclusions")).await.is_ok());
        b.check("plan").await;
        b.submit("#send-campaign").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = b.text("#progress-text").await;
            if text.contains("terminado") {
                assert!(text.starts_with(&format!("{kept} / {kept}")), "{text}");
                break;
            }
            assert!(Instant::now() < deadline, "sending did not finish: {text}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            b.client.refresh().await.expect("refresh");
        }
        b.check("progress-done").await;
        assert_eq!(
            sink.count(),
            kept,
            "every planned recipient got one message"
        );

        let (_, message) = sink.messages().into_iter().next().expect("a message");
        // The List-Unsubscribe header, unfolded.
        let header = message
            .split("List-Unsubscribe: <")
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .expect("List-Unsubscribe header");
        let link: String = header.split_whitespace().collect();
        let path = &link[link.find("/u/").expect("path")..];
        // A customer's opt-out lives on their record; the event is the
        // one trace every opt-out leaves.
        let opted_out =
            |c: &Custodia| c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'opt_out'");
        b.goto(path).await;
        assert!(b.source().await.contains("<button"), "a button to confirm");
        b.check("unsubscribe-get").await;
        assert_eq!(
            outside(|| opted_out(&c)),
            0,
            "a GET (a mail scanner) unsubscribes nobody"
        );
        b.submit("form button").await;
        b.check("unsubscribe-post").await;
        assert_eq!(outside(|| opted_out(&c)), 1, "the POST unsubscribes");
    });
}

#[test]
fn a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "csrf").await;
        b.login("marta", "demo-marta").await;
        b.goto("/marketing/opt-outs").await;
        b.check("opt-outs").await;
        let cookie = b.session().await;
        let before = outside(|| c.count("SELECT COUNT(*) FROM opt_outs"));
        for form in [
            "address=nuevo%40correo.example".to_owned(),
            "csrf=00&address=nuevo%40correo.example".to_owned(),
            format!("csrf={}&address=nuevo%40correo.example", "ab".repeat(32)),
        ] {
            let (status, _, body) = exchange(
                &b.addr,
                "POST",
                "/marketing/opt-outs",
                Some(&cookie),
                Some(&form),
            );
            assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
        }
        assert_eq!(outside(|| c.count("SELECT COUNT(*) FROM opt_outs")), before);
        // The same form from the page, token included, goes through.
        b.fill("#address", "nuevo@correo.example").await;
        b.submit("#add-opt-out").await;
        assert!(b.source().await.contains("nuevo@correo.example"));
        b.check("opt-out-added").await;
        assert_eq!(
            outside(|| c.count("SELECT COUNT(*) FROM opt_outs")),
            before + 1
        );
    });
}

#[test]
fn session_cookie_is_http_only_and_strict_and_pages_carry_a_strict_csp() {
    let c = Custodia::demo(Backend::Sqlite);
    let (server, addr) = start_server_with(&c, &[]);
    let _server = Helper(server);
    let (status, head, body) = exchange(&addr, "GET", "/login", None, None);
    assert_eq!(status, 200);
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(!lower.contains("script-src"), "no script source is allowed");
    assert!(lower.contains("cache-control: no-store"));
    let seed = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: custodia_login="))
        .expect("login seed cookie");
    assert!(
        seed.contains("HttpOnly") && seed.contains("SameSite=Strict"),
        "{seed}"
    );
    let seed_value = seed.split(';').next().expect("value");
    let csrf = csrf_of(&String::from_utf8_lossy(&body));
    let form = format!("csrf={csrf}&login=luis&password=demo-luis");
    let cookie = format!("custodia_login={seed_value}");
    let (status, head, _) = exchange(&addr, "POST", "/login", Some(&cookie), Some(&form));
    assert_eq!(status, 303, "{head}");
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: custodia_session="))
        .expect("session cookie");
    assert!(session.contains("; HttpOnly"), "{session}");
    assert!(session.contains("; SameSite=Strict"), "{session}");
    assert!(session.contains("; Path=/"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
    // A login form posted with another browser's seed is refused.
    let (status, _, _) = exchange(
        &addr,
        "POST",
        "/login",
        Some("custodia_login=0000"),
        Some(&form),
    );
    assert_eq!(status, 403);
}

/// Presses Tab until the element with `id` has the focus.
async fn tab_to(b: &Browser, id: &str) {
    for _ in 0..80 {
        let active = b.client.active_element().await.expect("focus");
        if active.attr("id").await.expect("id").as_deref() == Some(id) {
            return;
        }
        active
            .send_keys(&char::from(fantoccini::key::Key::Tab).to_string())
            .await
            .expect("tab");
    }
    panic!("`{id}` cannot be reached with the keyboard");
}

async fn type_here(b: &Browser, text: &str) {
    let active = b.client.active_element().await.expect("focus");
    active.send_keys(text).await.expect("type");
}

async fn type_and_enter(b: &Browser, text: &str) {
    let old = b.client.find(Locator::Css("html")).await.expect("page");
    type_here(b, text).await;
    let active = b.client.active_element().await.expect("focus");
    active
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .expect("enter");
    b.wait_for_new_page(old).await;
}

#[test]
fn login_and_unlock_work_with_the_keyboard_alone() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "keyboard").await;
        b.goto("/login").await;
        tab_to(&b, "login").await;
        b.client
            .active_element()
            .await
            .expect("focus")
            .send_keys("ana")
            .await
            .expect("type");
        tab_to(&b, "password").await;
        type_and_enter(&b, "demo-ana").await;
        let url = b.client.current_url().await.expect("url");
        assert_eq!(url.path(), "/customers", "Enter in the form logs in");
        b.goto("/customers/C-1001").await;
        tab_to(&b, "pw-case-file").await;
        type_and_enter(&b, "expediente-1001").await;
        assert_eq!(b.area_state("case-file").await, "ok");
        b.check("keyboard-unlocked").await;
    });
}

#[test]
fn the_officer_keeps_a_register_entry_with_errors_shown_beside_the_field() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "registers").await;
        b.login("rocio", "demo-rocio").await;
        b.goto("/officer/registers/provider/new").await;
        b.fill(
            "#text",
            "id = \"P-WEB\"\nname = \"Nube\"\nservice = \"correo\"\nnext_review = \"mañana\"\n",
        )
        .await;
        b.submit("#save-entry").await;
        let error = b.text("#text-error").await;
        assert!(error.contains("line 4"), "{error}");
        b.check("register-error").await;
        b.fill(
            "#text",
            "id = \"P-WEB\"\nname = \"Nube\"\nservice = \"correo\"\nnext_review = \"2027-01-31\"\n",
        )
        .await;
        b.submit("#save-entry").await;
        assert!(b.text("#register-provider").await.contains("P-WEB"));
        b.check("register-saved").await;
        b.goto("/officer/registers/provider/P-WEB").await;
        assert!(
            b.text("#text").await.contains("2027-01-31") || b.source().await.contains("2027-01-31")
        );
    });
    let events = c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'register'");
    assert!(events >= 1, "the entry is audited");
}

#[test]
fn serve_on_the_demo_store_prints_the_address_and_the_demo_logins() {
    use std::io::BufRead;
    let c = Custodia::demo(Backend::Sqlite);
    let mut child = Command::new(env!("CARGO_BIN_EXE_custodia"))
        .args(["--db", &c.db, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(c.dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Helper(child);
    let lines: Vec<String> = std::io::BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|l| l.expect("line"))
        .collect();
    assert!(
        lines[0].starts_with("listening on http://127.0.0.1:"),
        "{lines:?}"
    );
    let text = lines.join("\n");
    assert!(text.contains("demo-<login>"), "{text}");
    assert!(text.contains("rocio (compliance-officer)"), "{text}");
}

#[test]
fn cli_reports_and_registers_are_decided_when_run_as_a_worker() {
    let c = Custodia::demo(Backend::Sqlite);
    let out = c.path("dossier.html");
    let out = out.to_str().expect("path");
    // Nobody named, nothing made: the CLI has no anonymous operator.
    let nobody = c
        .command()
        .args(["report", "dossier", "--org", "bufete-ruiz", "-o", out])
        .env_remove("CUSTODIA_AS")
        .output()
        .expect("run");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("--as"));
    let refused = c.fails(&[
        "report",
        "dossier",
        "--org",
        "bufete-ruiz",
        "--as",
        "marta",
        "-o",
        out,
    ]);
    assert!(refused.contains("may not print `dossier`"), "{refused}");
    assert!(
        !std::path::Path::new(out).exists(),
        "nothing written when refused"
    );
    c.ok(&[
        "report",
        "dossier",
        "--org",
        "bufete-ruiz",
        "--as",
        "rocio",
        "-o",
        out,
    ]);
    let measure = [
        "add",
        "measure",
        "--org",
        "bufete-ruiz",
        "--id",
        "M-CLI",
        "--name",
        "Cifrado",
        "--category",
        "technical",
        "--as",
    ];
    let refused = c.fails(&[&measure[..], &["luis"]].concat());
    assert!(
        refused.contains("may not create `register:measure`"),
        "{refused}"
    );
    c.ok(&[&measure[..], &["rocio"]].concat());
    let exports =
        c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'export' AND worker = 'rocio'");
    assert_eq!(exports, 1, "the dossier's export names the worker");
}

#[test]
fn pages_fit_a_phone_screen() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "phone").await;
        b.client
            .set_window_size(390, 844)
            .await
            .expect("phone size");
        b.login("ana", "demo-ana").await;
        for path in ["/customers", "/customers/C-1001", "/customers/C-1001/why"] {
            b.goto(path).await;
            let fits = b
                .client
                .execute(
                    "return document.documentElement.scrollWidth <= window.innerWidth;",
                    vec![],
                )
                .await
                .expect("measure");
            assert_eq!(
                fits,
                Value::Bool(true),
                "{path} scrolls sideways on a phone"
            );
            b.check(&path.replace('/', "_")).await;
        }
    });
}

#[test]
fn the_officer_records_and_grants_an_erasure_and_the_record_closes() {
    let c = Custodia::demo(Backend::Sqlite);
    run(async {
        let mut b = Browser::start(&c, &[], "rights").await;
        b.login("rocio", "demo-rocio").await;
        b.goto("/officer/rights").await;
        b.fill("#customer", "C-9999").await;
        b.submit("#open-request").await;
        assert!(b.text("#request-error").await.contains("C-9999"));
        b.check("unknown-customer").await;
        b.fill("#customer", "C-1001").await;
        b.client
            .find(Locator::Css("#kind option[value='erasure']"))
            .await
            .expect("erasure")
            .click()
            .await
            .expect("choose");
        b.fill("#identity_check", "DNI en la oficina").await;
        b.submit("#open-request").await;
        assert_eq!(b.text("#status").await, "open");
        b.check("request-open").await;
        b.submit("#grant").await;
        assert_eq!(b.text("#status").await, "granted");
        b.check("request-granted").await;
        let request_page = b.client.current_url().await.expect("url");

        b.goto("/login").await;
        b.login("ana", "demo-ana").await;
        b.goto("/customers/C-1001").await;
        let page = b.text("main").await;
        assert!(page.contains("blocked (LOPDGDD art. 32)"), "{page}");
        b.check_allowing("blocked-record", Some(403)).await;

        // The purge waits for the retention, unless a reason is given.
        b.goto("/login").await;
        b.login("rocio", "demo-rocio").await;
        b.goto(request_page.path()).await;
        b.submit("#purge").await;
        let refused = b.text("#purge-error").await;
        assert!(refused.contains("stays blocked until"), "{refused}");
        b.check("purge-refused").await;
        b.fill(
            "#purge-text",
            "asunto cerrado por acuerdo; no cabe reclamación",
        )
        .await;
        b.submit("#purge").await;
        assert!(
            b.client.find(Locator::Css("#purged")).await.is_ok(),
            "the request shows the purge"
        );
        b.check("purged").await;
    });
    assert_eq!(
        c.count("SELECT COUNT(*) FROM customers WHERE id = 'C-1001'"),
        0
    );
}
