//! Unsubscribe replies: the messages people send to the `mailto:` address
//! of every campaign's `List-Unsubscribe` header, read from a Maildir
//! folder or an mbox file, become opt-outs.
//!
//! Every message in that mailbox is a request to stop, whatever its text
//! says (RFC 2369: mail to the address is the request). Bounces and
//! automatic replies are not requests from a person and are skipped. The
//! sender's address is opted out; when the subject carries a valid token
//! of this organisation (the `subject=` of the mailto), the address the
//! campaign went to is opted out too: people reply from another address.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use custodia_engine::audit::Pseudonyms;
use custodia_engine::{OrgSlug, Store};
use mail_parser::{MessageParser, MimeHeaders, mailbox};
use serde::Serialize;

use crate::address::Address;
use crate::error::{Error, Result};
use crate::suppression;
use crate::token::TokenKey;

/// Why a message was not taken as a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// A delivery report (bounce) or a message from a mailer daemon.
    Bounce,
    /// An out-of-office or other automatic reply (RFC 3834).
    AutoReply,
    /// No sender address could be read.
    NoSender,
    /// Not a mail message at all.
    Unreadable,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailboxImport {
    pub messages: usize,
    /// Addresses newly opted out.
    pub opted_out: usize,
    /// Addresses that were already opted out: nothing changed.
    pub already: usize,
    pub skipped: Vec<(PathBuf, Skip)>,
}

/// One message: where it came from and its raw bytes.
struct Raw {
    origin: PathBuf,
    bytes: Vec<u8>,
}

/// Reads every message of a Maildir folder (`cur/` and `new/`) or an
/// mbox file.
fn read_messages(path: &Path) -> Result<Vec<Raw>> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut out = Vec::new();
        for message in mailbox::maildir::MessageIterator::new(path).map_err(io)? {
            let message = message.map_err(io)?;
            out.push(Raw {
                origin: message.path().to_owned(),
                bytes: message.unwrap_contents(),
            });
        }
        // Directory order is arbitrary: process in a stable order.
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        return Ok(out);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = std::io::BufReader::new(file);
    mailbox::mbox::MessageIterator::new(reader)
        .enumerate()
        .map(|(i, message)| {
            Ok(Raw {
                origin: PathBuf::from(format!("{}#{}", path.display(), i + 1)),
                bytes: message.map_err(io)?.unwrap_contents(),
            })
        })
        .collect()
}

/// The addresses one message asks to opt out, or why it asks nothing.
fn requested(raw: &[u8], org: &OrgSlug, key: &TokenKey) -> std::result::Result<Vec<Address>, Skip> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(Skip::Unreadable)?;
    let header = |name: &'static str| message.header_raw(name).map(str::trim);
    if header("Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"))
        || header("X-Autoreply").is_some()
        || header("Precedence").is_some_and(|v| {
            ["auto_reply", "bulk", "junk"].contains(&v.to_ascii_lowercase().as_str())
        })
    {
        return Err(Skip::AutoReply);
    }
    let content_type = message
        .content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()));
    let sender = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .and_then(|a| Address::parse(a).ok());
    let local = sender.as_ref().map(|a| {
        a.as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    });
    if content_type.is_some_and(|c| c.eq_ignore_ascii_case("multipart/report"))
        || local.is_some_and(|l| l == "mailer-daemon" || l == "postmaster")
    {
        return Err(Skip::Bounce);
    }
    let mut addresses: Vec<Address> = sender.into_iter().collect();
    // The token is the mailto's `subject=`; mail programs may add "Re:".
    let subject = message.subject().unwrap_or_default();
    for word in subject.split_whitespace() {
        if let Ok(claims) = key.verify(word)
            && claims.org == org.as_str()
            && let Ok(address) = Address::parse(&claims.address)
        {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(Skip::NoSender);
    }
    Ok(addresses)
}

/// Opts out the senders of the unsubscribe replies in `path` (a Maildir
/// folder or an mbox file). Each new opt-out is one audited change;
/// addresses already opted out are left as they are, so importing the same
/// mailbox twice changes nothing the second time.
pub async fn import_mailbox(
    store: &Store,
    org: &OrgSlug,
    path: &Path,
    key: &TokenKey,
    pseudonyms: &Pseudonyms,
) -> Result<MailboxImport> {
    let messages = read_messages(path)?;
    let mut report = MailboxImport {
        messages: messages.len(),
        ..MailboxImport::default()
    };
    let suppressed = suppression::suppressed_set(store, org).await?;
    let mut seen = BTreeSet::new();
    let source = format!("unsubscribe reply in `{}`", path.display());
    for raw in messages {
        let addresses = match requested(&raw.bytes, org, key) {
            Ok(addresses) => addresses,
            Err(skip) => {
                report.skipped.push((raw.origin, skip));
                continue;
            }
        };
        for address in addresses {
            let key = suppression::set_key(&address.key());
            if !seen.insert(key) {
                continue;
            }
            if suppressed.contains(&key) {
                report.already += 1;
                continue;
            }
            // `seen` keeps a second request for this address from counting again.
            suppression::opt_out(store, org, &address, "email reply", &source, pseudonyms).await?;
            report.opted_out += 1;
        }
    }
    tracing::info!(org = %org, opted_out = report.opted_out, "unsubscribe mailbox imported");
    Ok(report)
}
