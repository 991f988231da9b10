//! The vault's keys, rotated through the core: each organisation's part
//! of a rotation commits with its `keys` audit event.

use custodia_engine::OrgSlug;
use custodia_engine::audit::{AuditEvent, Change, EventKind};
use custodia_engine::vault::Rotation;

use crate::Custodia;
use crate::error::Result;

fn keys_event(detail: String) -> AuditEvent {
    let mut event = AuditEvent::new(EventKind::Keys, chrono::Utc::now());
    event.detail = Some(detail);
    event
}

impl Custodia {
    /// Gives `org` a new organisation key and re-wraps its customers' data
    /// keys under it; contents stay as they are. Readers never fail: they
    /// see the old keys or the new ones, whole.
    pub async fn rotate_org_key(&self, org: &OrgSlug) -> Result<Rotation> {
        self.store().org(org).await?;
        let vault = self.store().vault()?;
        let mut change = Change::begin(self.store(), org).await?;
        let customer_keys = vault.rotate_org(change.tx(), org).await?;
        change.record(keys_event(format!(
            "organisation key rotated: {customer_keys} customer keys re-wrapped"
        )));
        change.commit().await?;
        Ok(Rotation {
            organisations: 1,
            customer_keys,
            master_id: vault.master_id(),
        })
    }

    /// Moves every organisation key under a new master key. The key file
    /// holds the new key and the old one until every organisation is
    /// re-wrapped, so a crash halfway leaves a store that still opens and a
    /// rotation that can be run again; a running server reads the file
    /// again when it meets the new key's id.
    pub async fn rotate_master_key(&self) -> Result<Rotation> {
        let vault = self.store().vault()?;
        let old = vault.master_id();
        let new = vault.begin_master_rotation()?;
        let mut organisations = 0;
        for org in self.store().organisations().await? {
            let mut change = Change::begin(self.store(), &org.slug).await?;
            if vault.rewrap_org(change.tx(), &org.slug).await? {
                organisations += 1;
                change.record(keys_event(format!(
                    "master key rotated from `{old}` to `{new}`: organisation key re-wrapped"
                )));
                change.commit().await?;
            }
        }
        vault.retire_old_masters()?;
        Ok(Rotation {
            organisations,
            customer_keys: 0,
            master_id: new,
        })
    }
}
