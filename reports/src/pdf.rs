//! PDF through typst, as a library: templates render typst markup (every
//! value escaped by [`Typst`]), typst lays it out with its embedded fonts,
//! and the same data gives the same bytes (no timestamps, a stable id).

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use typst::diag::{FileError, FileResult, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, Source};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

use crate::{Error, Result};

/// Askama's escaper for `.typ` templates. Templates put every value inside
/// a typst string literal, `#("{{ value }}")`, so escaping reduces to
/// backslashes, quotes and line breaks: markup characters (`#`, `*`, `$`,
/// `[`, `<`...) in a customer's name stay plain text.
#[derive(Debug, Clone, Copy)]
pub struct Typst;

// INVARIANT: every value a `.typ` template prints sits inside `#("...")`
// and passes through this escaper, so no data can end the string literal
// and be read as typst code or markup.
impl askama::filters::Escaper for Typst {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        for c in string.chars() {
            match c {
                '\\' => dest.write_str("\\\\")?,
                '"' => dest.write_str("\\\"")?,
                '\n' => dest.write_str("\\n")?,
                '\r' => dest.write_str("\\r")?,
                '\t' => dest.write_str("\\t")?,
                c if c.is_control() => {}
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

/// typst's own fonts (Libertinus Serif, New Computer Modern, DejaVu Sans
/// Mono), compiled into the binary: no system fonts, same output anywhere.
fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::builder().build()))
}

/// One document to compile: the markup and nothing else (no files, no
/// packages, no network).
struct Document {
    main: Source,
    today: Option<Datetime>,
}

impl World for Document {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main.id() {
            Ok(Bytes::from_string(self.main.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

fn describe(diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Lays out typst `markup` as a PDF. `today` is the document's date, so
/// the output depends on the data only.
pub fn compile(markup: String, today: NaiveDate) -> Result<Vec<u8>> {
    let document = Document {
        main: Source::detached(markup),
        today: Datetime::from_ymd(
            today.year(),
            u8::try_from(today.month()).unwrap_or(1),
            u8::try_from(today.day()).unwrap_or(1),
        ),
    };
    let Warned { output, .. } = typst::compile::<PagedDocument>(&document);
    let paged = output.map_err(|e| Error::Pdf(describe(&e)))?;
    let options = PdfOptions {
        ident: Smart::Custom("custodia-report".into()),
        creator: Smart::Custom(Some("Custodia".into())),
        timestamp: None,
        ..PdfOptions::default()
    };
    let pdf = typst_pdf::pdf(&paged, &options).map_err(|e| Error::Pdf(describe(&e)));
    // typst memoises layout across compilations; documents are one-offs,
    // so a long-running `serve` must not keep every one of them in memory.
    comemo::evict(0);
    pdf
}
