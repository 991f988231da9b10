//! The demo law firm for the core's unit tests.

use custodia_engine::exchange::OrgFile;

use crate::{Config, Custodia};

/// A core on a fresh SQLite store in `dir` with the shipped packs, and the
/// demo law firm's file (not yet imported).
pub(crate) async fn open_with_law_firm(dir: &std::path::Path) -> (Custodia, OrgFile) {
    let mut config = Config::new(format!("sqlite://{}", dir.join("t.db").display()));
    config.packs = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/packs").into());
    let app = Custodia::open(&config).await.expect("open");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/demo/bufete-ruiz.toml"
    );
    let file = OrgFile::read(std::path::Path::new(path)).expect("demo");
    (app, file)
}
