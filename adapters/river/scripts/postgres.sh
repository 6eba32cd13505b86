#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the River adapter's tests.
#
#   eval "$(scripts/postgres.sh start)"   # prints export LOCALTASKS_PG_URL=... and LOCALTASKS_PG_DIR=...
#   scripts/postgres.sh stop "$LOCALTASKS_PG_DIR"
#
# The server listens on a Unix socket only, in a temporary directory, and
# keeps its data there. PostgreSQL refuses to run as root, so as root the
# server runs as the postgres user. It needs Debian's postgresql package
# (apt-get install postgresql); set PG_BIN to use binaries elsewhere.
set -euo pipefail

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$d" ]; then
    echo "postgres.sh: no PostgreSQL found in /usr/lib/postgresql: apt-get install postgresql, or set PG_BIN" >&2
    exit 1
  fi
  echo "$d"
}

# as runs a command as the server's user: postgres under root, else us.
as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/localtasks-pg.XXXXXX)
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  as "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c max_connections=300" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  as "$bin/psql" -h "$dir" -U postgres -d postgres -qc "CREATE DATABASE localtasks" >/dev/null
  echo "export LOCALTASKS_PG_DIR='$dir'"
  echo "export LOCALTASKS_PG_URL='postgres://postgres@/localtasks?host=$dir&sslmode=disable'"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  bin=$(pg_bin)
  as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: postgres.sh start | stop DIR" >&2
  exit 2
  ;;
esac
