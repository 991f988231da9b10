//! Building plugins from source: `cargo build --target wasm32-wasip2` over
//! the plugins workspace, reproducibly (source paths are remapped), so a
//! sha256 pinned in `pack.toml` holds on any machine with the same
//! toolchain and lock file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (every member when empty) of the Cargo workspace in
/// `workspace`; returns the folder holding the components.
pub fn build(workspace: &Path, packages: &[String]) -> Result<PathBuf> {
    let workspace = workspace
        .canonicalize()
        .map_err(|e| Error::io(workspace, e))?;
    add_target();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    // Paths end up in panic messages inside the component: remap them so
    // the bytes do not depend on where the checkout or the registry is.
    let flags = [
        format!("--remap-path-prefix={}=/plugins", workspace.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ]
    .join("\u{1f}");
    let target_dir = workspace.join("target");
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(&workspace)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags)
        .env_remove("RUSTFLAGS");
    for package in packages {
        command.args(["--package", package]);
    }
    let status = command
        .status()
        .map_err(|e| Error::Pack(format!("cannot run cargo to build plugins: {e}")))?;
    if !status.success() {
        return Err(Error::Pack(format!(
            "building the plugins in `{}` failed ({status})",
            workspace.display()
        )));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// Installs the target if rustup is there; a missing target otherwise
/// shows up as cargo's own clear error.
fn add_target() {
    let _ = Command::new("rustup")
        .args(["target", "add", TARGET])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The package name of the crate in `dir`.
pub fn package_name(dir: &Path) -> Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = crate::source::read_text(&manifest)?;
    let value: toml::Table = toml::from_str(&text).map_err(|e| Error::File {
        path: manifest.clone(),
        message: e.message().to_owned(),
    })?;
    value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::File {
            path: manifest,
            message: "no `[package] name`".into(),
        })
}

/// The component cargo builds for package `name` in `artifacts`.
pub fn component(artifacts: &Path, name: &str) -> PathBuf {
    artifacts.join(format!("{}.wasm", name.replace('-', "_")))
}
