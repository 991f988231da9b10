//! Reading input files (organisation files, CSV, pack manifests, rules,
//! test cases): UTF-8 checked, errors located by line.

use std::path::Path;

use crate::error::{Error, Result};

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &[u8], offset: usize) -> usize {
    let end = offset.min(text.len());
    text[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Reads a file as UTF-8, naming the line of the first invalid byte.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        Error::Input {
            path: path.to_owned(),
            line: line_of(e.as_bytes(), offset),
            message: format!("the file is not valid UTF-8 (invalid byte at offset {offset})"),
        }
    })
}

/// Parses TOML into `T`; an error names the file and the line.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::Input {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| line_of(text.as_bytes(), s.start)),
        message: e.message().trim_end_matches('.').to_owned(),
    })
}
