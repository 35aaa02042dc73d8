# Create .venv the one supported way: torch==2.13.0 first (the CPU wheel; a bare `torch` would pull
# gigabytes of CUDA packages), then the suite with its dev extras. Sourced by reproduce.sh and test.sh.
# Each step says what it installs, and pip's "Collecting ..." lines name every package as it is fetched.
_pip_named() {  # pip install, showing one line per package instead of pip's full log
  .venv/bin/python -m pip install --progress-bar off "$@" 2>&1 \
    | { grep --line-buffered -E '^(Collecting|Successfully installed|ERROR|error)' | sed -u 's/^/[setup]   /' || true; }
}
ensure_venv() {
  if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c "import reprorec, lightning" 2>/dev/null; then
    echo "[setup] creating .venv (about 3-4 minutes on a fresh machine)"
    python3 -m venv .venv
    echo "[setup] 1/3 upgrading pip"
    .venv/bin/python -m pip install -q --upgrade pip
    echo "[setup] 2/3 torch==2.13.0 (the CPU wheel, ~200 MB)"
    _pip_named "torch==2.13.0"
    echo "[setup] 3/3 reprorec[dev] and its dependencies: $(python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(", ".join(d.split(">")[0].split("<")[0].split("=")[0] for d in p["dependencies"] + p["optional-dependencies"]["dev"]))' 2>/dev/null || echo 'see pyproject.toml')"
    _pip_named -e ".[dev]"
    .venv/bin/python -c "import reprorec, lightning" || { echo "[setup] installation failed" >&2; return 1; }
    echo "[setup] done"
  fi
}
