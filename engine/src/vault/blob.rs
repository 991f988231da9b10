//! The blob store: documents' sealed bytes, content-addressed by the
//! SHA-256 of what is stored, in a folder beside the database or in an
//! S3-compatible bucket (through `object_store`, for firms with several
//! servers). A blob whose bytes no longer hash to its address is refused
//! before anything tries to decrypt it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Sealed blobs, `ab/cdef...` by address, in a folder or a bucket.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// When set, blobs live in this bucket under `root` as a key prefix.
    bucket: Option<Arc<dyn ObjectStore>>,
}

impl BlobStore {
    /// A blob store in `root` (created on first write).
    pub fn folder(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            bucket: None,
        }
    }

    /// A blob store in an S3-compatible bucket: `s3://BUCKET[/PREFIX]`.
    /// Credentials, region and endpoint come from the usual `AWS_*`
    /// variables (`AWS_ENDPOINT_URL` for a server of your own;
    /// `AWS_ALLOW_HTTP=true` only for one on localhost).
    pub fn s3(url: &str) -> Result<Self> {
        let bad = |reason: &'static str| Error::InvalidValue {
            kind: "blob store url",
            value: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or(bad("expected s3://BUCKET[/PREFIX]"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("names no bucket"));
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| Error::Vault(format!("blob store `{url}`: {e}")))?;
        Ok(Self {
            root: PathBuf::from(prefix.trim_matches('/')),
            bucket: Some(Arc::new(store)),
        })
    }

    /// A folder path, or `s3://...` for a bucket.
    pub fn open(location: &str) -> Result<Self> {
        if location.starts_with("s3://") {
            Self::s3(location)
        } else {
            Ok(Self::folder(location))
        }
    }

    /// The folder (or the key prefix inside the bucket).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object(&self, address: &str) -> Result<object_store::path::Path> {
        let path = self.path(address)?;
        object_store::path::Path::parse(path.to_string_lossy())
            .map_err(|e| Error::Vault(format!("blob key: {e}")))
    }

    /// The address of `bytes`.
    pub fn address(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn path(&self, address: &str) -> Result<PathBuf> {
        let valid = address.len() == 64 && address.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(Error::InvalidValue {
                kind: "blob address",
                value: address.to_owned(),
                reason: "expected 64 hex digits",
            });
        }
        Ok(self.root.join(&address[..2]).join(&address[2..]))
    }

    /// Stores sealed bytes and returns their address. Written to a
    /// temporary file, synced, then renamed: a crash never leaves half a blob.
    pub async fn put(&self, sealed: Vec<u8>) -> Result<String> {
        let address = Self::address(&sealed);
        if let Some(bucket) = &self.bucket {
            // An object appears whole or not at all; the same address is
            // the same bytes, so a second put changes nothing.
            bucket
                .put(&self.object(&address)?, sealed.into())
                .await
                .map_err(|e| Error::Vault(format!("blob store: cannot write `{address}`: {e}")))?;
            return Ok(address);
        }
        let path = self.path(&address)?;
        tokio::task::spawn_blocking(move || write_blob(&path, &sealed))
            .await
            .map_err(|e| Error::Vault(format!("blob writer stopped: {e}")))??;
        Ok(address)
    }

    /// Reads a blob, checking that it still hashes to its address.
    pub async fn get(&self, address: &str) -> Result<Vec<u8>> {
        if let Some(bucket) = &self.bucket {
            let object = self.object(address)?;
            let bytes = bucket
                .get(&object)
                .await
                .map_err(|e| Error::Vault(format!("blob store: cannot read `{address}`: {e}")))?
                .bytes()
                .await
                .map_err(|e| Error::Vault(format!("blob store: cannot read `{address}`: {e}")))?;
            if Self::address(&bytes) != address {
                return Err(Error::Vault(format!(
                    "blob store: `{address}` does not match its address (altered or damaged)"
                )));
            }
            return Ok(bytes.to_vec());
        }
        let path = self.path(address)?;
        let read_path = path.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(&read_path))
            .await
            .map_err(|e| Error::Vault(format!("blob reader stopped: {e}")))?
            .map_err(|e| Error::io(&path, e))?;
        if Self::address(&bytes) != address {
            return Err(Error::File {
                path,
                message: "the blob does not match its address (altered or damaged)".into(),
            });
        }
        Ok(bytes)
    }

    /// Removes a blob (a purge); one already gone is not an error.
    pub async fn remove(&self, address: &str) -> Result<()> {
        if let Some(bucket) = &self.bucket {
            return match bucket.delete(&self.object(address)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(Error::Vault(format!(
                    "blob store: cannot remove `{address}`: {e}"
                ))),
            };
        }
        let path = self.path(address)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Every address held in a folder store, sorted.
    pub fn addresses(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for dir in dirs {
            let dir = dir.map_err(|e| Error::io(&self.root, e))?;
            let prefix = dir.file_name().to_string_lossy().into_owned();
            if prefix.len() != 2 || !dir.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path()).map_err(|e| Error::io(dir.path(), e))? {
                let file = file.map_err(|e| Error::io(dir.path(), e))?;
                let name = file.file_name().to_string_lossy().into_owned();
                if name.len() == 62 {
                    out.push(format!("{prefix}{name}"));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn write_blob(path: &Path, sealed: &[u8]) -> Result<()> {
    use std::io::Write;
    if path.exists() {
        // Same address, same bytes: already stored.
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| Error::Vault("blob path without a folder".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    temp.write_all(sealed)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The default blob folder: beside a SQLite database, else
/// `custodia-blobs` in the current directory.
pub fn default_path(db_url: &str) -> PathBuf {
    crate::keyfile::beside_store(db_url, "blobs", "custodia-blobs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_comes_back_only_as_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = BlobStore::folder(dir.path().join("blobs"));
        let address = blobs.put(b"sealed bytes".to_vec()).await.expect("put");
        assert_eq!(blobs.get(&address).await.expect("get"), b"sealed bytes");
        assert_eq!(blobs.addresses().expect("list"), vec![address.clone()]);
        let path = blobs.path(&address).expect("path");
        std::fs::write(&path, b"other bytes").expect("tamper");
        let err = blobs.get(&address).await.expect_err("tampered");
        assert!(
            err.to_string().contains("does not match its address"),
            "{err}"
        );
        assert!(blobs.get("../../etc/passwd").await.is_err());
    }
}
