"""`reprorec audit`: where did every committed record come from?

For each record under results/ (or the folders given): is the commit it names in the history of
``--ref`` (default main)? If not (history rewritten by a rebase), are the code trees it names
(reprorec/ and its paper's folder, or common/ and papers/<p>/ before the package move) in that
history? Was it made from a dirty tree (see `records.dirty_files` for what counts)? Classes:

  ok               clean, and its commit or its code trees are in history: regenerable from a commit
  dirty            made from uncommitted code: its code may exist nowhere; re-run from a commit
  unknown-commit   clean, but neither its commit nor its trees are in history: re-run
  no-provenance    no code block, or git could not tell whether the tree was dirty

Exit status 1 when any record is not ok, so CI can require a clean results/.
"""
from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from .records import REPO_ROOT, results_dir

CLASSES = ("ok", "dirty", "unknown-commit", "no-provenance")


def history(ref: str) -> tuple[set[str], set[str]]:
    """(commit ids, object ids) reachable from ``ref``: trees of every commit are among the objects."""
    def git(*args):
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise ValueError(f"git {' '.join(args)}: {out.stderr.strip().splitlines()[-1] if out.stderr else 'failed'}")
        return out.stdout.split("\n")

    commits = {line for line in git("rev-list", ref) if line}
    objects = {line.split(" ", 1)[0] for line in git("rev-list", "--objects", ref) if line}
    return commits, objects


def classify(rec: dict, commits: set[str], objects: set[str]) -> tuple[str, str]:
    """(class, one-line reason) of one record."""
    code = rec.get("code")
    if not isinstance(code, dict):
        return "no-provenance", "no code block"
    commit, trees = code.get("commit"), {k: v for k, v in (code.get("trees") or {}).items() if v}
    in_history = commit in commits
    trees_found = bool(trees) and all(t in objects for t in trees.values())
    where = ("commit in history" if in_history else
             "commit not in history, code trees are" if trees_found else
             "neither commit nor code trees in history")
    if code.get("dirty") is None:
        return "no-provenance", f"dirty flag unknown; {where}"
    if code["dirty"]:
        files = code.get("dirty_files")
        return "dirty", f"made from uncommitted code ({', '.join(files[:3]) if files else 'files not recorded'}); {where}"
    if in_history or trees_found:
        return "ok", where
    return "unknown-commit", where


def records_under(roots: list[Path]):
    """(group, path, record) for every JSON under ``roots`` with a paper field or a code block (benchmark
    records included); group is the paper, else the first folder under the root."""
    for root in roots:
        for path in sorted(Path(root).rglob("*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(rec, dict) and ("code" in rec or "paper" in rec):
                yield rec.get("paper") or path.relative_to(root).parts[0], path, rec


def audit(roots: list[Path] | None = None, ref: str = "main") -> list[tuple[str, Path, str, str]]:
    """(group, path, class, reason) for every record."""
    commits, objects = history(ref)
    return [(group, path, *classify(rec, commits, objects))
            for group, path, rec in records_under(roots or [results_dir()])]


def add_parser(sub) -> None:
    p = sub.add_parser("audit", help="provenance of every record: commit in history? code trees? dirty?",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", help="folders of records (default: results/)")
    p.add_argument("--ref", default=None, help="history to check against (default: main, else HEAD)")
    p.add_argument("--list", action="store_true", help="name every record that is not ok, with the reason")
    p.set_defaults(func=cmd_audit)


def _default_ref() -> str:
    ok = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "main"], cwd=REPO_ROOT, capture_output=True)
    return "main" if ok.returncode == 0 else "HEAD"


def cmd_audit(args) -> int:
    ref = args.ref or _default_ref()
    rows = audit([Path(f) for f in args.folders] or None, ref)
    by_class = Counter(c for *_, c, _ in rows)
    by_group = Counter((g, c) for g, _, c, _ in rows)
    print(f"{len(rows)} records audited against {ref}: " + ", ".join(f"{by_class[c]} {c}" for c in CLASSES))
    for g in sorted({g for g, _ in by_group}):
        print(f"  {g}: " + ", ".join(f"{by_group[(g, c)]} {c}" for c in CLASSES if by_group[(g, c)]))
    if args.list:
        for _, path, c, why in rows:
            if c != "ok":
                print(f"{c:15s} {path}: {why}")
    return 0 if by_class["ok"] == len(rows) else 1
