# Create .venv the one supported way: torch==2.13.0 first (the CPU wheel; a bare `torch` would pull
# gigabytes of CUDA packages), then the suite with its dev extras. Sourced by reproduce.sh and test.sh.
ensure_venv() {
  if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c "import reprorec, lightning" 2>/dev/null; then
    echo "[setup] creating .venv (torch==2.13.0 first, then reprorec[dev])"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q "torch==2.13.0"
    .venv/bin/python -m pip install -q -e ".[dev]"
  fi
}
