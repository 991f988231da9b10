//! Printing results: human text by default, JSON with `--json`. A closed
//! pipe (`custodia ... | head -1`) ends the output quietly, as ripgrep
//! does, instead of a panic.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Set once standard output is closed: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to standard output (the `say!` macro).
pub fn line(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = writeln!(std::io::stdout().lock(), "{args}") {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to standard output: {e}");
        }
    }
}

/// `println!` that survives a closed pipe.
macro_rules! say {
    () => { $crate::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// Prints `value` as pretty JSON when `json` is set, else runs `human`.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(value)?);
    } else {
        human(value);
    }
    Ok(())
}

/// Writes text to standard output; a closed pipe (`| head`) is not an error.
pub fn print_raw(text: &str) -> anyhow::Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        Err(_) => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Adds the flag that overrides an "already exists" refusal.
pub fn replace_hint(e: custodia_app::Error) -> anyhow::Error {
    use custodia_engine::Error as E;
    match &e {
        custodia_app::Error::Engine(E::OrganisationExists(_) | E::EntryExists { .. }) => {
            anyhow::anyhow!("{e}: use --replace")
        }
        _ => e.into(),
    }
}
