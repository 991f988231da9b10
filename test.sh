#!/usr/bin/env bash
# Custodia's whole test suite, on a fresh machine: starts what the tests
# need (a throwaway PostgreSQL cluster on a free port, the aiosmtpd SMTP
# server the mail tests start), runs formatting,
# lints and every test on SQLite and PostgreSQL, then cleans up.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*" >&2; }

# --- toolchain -------------------------------------------------------------
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# WebAssembly plugins are components built for WASI 0.2.
rustup target add wasm32-wasip2 >/dev/null

. scripts/packages.sh
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need_apt+=(python3-aiosmtpd)
# Postfix's smtp-sink: a real server that offers PIPELINING.
[ -x /usr/sbin/smtp-sink ] || need_apt+=(postfix)
# dkimpy verifies our DKIM signatures independently.
/usr/bin/python3 -c 'import dkim' >/dev/null 2>&1 || need_apt+=(python3-dkim)
# The web UI's tests drive a real headless Chromium over WebDriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# pdftotext reads the PDF reports back.
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
# openssl makes the TLS test's certificates, curl is its client.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The tests signal processes with kill(1) (SIGHUP, SIGKILL), not the shell builtin.
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || need_apt+=(procps)
install_missing

# --- PostgreSQL ------------------------------------------------------------
. scripts/postgres.sh
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" >/dev/null 2>&1 || true
  stop_postgres
}
trap cleanup EXIT
start_postgres off

# --- S3-compatible server (moto) for the blob store ----------------------
# Installed with the python3 on PATH: Debian's /usr/bin/python3 refuses pip.
python3 -c 'import moto.server' >/dev/null 2>&1 || {
  log "installing moto[server]"
  python3 -m pip install -q 'moto[server]'
}
s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting moto's S3 server on port $s3_port"
python3 -m moto.server -H 127.0.0.1 -p "$s3_port" >"$pg_dir/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break
  sleep 0.2
done
export CUSTODIA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"

# --- checks and tests ------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "plugins: build from source, reproducibly, and compare with the pins"
cargo run --locked --quiet -- --packs plugins/packs plugins build
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code --stat -- plugins/packs
fi
(cd plugins && cargo fmt --all -- --check)

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests (SQLite and PostgreSQL)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

log "all tests passed"
