//! Witnesses: every signed checkpoint is also written outside the
//! database, so that someone who can rewrite the database cannot also
//! rewrite what the log was known to contain.
//!
//! The default witness is an append-only JSON-lines file, fsynced after
//! each write; a command can be run with each batch of checkpoints on its
//! standard input as well (mail it, copy it to another machine). Alarms go
//! to the same file: an attacker who controls the database cannot erase
//! them there.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use crate::error::{Error, Result};

/// One line of a witness file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WitnessLine {
    /// A signed checkpoint, as committed to the database.
    Checkpoint(Checkpoint),
    /// The writer found a chain that does not extend its last witnessed
    /// checkpoint and refused to sign it.
    Alarm {
        org: String,
        at: DateTime<Utc>,
        detail: String,
    },
}

/// Where checkpoints are witnessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    file: PathBuf,
    command: Option<String>,
}

impl Witness {
    /// A witness file, and optionally a command run with each batch.
    pub fn new(file: PathBuf, command: Option<String>) -> Self {
        Self { file, command }
    }

    /// The default witness file: beside the signing key. Better kept on
    /// another disk or machine (`--witness`).
    pub fn default_path(key_path: &Path) -> PathBuf {
        let mut name = key_path.as_os_str().to_owned();
        name.push(".witness");
        PathBuf::from(name)
    }

    /// The witness file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Appends checkpoints, fsynced, then hands them to the command.
    pub fn record(&self, checkpoints: &[Checkpoint]) -> Result<()> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        let lines: Vec<WitnessLine> = checkpoints
            .iter()
            .cloned()
            .map(WitnessLine::Checkpoint)
            .collect();
        let text = self.append(&lines)?;
        self.run_command(&text)
    }

    /// Appends an alarm line (fsynced) and hands it to the command too.
    pub fn alarm(&self, org: &str, detail: &str) -> Result<()> {
        let line = WitnessLine::Alarm {
            org: org.to_owned(),
            at: Utc::now(),
            detail: detail.to_owned(),
        };
        let text = self.append(std::slice::from_ref(&line))?;
        self.run_command(&text)
    }

    fn append(&self, lines: &[WitnessLine]) -> Result<String> {
        let mut text = String::new();
        for line in lines {
            let json = serde_json::to_string(line)
                .map_err(|e| Error::Audit(format!("cannot encode a witness line: {e}")))?;
            text.push_str(&json);
            text.push('\n');
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let path = &self.file;
        let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
        // One write of whole lines: appenders sharing the file do not interleave.
        file.write_all(text.as_bytes())
            .map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        Ok(text)
    }

    fn run_command(&self, text: &str) -> Result<()> {
        let Some(command) = &self.command else {
            return Ok(());
        };
        let failed =
            |message: String| Error::Audit(format!("witness command `{command}` {message}"));
        let mut child = Command::new("/bin/sh")
            .args(["-c", command])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| failed(format!("did not start: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| failed(format!("did not take the checkpoints: {e}")))?;
        }
        let status = child.wait().map_err(|e| failed(e.to_string()))?;
        if !status.success() {
            return Err(failed(format!("failed ({status})")));
        }
        Ok(())
    }
}

/// What witness files say: every checkpoint signed by the trusted key, by
/// organisation and sequence, and the alarms raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witnessed {
    pub checkpoints: BTreeMap<String, BTreeMap<i64, Checkpoint>>,
    pub alarms: Vec<WitnessLine>,
}

impl Witnessed {
    /// Reads witness files. A missing file is an error: a witness that
    /// vanished must not look like a log that never had one. Lines not
    /// signed by `key` are ignored (anyone may write to a shared folder).
    pub fn read(files: &[PathBuf], key: &VerifyingKey) -> Result<Self> {
        let mut witnessed = Self::default();
        for line in lines(files)? {
            match line {
                WitnessLine::Checkpoint(cp) if cp.verify(key) => {
                    witnessed
                        .checkpoints
                        .entry(cp.org.clone())
                        .or_default()
                        .insert(cp.seq, cp);
                }
                WitnessLine::Checkpoint(_) => {}
                alarm @ WitnessLine::Alarm { .. } => witnessed.alarms.push(alarm),
            }
        }
        Ok(witnessed)
    }

    /// Only the newest checkpoint of each organisation signed by `key`:
    /// what a writer needs at start-up. Signatures are checked newest first
    /// and only until one verifies, so start-up does not grow with the
    /// number of checkpoints in the file.
    pub fn newest_of_each(
        files: &[PathBuf],
        key: &VerifyingKey,
    ) -> Result<BTreeMap<String, Checkpoint>> {
        let mut candidates: BTreeMap<String, Vec<Checkpoint>> = BTreeMap::new();
        for line in lines(files)? {
            if let WitnessLine::Checkpoint(cp) = line {
                candidates.entry(cp.org.clone()).or_default().push(cp);
            }
        }
        Ok(candidates
            .into_iter()
            .filter_map(|(org, mut cps)| {
                cps.sort_by_key(|cp| std::cmp::Reverse(cp.seq));
                cps.into_iter()
                    .find(|cp| cp.verify(key))
                    .map(|cp| (org, cp))
            })
            .collect())
    }

    /// The newest witnessed checkpoint of `org`.
    pub fn newest(&self, org: &str) -> Option<&Checkpoint> {
        self.checkpoints
            .get(org)
            .and_then(|cps| cps.values().next_back())
    }
}

/// Every line of the files, parsed; a bad line is named by file and line.
fn lines(files: &[PathBuf]) -> Result<Vec<WitnessLine>> {
    let mut all = Vec::new();
    for path in files {
        let text = crate::source::read_text(path)?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            all.push(serde_json::from_str(line).map_err(|e| Error::Input {
                path: path.clone(),
                line: i + 1,
                message: format!("not a witness line: {e}"),
            })?);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Frontier, Signer};

    /// A checkpoint of chain `a` at `seq`, over made-up events.
    fn signed(signer: &Signer, seq: u8, digit: &str, at: DateTime<Utc>) -> Checkpoint {
        let mut tree = Frontier::default();
        for i in 0..seq {
            tree.push_event(&[i; 32]);
        }
        signer.sign("a", &digit.repeat(64), &tree, at)
    }

    #[test]
    fn checkpoints_and_alarms_round_trip_and_foreign_signatures_are_ignored() {
        let dir = tempfile::tempdir().expect("dir");
        let ours = Signer::create(&dir.path().join("ours")).expect("key");
        let theirs = Signer::create(&dir.path().join("theirs")).expect("key");
        let witness = Witness::new(dir.path().join("w.jsonl"), None);
        let now = Utc::now();
        witness
            .record(&[
                signed(&ours, 3, "1", now),
                signed(&ours, 7, "2", now),
                signed(&theirs, 9, "3", now),
            ])
            .expect("record");
        witness.alarm("a", "forged head").expect("alarm");
        let read =
            Witnessed::read(&[witness.file().to_owned()], &ours.verifying_key()).expect("read");
        assert_eq!(read.newest("a").map(|c| c.seq), Some(7));
        assert_eq!(read.checkpoints["a"].len(), 2);
        assert_eq!(read.alarms.len(), 1);
        let newest = Witnessed::newest_of_each(&[witness.file().to_owned()], &ours.verifying_key())
            .expect("newest");
        assert_eq!(newest["a"].seq, 7, "the foreign 9 is skipped");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(witness.file())
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_witness_file_is_an_error_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let key = Signer::create(&dir.path().join("k"))
            .expect("key")
            .verifying_key();
        let missing = dir.path().join("missing.jsonl");
        assert!(Witnessed::read(&[missing], &key).is_err());
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "\n{\"kind\":\"nonsense\"}\n").expect("write");
        let err = Witnessed::read(&[bad], &key).expect_err("bad line");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn the_witness_command_gets_the_lines_and_its_failure_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let signer = Signer::create(&dir.path().join("k")).expect("key");
        let copy = dir.path().join("copy.jsonl");
        let witness = Witness::new(
            dir.path().join("w.jsonl"),
            Some(format!("cat >> '{}'", copy.display())),
        );
        witness
            .record(&[signed(&signer, 1, "1", Utc::now())])
            .expect("record");
        assert_eq!(
            std::fs::read_to_string(&copy).expect("copy"),
            std::fs::read_to_string(witness.file()).expect("file")
        );
        let failing = Witness::new(dir.path().join("w2.jsonl"), Some("exit 3".into()));
        let err = failing
            .record(&[signed(&signer, 1, "1", Utc::now())])
            .expect_err("the command failed");
        assert!(err.to_string().contains("exit 3"), "{err}");
    }
}
