#!/usr/bin/env bash
# reprorec test suite: sets up .venv if needed, starts a throw-away PostgreSQL on 127.0.0.1 for the
# distributed-tuning test (installing Debian's postgresql when run as root), runs pytest, stops the server.
# Data: the tests read ../shared/data (or $REPRO_DATA_DIR) and never download anything.
set -euo pipefail
cd "$(dirname "$0")"
source .ci/venv.sh
ensure_venv
export REPRO_OFFLINE=1 WANDB_MODE=offline
if [[ -z "${REPRO_DATA_DIR:-}" && -d ../shared/data ]]; then export REPRO_DATA_DIR="$(cd ../shared/data && pwd)"; fi
source .ci/postgres.sh
if [[ -z "${REPRO_PG_URL:-}" && "$*" != *"not slow"* ]]; then  # the PostgreSQL test is slow: the fast subset needs no server
  pg_start || echo "[test] could not start PostgreSQL: the PostgreSQL test will fail (CI) or skip (local)"
  trap pg_stop EXIT
fi
.venv/bin/python -m pytest -q tests "$@"
