//! The vault: what Custodia protects, sealed at rest.
//!
//! Keys form a hierarchy. Each customer has a data key; it is wrapped by
//! the organisation's key, which is wrapped by the master key. The master
//! key lives in a key file or an environment variable, never in the
//! database ([`master`]). Every sealed value is XChaCha20-Poly1305 with
//! associated data naming (organisation, customer, slot), so a ciphertext
//! moved to another row fails to open ([`cipher`]).
//!
//! Rotating the master or an organisation key re-wraps the keys below it
//! without touching any content ([`Vault::rotate_master`],
//! [`Vault::rotate_org`]). Deleting a customer's data key erases everything
//! sealed under it, including copies in old backups and dead rows
//! ([`Vault::destroy_customer_key`]).

pub mod blob;
pub mod cipher;
pub mod master;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{AnyConnection, AnyPool, Row};
use zeroize::Zeroizing;

pub use cipher::Key;
pub use master::{MASTER_KEY_VAR, MasterKey, MasterRing, MasterSource};

use crate::columns::Columns;
use crate::domain::{AreaName, CustomerId, DocumentId, OrgSlug};
use crate::error::{Error, Result};

/// Where a sealed value belongs inside a customer's record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// Tax id, phone, postal address.
    Identity,
    /// One area's contents.
    Area(AreaName),
    /// One document's bytes.
    Document(DocumentId),
}

impl Slot {
    /// The slot's stored name.
    pub fn name(&self) -> String {
        match self {
            Slot::Identity => "identity".into(),
            Slot::Area(a) => format!("area/{a}"),
            Slot::Document(d) => format!("document/{d}"),
        }
    }
}

/// The associated data of a sealed item: it binds the ciphertext to its row.
fn item_aad(org: &OrgSlug, customer: &CustomerId, slot: &str) -> Vec<u8> {
    format!("custodia/vault/item\0{org}\0{customer}\0{slot}").into_bytes()
}

fn org_key_aad(org: &str, version: i64) -> Vec<u8> {
    format!("custodia/vault/org-key\0{org}\0{version}").into_bytes()
}

fn lookup_key_aad(org: &str) -> Vec<u8> {
    format!("custodia/vault/lookup-key\0{org}").into_bytes()
}

fn customer_key_aad(org: &str, customer: &str) -> Vec<u8> {
    format!("custodia/vault/customer-key\0{org}\0{customer}").into_bytes()
}

/// An organisation's keys, unwrapped.
#[derive(Debug)]
struct OrgKeys {
    version: i64,
    kek: Key,
    lookup: Key,
}

/// A wrapped organisation key as the database holds it.
struct WrappedOrgKey {
    version: i64,
    master_id: String,
    wrapped: String,
    wrapped_lookup: String,
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub organisations: usize,
    pub customer_keys: usize,
    pub master_id: String,
}

/// The master keys and a cache of unwrapped organisation keys. Cheap to
/// share; clone the `Arc`.
pub struct Vault {
    source: MasterSource,
    ring: RwLock<MasterRing>,
    /// Unwrapped organisation keys by (organisation, wrapped key): the
    /// wrapped text is unique per key, so a replaced organisation's new
    /// key never meets its predecessor's cache entry.
    org_keys: Mutex<HashMap<(String, String), Arc<OrgKeys>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 under an organisation's lookup key (see
/// [`Vault::keyed_hasher`]); the key never leaves it.
#[derive(Debug, Clone)]
pub struct KeyedHasher(Key);

impl KeyedHasher {
    /// The hex keyed hash of `value`.
    pub fn hash(&self, value: &str) -> Result<String> {
        let mut mac = HmacSha256::new_from_slice(self.0.bytes())
            .map_err(|_| Error::Vault("hmac key".into()))?;
        mac.update(value.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }
}

impl Vault {
    /// A vault over `ring`, read from `source`.
    pub fn new(source: MasterSource, ring: MasterRing) -> Self {
        Self {
            source,
            ring: RwLock::new(ring),
            org_keys: Mutex::new(HashMap::new()),
        }
    }

    /// A vault with one fresh master key held in memory (tests, benchmarks).
    pub fn ephemeral() -> Self {
        Self::new(MasterSource::Fixed, MasterRing::single(MasterKey::random()))
    }

    /// A vault over the same master keys with an empty cache, for another
    /// store (a scratch restore checked with the keys in force).
    pub fn sibling(&self) -> Result<Self> {
        let ring = self
            .ring
            .read()
            .map(|r| r.clone())
            .map_err(|_| Error::Vault("the master key ring is poisoned".into()))?;
        Ok(Self::new(self.source.clone(), ring))
    }

    /// Seals a backup under a key derived from the current master key;
    /// returns the master key's id, which the backup names in clear.
    pub fn seal_backup(&self, plaintext: &[u8]) -> Result<(String, Vec<u8>)> {
        let master = self.current_master()?;
        let key = backup_key(&master)?;
        Ok((master.id().to_owned(), key.seal(plaintext, BACKUP_AAD)))
    }

    /// Opens a backup sealed by [`Vault::seal_backup`] under master `id`.
    pub fn open_backup(&self, id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let master = self.master("(backup)", id).map_err(|_| {
            Error::Vault(format!(
                "the backup was sealed under master key `{id}`, which is not loaded (keep old master keys with the backups they sealed)"
            ))
        })?;
        backup_key(&master)?.open(sealed, BACKUP_AAD).ok_or_else(|| {
            Error::Vault("the backup is corrupted: its contents fail authentication (altered or truncated)".into())
        })
    }

    /// The id of the master key new wraps use.
    pub fn master_id(&self) -> String {
        self.ring
            .read()
            .map(|r| r.current().id().to_owned())
            .unwrap_or_default()
    }

    /// The master key with `id`. On a miss a key file is read again: a
    /// rotation by another process may have added it (so a running server
    /// follows a rotation without restarting).
    fn master(&self, org: &str, id: &str) -> Result<MasterKey> {
        if let Some(key) = self.ring.read().ok().and_then(|r| r.get(id).cloned()) {
            return Ok(key);
        }
        if let MasterSource::File(path) = &self.source {
            let fresh = MasterRing::load(path)?;
            let found = fresh.get(id).cloned();
            if let Ok(mut ring) = self.ring.write() {
                *ring = fresh;
            }
            if let Some(key) = found {
                return Ok(key);
            }
        }
        Err(Error::WrongMasterKey {
            org: org.to_owned(),
            have: self.master_id(),
            want: id.to_owned(),
        })
    }

    /// Unwraps (or takes from the cache) an organisation's keys.
    fn org_keys(&self, org: &str, row: &WrappedOrgKey) -> Result<Arc<OrgKeys>> {
        let cache_key = (org.to_owned(), row.wrapped.clone());
        if let Some(keys) = self.cached(&cache_key) {
            return Ok(keys);
        }
        let master = self.master(org, &row.master_id)?;
        let wrong = || Error::WrongMasterKey {
            org: org.to_owned(),
            have: master.id().to_owned(),
            want: row.master_id.clone(),
        };
        let kek = master
            .key()
            .unwrap_key(&row.wrapped, &org_key_aad(org, row.version))
            .ok_or_else(wrong)?;
        let lookup = master
            .key()
            .unwrap_key(&row.wrapped_lookup, &lookup_key_aad(org))
            .ok_or_else(wrong)?;
        let keys = Arc::new(OrgKeys {
            version: row.version,
            kek,
            lookup,
        });
        if let Ok(mut cache) = self.org_keys.lock() {
            cache.insert(cache_key, keys.clone());
        }
        Ok(keys)
    }

    fn cached(&self, key: &(String, String)) -> Option<Arc<OrgKeys>> {
        self.org_keys.lock().ok()?.get(key).cloned()
    }

    /// The organisation's newest key row, if it has one.
    async fn newest_org_key(conn: &mut AnyConnection, org: &str) -> Result<Option<WrappedOrgKey>> {
        let row = sqlx::query(
            "SELECT version, master_id, wrapped, wrapped_lookup FROM vault_org_keys
             WHERE org = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(org)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| wrapped_org_key(&r)).transpose()
    }

    /// The organisation's keys for writing, created on first use.
    async fn org_keys_for_write(
        &self,
        conn: &mut AnyConnection,
        org: &str,
    ) -> Result<Arc<OrgKeys>> {
        if let Some(row) = Self::newest_org_key(conn, org).await? {
            return self.org_keys(org, &row);
        }
        let master = self.current_master()?;
        let keys = OrgKeys {
            version: 1,
            kek: Key::random(),
            lookup: Key::random(),
        };
        insert_org_key(conn, org, &master, &keys).await?;
        Ok(Arc::new(keys))
    }

    fn current_master(&self) -> Result<MasterKey> {
        self.ring
            .read()
            .map(|r| r.current().clone())
            .map_err(|_| Error::Vault("the master key ring is poisoned".into()))
    }

    /// A customer's data key for writing, created on first use.
    async fn customer_key_for_write(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
        customer: &CustomerId,
    ) -> Result<Key> {
        if let Some(key) = self.customer_key(&mut *conn, org, customer).await? {
            return Ok(key);
        }
        let org_keys = self.org_keys_for_write(conn, org.as_str()).await?;
        let key = Key::random();
        sqlx::query(
            "INSERT INTO vault_customer_keys (org, customer, org_version, wrapped) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.as_str())
        .bind(customer.as_str())
        .bind(org_keys.version)
        .bind(org_keys.kek.wrap(&key, &customer_key_aad(org.as_str(), customer.as_str())))
        .execute(&mut *conn)
        .await?;
        Ok(key)
    }

    /// A customer's data key; `None` when the customer has none (nothing
    /// sealed yet, or erased). The customer key and the organisation key
    /// that wraps it come from one statement, so a rotation committing
    /// meanwhile is seen whole or not at all.
    async fn customer_key(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
        customer: &CustomerId,
    ) -> Result<Option<Key>> {
        let row = sqlx::query(
            "SELECT k.wrapped AS customer_wrapped, o.version, o.master_id, o.wrapped, o.wrapped_lookup
             FROM vault_customer_keys k
             JOIN vault_org_keys o ON o.org = k.org AND o.version = k.org_version
             WHERE k.org = $1 AND k.customer = $2",
        )
        .bind(org.as_str())
        .bind(customer.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        self.unwrap_customer_key(org, customer, &row).map(Some)
    }

    /// A customer's data key from a row holding it (`customer_wrapped`)
    /// and the organisation key that wraps it.
    fn unwrap_customer_key(
        &self,
        org: &OrgSlug,
        customer: &CustomerId,
        row: &dyn Columns,
    ) -> Result<Key> {
        self.unwrap_data_key(org, customer, &CustomerKey::decode(row)?)
    }

    fn unwrap_data_key(
        &self,
        org: &OrgSlug,
        customer: &CustomerId,
        key: &CustomerKey,
    ) -> Result<Key> {
        let org_keys = self.org_keys(org.as_str(), &key.org_key)?;
        org_keys
            .kek
            .unwrap_key(
                &key.wrapped,
                &customer_key_aad(org.as_str(), customer.as_str()),
            )
            .ok_or_else(|| Error::Tampered {
                org: org.to_string(),
                customer: customer.to_string(),
                slot: "data key".into(),
            })
    }

    /// Seals `plaintext` into `slot` of the customer's record, replacing
    /// what was there, in the caller's transaction.
    pub async fn seal(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
        customer: &CustomerId,
        slot: &Slot,
        plaintext: &[u8],
    ) -> Result<()> {
        let name = slot.name();
        let sealed = self
            .seal_bytes(&mut *conn, org, customer, slot, plaintext)
            .await?;
        sqlx::query("DELETE FROM vault_items WHERE org = $1 AND customer = $2 AND slot = $3")
            .bind(org.as_str())
            .bind(customer.as_str())
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO vault_items (org, customer, slot, sealed) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.as_str())
        .bind(customer.as_str())
        .bind(&name)
        .bind(cipher::to_text(&sealed))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Seals bytes under the customer's key without storing them (documents
    /// go to the blob store).
    pub async fn seal_bytes(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
        customer: &CustomerId,
        slot: &Slot,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.customer_key_for_write(conn, org, customer).await?;
        Ok(key.seal(plaintext, &item_aad(org, customer, &slot.name())))
    }

    /// Opens the customer's sealed items in `wanted` (all when empty),
    /// from the rows [`ITEMS_SQL`] returned; the others stay sealed, even
    /// in memory. A customer without a data key has nothing to open; a
    /// value that fails to open is an error naming the record, never
    /// garbage.
    pub(crate) fn open_items(
        &self,
        org: &OrgSlug,
        customer: &CustomerId,
        wanted: &[Slot],
        rows: Vec<SealedItem>,
    ) -> Result<BTreeMap<String, Zeroizing<Vec<u8>>>> {
        let Some(first) = rows.first() else {
            return Ok(BTreeMap::new());
        };
        // INVARIANT: a sealed item whose key is gone (destroyed by a purge,
        // or lost) is an error, never silently left out of a record.
        let Some(data_key) = &first.key else {
            return Err(Error::KeyGone {
                org: org.to_string(),
                customer: customer.to_string(),
                slot: first.slot.clone(),
            });
        };
        let key = self.unwrap_data_key(org, customer, data_key)?;
        let wanted: Vec<String> = wanted.iter().map(Slot::name).collect();
        let mut items = BTreeMap::new();
        for row in rows {
            if !wanted.is_empty() && !wanted.contains(&row.slot) {
                continue;
            }
            let plain = cipher::from_text(&row.sealed)
                .and_then(|bytes| key.open(&bytes, &item_aad(org, customer, &row.slot)))
                .ok_or_else(|| Error::Tampered {
                    org: org.to_string(),
                    customer: customer.to_string(),
                    slot: row.slot.clone(),
                })?;
            items.insert(row.slot, plain);
        }
        Ok(items)
    }

    /// Opens bytes sealed by [`Vault::seal_bytes`] (a document's blob).
    pub async fn open_bytes(
        &self,
        pool: &AnyPool,
        org: &OrgSlug,
        customer: &CustomerId,
        slot: &Slot,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut conn = pool.acquire().await?;
        let tampered = || Error::Tampered {
            org: org.to_string(),
            customer: customer.to_string(),
            slot: slot.name(),
        };
        let key = self
            .customer_key(&mut conn, org, customer)
            .await?
            .ok_or_else(tampered)?;
        key.open(sealed, &item_aad(org, customer, &slot.name()))
            .ok_or_else(tampered)
    }

    /// A keyed hash (HMAC-SHA256 under the organisation's lookup key) of
    /// `value`: what audit events carry instead of a value, and what
    /// lookups match on. Unguessable without the key, unlike a plain hash.
    pub async fn keyed_hash(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
        value: &str,
    ) -> Result<String> {
        self.keyed_hasher(conn, org).await?.hash(value)
    }

    /// The organisation's keyed hash, for hashing many values with one
    /// unwrap of its lookup key ([`Vault::keyed_hash`]).
    pub async fn keyed_hasher(
        &self,
        conn: &mut AnyConnection,
        org: &OrgSlug,
    ) -> Result<KeyedHasher> {
        let keys = self.org_keys_for_write(conn, org.as_str()).await?;
        Ok(KeyedHasher(keys.lookup.clone()))
    }

    /// Erases a customer's data key: everything sealed under it, wherever
    /// a copy survives, can no longer be read.
    pub async fn destroy_customer_key(
        conn: &mut AnyConnection,
        org: &OrgSlug,
        customer: &CustomerId,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM vault_customer_keys WHERE org = $1 AND customer = $2")
            .bind(org.as_str())
            .bind(customer.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM vault_items WHERE org = $1 AND customer = $2")
            .bind(org.as_str())
            .bind(customer.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives the organisation a new key and re-wraps every customer key
    /// under it, in the caller's transaction; no content is re-encrypted.
    /// Readers see the old keys or the new ones, never a mix (the old
    /// version's row goes in the same transaction).
    pub async fn rotate_org(&self, conn: &mut AnyConnection, org: &OrgSlug) -> Result<usize> {
        let old = self.org_keys_for_write(&mut *conn, org.as_str()).await?;
        let new = OrgKeys {
            version: old.version + 1,
            kek: Key::random(),
            lookup: old.lookup.clone(),
        };
        insert_org_key(conn, org.as_str(), &self.current_master()?, &new).await?;
        let rows = sqlx::query(
            "SELECT customer, wrapped FROM vault_customer_keys WHERE org = $1 AND org_version = $2",
        )
        .bind(org.as_str())
        .bind(old.version)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let customer: String = row.try_get("customer")?;
            let aad = customer_key_aad(org.as_str(), &customer);
            let wrapped: String = row.try_get("wrapped")?;
            let key = old
                .kek
                .unwrap_key(&wrapped, &aad)
                .ok_or_else(|| Error::Tampered {
                    org: org.to_string(),
                    customer: customer.clone(),
                    slot: "data key".into(),
                })?;
            sqlx::query(
                "UPDATE vault_customer_keys SET org_version = $3, wrapped = $4 WHERE org = $1 AND customer = $2",
            )
            .bind(org.as_str())
            .bind(&customer)
            .bind(new.version)
            .bind(new.kek.wrap(&key, &aad))
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query("DELETE FROM vault_org_keys WHERE org = $1 AND version < $2")
            .bind(org.as_str())
            .bind(new.version)
            .execute(&mut *conn)
            .await?;
        Ok(rows.len())
    }

    /// Re-wraps the organisation's keys under the current master key, in
    /// the caller's transaction (one step of a master-key rotation).
    pub async fn rewrap_org(&self, conn: &mut AnyConnection, org: &OrgSlug) -> Result<bool> {
        let Some(row) = Self::newest_org_key(&mut *conn, org.as_str()).await? else {
            return Ok(false);
        };
        let keys = self.org_keys(org.as_str(), &row)?;
        let master = self.current_master()?;
        sqlx::query(
            "UPDATE vault_org_keys SET master_id = $3, wrapped = $4, wrapped_lookup = $5 WHERE org = $1 AND version = $2",
        )
        .bind(org.as_str())
        .bind(keys.version)
        .bind(master.id())
        .bind(master.key().wrap(&keys.kek, &org_key_aad(org.as_str(), keys.version)))
        .bind(master.key().wrap(&keys.lookup, &lookup_key_aad(org.as_str())))
        .execute(&mut *conn)
        .await?;
        Ok(true)
    }

    /// Starts a master-key rotation: a new key becomes current in the key
    /// file, the old ones stay readable until [`Vault::retire_old_masters`].
    /// Only a key file can be rotated.
    pub fn begin_master_rotation(&self) -> Result<String> {
        let MasterSource::File(path) = &self.source else {
            return Err(Error::Vault(format!(
                "the master key comes from ${MASTER_KEY_VAR}: rotate it by moving to a key file (--master-key)"
            )));
        };
        let mut ring = MasterRing::load(path)?;
        ring.keys.insert(0, MasterKey::random());
        ring.save(path)?;
        let id = ring.current().id().to_owned();
        if let Ok(mut held) = self.ring.write() {
            *held = ring;
        }
        Ok(id)
    }

    /// Ends a master-key rotation: once every organisation key is wrapped
    /// by the current master, the key file keeps only it.
    pub fn retire_old_masters(&self) -> Result<()> {
        let MasterSource::File(path) = &self.source else {
            return Ok(());
        };
        let ring = MasterRing::single(self.current_master()?);
        ring.save(path)?;
        if let Ok(mut held) = self.ring.write() {
            *held = ring;
        }
        Ok(())
    }

    /// Checks that the master key opens every organisation key the store
    /// holds: a wrong key is an error before anything is written.
    pub async fn check(&self, pool: &AnyPool) -> Result<()> {
        let rows = sqlx::query(
            "SELECT org, version, master_id, wrapped, wrapped_lookup FROM vault_org_keys ORDER BY org, version",
        )
        .fetch_all(pool)
        .await?;
        for row in &rows {
            let org: String = row.try_get("org")?;
            self.org_keys(&org, &wrapped_org_key(row)?)?;
        }
        Ok(())
    }
}

const BACKUP_AAD: &[u8] = b"custodia/backup/v1";

/// The backup key: derived from a master key, so that a backup opens only
/// where that master key is loaded.
fn backup_key(master: &MasterKey) -> Result<Key> {
    let mut mac = HmacSha256::new_from_slice(master.key().bytes())
        .map_err(|_| Error::Vault("hmac key".into()))?;
    mac.update(b"custodia/vault/backup-key");
    let bytes: [u8; cipher::KEY_LEN] = mac.finalize().into_bytes().into();
    Ok(Key::from_bytes(bytes))
}

fn wrapped_org_key(row: &dyn Columns) -> Result<WrappedOrgKey> {
    Ok(WrappedOrgKey {
        version: row.int("version")?,
        master_id: row.text("master_id")?,
        wrapped: row.text("wrapped")?,
        wrapped_lookup: row.text("wrapped_lookup")?,
    })
}

/// A customer's wrapped data key with the organisation key that wraps it.
pub(crate) struct CustomerKey {
    wrapped: String,
    org_key: WrappedOrgKey,
}

impl CustomerKey {
    fn decode(row: &dyn Columns) -> Result<Self> {
        Ok(Self {
            wrapped: row.text("customer_wrapped")?,
            org_key: wrapped_org_key(row)?,
        })
    }
}

/// One row of [`ITEMS_SQL`]: a sealed item and, unless it is gone, the
/// key that opens it.
pub(crate) struct SealedItem {
    slot: String,
    sealed: String,
    key: Option<CustomerKey>,
}

impl SealedItem {
    pub(crate) fn decode(row: &dyn Columns) -> Result<Self> {
        Ok(Self {
            slot: row.text("slot")?,
            sealed: row.text("sealed")?,
            key: match row.opt_text("customer_wrapped")? {
                Some(_) => Some(CustomerKey::decode(row)?),
                None => None,
            },
        })
    }
}

/// A customer's sealed items with the keys that open them (`$1` the
/// organisation, `$2` the customer): one statement, so that a read costs
/// one round trip and sees a rotation whole or not at all.
pub(crate) const ITEMS_SQL: &str = "SELECT i.slot, i.sealed, k.wrapped AS customer_wrapped, o.version, o.master_id, o.wrapped, o.wrapped_lookup
     FROM vault_items i
     LEFT JOIN vault_customer_keys k ON k.org = i.org AND k.customer = i.customer
     LEFT JOIN vault_org_keys o ON o.org = k.org AND o.version = k.org_version
     WHERE i.org = $1 AND i.customer = $2";

async fn insert_org_key(
    conn: &mut AnyConnection,
    org: &str,
    master: &MasterKey,
    keys: &OrgKeys,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO vault_org_keys (org, version, master_id, wrapped, wrapped_lookup) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org)
    .bind(keys.version)
    .bind(master.id())
    .bind(master.key().wrap(&keys.kek, &org_key_aad(org, keys.version)))
    .bind(master.key().wrap(&keys.lookup, &lookup_key_aad(org)))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
