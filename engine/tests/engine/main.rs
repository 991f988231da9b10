//! The engine's behaviour seen from outside, on SQLite and PostgreSQL.
//! One test binary; `./test.sh` provides the PostgreSQL server.

#![allow(clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod audit;
mod plugins;
mod rules;
mod session;
mod store;

use custodia_engine::{Backend, Store};

/// Runs one async test body against each backend, as two named tests.
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($store:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports, reason = "each test body uses a different subset")]
            use super::*;

            async fn body($store: custodia_engine::Store) $body

            #[tokio::test]
            async fn sqlite() {
                let (store, _guard) = $crate::fresh_store(custodia_engine::Backend::Sqlite).await;
                body(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (store, _guard) = $crate::fresh_store(custodia_engine::Backend::Postgres).await;
                body(store).await;
            }
        }
    )*};
}

/// The URL a test store was opened with (tests open it again directly).
pub fn url_of(store: &Store) -> String {
    URLS.with(|urls| urls.borrow().get(store.display_url()).cloned())
        .expect("store opened by fresh_store")
}

thread_local! {
    static URLS: std::cell::RefCell<std::collections::HashMap<String, String>> = Default::default();
}

/// A migrated, empty store and what keeps it alive.
pub async fn fresh_store(backend: Backend) -> (Store, Option<tempfile::TempDir>) {
    let (url, guard) = custodia_engine::testkit::scratch_database(backend).await;
    let store = Store::init(&url)
        .await
        .expect("initialise store")
        .with_vault(std::sync::Arc::new(custodia_engine::Vault::ephemeral()));
    URLS.with(|urls| {
        urls.borrow_mut()
            .insert(store.display_url().to_owned(), url)
    });
    (store, guard)
}

pub use custodia_engine::testkit::{demo_org as demo_file, demo_path};
