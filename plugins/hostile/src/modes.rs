//! The misbehaviours, shared by `hostile` (built on the standard library)
//! and `hostile-bare` (built on the SDK's `no_std` runtime), so that the
//! host's limits are tested against both kinds of plugin.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use custodia_plugin_sdk::{Pairs, Request, config, provider::Guest};

/// The hostile provider.
pub struct Hostile;

impl Guest for Hostile {
    fn provide(settings: Pairs, request: Request) -> Result<Pairs, String> {
        match config(&settings, "mode").unwrap_or("") {
            // Spins until the host's fuel or deadline stops it.
            "loop" => {
                let mut n: u64 = request.time.unsigned_abs();
                loop {
                    n = core::hint::black_box(
                        n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                    );
                }
            }
            // Allocates until the host's memory cap refuses to grow.
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(core::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            // A WebAssembly trap.
            "trap" => core::arch::wasm32::unreachable(),
            // A Rust panic (which also writes to stderr).
            "panic" => panic!("hostile plugin panics"),
            // Answers, but with attributes it never declared and a
            // value far beyond the size limit.
            "garbage" => Ok((0..100)
                .map(|i| (format!("undeclared-{i}"), "x".repeat(4_096)))
                .collect()),
            // Counts its calls in its own memory: a fresh instance for
            // every call must answer 1, every time.
            "remember" => {
                static CALLS: AtomicU32 = AtomicU32::new(0);
                let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
                Ok(vec![("ok".into(), calls.to_string())])
            }
            // Behaves.
            _ => Ok(vec![("ok".into(), "yes".into())]),
        }
    }
}
