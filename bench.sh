#!/usr/bin/env bash
# Reruns every benchmark on this machine and prints BENCHMARKS.md's summary
# table: each figure beside its peer measured in the same run (Cedar, a
# naive writer, lettre's own pool, openssl, the raw cipher) and the goal it
# is held to. `./bench.sh --write` also puts the table into BENCHMARKS.md,
# between its `bench.sh` markers. Each bench's whole output is kept in
# target/bench/. Run it on an otherwise idle machine: about 20 minutes here.
# `./bench.sh [--write] audit vault` reruns only the benches named, and
# builds the table from their new outputs and the others' kept ones (the
# table's header then lists when each part was run).
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n==> %s\n' "$*" >&2; }

write=false
if [ "${1:-}" = "--write" ]; then
  write=true
  shift
fi
all=(rules plugins audit mail dossier vault pages rights)
chosen=("$@")
[ ${#chosen[@]} -eq 0 ] && chosen=("${all[@]}")
for name in "${chosen[@]}"; do
  [[ " ${all[*]} " == *" $name "* ]] || { echo "bench.sh: no bench \`$name\` (benches: ${all[*]})" >&2; exit 2; }
done

# What the benches need beyond the build: PostgreSQL for the audit
# writer's figures, postfix's smtp-sink as the mail sink, openssl for the
# signing calibration.
. scripts/packages.sh
[ -x /usr/sbin/smtp-sink ] || need_apt+=(postfix)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
install_missing

. scripts/postgres.sh
trap stop_postgres EXIT
# Durable, as the figures claim: fsync on.
start_postgres on

out=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$out"
log "building every benchmark (release, once)"
cargo bench --workspace --locked --no-run

# One feature set for all: each bench picked out of the workspace build
# above, never rebuilt per package.
# Each bench starts with the disk idle: without the `sync`, the writeback
# of what the previous bench wrote (the dossier's and the audit log's
# millions of rows) runs under the next one's fsyncs and timings.
bench() {
  local name=$1
  log "bench: $name"
  sync
  cargo bench --workspace --locked --bench "$name" 2>&1 | tee "$out/$name.txt"
}
# Which benches this run reruns: the table's header tells a partial rerun
# from a whole run by it.
printf '%s\n' "${chosen[@]}" > "$out/last-run.list"
for name in "${chosen[@]}"; do
  case $name in
    # The issue's measure: at most 8 connections.
    mail) MAIL_BENCH_CONCURRENCY=8 bench mail ;;
    *) bench "$name" ;;
  esac
done

printf '\n'
if $write; then
  python3 scripts/bench_table.py "$out" --write BENCHMARKS.md
  log "BENCHMARKS.md updated"
else
  python3 scripts/bench_table.py "$out"
fi
