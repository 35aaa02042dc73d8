# Install and start a throw-away PostgreSQL on 127.0.0.1 for tests; exports REPRO_PG_URL.
pg_start() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
  fi
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_DIR=$(mktemp -d /tmp/reprorec-pg.XXXX)
  chown postgres "$PG_DIR" 2>/dev/null || true
  local port=${REPRO_PG_PORT:-55432}
  runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null || return 1
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1" \
    -l "$PG_DIR/log" -w start >/dev/null || return 1
  runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres reprorec || return 1
  export REPRO_PG_URL="postgresql://postgres@127.0.0.1:$port/reprorec"
  export PG_BIN="$bin"
  echo "[ci] PostgreSQL running at $REPRO_PG_URL"
}
pg_stop() {
  if [[ -n "${PG_DIR:-}" && -n "${PG_BIN:-}" ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
