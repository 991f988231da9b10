//! Key files: secrets kept outside the database, readable by their owner
//! only. The audit signing key, the unsubscribe-token key and the vault's
//! master key all go through here.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a key file as text, refusing one that others can read or write.
// INVARIANT: no key is ever loaded from a file group or others can open.
pub fn read_private(path: &Path, what: &str) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::File {
                path: path.to_owned(),
                message: format!(
                    "the {what} is accessible to others (mode {:o}): run chmod 600 on it",
                    mode & 0o777
                ),
            });
        }
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Creates a key file (mode 0600) and syncs it; refuses to overwrite one.
pub fn create_private(path: &Path, text: &str) -> Result<()> {
    let mut file = private_options()
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Replaces a key file's contents atomically: a temporary file beside it,
/// synced, renamed over it. A crash leaves the old file or the new one.
pub fn replace_private(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or_else(|| Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".custodia-key")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(temp.path(), e))?;
    }
    let mut file = temp.as_file();
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if let Ok(dir) = std::fs::File::open(dir) {
        // The rename is durable only once the folder is synced.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A file kept beside the store: `{db}.{suffix}` beside a SQLite
/// database, else `fallback` in the current directory.
pub fn beside_store(db_url: &str, suffix: &str, fallback: &str) -> std::path::PathBuf {
    let file = db_url
        .strip_prefix("sqlite://")
        .or_else(|| db_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|p| !p.is_empty() && *p != ":memory:");
    match file {
        Some(db) => std::path::PathBuf::from(format!("{db}.{suffix}")),
        None => std::path::PathBuf::from(fallback),
    }
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_created_private_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k");
        create_private(&path, "one\n").expect("create");
        assert!(create_private(&path, "two\n").is_err(), "never overwritten");
        assert_eq!(read_private(&path, "test key").expect("read"), "one\n");
        replace_private(&path, b"three\n").expect("replace");
        assert_eq!(read_private(&path, "test key").expect("read"), "three\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
            let err = read_private(&path, "test key").expect_err("refused");
            assert!(
                err.to_string().contains("test key is accessible to others"),
                "{err}"
            );
        }
    }
}
