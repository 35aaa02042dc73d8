#!/usr/bin/env bash
# reprorec: regenerate the papers' results from a clean clone and check them against the committed ones.
#
#   ./reproduce.sh all                      every paper, quick profile, 3 seeds
#   ./reproduce.sh r3 spider --profile full  chosen papers, paper-scale protocol (5 seeds)
#   ./reproduce.sh all --seeds 1            one smoke pass
#
# Every run is regenerated into reproduced/<commit>/ (records, leaderboards), never skipped because a
# committed record exists; it ends with report.md there: each record reproduced exactly / within
# tolerance / NOT, by how much and the likely cause. Run it again after a kill: finished runs are kept,
# a partly trained one resumes from its checkpoint in runs/.
# Options: --profile quick|full (default quick), --seeds N (default 3 quick / 5 full),
#          --only TEXT (only configs whose file name contains TEXT), --out DIR (instead of reproduced/<commit>/),
#          --reuse (write into results/, skip experiments recorded there, no report),
#          --rerun (re-run experiments whose records exist in the output), --data-dir DIR.
# Data: $REPRO_DATA_DIR (or --data-dir) points at the datasets; set REPRO_OFFLINE=1 to forbid downloads.
# Threads: REPRO_THREADS (default 1: fastest for these small models on a shared machine; recorded).
# Set-up: creates .venv (torch==2.13.0 first, then the suite) unless REPRO_NO_VENV=1 or it exists.
# Keeps going past a failed experiment, then exits non-zero naming it.
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" || $# -eq 0 ]]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -eq 0 ]] && exit 2 || exit 0
fi

data_dir=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data-dir) [[ $# -ge 2 ]] || { echo "error: --data-dir needs a directory" >&2; exit 2; }
                data_dir="$2"; shift 2 ;;
    --data-dir=*) data_dir="${1#*=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

if [[ -n "$data_dir" && ! -d "$data_dir" ]]; then
  echo "error: --data-dir ${data_dir}: no such directory" >&2
  exit 2
fi

if [[ "${REPRO_NO_VENV:-0}" != "1" ]]; then
  source .ci/venv.sh
  ensure_venv
  PY=.venv/bin/python
else
  PY=${PYTHON:-python3}
fi

if [[ -z "$data_dir" && -z "${REPRO_DATA_DIR:-}" && -d ../shared/data ]]; then
  data_dir=../shared/data
  echo "[reproduce] using the data directory ../shared/data"
fi
[[ -n "$data_dir" ]] && export REPRO_DATA_DIR="$(cd "$data_dir" && pwd)"

exec "$PY" -m reprorec.cli reproduce "${args[@]}"
