//! Hostile plugins for the test suite: one attribute provider whose `mode`
//! (pack.toml `config`) picks how it misbehaves. The host must fail closed
//! on each, in bounded time, and keep serving.

use std::sync::atomic::{AtomicU32, Ordering};

use custodia_plugin_sdk::{Pairs, Request, config, provider::Guest};

struct Hostile;

impl Guest for Hostile {
    fn provide(settings: Pairs, request: Request) -> Result<Pairs, String> {
        match config(&settings, "mode").unwrap_or("") {
            // Spins until the host's fuel or deadline stops it.
            "loop" => {
                let mut n: u64 = request.time.unsigned_abs();
                loop {
                    n = std::hint::black_box(
                        n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                    );
                }
            }
            // Allocates until the host's memory cap refuses to grow.
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
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

custodia_plugin_sdk::provider::export_provider!(Hostile);
