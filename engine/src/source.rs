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

/// Parses TOML into `T`; an error names the file, the line and, when the
/// line sets one, the field.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text.as_bytes(), s.start));
        let message = e.message().trim_end_matches('.');
        let message = match field_set_on(text, line) {
            Some(field) if !message.contains(&format!("`{field}`")) => {
                format!("field `{field}`: {message}")
            }
            _ => message.to_owned(),
        };
        Error::Input {
            path: path.to_owned(),
            line,
            message,
        }
    })
}

/// The key a `key = value` line sets, if line `line` is one.
fn field_set_on(text: &str, line: usize) -> Option<&str> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    bare.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only parsed")]
    struct Review {
        name: String,
        next_review: chrono::NaiveDate,
    }

    #[test]
    fn a_toml_error_names_the_line_and_the_field() {
        let err = parse_toml::<Review>(
            Path::new("form"),
            "name = \"x\"\nnext_review = \"mañana\"\n",
        )
        .expect_err("bad date")
        .to_string();
        assert!(
            err.starts_with("form: line 2: field `next_review`: "),
            "{err}"
        );
    }
}
