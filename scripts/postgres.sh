# A throwaway PostgreSQL cluster on a free port, for test.sh and bench.sh
# (sourced, not run). Needs `pg_bin` (the folder of initdb and pg_ctl) and
# a `log` function. `start_postgres FSYNC` starts it (FSYNC: `off` for
# tests, `on` for benchmarks whose figures must be durable) and exports
# CUSTODIA_TEST_PG_URL; `stop_postgres` removes it. `pg_dir` is a scratch
# folder the caller may use too; it goes with the cluster.

start_postgres() {
  local fsync=$1
  pg_dir=$(mktemp -d /tmp/custodia-pg.XXXXXX)
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  log "starting PostgreSQL on port $pg_port (fsync $fsync)"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=$fsync" start >/dev/null
  export CUSTODIA_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
}

stop_postgres() {
  [ -n "${pg_dir:-}" ] || return 0
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
