# Debian packages for test.sh and bench.sh (sourced, not run): the caller
# adds what this machine lacks to `need_apt`, then `install_missing`
# installs it, with PostgreSQL if absent, and sets `pg_bin` to the folder
# of PostgreSQL's binaries. Needs a `log` function.

need_apt=()

# The newest installed PostgreSQL's binaries, in `pg_bin`; false if none.
find_pg_bin() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]
}

install_missing() {
  find_pg_bin || need_apt+=(postgresql)
  [ ${#need_apt[@]} -gt 0 ] || return 0
  log "installing ${need_apt[*]}"
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
  find_pg_bin
}
