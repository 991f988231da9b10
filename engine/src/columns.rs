//! One row's columns by name, whichever driver read it: the store's
//! decoders and the vault's key rows are written once for sqlx's rows
//! (PostgreSQL, writes) and rusqlite's (SQLite reads on the decision path).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Result;

/// One row's columns by name, whichever driver read it.
pub(crate) trait Columns {
    /// A text column that is never NULL.
    fn text(&self, name: &str) -> Result<String>;
    /// A text column that may be NULL.
    fn opt_text(&self, name: &str) -> Result<Option<String>>;
    /// An integer column that is never NULL.
    fn int(&self, name: &str) -> Result<i64>;
    /// An integer column that may be NULL.
    fn opt_int(&self, name: &str) -> Result<Option<i64>>;
}

impl Columns for AnyRow {
    fn text(&self, name: &str) -> Result<String> {
        Ok(self.try_get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.try_get(name)?)
    }
    fn int(&self, name: &str) -> Result<i64> {
        Ok(self.try_get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> Result<String> {
        Ok(self.get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.get(name)?)
    }
    fn int(&self, name: &str) -> Result<i64> {
        Ok(self.get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.get(name)?)
    }
}
