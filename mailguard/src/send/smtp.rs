//! SMTP connections of our own, speaking through lettre's protocol code.
//!
//! lettre's pooled transport opens its sockets without `TCP_NODELAY`. Each
//! message ends with a small write (`.` on its own line) right after the
//! body, and then waits for the reply: Nagle's algorithm holds that write
//! back until the server acknowledges the body, and the server delays that
//! acknowledgement (40 ms on Linux). Every message then stalls once, which
//! capped a campaign at about 650 messages/s on 32 connections. So the
//! sockets are opened here, with `TCP_NODELAY`, and handed to lettre's
//! `AsyncSmtpConnection`, which does EHLO, STARTTLS, AUTH and the message
//! transaction as before. Connections are kept for reuse, like lettre's pool.
//!
//! Where the server offers PIPELINING (RFC 2920), a message's MAIL, RCPT
//! and DATA go out in one write and their replies are read after: one
//! round trip for the envelope instead of three. lettre keeps only the
//! EHLO keywords it knows, so the connection asks EHLO once more (before
//! AUTH, as RFC 5321 4.1.4 allows) to learn whether the server pipelines.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::error::{Error, Result};

/// A recipient's mailbox: the name stripped of what would break the
/// header, and the address alone if the name still does not parse.
pub(crate) fn recipient(name: &str, address: &str) -> Result<lettre::message::Mailbox> {
    format!(
        "{} <{address}>",
        name.replace(['<', '>', '"', '\r', '\n'], "")
    )
    .parse()
    .or_else(|_| address.parse())
    .map_err(|e| Error::Smtp(format!("recipient `{address}`: {e}")))
}

/// A fresh Message-ID, `<PREFIX.RANDOM@DOMAIN>`: the prefix names the
/// campaign or breach, 96 random bits make it unique.
pub(crate) fn message_id(prefix: &str, domain: &str) -> String {
    let mut random = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
    format!("<{prefix}.{}@{domain}>", hex::encode(random))
}

/// How the connection is secured, as the URL asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: plain.
    Plain,
    /// `smtp://...?tls=opportunistic`: STARTTLS when offered.
    Opportunistic,
    /// `smtp://...?tls=required`: STARTTLS or fail.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// Where and how to connect: the same URLs as lettre's `from_url`.
#[derive(Clone)]
pub(crate) struct Target {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl std::fmt::Debug for Target {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("credentials", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses `smtp://[user:pass@]host[:port][/helo-name][?tls=required|opportunistic]`
    /// or `smtps://...`; default ports 25, 587 with STARTTLS, 465.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::Smtp(format!(
                "`{}`: {why}",
                custodia_engine::store::redact_url(url)
            ))
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic, 587),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(bad(format!(
                    "unknown scheme `{scheme}` or tls `{}`: use smtp://, smtp://...?tls=required|opportunistic or smtps://",
                    tls.unwrap_or_default()
                )));
            }
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("no host".into()))?
            .trim_matches(['[', ']'])
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|e| bad(format!("credentials: {e}")))
        };
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(
                decode(parsed.username())?,
                decode(password)?,
            )),
            None => None,
        };
        let name = parsed.path().trim_matches('/');
        Ok(Self {
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            hello: if name.is_empty() {
                ClientId::default()
            } else {
                ClientId::Domain(name.to_owned())
            },
            host,
        })
    }

    fn tls(&self) -> Result<TlsParameters> {
        TlsParameters::new(self.host.clone())
            .map_err(|e| Error::Smtp(format!("tls for `{}`: {e}", self.host)))
    }

    /// The TCP socket, with `TCP_NODELAY`.
    async fn tcp(&self) -> Result<TcpStream> {
        let at = format!("`{}:{}`", self.host, self.port);
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Error::Smtp(format!("{at}: connection timed out")))?
        .map_err(|e| Error::Smtp(format!("{at}: {e}")))?;
        // INVARIANT: every SMTP socket has TCP_NODELAY (see the module doc).
        tcp.set_nodelay(true)
            .map_err(|e| Error::Smtp(format!("{at}: TCP_NODELAY: {e}")))?;
        Ok(tcp)
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, TLS as asked, EHLO,
    /// STARTTLS and AUTH through lettre.
    async fn connect(&self) -> Result<Open> {
        let smtp = |e: lettre::transport::smtp::Error| {
            Error::Smtp(format!("`{}:{}`: {e}", self.host, self.port))
        };
        let tcp = self.tcp().await?;
        let stream: Box<dyn AsyncTokioStream> = match self.security {
            Security::Implicit => Box::new(Tls::connect(&self.host, tcp).await?),
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(smtp)?;
        match self.security {
            Security::StartTls => conn
                .starttls(self.tls()?, &self.hello)
                .await
                .map_err(smtp)?,
            Security::Opportunistic if conn.can_starttls() => {
                conn.starttls(self.tls()?, &self.hello)
                    .await
                    .map_err(smtp)?;
            }
            _ => {}
        }
        let pipelining = pipelines(&mut conn, &self.hello).await.map_err(smtp)?;
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(smtp)?;
        }
        Ok(Open { conn, pipelining })
    }
}

/// Asks EHLO again and reads whether the server offers PIPELINING.
async fn pipelines(
    conn: &mut AsyncSmtpConnection,
    hello: &ClientId,
) -> std::result::Result<bool, lettre::transport::smtp::Error> {
    let reply = conn.command(Ehlo::new(hello.clone())).await?;
    // The first line names the server; each later one starts with a keyword.
    Ok(reply.message().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING"))
    }))
}

/// An open connection, and whether its server pipelines.
struct Open {
    conn: AsyncSmtpConnection,
    pipelining: bool,
}

impl Open {
    /// One message's transaction: lettre's, or pipelined where the server
    /// allows it.
    async fn send(
        &mut self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> std::result::Result<(), SendError> {
        let lettre_error = |e: lettre::transport::smtp::Error| SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        };
        if !self.pipelining {
            return self
                .conn
                .send(envelope, bytes)
                .await
                .map(drop)
                .map_err(lettre_error);
        }
        let options = self.mail_options(envelope, bytes)?;
        let mut commands = Mail::new(envelope.from().cloned(), options).to_string();
        for to in envelope.to() {
            commands.push_str(&Rcpt::new(to.clone(), vec![]).to_string());
        }
        commands.push_str(&Data.to_string());
        // One write; then every reply, in the commands' order (RFC 2920 3.1).
        self.conn.command(commands).await.map_err(lettre_error)?;
        for _ in envelope.to() {
            self.conn.read_response().await.map_err(lettre_error)?;
        }
        self.conn.read_response().await.map_err(lettre_error)?;
        self.conn
            .message(bytes)
            .await
            .map(drop)
            .map_err(lettre_error)
    }

    /// MAIL's parameters, as lettre's own transaction sets them: SMTPUTF8
    /// for addresses beyond ASCII, 8BITMIME for a body beyond it, each
    /// refused when the server lacks it.
    fn mail_options(
        &self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> std::result::Result<Vec<MailParameter>, SendError> {
        let info = self.conn.server_info();
        let refused = |message: &str| SendError {
            message: message.to_owned(),
            permanent: true,
        };
        let mut options = Vec::new();
        let beyond_ascii = |a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii();
        if envelope.from().is_some_and(beyond_ascii) || envelope.to().iter().any(beyond_ascii) {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(refused(
                    "the envelope has addresses beyond ASCII and the server lacks SMTPUTF8",
                ));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(refused(
                    "the message has bytes beyond ASCII and the server lacks 8BITMIME",
                ));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(options)
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// An idle connection is checked with NOOP before reuse after this long:
/// servers drop idle clients, and a message must not fail for that.
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// Implicit TLS (`smtps://`) on our socket: rustls with the web PKI roots,
/// like lettre's own.
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    async fn connect(host: &str, tcp: TcpStream) -> Result<Self> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Smtp(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| Error::Smtp(format!("tls name `{host}`: {e}")))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Smtp(format!("tls with `{host}`: {e}")))?;
        Ok(Self(stream))
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The connections of one run (a campaign's send, a breach's notices): at
/// most as many as messages in flight, each reused after a successful
/// message and dropped after a failure.
pub(crate) struct Connections {
    target: Target,
    idle: Mutex<Vec<(Open, Instant)>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent: the server refused it for good (a hard
/// bounce), or something else went wrong (retry later).
#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) message: String,
    pub(crate) permanent: bool,
}

impl Connections {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An open connection: an idle one that still answers, else a new one.
    async fn take(&self) -> Result<Open> {
        loop {
            let Some((mut open, since)) = self.idle.lock().await.pop() else {
                return self.target.connect().await;
            };
            if since.elapsed() < CHECK_AFTER || open.conn.test_connected().await {
                return Ok(open);
            }
        }
    }

    /// Sends one message (`envelope`, formatted bytes) on a connection of
    /// the pool.
    pub(crate) async fn send(
        &self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> std::result::Result<(), SendError> {
        let mut open = self.take().await.map_err(|e| SendError {
            message: e.to_string(),
            permanent: false,
        })?;
        let sent = open.send(envelope, bytes).await;
        match sent {
            Ok(()) => self.idle.lock().await.push((open, Instant::now())),
            // The transaction failed half-way: the next one starts on a
            // new connection. A pipelined one may still have replies on
            // the way, or a server reading the message: QUIT would go into
            // it, so the socket is only closed (on drop).
            Err(_) if open.pipelining => {}
            Err(_) => open.conn.abort().await,
        }
        sent
    }

    /// Says QUIT on every idle connection.
    pub(crate) async fn close(&self) {
        for (mut open, _) in self.idle.lock().await.drain(..) {
            let _ = open.conn.quit().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_like_lettres_with_ports_tls_and_credentials() {
        let plain = Target::parse("smtp://127.0.0.1:2525").expect("plain");
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let submission =
            Target::parse("smtp://u%40x:p%3Ass@mail.example?tls=required").expect("starttls");
        assert_eq!(
            (submission.port, submission.security),
            (587, Security::StartTls)
        );
        assert!(submission.credentials.is_some());
        assert!(
            !format!("{submission:?}").contains("p:ss"),
            "no password in Debug"
        );
        let wrapped = Target::parse("smtps://mail.example/relay.example").expect("smtps");
        assert_eq!((wrapped.port, wrapped.security), (465, Security::Implicit));
        assert_eq!(wrapped.hello, ClientId::Domain("relay.example".into()));
        assert_eq!(
            Target::parse("smtp://mail.example?tls=opportunistic")
                .expect("opportunistic")
                .security,
            Security::Opportunistic
        );
        let err = Target::parse("http://user:secret@mail.example").expect_err("not smtp");
        assert!(err.to_string().contains("unknown scheme `http`"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// Accepts one client, greets it and answers its two EHLOs with
    /// `keywords` (the lines after the server's name); returns the
    /// connection and the first EHLO line.
    async fn greet(
        listener: &tokio::net::TcpListener,
        keywords: &[&str],
    ) -> (BufReader<TcpStream>, String) {
        let (mut socket, _) = listener.accept().await.expect("client");
        socket
            .write_all(b"220 test ESMTP\r\n")
            .await
            .expect("greeting");
        let mut reply = String::from(if keywords.is_empty() {
            "250 test\r\n"
        } else {
            "250-test\r\n"
        });
        for (i, keyword) in keywords.iter().enumerate() {
            let dash = if i + 1 == keywords.len() { ' ' } else { '-' };
            reply.push_str(&format!("250{dash}{keyword}\r\n"));
        }
        let mut lines = BufReader::new(socket);
        let mut ehlos = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            lines.read_line(&mut line).await.expect("ehlo");
            assert!(line.starts_with("EHLO "), "{line}");
            ehlos.push(line);
            lines
                .get_mut()
                .write_all(reply.as_bytes())
                .await
                .expect("ehlo reply");
        }
        (lines, ehlos.swap_remove(0))
    }

    /// Reads `n` lines, none answered yet.
    async fn lines(reader: &mut BufReader<TcpStream>, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..n {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("line");
            got.push(line);
        }
        got
    }

    /// Reads a message up to its final `.` line.
    async fn message(reader: &mut BufReader<TcpStream>) -> String {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("data");
            if line == ".\r\n" {
                return text;
            }
            text.push_str(&line);
        }
    }

    fn envelope() -> lettre::address::Envelope {
        lettre::address::Envelope::new(
            Some("news@shop.example".parse().expect("from")),
            vec!["ana@correo.example".parse().expect("to")],
        )
        .expect("envelope")
    }

    /// A listener on a free port, and the target that reaches it.
    async fn listener() -> (tokio::net::TcpListener, Target) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let target = Target::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
        (listener, target)
    }

    #[tokio::test]
    async fn a_pipelining_server_gets_each_envelope_in_one_write() {
        let (listener, target) = listener().await;
        let connections = Connections::new(target);
        let server = tokio::spawn(async move {
            let (mut reader, _) =
                greet(&listener, &["SIZE 10240000", "PIPELINING", "8BITMIME"]).await;
            let mut seen = Vec::new();
            for _ in 0..2 {
                // Nothing is answered before all three commands are in:
                // a client waiting for MAIL's reply would stall here.
                let commands = lines(&mut reader, 3).await;
                reader
                    .get_mut()
                    .write_all(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n")
                    .await
                    .expect("replies");
                let body = message(&mut reader).await;
                reader
                    .get_mut()
                    .write_all(b"250 2.0.0 queued\r\n")
                    .await
                    .expect("queued");
                seen.push((commands, body));
            }
            seen
        });
        let sent = async {
            for _ in 0..2 {
                connections
                    .send(&envelope(), b"Subject: hola\r\n\r\nHola.\r\n")
                    .await
                    .expect("sent");
            }
        };
        tokio::time::timeout(Duration::from_secs(10), sent)
            .await
            .expect("sent without waiting for a reply between commands");
        let seen = server.await.expect("server");
        assert_eq!(seen.len(), 2, "both messages on one connection");
        for (commands, body) in seen {
            assert_eq!(
                commands,
                [
                    "MAIL FROM:<news@shop.example>\r\n",
                    "RCPT TO:<ana@correo.example>\r\n",
                    "DATA\r\n"
                ]
            );
            assert!(body.starts_with("Subject: hola\r\n\r\nHola.\r\n"), "{body}");
        }
    }

    #[tokio::test]
    async fn a_recipient_refused_in_a_pipelined_transaction_is_a_hard_bounce_and_the_connection_is_dropped()
     {
        let (listener, target) = listener().await;
        let connections = Connections::new(target);
        let server = tokio::spawn(async move {
            let (mut reader, _) = greet(&listener, &["PIPELINING"]).await;
            lines(&mut reader, 3).await;
            reader
                .get_mut()
                .write_all(
                    b"250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n",
                )
                .await
                .expect("replies");
            // The client closes the socket; it says nothing more.
            let mut rest = String::new();
            reader.read_line(&mut rest).await.expect("end");
            rest
        });
        let envelope = envelope();
        let sent = connections.send(&envelope, b"Subject: hola\r\n\r\nHola.\r\n");
        let err = tokio::time::timeout(Duration::from_secs(10), sent)
            .await
            .expect("pipelined")
            .expect_err("refused");
        assert!(err.permanent, "{}", err.message);
        assert!(err.message.contains("no such user"), "{}", err.message);
        assert!(
            connections.idle.lock().await.is_empty(),
            "not kept for reuse"
        );
        assert_eq!(server.await.expect("server"), "", "closed without QUIT");
    }

    #[tokio::test]
    async fn sockets_have_tcp_nodelay_and_speak_smtp_through_lettre() {
        let (listener, target) = listener().await;
        let server = tokio::spawn(async move {
            listener.accept().await.expect("first");
            greet(&listener, &[]).await.1
        });
        assert!(target.tcp().await.expect("tcp").nodelay().expect("option"));
        let open = target.connect().await.expect("connected");
        assert!(server.await.expect("server").starts_with("EHLO "));
        assert!(!open.conn.has_broken());
        assert!(!open.pipelining, "the server did not offer PIPELINING");
    }
}
