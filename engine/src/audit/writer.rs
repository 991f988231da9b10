//! The single writer of the audit log, with group commit.
//!
//! Callers send events over a channel; one task takes everything queued,
//! writes it in one transaction, and only then answers each caller. A
//! caller that got its [`Receipt`] knows its event is durable.
//!
//! On PostgreSQL a batch is chained ahead: on the heads the batch before
//! it leaves, and sent while that one still commits ([`postgres::land`]).
//! The two overlap on two connections, so the server inserts on both
//! cores while the writer chains the next batch. A batch that finds a
//! head moved by another appender is chained again under lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, Row as _, Transaction};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::VerifyingKey;
use super::chain::{
    Batch, CREATE_HEAD, EVENT_FIELDS, Receipt, Row, SELECT_HEAD, Signing, Stamp, Value, Written,
    chain_rows, event_columns, event_from_row, extends_locked, move_head, stamp,
};
use super::checkpoint::{Checkpoint, Signer};
use super::copy::Encoder;
use super::event::{AuditEvent, GENESIS};
use super::flight::{Ack, Chain, Flight, Landed, Outcome, durable, fail, fly, message, refuse};
use super::lookup;
use super::pseudonym::Pseudonyms;
use super::witness::{Witness, Witnessed};
use super::{postgres, sqlite};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::{Backend, Store};

/// When checkpoints are written and how big a batch may grow.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Sign a checkpoint after this many events of a chain...
    pub checkpoint_every: i64,
    /// ...or after this long, whichever comes first (and on shutdown).
    pub checkpoint_interval: Duration,
    /// The most events written in one transaction.
    pub max_batch: usize,
    /// Where signed checkpoints are also written, outside the database.
    pub witness: Option<Arc<Witness>>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(10),
            max_batch: 8192,
            witness: None,
        }
    }
}

/// The smallest half a batch chained ahead is split into (see
/// [`Writer::launch`]).
const SPLIT_AT_LEAST: usize = 128;

/// How many batches may be in flight at once: the writer waits for the
/// oldest before it gathers more. Three measured slower than two
/// (BENCHMARKS.md).
const IN_FLIGHT: usize = 2;

/// After a batch chained ahead met another appender, batches are written
/// under lock for this long: with several servers appending to one chain,
/// chaining ahead would waste a copy on most batches.
const AHEAD_PAUSE: Duration = Duration::from_secs(1);

/// How many times the writer lets other tasks run, its queue empty,
/// before it closes a batch.
const GATHER_TURNS: u32 = 8;

struct Pending {
    org: String,
    event: AuditEvent,
    ack: Ack,
}

/// A batch's events grouped by chain, each chain's in the batch's order.
fn by_chain(batch: Vec<Pending>) -> Vec<Chain> {
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    for p in batch {
        let chain = chains.entry(p.org).or_insert_with_key(|org| Chain {
            org: org.clone(),
            events: Vec::new(),
            acks: Vec::new(),
        });
        chain.events.push(p.event);
        chain.acks.push(p.ack);
    }
    chains.into_values().collect()
}

/// The batch again, chain after chain.
fn pending_of(chains: Vec<Chain>) -> Vec<Pending> {
    let mut batch = Vec::new();
    for chain in chains {
        for (event, ack) in chain.events.into_iter().zip(chain.acks) {
            let org = chain.org.clone();
            batch.push(Pending { org, event, ack });
        }
    }
    batch
}

/// What woke the writer.
#[allow(
    clippy::large_enum_variant,
    reason = "one at a time, on the writer's stack; boxing a command would allocate per event"
)]
enum Wake {
    Command(Option<Command>),
    Landed(std::result::Result<Landed, tokio::task::JoinError>),
    Deadline,
}

#[allow(
    clippy::large_enum_variant,
    reason = "appends are nearly every command; boxing them would allocate per event"
)]
enum Command {
    Append(Pending),
    Checkpoint(oneshot::Sender<Result<(), String>>),
    /// Checks that every chain extends its last witnessed checkpoint.
    Guard(oneshot::Sender<Result<(), String>>),
    /// Where a chain stands for the writer, without checking anything.
    Status(String, oneshot::Sender<Result<ChainState, String>>),
    /// Many events of one chain, written in one transaction of their own.
    AppendMany(
        String,
        Vec<AuditEvent>,
        oneshot::Sender<Result<Vec<Receipt>, String>>,
    ),
    Shutdown(oneshot::Sender<Result<(), String>>),
}

/// Where a chain stands for its writer ([`AuditLog::status`]).
#[derive(Debug, Clone)]
pub struct ChainState {
    /// The newest checkpoint the witness holds, outside the database.
    pub witnessed: Option<Checkpoint>,
    /// Why the log refuses every append, when it does.
    pub alarm: Option<String>,
}

/// A handle on the audit writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
    /// Derived from the signing key; none without one.
    pseudonyms: Option<Pseudonyms>,
    /// Signs tree heads for proofs handed out (an access package).
    signer: Option<Arc<Signer>>,
}

/// An event handed to the writer ([`AuditLog::enqueue`]), on its way to
/// disk.
#[derive(Debug)]
#[must_use = "an audited answer is given only once its event is durable"]
pub struct Durable(oneshot::Receiver<Result<Receipt, String>>);

impl Durable {
    /// Waits until the event is durable; an error if the writer failed it
    /// (then the caller must not answer: fail closed).
    pub async fn wait(self) -> Result<Receipt> {
        answer(self.0).await
    }
}

/// The writer's answer to a command, or why there is none.
async fn answer<T>(done: oneshot::Receiver<Result<T, String>>) -> Result<T> {
    done.await.map_err(|_| writer_gone())?.map_err(Error::Audit)
}

fn writer_gone() -> Error {
    Error::Audit("the audit writer has stopped".into())
}

impl AuditLog {
    /// Starts the writer task for `store`. With a signer, checkpoints are
    /// signed as configured; without one, none are written.
    pub fn spawn(store: Store, signer: Option<Arc<Signer>>, config: AuditConfig) -> Self {
        let (tx, rx) = mpsc::channel(65_536);
        let pseudonyms = signer.as_deref().map(Signer::pseudonyms);
        tokio::spawn(Writer::new(store, signer.clone(), config).run(rx));
        Self {
            tx,
            pseudonyms,
            signer,
        }
    }

    /// The signed tree head of `org`'s log as `tree` holds it, for the
    /// inclusion proofs handed out with it; the key stays in here.
    pub fn signed_head(&self, org: &OrgSlug, tree: &super::merkle::Tree) -> Result<String> {
        let signer = self.signer.as_deref().ok_or_else(|| {
            Error::Audit("the audit log has no signing key to sign a tree head".into())
        })?;
        Ok(tree.signed_head(org.as_str(), signer))
    }

    /// The public key of the log's signing key: what its checkpoints are
    /// checked against.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        self.signer
            .as_deref()
            .map(Signer::verifying_key)
            .ok_or_else(|| {
                Error::Audit("the audit log has no signing key to check its chain against".into())
            })
    }

    /// The pseudonyms events use for people without a customer id. A log
    /// without a signing key has none, and cannot name such people at all
    /// (never in clear).
    pub fn pseudonyms(&self) -> Result<&Pseudonyms> {
        self.pseudonyms.as_ref().ok_or_else(|| {
            Error::Audit("the audit log has no signing key to derive pseudonyms from".into())
        })
    }

    /// Sends a command carrying its answer channel; waits for the answer.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<T> {
        answer(self.send(command).await?).await
    }

    /// Sends a command; its answer comes on the returned channel.
    async fn send<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
    ) -> Result<oneshot::Receiver<Result<T, String>>> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(command(ack))
            .await
            .map_err(|_| writer_gone())?;
        Ok(done)
    }

    /// Appends an event and waits until it is durable.
    pub async fn append(&self, org: &OrgSlug, event: AuditEvent) -> Result<Receipt> {
        self.enqueue(org, event).await?.wait().await
    }

    /// Hands an event to the writer without waiting for it to be durable,
    /// so that a caller can prepare its answer meanwhile; the answer goes
    /// out only after [`Durable::wait`].
    pub async fn enqueue(&self, org: &OrgSlug, event: AuditEvent) -> Result<Durable> {
        let org = org.to_string();
        let done = self
            .send(|ack| Command::Append(Pending { org, event, ack }))
            .await?;
        Ok(Durable(done))
    }

    /// Appends many events of one chain in one transaction (bulk loads);
    /// answers once all are durable.
    pub async fn append_many(
        &self,
        org: &OrgSlug,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<Receipt>> {
        self.ask(|ack| Command::AppendMany(org.to_string(), events, ack))
            .await
    }

    /// Signs a checkpoint of every chain that moved since the last one.
    pub async fn checkpoint(&self) -> Result<()> {
        self.ask(Command::Checkpoint).await
    }

    /// Checks that every chain still extends the last checkpoint this
    /// log witnessed; after a failure every append is refused (an alarm is
    /// written to the witness).
    pub async fn guard(&self) -> Result<()> {
        self.ask(Command::Guard).await
    }

    /// Where `org`'s chain stands for this writer: its newest witnessed
    /// checkpoint (read from the witness at start-up, kept as it signs)
    /// and whether an alarm stops the log. The writer checks the chain
    /// against that checkpoint at start-up and before every checkpoint it
    /// signs (every few seconds while events come), so this is at most
    /// that old; it costs no file or database read.
    pub async fn status(&self, org: &OrgSlug) -> Result<ChainState> {
        self.ask(|ack| Command::Status(org.to_string(), ack)).await
    }

    /// Writes what is queued, signs final checkpoints and stops the writer.
    pub async fn shutdown(&self) -> Result<()> {
        self.ask(Command::Shutdown).await
    }
}

struct Writer {
    store: Store,
    signer: Option<Arc<Signer>>,
    config: AuditConfig,
    /// Events per chain since its last checkpoint.
    unsigned: BTreeMap<String, i64>,
    last_checkpoint: Instant,
    /// The newest witnessed checkpoint of each chain: what the chain must
    /// still extend before this writer signs it again.
    witnessed: BTreeMap<String, Checkpoint>,
    /// Set once a chain was found not to extend its witnessed checkpoint:
    /// from then on nothing is written (fail closed).
    alarm: Option<String>,
    /// On SQLite, the writer's own connection (see [`sqlite`]).
    sqlite: Option<rusqlite::Connection>,
    /// On PostgreSQL, the writer's own connections not in use (see
    /// [`postgres`]): two at most, one per batch in flight.
    postgres: Vec<sqlx::postgres::PgConnection>,
    /// The batches chained ahead and not yet landed, oldest first.
    flights: std::collections::VecDeque<Flight>,
    /// Where each chain's head will be once every batch sent has landed:
    /// what the next batch is chained ahead on. Emptied whenever a batch
    /// fails or another appender came first, so the next is chained under
    /// lock.
    heads: BTreeMap<String, (i64, String)>,
    /// Until when batches are written under lock ([`AHEAD_PAUSE`]).
    ahead_from: Instant,
}

impl Writer {
    fn new(store: Store, signer: Option<Arc<Signer>>, config: AuditConfig) -> Self {
        let mut writer = Self {
            store,
            signer,
            config,
            unsigned: BTreeMap::new(),
            last_checkpoint: Instant::now(),
            witnessed: BTreeMap::new(),
            alarm: None,
            sqlite: None,
            postgres: Vec::new(),
            flights: std::collections::VecDeque::new(),
            heads: BTreeMap::new(),
            ahead_from: Instant::now(),
        };
        if let Some(file) = writer.store.sqlite_file() {
            match sqlite::open(file) {
                Ok(conn) => writer.sqlite = Some(conn),
                Err(e) => writer.alarm = Some(format!("the audit database cannot be opened: {e}")),
            }
        }
        if let Err(e) = writer.load_witnessed() {
            writer.alarm = Some(format!("the audit witness cannot be read: {e}"));
        }
        writer
    }

    /// Reads the newest witnessed checkpoint of each chain (a witness file
    /// not yet written means nothing was witnessed yet).
    fn load_witnessed(&mut self) -> Result<()> {
        let (Some(witness), Some(signer)) = (&self.config.witness, &self.signer) else {
            return Ok(());
        };
        if !witness.file().exists() {
            return Ok(());
        }
        let newest =
            Witnessed::newest_of_each(&[witness.file().to_owned()], &signer.verifying_key())?;
        for (org, cp) in newest {
            self.witnessed.insert(org, cp);
        }
        Ok(())
    }

    /// Raises the alarm for `org`: written to the witness, then every
    /// append fails with `detail`.
    fn raise_alarm(&mut self, org: &str, detail: String) -> Error {
        let message = format!(
            "audit log of `{org}` refused: {detail}; nothing is signed or written until \
             an officer runs `custodia audit verify` and restores the log"
        );
        tracing::error!(org, %detail, "audit chain does not extend its witnessed checkpoint");
        if let Some(witness) = &self.config.witness {
            if let Err(e) = witness.alarm(org, &detail) {
                tracing::error!(error = %e, "the alarm could not be witnessed");
            }
        }
        self.alarm = Some(message.clone());
        Error::Audit(message)
    }

    /// Checks every witnessed chain now (at start-up).
    async fn guard_all(&mut self) -> Result<()> {
        self.drain().await;
        if let Some(alarm) = &self.alarm {
            return Err(Error::Audit(alarm.clone()));
        }
        self.witness_present().await?;
        if self.witnessed.is_empty() {
            // Nothing witnessed yet: no write lock taken at start-up.
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        let orgs: Vec<String> = self.witnessed.keys().cloned().collect();
        for org in orgs {
            self.guard(&mut tx, &org).await?;
        }
        tx.rollback().await?;
        Ok(())
    }

    /// A witness that vanished must not look like a log that never had
    /// one: with signed checkpoints in the store and no witness file, the
    /// writer refuses to start (no alarm line: writing one would create
    /// the file).
    async fn witness_present(&mut self) -> Result<()> {
        let Some(witness) = self.config.witness.clone() else {
            return Ok(());
        };
        if self.signer.is_none() || witness.file().exists() {
            return Ok(());
        }
        let (signed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_checkpoints")
            .fetch_one(self.store.pool())
            .await?;
        if signed == 0 {
            return Ok(());
        }
        let message = format!(
            "the audit witness `{}` is missing though the log has {signed} signed checkpoints: \
             point --witness at it; nothing is signed or written until then",
            witness.file().display()
        );
        self.alarm = Some(message.clone());
        Err(Error::Audit(message))
    }

    /// Checks that `org`'s chain extends its witnessed checkpoint.
    // INVARIANT: the writer never signs a head that does not extend the
    // last checkpoint it witnessed: it recomputes the hashes from there
    // to the head (only the events since), and refuses otherwise.
    async fn guard(&mut self, tx: &mut Transaction<'_, Any>, org: &str) -> Result<()> {
        let Some((seq, hash)) = self
            .witnessed
            .get(org)
            .map(|cp| (cp.seq, cp.head_hash.clone()))
        else {
            return Ok(());
        };
        let Some(key) = self.signer.as_ref().map(|s| s.verifying_key()) else {
            return Ok(());
        };
        match extends(tx, self.store.backend(), &key, org, seq, &hash).await? {
            Ok(_) => Ok(()),
            Err(detail) => Err(self.raise_alarm(org, detail)),
        }
    }

    /// Waits for a command, the batch in flight to land, or the next
    /// checkpoint's time.
    async fn next(&mut self, rx: &mut mpsc::Receiver<Command>) -> Wake {
        let deadline = self.last_checkpoint + self.config.checkpoint_interval;
        let landing = async {
            match self.flights.front_mut() {
                Some(flight) => (&mut flight.task).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = rx.recv() => Wake::Command(cmd),
            landed = landing => Wake::Landed(landed),
            () = tokio::time::sleep_until(deadline) => Wake::Deadline,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let first = match self.next(&mut rx).await {
                Wake::Command(cmd) => cmd,
                Wake::Landed(landed) => {
                    self.flights.pop_front();
                    self.settle(landed).await;
                    continue;
                }
                Wake::Deadline => {
                    if let Err(e) = self.write(Vec::new(), true).await {
                        tracing::error!(error = %e, "periodic audit checkpoint failed");
                    }
                    continue;
                }
            };
            let Some(first) = first else {
                let _ = self.write(Vec::new(), true).await;
                self.close().await;
                return;
            };
            let mut batch = Vec::new();
            let mut control = None;
            match first {
                Command::Append(p) => batch.push(p),
                other => control = Some(other),
            }
            // An empty queue is given a few turns of the runtime before the
            // batch is closed: the callers just answered are sending their
            // next events, and without the turns a batch held about half of
            // them (135 of 256 callers on PostgreSQL: BENCHMARKS.md). A
            // lone event waits a few microseconds more, not a commit more.
            let mut turns = 0;
            while control.is_none() && batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(Command::Append(p)) => batch.push(p),
                    Ok(other) => control = Some(other),
                    Err(_) if turns < GATHER_TURNS => {
                        turns += 1;
                        tokio::task::yield_now().await;
                    }
                    Err(_) => break,
                }
            }
            if let Some(Command::Guard(ack)) = control {
                self.flush(batch).await;
                let _ = ack.send(self.guard_all().await.map_err(|e| message(&e)));
                continue;
            }
            if let Some(Command::Status(org, ack)) = control {
                self.flush(batch).await;
                let _ = ack.send(Ok(ChainState {
                    witnessed: self.witnessed.get(&org).cloned(),
                    alarm: self.alarm.clone(),
                }));
                continue;
            }
            if let Some(Command::AppendMany(org, events, ack)) = control {
                let _ = self.write_and_ack(batch, false).await;
                let many = events.into_iter().map(|e| (org.clone(), e)).collect();
                let _ = ack.send(self.write(many, false).await.map_err(|e| message(&e)));
                continue;
            }
            let sign_all = control.is_some();
            let result = self.write_and_ack(batch, sign_all).await;
            match control {
                Some(Command::Checkpoint(ack)) => {
                    let _ = ack.send(result);
                }
                Some(Command::Shutdown(ack)) => {
                    self.close().await;
                    let _ = ack.send(result);
                    return;
                }
                _ => {}
            }
        }
    }

    /// Ends the writer's own PostgreSQL session cleanly (the server
    /// would log a lost client otherwise); SQLite's closes when dropped.
    async fn close(&mut self) {
        self.drain().await;
        for conn in std::mem::take(&mut self.postgres) {
            if let Err(e) = sqlx::Connection::close(conn).await {
                tracing::warn!(error = %e, "closing the audit writer's connection");
            }
        }
    }

    /// Writes the appends queued before a question; none, no transaction
    /// (a question alone costs no commit).
    async fn flush(&mut self, batch: Vec<Pending>) {
        if !batch.is_empty() {
            let _ = self.write_and_ack(batch, false).await;
        }
    }

    /// Writes a batch and answers its callers: chained ahead when it can
    /// be, otherwise once nothing is in flight, under lock.
    async fn write_and_ack(&mut self, batch: Vec<Pending>, sign_all: bool) -> Result<(), String> {
        if self.can_launch(&batch, sign_all) {
            self.launch(batch).await;
            return Ok(());
        }
        self.drain().await;
        self.ack(batch, sign_all).await
    }

    /// Writes a batch under lock and answers its callers.
    async fn ack(&mut self, batch: Vec<Pending>, sign_all: bool) -> Result<(), String> {
        let (events, acks): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| ((p.org, p.event), p.ack)).unzip();
        match self.write_now(events, sign_all).await {
            Ok(receipts) => {
                for (ack, receipt) in acks.into_iter().zip(receipts) {
                    let _ = ack.send(Ok(receipt));
                }
                Ok(())
            }
            Err(e) => Err(refuse(acks, &e)),
        }
    }

    /// Writes a batch (possibly empty) and due checkpoints in one
    /// transaction, once nothing is in flight.
    async fn write(
        &mut self,
        events: Vec<(String, AuditEvent)>,
        sign_all: bool,
    ) -> Result<Vec<Receipt>> {
        self.drain().await;
        self.write_now(events, sign_all).await
    }

    /// [`Self::write`], with nothing in flight.
    async fn write_now(
        &mut self,
        events: Vec<(String, AuditEvent)>,
        sign_all: bool,
    ) -> Result<Vec<Receipt>> {
        let written = self.write_locked(events, sign_all).await;
        match &written {
            Ok(receipts) => self.note_heads(receipts),
            Err(_) => self.heads.clear(),
        }
        written
    }

    /// Keeps each chain's new head, the last of its receipts, for the
    /// next batch to be chained ahead on: on PostgreSQL only, where one
    /// is, and once per chain, not once per event.
    fn note_heads(&mut self, receipts: &[Receipt]) {
        if self.store.backend() != Backend::Postgres {
            return;
        }
        let mut last: BTreeMap<&str, &Receipt> = BTreeMap::new();
        for r in receipts {
            last.insert(&r.org, r);
        }
        for (org, r) in last {
            self.heads.insert(org.to_owned(), (r.seq, r.hash.clone()));
        }
    }

    /// [`Self::write_now`], its heads read under lock.
    async fn write_locked(
        &mut self,
        events: Vec<(String, AuditEvent)>,
        sign_all: bool,
    ) -> Result<Vec<Receipt>> {
        if let Some(alarm) = &self.alarm {
            return Err(Error::Audit(alarm.clone()));
        }
        let len = events.len();
        // Each chain's events, moved (not copied) out of the batch, with
        // their places in it for the receipts.
        let mut by_org: BTreeMap<String, (Vec<usize>, Vec<AuditEvent>)> = BTreeMap::new();
        for (i, (org, event)) in events.into_iter().enumerate() {
            let (indexes, chain) = by_org.entry(org).or_default();
            indexes.push(i);
            chain.push(event);
        }
        let counts = by_org.iter().map(|(org, (i, _))| (org.as_str(), i.len()));
        let signing = self.signing(counts, sign_all);
        let due = signing.due;
        let batch = Batch {
            chains: by_org
                .into_iter()
                .map(|(org, (indexes, events))| (org, indexes, events))
                .collect(),
            len,
            signing,
        };
        let written = match self.sqlite.take() {
            Some(conn) => self.write_sqlite(conn, batch).await?,
            None => self.write_postgres(batch).await?,
        };
        self.signed(&written.signed.orgs, due);
        self.witness(&written.signed.checkpoints)?;
        written
            .receipts
            .into_iter()
            .map(|r| r.ok_or_else(|| Error::Audit("an event got no receipt".into())))
            .collect()
    }

    /// A batch through the writer's own PostgreSQL connection, opened on
    /// first use and again after any error (a transaction that failed
    /// leaves its connection in a state not worth trusting).
    async fn write_postgres(&mut self, batch: Batch) -> Result<Written> {
        let mut conn = self.connection().await?;
        let now = chrono::Utc::now();
        let result = postgres::write(&mut conn, batch, now, self.signer.as_deref()).await?;
        self.postgres.push(conn);
        match result {
            Ok(written) => Ok(written),
            Err((org, detail)) => Err(self.raise_alarm(&org, detail)),
        }
    }

    /// A batch through the writer's own SQLite connection, on a blocking
    /// thread; the connection comes back whatever happens.
    async fn write_sqlite(
        &mut self,
        mut conn: rusqlite::Connection,
        batch: Batch,
    ) -> Result<Written> {
        let signer = self.signer.clone();
        let now = chrono::Utc::now();
        let done = tokio::task::spawn_blocking(move || {
            let result = sqlite::write(&mut conn, batch, now, signer.as_deref());
            (conn, result)
        })
        .await;
        let Ok((conn, result)) = done else {
            // INVARIANT: a writer without its connection writes nothing more.
            let message = "the audit writer lost its database connection".to_owned();
            self.alarm = Some(message.clone());
            return Err(Error::Audit(message));
        };
        self.sqlite = Some(conn);
        match result? {
            Ok(written) => Ok(written),
            Err((org, detail)) => Err(self.raise_alarm(&org, detail)),
        }
    }
}

impl Writer {
    /// A PostgreSQL connection of the writer's: an idle one, or a new one.
    async fn connection(&mut self) -> Result<sqlx::postgres::PgConnection> {
        if let Some(conn) = self.postgres.pop() {
            return Ok(conn);
        }
        let options = self
            .store
            .postgres()
            .ok_or_else(|| Error::Audit("the audit log has no database to write to".into()))?;
        postgres::connect(options).await
    }

    /// Counts a batch's events (`counts`: per chain) towards each chain's
    /// next checkpoint, and says which chains the batch signs: those at
    /// `checkpoint_every`, or, once the interval is up (or with
    /// `sign_all`), every chain that moved.
    fn signing<'a>(
        &mut self,
        counts: impl IntoIterator<Item = (&'a str, usize)>,
        sign_all: bool,
    ) -> Signing {
        for (org, n) in counts {
            *self.unsigned.entry(org.to_owned()).or_default() +=
                i64::try_from(n).unwrap_or(i64::MAX);
        }
        let due = sign_all || self.last_checkpoint.elapsed() >= self.config.checkpoint_interval;
        let to_sign = self
            .unsigned
            .iter()
            .filter(|(_, n)| **n > 0 && (due || **n >= self.config.checkpoint_every))
            .map(|(org, _)| org.clone())
            .collect();
        let witnessed = self
            .witnessed
            .iter()
            .map(|(org, cp)| (org.clone(), (cp.seq, cp.head_hash.clone())))
            .collect();
        Signing {
            to_sign,
            due,
            witnessed,
        }
    }

    /// Takes note that `orgs` were signed, and with `due`, that the
    /// interval starts again.
    fn signed(&mut self, orgs: &BTreeSet<String>, due: bool) {
        for org in orgs {
            self.unsigned.insert(org.clone(), 0);
        }
        if due {
            self.last_checkpoint = Instant::now();
        }
    }

    /// Whether `batch` can be chained ahead: on PostgreSQL, every chain's
    /// head known, no alarm, and no question waiting that wants every
    /// chain signed.
    fn can_launch(&self, batch: &[Pending], sign_all: bool) -> bool {
        self.store.backend() == Backend::Postgres
            && self.alarm.is_none()
            && !sign_all
            && !batch.is_empty()
            && Instant::now() >= self.ahead_from
            && batch.iter().all(|p| self.heads.contains_key(&p.org))
    }

    /// Chains `batch` ahead and sends it, then waits for the batch sent
    /// before it (so at most two are in flight). With nothing in flight, a
    /// large batch goes as two halves: its callers then come back in two
    /// groups, and each group's batch is chained while the other's lands.
    async fn launch(&mut self, mut batch: Vec<Pending>) {
        if self.flights.is_empty() && batch.len() >= IN_FLIGHT * SPLIT_AT_LEAST {
            let part = batch.len().div_ceil(IN_FLIGHT);
            while batch.len() > part {
                let rest = batch.split_off(part);
                self.launch_one(std::mem::replace(&mut batch, rest)).await;
            }
        }
        self.launch_one(batch).await;
    }

    /// [`Self::launch`] without the split.
    async fn launch_one(&mut self, batch: Vec<Pending>) {
        let mut chains = by_chain(batch);
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(e) => return fail(chains, &e),
        };
        let counts = chains.iter().map(|c| (c.org.as_str(), c.events.len()));
        let signing = self.signing(counts, false);
        // Taken note of now, not once it lands: the batches after it must
        // not sign the same chains again. A batch that fails leaves them
        // to the next interval's checkpoint.
        self.signed(&signing.to_sign, signing.due);
        let (ahead, receipts) = match self.chain_ahead(&mut chains, signing) {
            Ok(chained) => chained,
            Err(e) => return fail(chains, &e),
        };
        for moved in &ahead.heads {
            self.heads.insert(moved.org.clone(), moved.to.clone());
        }
        let (held, holds_heads) = oneshot::channel();
        let after = self.flights.back_mut().and_then(|f| f.holds_heads.take());
        let turn = postgres::Turn { after, held };
        let signer = self.signer.clone();
        let task = tokio::spawn(fly(conn, ahead, turn, signer, chains, receipts));
        self.flights.push_back(Flight {
            task,
            holds_heads: Some(holds_heads),
        });
        while self.flights.len() >= IN_FLIGHT {
            if let Some(Flight { task, .. }) = self.flights.pop_front() {
                let landed = task.await;
                self.settle(landed).await;
            }
        }
    }

    /// Stamps and chains `chains` on the heads the writer expects: the
    /// rows in one copy, and each chain's receipts.
    fn chain_ahead(
        &self,
        chains: &mut [Chain],
        signing: Signing,
    ) -> Result<(postgres::Ahead, Vec<Vec<Receipt>>)> {
        let now = chrono::Utc::now();
        let mut copy = Encoder::new();
        let (mut rows, mut heads, mut receipts) = (0, Vec::new(), Vec::new());
        for chain in chains {
            let expected = self.heads.get(&chain.org).cloned().ok_or_else(|| {
                Error::Audit(format!("no known head of `{}` to chain on", chain.org))
            })?;
            stamp(&mut chain.events, Stamp::Now(now));
            let (chained, written) = chain_rows(&chain.org, expected.clone(), &chain.events);
            postgres::encode(&mut copy, &chain.org, &chained)?;
            rows += chained.len();
            if let Some(last) = written.last() {
                heads.push(postgres::HeadMove {
                    org: chain.org.clone(),
                    from: expected,
                    to: (last.seq, last.hash.clone()),
                });
            }
            receipts.push(written);
        }
        let copy = copy.finish();
        let ahead = postgres::Ahead {
            copy,
            rows,
            heads,
            signing,
            now,
        };
        Ok((ahead, receipts))
    }

    /// Waits for every batch in flight, oldest first, and settles each.
    async fn drain(&mut self) {
        while let Some(Flight { task, .. }) = self.flights.pop_front() {
            let landed = task.await;
            self.settle(landed).await;
        }
    }

    /// Takes back what a flight gives: its connection, or after a failure
    /// no head trusted. Witnesses what it signed and answers its callers,
    /// or raises the alarm it found; returns its events when they must be
    /// chained again.
    fn landed(
        &mut self,
        landed: std::result::Result<Landed, tokio::task::JoinError>,
    ) -> Vec<Chain> {
        // A flight that panicked dropped its callers' answers: they learn
        // the writer stopped, none is told "durable".
        let Ok(landed) = landed else {
            self.heads.clear();
            return Vec::new();
        };
        match landed.conn {
            Some(conn) => self.postgres.push(conn),
            None => self.heads.clear(),
        }
        match landed.outcome {
            Outcome::Done => Vec::new(),
            Outcome::Again(chains) => chains,
            Outcome::Signed(checkpoints, chains, receipts) => {
                // Answered only once witnessed, as a batch under lock is.
                match self.witness(&checkpoints) {
                    Ok(()) => durable(chains, receipts),
                    Err(e) => fail(chains, &e),
                }
                Vec::new()
            }
            Outcome::Refused(org, detail, chains) => {
                self.heads.clear();
                let e = self.raise_alarm(&org, detail);
                fail(chains, &e);
                Vec::new()
            }
        }
    }

    /// Settles a landed flight. When another appender came first, the
    /// flight after it (chained on it) is landed too, and both batches are
    /// written again under lock, in order.
    async fn settle(&mut self, landed: std::result::Result<Landed, tokio::task::JoinError>) {
        let mut again = self.landed(landed);
        if again.is_empty() {
            return;
        }
        self.heads.clear();
        self.ahead_from = Instant::now() + AHEAD_PAUSE;
        while let Some(Flight { task, .. }) = self.flights.pop_front() {
            let next = task.await;
            again.extend(self.landed(next));
        }
        tracing::debug!(
            chains = again.len(),
            "audit batch met another appender; written again under lock"
        );
        let _ = self.ack(pending_of(again), false).await;
    }

    /// Writes committed checkpoints to the witness; from now on the chains
    /// must extend them.
    fn witness(&mut self, signed: &[Checkpoint]) -> Result<()> {
        if let Some(witness) = &self.config.witness {
            // After the commit: a crash in between leaves a checkpoint not
            // yet witnessed (harmless), never a witnessed one the database lacks.
            witness.record(signed)?;
            for cp in signed {
                self.witnessed.insert(cp.org.clone(), cp.clone());
            }
        }
        Ok(())
    }
}

/// Whether `org`'s chain, as stored now, extends the checkpoint (`seq`,
/// `hash`): every event after it chains on from it and the head is its
/// last event. `Ok(Err(detail))` says how it does not.
pub(crate) async fn extends(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    key: &ed25519_dalek::VerifyingKey,
    org: &str,
    seq: i64,
    hash: &str,
) -> Result<std::result::Result<super::chain::Checked, String>> {
    let head = lock_head(tx, backend, org).await?;
    let events =
        format!("SELECT {EVENT_FIELDS} FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq");
    extends_locked::<Any>(
        &mut **tx,
        head,
        key,
        org,
        (seq, hash),
        &events,
        event_from_row,
    )
    .await
}

/// Appends `events` to `org`'s chain inside `tx`: locks the head, stamps
/// each event with this process's clock, hashes, inserts, moves the head.
pub(crate) async fn append_locked(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org: &str,
    events: &mut [AuditEvent],
    how: Stamp,
) -> Result<Vec<Receipt>> {
    let head = lock_head(tx, backend, org).await?;
    let from = head.0;
    stamp(events, how);
    let (rows, receipts) = chain_rows(org, head, events);
    let Some(last) = rows.last() else {
        return Ok(receipts);
    };
    insert_rows(tx, backend, org, &rows).await?;
    move_head::<Any>(&mut **tx, org, last.seq, &last.hash).await?;
    if lookup::kept_apart(backend) && lookup::due(from, last.seq) {
        lookup::catch_up(tx, org, last.seq).await?;
    }
    Ok(receipts)
}

/// Reads a chain's head, creating it at genesis, locked for this transaction.
pub(crate) async fn lock_head(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org: &str,
) -> Result<(i64, String)> {
    sqlx::query(CREATE_HEAD)
        .bind(org)
        .bind(GENESIS)
        .execute(&mut **tx)
        .await?;
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(&format!("{SELECT_HEAD}{lock}"))
        .bind(org)
        .fetch_one(&mut **tx)
        .await?;
    Ok((row.try_get("seq")?, row.try_get("hash")?))
}

/// One statement per batch whatever its size: the rows travel as one JSON
/// array and the database unpacks them. On this machine that is 1.7x
/// faster than multi-row `VALUES` with thousands of binds (BENCHMARKS.md).
const INSERT_SQLITE: &str = concat!(
    "INSERT INTO audit_events (org, ",
    event_columns!(),
    ")
    SELECT $1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
           value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13,
           value ->> 14, value ->> 15, value ->> 16
    FROM json_each($2)"
);

/// `jsonb`, not `json`: `r ->> n` on `json` re-parses the row's text for
/// every column (100,000 rows: 5.2 s against 2.1 s on this machine).
const INSERT_POSTGRES: &str = concat!(
    "INSERT INTO audit_events (org, ",
    event_columns!(),
    ")
    SELECT $1, (r ->> 0)::bigint, (r ->> 1)::bigint, r ->> 2, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8, r ->> 9, r ->> 10,
           r ->> 11, r ->> 12, r ->> 13, r ->> 14, r ->> 15, (r ->> 16)::bigint
    FROM jsonb_array_elements($2::jsonb) AS r"
);

/// A row as a JSON array, in the column order of the INSERT statements.
fn json_row(row: &Row<'_>) -> serde_json::Value {
    let json = |value| match value {
        Value::Text(text) => text.map_or(serde_json::Value::Null, |t| t.into_owned().into()),
        Value::Int(int) => int.map_or(serde_json::Value::Null, Into::into),
    };
    serde_json::Value::Array(row.values().into_iter().map(json).collect())
}

async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org: &str,
    rows: &[Row<'_>],
) -> Result<()> {
    let json = serde_json::Value::Array(rows.iter().map(json_row).collect());
    let sql = match backend {
        Backend::Sqlite => INSERT_SQLITE,
        Backend::Postgres => INSERT_POSTGRES,
    };
    sqlx::query(sql)
        .bind(org)
        .bind(json.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Signs and stores a checkpoint of `org`'s head, locked here
/// ([`super::chain::store_checkpoint`]). The writer signs on its own
/// connections; this is for synthetic histories written beside it
/// ([`crate::testkit::write_history`]).
#[cfg(feature = "testkit")]
pub(crate) async fn write_checkpoint(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    signer: &Signer,
    org: &str,
) -> Result<std::result::Result<Option<Checkpoint>, String>> {
    let head = lock_head(tx, backend, org).await?;
    super::chain::store_checkpoint::<Any>(&mut **tx, signer, org, head, chrono::Utc::now(), None)
        .await
}
