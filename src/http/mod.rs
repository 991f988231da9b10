//! `custodia serve`: the HTTP API and the unsubscribe endpoints over the
//! core, on a hardened listener (TLS, timeouts, connection cap, body
//! limits, security headers).

mod api;
mod error;
pub(crate) mod guard;
mod listener;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use custodia_app::Custodia;

use crate::global::Global;
use crate::output::say;

/// The largest JSON body accepted.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM)
    #[arg(long, requires = "tls_key", env = "CUSTODIA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM)
    #[arg(long, requires = "tls_cert", env = "CUSTODIA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A proxy whose X-Forwarded-For is believed (repeatable)
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Seconds a client has to send its request headers
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a request may take in all
    #[arg(long, default_value_t = 30)]
    pub request_timeout: u64,
    /// Open connections at most; more wait to be accepted
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Password checks (argon2, 19 MiB each) at once; more get 503
    /// (default: twice the cores)
    #[arg(long)]
    pub max_password_checks: Option<usize>,
    /// The SMTP server the web UI sends campaigns through, e.g.
    /// smtp://127.0.0.1:2525 (without it, the UI plans but does not send)
    #[arg(long, env = "CUSTODIA_SMTP")]
    pub smtp: Option<String>,
    /// Base of the unsubscribe links in campaigns sent from the web UI
    #[arg(
        long,
        env = "CUSTODIA_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
}

/// Builds the whole application: API, web UI, unsubscribe pages, guards,
/// limits.
pub fn router(
    web: crate::web::Web,
    token_key: custodia_mailguard::TokenKey,
    pseudonyms: custodia_engine::audit::Pseudonyms,
    guard: guard::Guard,
) -> Router {
    let unsubscribe = custodia_mailguard::router(custodia_mailguard::UnsubscribeState {
        store: web.app.store().clone(),
        key: token_key,
        pseudonyms,
    });
    api::routes(web.app.clone())
        .merge(crate::web::routes(web))
        .merge(unsubscribe)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
}

/// Serves until Ctrl-C or SIGTERM, then flushes the audit log.
pub async fn serve(g: &Global, args: ServeArgs) -> anyhow::Result<()> {
    let mut app = g.open().await?;
    if let Some(n) = args.max_password_checks {
        app = app.with_hash_gate(n);
    }
    let result = run(&app, &args).await;
    app.close().await?;
    result
}

async fn run(app: &Custodia, args: &ServeArgs) -> anyhow::Result<()> {
    let key = app.token_key().await?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(listener::tls_config(cert, key)?),
        _ => None,
    };
    let guard = guard::Guard {
        trusted_proxies: Arc::new(args.trusted_proxies.clone()),
        request_timeout: Duration::from_secs(args.request_timeout),
        tls: tls.is_some(),
    };
    let web = crate::web::Web {
        app: app.clone(),
        jar: crate::web::Jar { tls: tls.is_some() },
        sending: args.smtp.as_ref().map(|smtp| {
            Arc::new(crate::web::Sending::new(custodia_mailguard::SendConfig {
                smtp_url: smtp.clone(),
                public_url: args.public_url.clone(),
                rate_per_second: 200,
                concurrency: 4,
                window: None,
                max_error_rate: 0.2,
                dkim: None,
                wait_for_schedule: false,
                robinson_max_age_days: app.config().robinson_max_age_days,
            }))
        }),
    };
    let service = router(web, key, app.pseudonyms()?.clone(), guard);
    let tcp = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = tcp.local_addr()?;
    // Install the SIGHUP handler before announcing readiness: a signal
    // that arrives earlier would otherwise end the process.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install the SIGHUP handler")?;
    // Tests read this line to learn the port when they pass port 0.
    let scheme = if tls.is_some() { "https" } else { "http" };
    say!("listening on {scheme}://{local}");
    announce_demo(app, &format!("{scheme}://{local}")).await?;
    tracing::info!(%local, "serving");
    #[cfg(unix)]
    tokio::spawn(reload_on_sighup(app.clone(), hup));
    tokio::spawn(purge_sessions(app.clone()));
    let limits = listener::Limits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: args.max_connections,
    };
    listener::serve(tcp, tls, limits, service, shutdown()).await;
    Ok(())
}

/// On a demo store, where to go and who to be: the web UI's address and
/// the demo firms' logins (their passwords are `demo-<login>`, public).
async fn announce_demo(app: &Custodia, url: &str) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for org in app.store().organisations().await? {
        if !crate::demo::is_demo_firm(org.slug.as_str()) {
            continue;
        }
        let workers = app.store().org(&org.slug).await?.workers().await?;
        let logins: Vec<String> = workers
            .iter()
            .map(|w| format!("{} ({})", w.login, w.roles.join(", ")))
            .collect();
        lines.push(format!("  {:<16} {}", org.slug, logins.join(", ")));
    }
    if lines.is_empty() {
        return Ok(());
    }
    say!("\nOpen {url}/ in a browser. Demo logins (password demo-<login>):");
    for line in lines {
        say!("{line}");
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// `kill -HUP`: reload the rule packs through the core (audited; a broken
/// pack leaves the old ones in force).
#[cfg(unix)]
async fn reload_on_sighup(app: Custodia, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        match app.reload("signal").await {
            Ok(Ok(_)) => tracing::warn!("rule packs reloaded"),
            Ok(Err(e)) => tracing::warn!(error = %e, "rule packs reload refused"),
            Err(e) => tracing::error!(error = %e, "reload not audited"),
        }
    }
}

/// Expired sessions and old login failures go every ten minutes.
async fn purge_sessions(app: Custodia) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = app.purge_sessions().await {
            tracing::error!(error = %e, "session purge failed");
        }
    }
}
