//! The hostile plugins of `hostile`, built on the SDK's `no_std` runtime
//! as the shipped plugins are: its bump allocator grows memory until the
//! host's cap refuses, and a panic traps without a word to stderr.

#![no_std]

extern crate alloc;

custodia_plugin_sdk::no_std_runtime!();

// The same source as `hostile`, so that both kinds of plugin misbehave
// alike.
#[path = "../../hostile/src/modes.rs"]
mod modes;

use modes::Hostile;

custodia_plugin_sdk::provider::export_provider!(Hostile);
