//! Links the plugin with a 64 KiB stack instead of Rust's 1 MiB. Its memory
//! is then 192 KiB, not 1.1 MiB, and each call scans and resets less of it
//! (BENCHMARKS.md, "Plugin calls that borrow"). A plugin that needs a
//! deeper stack leaves this out.
fn main() {
    println!("cargo::rustc-link-arg-cdylib=-zstack-size=65536");
}
