"""Did a re-run reproduce a record? The tolerance policy, the likely cause of a difference, and the report.

Policy (one place, used by `reprorec verify` and `reprorec reproduce`):
- **exact** (every metric bit-identical) when the two runs had the same platform (CPU model, GPU,
  machine), the same torch thread count and the same package versions: then nothing but the code,
  config or data could move a number, and any difference is a real one.
- **relative tolerance** `REL_TOL` otherwise: a different thread count or CPU changes the order of
  float sums (measured: 1 vs 2 threads moves quick-profile metrics by up to 5e-7), and different
  library versions change kernels. 1e-4 is far above such rounding and far below any effect a
  leaderboard reports (the smallest gaps between its rows are ~1e-3).
The config hash must match in both cases; a code or data difference is reported as the likely cause.
"""
from __future__ import annotations

import json
from pathlib import Path

from .records import check_record

REL_TOL = 1e-4
PLATFORM_KEYS = ("cpu", "gpu", "machine")


def conditions(old: dict, new: dict) -> dict[str, list[str]]:
    """How the circumstances of two records differ, by kind: threads, platform, versions, code, data."""
    out: dict[str, list[str]] = {"threads": [], "platform": [], "versions": [], "code": [], "data": []}
    oh, nh = old.get("hardware") or {}, new.get("hardware") or {}
    if oh.get("torch_threads") is not None and nh.get("torch_threads") is not None \
            and oh["torch_threads"] != nh["torch_threads"]:
        out["threads"].append(f"recorded with {oh['torch_threads']} threads, now {nh['torch_threads']}")
    for k in PLATFORM_KEYS:
        if k in oh and k in nh and oh[k] != nh[k]:
            out["platform"].append(f"{k} {oh[k]} -> {nh[k]}")
    oe, ne = old.get("env") or {}, new.get("env") or {}
    for k in sorted(set(oe) & set(ne)):
        if oe[k] != ne[k]:
            out["versions"].append(f"{k} {oe[k]} -> {ne[k]}")
    oc, nc = old.get("code") or {}, new.get("code") or {}
    for name in sorted(set(oc.get("trees") or {}) & set(nc.get("trees") or {})):
        if oc["trees"][name] != nc["trees"][name]:
            out["code"].append(f"{name}/ changed since the record ({str(oc['trees'][name])[:10]} -> "
                               f"{str(nc['trees'][name])[:10]})")
    if not out["code"] and (oc.get("trees") or {}).keys() != (nc.get("trees") or {}).keys() and oc.get("commit") \
            and oc.get("commit") != nc.get("commit"):
        out["code"].append(f"commit {str(oc['commit'])[:10]} -> {str(nc.get('commit'))[:10]} (layout changed)")
    if oc.get("dirty"):
        out["code"].append("the record was made from uncommitted code")
    of, nf = (old.get("data") or {}).get("files") or {}, (new.get("data") or {}).get("files") or {}
    for k in sorted(set(of) | set(nf)):
        if of.get(k) != nf.get(k):
            out["data"].append(f"data file {k} differs")
    return out


def policy(cond: dict[str, list[str]], atol: float | None = None) -> tuple[str, float, float, str]:
    """(name, absolute tol, relative tol, why) for two runs differing by ``cond``."""
    if atol:
        return "absolute", atol, 0.0, f"absolute tolerance {atol:g} (--tolerance)"
    reasons = cond["threads"] + cond["platform"] + cond["versions"]
    if not reasons:
        return "exact", 0.0, 0.0, "exact: same platform, threads and package versions"
    return "relative", 0.0, REL_TOL, f"relative tolerance {REL_TOL:g}, because " + "; ".join(reasons)


def _pairs(old: dict, new: dict):
    for split, ms in (old.get("metrics") or {}).items():
        for k, v in ms.items():
            yield f"{split}/{k}", v, (new.get("metrics") or {}).get(split, {}).get(k)


def compare(old: dict, new: dict, atol: float | None = None) -> dict:
    """Status 'exact' | 'within' | 'not', the largest absolute and relative differences, the policy,
    and the likely cause when not exact."""
    cond = conditions(old, new)
    name, a_tol, r_tol, why = policy(cond, atol)
    worst_abs = worst_rel = 0.0
    ok = True
    diffs = []
    for key, v, w in _pairs(old, new):
        if not isinstance(v, (int, float)) or not isinstance(w, (int, float)):
            worst_abs = worst_rel = float("inf")
            ok = False
            diffs.append((key, v, w, float("inf")))
            continue
        d = abs(w - v)
        rel = d / max(abs(v), abs(w)) if d else 0.0
        worst_abs, worst_rel = max(worst_abs, d), max(worst_rel, rel)
        ok &= d <= a_tol + r_tol * max(abs(v), abs(w))
        diffs.append((key, v, w, d))
    same_hash = old.get("config_hash") == new.get("config_hash")
    if not same_hash:
        ok = False
    status = "exact" if same_hash and worst_abs == 0.0 else ("within" if ok else "not")
    causes = []
    if not same_hash:
        causes.append(f"config hash differs ({old.get('config_hash')} -> {new.get('config_hash')})")
    causes += [f"the record fails its checks: {p}" for p in check_record(old)] if "metrics" in old else []
    causes += cond["code"] + cond["data"] + cond["threads"] + cond["platform"] + cond["versions"]
    if status != "exact" and not causes:
        causes.append("unknown: same code, data, threads, platform and versions (nondeterminism?)")
    return {"status": status, "max_abs": worst_abs, "max_rel": worst_rel, "policy": name, "why": why,
            "causes": causes, "diffs": diffs, "same_hash": same_hash}


VERDICT = {"exact": "reproduced exactly", "within": "reproduced within tolerance", "not": "NOT reproduced",
           "missing": "no committed record to compare"}


def report(pairs: list[tuple[str, dict | None, dict]]) -> tuple[str, dict]:
    """Markdown report and JSON summary for (name, committed record or None, regenerated record) triples:
    NOT reproduced first, then within tolerance, exact, and those without a committed record."""
    lines = ["# Reproduction report", "",
             f"Regenerated records against the committed ones. Policy: exact when platform, threads and package "
             f"versions match; relative tolerance {REL_TOL:g} otherwise (see reprorec/reproduction.py).", ""]
    totals = {k: 0 for k in VERDICT}
    items, by_status = [], {k: [] for k in ("not", "within", "exact", "missing")}
    for name, old, new in pairs:
        if old is None:
            totals["missing"] += 1
            items.append({"name": name, "status": "missing"})
            by_status["missing"].append(f"- {name}")
            continue
        c = compare(old, new)
        totals[c["status"]] += 1
        items.append({"name": name, "status": c["status"], "max_abs": c["max_abs"], "max_rel": c["max_rel"],
                      "policy": c["why"], "causes": c["causes"]})
        by = "" if c["status"] == "exact" else f" (max |diff| {c['max_abs']:.3g}, max rel {c['max_rel']:.3g})"
        cause = f"; likely cause: {'; '.join(c['causes'][:4])}" if c["status"] != "exact" and c["causes"] else ""
        by_status[c["status"]].append(f"- {name}{by}{cause}")
    for status, entries in by_status.items():
        if entries:
            lines += [f"## {VERDICT[status]} ({len(entries)})", "", *entries, ""]
    total = ", ".join(f"{n} {VERDICT[k]}" for k, n in totals.items())
    lines += [f"Totals: {total} (of {len(pairs)})."]
    return "\n".join(lines) + "\n", {"totals": totals, "items": items, "rel_tol": REL_TOL}


def load(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- reprorec reproduce / verify

DEFAULT_SEEDS = {"quick": 3, "full": 5}


def add_parsers(sub) -> None:
    from .run_options import add_trainer_args

    p = sub.add_parser("reproduce", help="regenerate every experiment of the chosen papers and compare with results/")
    p.add_argument("papers", nargs="*", default=["all"])
    p.add_argument("--profile", default="quick", help="quick, full, or a profile some configs define (SPIDER's "
                   "prefix): only those experiments run")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: 3 quick, 5 otherwise)")
    p.add_argument("--out", help="output folder (default: reproduced/<commit>/; records, leaderboards, report)")
    p.add_argument("--reuse", action="store_true", help="write into results/ and skip experiments whose "
                   "records exist there (no comparison)")
    p.add_argument("--rerun", action="store_true", help="re-run experiments whose records exist in the output")
    p.add_argument("--only", help="only experiments whose config file name contains this text")
    add_trainer_args(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("verify", help="re-run result records and compare their metrics (tolerance policy: "
                       "exact when platform, threads and versions match, relative otherwise)")
    p.add_argument("records", nargs="+", help="record files, or folders (one record per dataset and method in it)")
    p.add_argument("--all", action="store_true", help="with a folder: every record in it, not one per method")
    p.add_argument("--tolerance", type=float, default=None, help="absolute tolerance instead of the policy")
    add_trainer_args(p)
    p.set_defaults(func=cmd_verify)


def default_out() -> Path:
    """reproduced/<commit>/ (+ a code fingerprint when uncommitted): a rerun after a kill continues there."""
    from .records import REPO_ROOT, code_state, source_fingerprint

    state = code_state()
    name = (state["commit"] or "nogit")[:12]
    if state["dirty"] is not False:
        name += f"-dirty-{source_fingerprint('reprorec')[:8]}"
    return REPO_ROOT / "reproduced" / name


def cmd_reproduce(args):
    import os
    from dataclasses import replace

    from . import registry
    from .experiment import reproduce
    from .leaderboard import build
    from .records import check_writable, output_results_dir, results_dir
    from .run_options import context_from_args

    all_papers = registry.papers()
    chosen = all_papers if args.papers in (["all"], []) else args.papers
    unknown = [p for p in chosen if p not in all_papers]
    if unknown:
        raise KeyError(f"unknown paper(s) {unknown}; known: {', '.join(all_papers)}")
    seeds = list(range(args.seeds if args.seeds is not None else DEFAULT_SEEDS.get(args.profile, DEFAULT_SEEDS["full"])))
    committed = results_dir()
    if args.reuse:
        out_results, out_boards, out = output_results_dir(), None, None
    else:
        out = Path(args.out) if args.out else default_out()
        out_results, out_boards = out / "results", out / "leaderboards"
        print(f"[reproduce] regenerating into {out} (records in {out_results}); comparing with {committed}")
    check_writable(out_results)
    ctx = replace(context_from_args(args), resume=True)  # a partly trained run continues (see experiment.py)
    outcomes = reproduce(chosen, args.profile, seeds, ctx=ctx, rerun=args.rerun, only=args.only,
                         results_root=out_results)
    boards = build(out_results, out_boards)
    failed = [o for o in outcomes if o.status == "failed"]
    done = sum(o.status == "done" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    where = os.path.relpath(boards[-1].parent) if boards else "leaderboards/"
    print(f"\n{done} run, {skipped} already done, {len(failed)} failed; leaderboards rebuilt in {where}")
    if failed:
        print("failed experiments (tracebacks in runs/failures.log):")
        for o in failed:
            print(f"  {o.name}: {o.error}")
    if out is not None:
        pairs = []
        for o in outcomes:
            if o.status == "failed" or o.path is None:
                continue
            rel = Path(o.path).relative_to(out_results)
            pairs.append((str(rel), load(committed / rel), o.record))
        text, summary = report(pairs)
        (out / "report.md").write_text(text)
        (out / "report.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        print("\n" + text + f"(written to {out / 'report.md'})")
    return 1 if failed else 0


def _records_to_verify(paths: list[str], every: bool) -> list[Path]:
    """Record files as given; a folder stands for one record per (paper, dataset, method) under it (the
    lowest seed, quick profile where there is one, since it is the cheapest), or all of them with --all."""
    from .records import iter_records

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
            continue
        groups: dict[tuple, list[tuple]] = {}
        for rec in iter_records(p):
            path = Path(rec["_path"])
            if "metrics" not in rec or "seed" not in rec:
                continue
            key = (rec["paper"], rec["dataset"], rec["method"])
            groups.setdefault(key, []).append((rec["profile"] != "quick", rec["seed"], str(path), path))
        for key in sorted(groups):
            picks = sorted(groups[key])
            out.extend(x[-1] for x in (picks if every else picks[:1]))
    return out


def _verify_one(path: Path, args) -> dict:
    from . import registry
    from .experiment import run_experiment
    from .records import REPO_ROOT
    from .run_options import context_from_args

    rec = json.loads(path.read_text())
    cfg_path = (REPO_ROOT / rec["config_file"]) if rec.get("config_file") else None
    if cfg_path is not None and not cfg_path.exists() and rec["config_file"].startswith("papers/"):
        cfg_path = REPO_ROOT / "reprorec" / rec["config_file"]  # records made before papers/ moved into the package
    if cfg_path is None or not cfg_path.exists():
        cfg_path = registry.find_config(rec["paper"], rec["dataset"], rec["method"])
    overrides = {k: v for k, v in rec["config"].items() if k not in ("profile",)}
    out = run_experiment(cfg_path, profile=rec["profile"], seed=rec["seed"], overrides=overrides,
                         ctx=context_from_args(args), write=False)
    c = compare(rec, out.record, atol=args.tolerance)
    for key, v, w, d in c["diffs"]:
        print(f"{key}: recorded {v!r} now {w!r} diff {d:.3g}")
    print(f"config hash {'matches' if c['same_hash'] else 'DIFFERS'}; max |diff| = {c['max_abs']:.3g}")
    print(f"tolerance: {c['why']}")
    print(f"verdict: {VERDICT[c['status']]}" + (f"; likely cause: {'; '.join(c['causes'])}"
                                                 if c["status"] != "exact" and c["causes"] else ""))
    return c


def cmd_verify(args):
    """Re-run records in this one process, one after another: a number that depends on what ran before
    it in the process (a cache, a leaked random state) fails here as it would for a user."""
    import sys

    paths = _records_to_verify(args.records, args.all)
    if not paths:
        print("error: no result records found", file=sys.stderr)
        return 2
    failed = []
    summary = len(paths) > 1 or any(Path(p).is_dir() for p in args.records)
    counts = {k: 0 for k in ("exact", "within", "not")}
    for i, path in enumerate(paths, 1):
        if summary:
            print(f"[{i}/{len(paths)}] {path}", flush=True)
        c = _verify_one(path, args)
        counts[c["status"]] += 1
        if c["status"] == "not":
            failed.append(f"{path} (max |diff| {c['max_abs']:.3g}{'' if c['same_hash'] else ', config hash differs'})")
    if summary:
        print(f"{len(paths) - len(failed)}/{len(paths)} records reproduced ({counts['exact']} exactly, "
              f"{counts['within']} within tolerance)")
        for f in failed:
            print(f"  NOT reproduced: {f}")
    return 1 if failed else 0
