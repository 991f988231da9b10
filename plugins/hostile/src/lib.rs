//! Hostile plugins for the test suite: one attribute provider whose `mode`
//! (pack.toml `config`) picks how it misbehaves. The host must fail closed
//! on each, in bounded time, and keep serving.

// The standard library on purpose: its panic writes to stderr, and its
// allocator is the one whose growth the host caps.
extern crate alloc;

mod modes;

use modes::Hostile;

custodia_plugin_sdk::provider::export_provider!(Hostile);
