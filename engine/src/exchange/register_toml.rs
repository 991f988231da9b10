//! One register entry as TOML: what the web UI's register editor shows
//! and reads back, with errors located by line like every other input.

use std::path::Path;

use crate::domain::{RegisterEntry, RegisterKind};
use crate::error::{Error, Result};
use crate::source::parse_toml;

/// Reads one entry of `kind` from TOML; `source` names the input in errors.
pub fn register_entry_from_toml(
    kind: RegisterKind,
    source: &Path,
    text: &str,
) -> Result<RegisterEntry> {
    Ok(match kind {
        RegisterKind::Provider => RegisterEntry::Provider(parse_toml(source, text)?),
        RegisterKind::Activity => RegisterEntry::Activity(parse_toml(source, text)?),
        RegisterKind::Measure => RegisterEntry::Measure(parse_toml(source, text)?),
        RegisterKind::Training => RegisterEntry::Training(parse_toml(source, text)?),
        RegisterKind::Backup => RegisterEntry::Backup(parse_toml(source, text)?),
        RegisterKind::Breach => RegisterEntry::Breach(parse_toml(source, text)?),
        RegisterKind::Risk => RegisterEntry::Risk(parse_toml(source, text)?),
        RegisterKind::Confidentiality => RegisterEntry::Confidentiality(parse_toml(source, text)?),
        RegisterKind::LogReview => RegisterEntry::LogReview(parse_toml(source, text)?),
    })
}

/// One entry as TOML, for editing.
pub fn register_entry_to_toml(entry: &RegisterEntry) -> Result<String> {
    toml::to_string(entry).map_err(|e| Error::Corrupt(format!("register entry as TOML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_goes_to_toml_and_back_and_a_bad_field_is_located() {
        let text = "id = \"P-1\"\nname = \"Nube\"\nservice = \"correo\"\n";
        let entry =
            register_entry_from_toml(RegisterKind::Provider, Path::new("form"), text).expect("ok");
        let again = register_entry_to_toml(&entry).expect("toml");
        let back = register_entry_from_toml(RegisterKind::Provider, Path::new("form"), &again)
            .expect("round trip");
        assert_eq!(back, entry);
        let bad = "id = \"P-1\"\nname = \"Nube\"\nservice = \"correo\"\nnext_review = \"mañana\"\n";
        let err = register_entry_from_toml(RegisterKind::Provider, Path::new("form"), bad)
            .expect_err("bad date")
            .to_string();
        assert!(err.contains("form") && err.contains('4'), "{err}");
    }
}
