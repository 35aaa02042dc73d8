# Install and start a throw-away PostgreSQL on 127.0.0.1 for tests; exports REPRO_PG_URL.
#   source .ci/postgres.sh; pg_start; ...; pg_stop
# As root the server runs as the `postgres` user (initdb refuses root); otherwise as the caller.
# The port is $REPRO_PG_PORT, else 55432, else (when taken) any free one.
_pg_as() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_start() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
  fi
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_DIR=$(mktemp -d /tmp/reprorec-pg.XXXX)
  [[ $(id -u) -eq 0 ]] && chown postgres "$PG_DIR"
  local port=${REPRO_PG_PORT:-55432}
  if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  fi
  _pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null || return 1
  _pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1" \
    -l "$PG_DIR/log" -w start >/dev/null || { cat "$PG_DIR/log" >&2; return 1; }
  _pg_as "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres reprorec || return 1
  export REPRO_PG_URL="postgresql://postgres@127.0.0.1:$port/reprorec"
  export PG_BIN="$bin"
  echo "[ci] PostgreSQL running at $REPRO_PG_URL"
}
pg_stop() {
  if [[ -n "${PG_DIR:-}" && -n "${PG_BIN:-}" ]]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    unset PG_DIR REPRO_PG_URL
  fi
}
