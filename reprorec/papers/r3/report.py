"""Tables, paired significance tests and the λ plot for the R3 reproduction, from results/ only.

  python -m reprorec.papers.r3.report --profile full [--readme]
writes leaderboards/r3/results-<profile>.md, leaderboards/r3/significance-<profile>.json and the plots
leaderboards/r3/lambda-<profile>.png and missing-text-<profile>.png; --readme also rewrites the block
between README.md's results markers (default rows, tuned vs default, λ study, missing text), which a
test compares with the records so the README cannot drift from them.

Pairing: seed s of every method uses the same split (split seed = run seed; checked through the
split fingerprint), so R3 and a baseline are compared seed by seed by the claims layer
(reprorec.claims.compare: effect, CI and p over seeds and, where records carry bootstrap replicates,
test rows). The verdicts themselves come from claims.yaml (`reprorec claims`).
"""
from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from reprorec.claims import compare, mean_std
from reprorec.papers import report_dir
from reprorec.records import iter_records, results_dir

R3_METHODS = ("r3", "r3-bow")
TEXT_AWARE = ("deepconn", "narre")
ORDER = ("global-mean", "bias", "biased-mf", "neumf", "deepconn", "narre", "r3", "r3-bow")


def collect(profile: str) -> tuple[dict, dict]:
    """(dataset, method) -> {seed: record} for main runs; (dataset, λ) -> {seed: record} for the sweep."""
    main, sweep = defaultdict(dict), defaultdict(dict)
    for r in iter_records(results_dir() / "r3"):
        if r["profile"] != profile or r.get("tuned_from"):
            continue
        study = (r["config"].get("study") or {}).get("name")
        if r.get("trial") is None and study is None:
            main[(r["dataset"], r["method"])][r["seed"]] = r
        if study == "lambda":  # reprorec sweep r3 lambda (configs/studies/lambda.yaml)
            sweep[(r["dataset"], float(r["config"]["model"]["lam"]))][r["seed"]] = r
    for (ds, method), recs in list(main.items()):  # λ = 0 is NeuMF; the default λ is the r3 run itself
        if method == "neumf":
            sweep.setdefault((ds, 0.0), {}).update(recs)
        if method == "r3":
            for seed, r in recs.items():
                sweep[(ds, float(r["config"]["model"]["lam"]))].setdefault(seed, r)
    return main, sweep


def collect_tuned(profile: str) -> dict:
    """(dataset, method) -> {seed: record} for the final runs of a tuned config (`reprorec tune-budget`)."""
    tuned = defaultdict(dict)
    for r in iter_records(results_dir() / "r3"):
        if r["profile"] == profile and r.get("tuned_from") and r.get("trial") is None \
                and not (r["config"].get("study") or {}).get("name"):
            tuned[(r["dataset"], r["method"])][r["seed"]] = r
    return tuned


def _test(r, metric="mse") -> float:
    return r["metrics"]["test"][metric]


def paired(a: dict, b: dict) -> dict:
    """MSE(a) − MSE(b) over the seeds both ran on the same split: reprorec.claims.compare, JSON-ready."""
    c = compare(a, b, "mse")
    return {"n": c["n"], "mean_diff": c["mean"], "wins": c["n"] - c["wins"] - int((c["d"] == 0).sum()),
            "ci": list(c["ci"]), "p": c["p"], "uncertainty": "seeds + test rows" if c["rows"] else "seeds only"}


def main_table(main: dict) -> tuple[list[str], list[str], str]:
    datasets = sorted({ds for ds, _ in main})
    methods = [m for m in ORDER if any((ds, m) in main for ds in datasets)]
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for m in methods:
        cells = []
        for ds in datasets:
            recs = main.get((ds, m))
            if not recs:
                cells.append("—")
                continue
            mu, sd = mean_std([_test(r) for r in recs.values()])
            best = min(mean_std([_test(r) for r in main[(ds, mm)].values()])[0] for mm in methods if (ds, mm) in main)
            cell = f"{mu:.4f} ± {sd:.4f} (n={len(recs)})"
            cells.append(f"**{cell}**" if mu == best else cell)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return datasets, methods, "\n".join(lines)


def tuned_table(main: dict, tuned: dict) -> str:
    """Per category with tuned runs: default vs tuned test MSE, the paired change, and which trial won
    (Optuna's trial number, which counts pruned trials too). Bias-only is the sanity line: its tuned row
    where it has one, else its default row.

    The change is tuned − default over the seeds both ran (seed s = the same split for both), so a
    negative number is what tuning bought on test; tuning itself saw only seed 0's validation split."""
    if not tuned:
        return "(no tuned records)"
    out = []
    for ds in sorted({d for d, _ in tuned}):
        bias = tuned.get((ds, "bias")) or main.get((ds, "bias"))
        bias_mse = mean_std([_test(r) for r in bias.values()])[0] if bias else float("nan")
        lines = [f"**{ds}**\n", "| method | default | tuned | tuned − default (95% CI) | study's best trial (val MSE) | tuned vs bias-only |",
                 "|---|---|---|---|---|---|"]
        for m in ORDER:
            t, d = tuned.get((ds, m)), main.get((ds, m))
            if not t:
                continue
            mu_t, sd_t = mean_std([_test(r) for r in t.values()])
            dflt = "—"
            change = "—"
            if d:
                mu_d, sd_d = mean_std([_test(r) for r in d.values()])
                dflt = f"{mu_d:.4f} ± {sd_d:.4f} (n={len(d)})"
                c = compare(t, d, "mse")
                if c["n"]:
                    change = f"{c['mean']:+.4f} [{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}] (n={c['n']})"
            tf = next(iter(t.values()))["tuned_from"]
            study = f"trial {tf['best_trial']}, val {tf['best_value']:.4f} ({tf['n_trials']} completed)"
            sanity = "—" if m == "bias" or math.isnan(bias_mse) else ("worse" if mu_t > bias_mse else "better")
            lines.append(f"| {m} | {dflt} | {mu_t:.4f} ± {sd_t:.4f} (n={len(t)}) | {change} | {study} | {sanity} |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def verdicts_before_after(records=None) -> str:
    """Each (claim, dataset) that tuned rows decide: its outcome on the default rows (before tuning) beside
    the one the claims block reports (tuned rows, `tuned: prefer`). Same rules, same Holm families."""
    from reprorec.claims import RecordIndex, evaluate

    index = RecordIndex(records)
    before = {(r.claim, r.dataset): r for r in evaluate("r3", index=index, configs="default")}
    lines = ["| claim | dataset | default configs: effect, outcome | tuned configs: effect, outcome |", "|---|---|---|---|"]
    for r in evaluate("r3", index=index):
        if "tuned configs" not in r.uncertainty:
            continue
        b = before[(r.claim, r.dataset)]
        lines.append(f"| {r.claim} | {r.dataset} | {b.effect:+.4f}, {b.outcome} | {r.effect:+.4f}, {r.outcome} |")
    return "\n".join(lines) if len(lines) > 2 else "(no claim is decided by tuned rows yet)"


def significance(main: dict, datasets: list[str]) -> dict:
    out = {}
    for ds in datasets:
        baselines = {m: recs for (d, m), recs in main.items() if d == ds and m not in R3_METHODS}
        if not baselines:
            continue
        best = min(baselines, key=lambda m: mean_std([_test(r) for r in baselines[m].values()])[0])
        out[ds] = {"best_baseline": best}
        for r3 in R3_METHODS:
            if (ds, r3) not in main:
                continue
            for other in dict.fromkeys([best, "neumf", *TEXT_AWARE]):
                if (ds, other) in main:
                    out[ds][f"{r3} vs {other}"] = paired(main[(ds, r3)], main[(ds, other)])
    return out


def significance_table(sig: dict) -> str:
    lines = ["| dataset | comparison | mean ΔMSE (R3 − other) | 95% CI | R3 better in | p | uncertainty |",
             "|---|---|---|---|---|---|---|"]
    for ds, entry in sig.items():
        for key, t in entry.items():
            if key == "best_baseline":
                continue
            label = key + (" (best baseline)" if key.endswith(" " + entry["best_baseline"]) else "")
            lines.append(f"| {ds} | {label} | {t['mean_diff']:+.4f} | [{t['ci'][0]:+.4f}, {t['ci'][1]:+.4f}] | "
                         f"{t['wins']}/{t['n']} seeds | {t['p']:.3g} | {t['uncertainty']} |")
    return "\n".join(lines)


def _panels(n: int, width: float):
    """A row of n matplotlib panels, or n stand-ins that swallow every call when no plot is wanted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, n, figsize=(width * n, 3.2), dpi=100, squeeze=False)


class _NoPlot:
    def __getattr__(self, name):
        return lambda *a, **k: None


def lambda_table_and_plot(sweep: dict, profile: str, png: Path | None) -> str:
    """The λ table; with ``png``, also the plot (val and test MSE vs λ per category)."""
    datasets = sorted({ds for ds, _ in sweep})
    lams = sorted({lam for _, lam in sweep})
    if not datasets:
        return "(no sweep records)"
    lines = ["| dataset | " + " | ".join(f"λ={lam:g}" for lam in lams) + " |", "|---|" + "---|" * len(lams)]
    fig, axes = _panels(len(datasets), 3.6) if png else (None, [[_NoPlot()] * len(datasets)])
    xpos = {lam: k for k, lam in enumerate(lams)}
    for ax, ds in zip(axes[0], datasets):
        cells = []
        # compare λ values on the same splits only: the seeds every λ point of this dataset has
        common = set.intersection(*(set(sweep[(ds, lam)]) for lam in lams if (ds, lam) in sweep))
        for split, colour in (("test", "#C44E52"), ("val", "#4C72B0")):
            xs, ms, ss = [], [], []
            for lam in lams:
                recs = {s: r for s, r in sweep.get((ds, lam), {}).items() if s in common}
                if recs:
                    mu, sd = mean_std([r["metrics"][split]["mse"] for r in recs.values()])
                    xs.append(xpos[lam]), ms.append(mu), ss.append(0 if math.isnan(sd) else sd)
                    if split == "test":
                        cells.append(f"{mu:.4f} ± {sd:.4f} (n={len(recs)})")
                elif split == "test":
                    cells.append("—")
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, color=colour, label=f"{split} MSE")
        lines.append(f"| {ds} | " + " | ".join(cells) + " |")
        ax.set_xticks(range(len(lams)), [f"{lam:g}" for lam in lams])
        ax.set_xlabel("λ (0 = NeuMF)")
        ax.set_title(ds, fontsize=9)
    if png:
        _finish(fig, axes, "MSE (mean ± std over seeds)", f"R3 (TF-IDF/SVD regulariser): MSE vs λ · profile {profile}", png)
    return "\n".join(lines)


def _finish(fig, axes, ylabel: str, title: str, png: Path) -> None:
    """Label, legend, title, and save a row of panels (deterministic PNG: no software stamp)."""
    import matplotlib.pyplot as plt

    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, format="png", metadata={"Software": None})
    plt.close(fig)


def collect_missing_text(profile: str, main: dict) -> dict:
    """(dataset, side, method) -> {p: {seed: record}}; p = 0 is the method's main run (no text withheld)."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in iter_records(results_dir() / "r3"):
        study = r["config"].get("study") or {}
        if r["profile"] != profile or study.get("name") != "missing-text" or r.get("tuned_from"):
            continue
        mt = r["config"]["data"]["missing_text"]
        out[(r["dataset"], mt["side"], r["method"])][float(mt["p"])][r["seed"]] = r
    for (ds, side, method), by_p in out.items():
        by_p[0.0] = dict(main.get((ds, method), {}))
    return out


def missing_text_table_and_plot(mt: dict, profile: str, png: Path | None) -> str:
    """Test MSE vs p per (dataset, side, method), on the seeds every p of that curve shares; with ``png``,
    also the plot (one panel per dataset and side) of the change from p = 0 paired by seed: the split
    moves every method's MSE by far more than withholding text does, so absolute curves hide the effect."""
    if not mt:
        return "(no missing-text records)"
    panels = sorted({(ds, side) for ds, side, _ in mt})
    ps = sorted({p for by_p in mt.values() for p in by_p})
    lines = ["| dataset | side | method | " + " | ".join(f"p={p:g}" for p in ps) + " |", "|---|---|---|" + "---|" * len(ps)]
    fig, axes = _panels(len(panels), 3.8) if png else (None, [[_NoPlot()] * len(panels)])
    for ax, (ds, side) in zip(axes[0], panels):
        for method in ("r3", "deepconn", "narre"):
            by_p = mt.get((ds, side, method))
            if not by_p:
                continue
            done = [p for p in ps if by_p.get(p)]
            common = set.intersection(*(set(by_p[p]) for p in done))
            cells, xs, ms, ss = [], [], [], []
            for p in ps:
                recs = {s: r for s, r in by_p.get(p, {}).items() if s in common}
                if not recs:
                    cells.append("—")
                    continue
                mu, sd = mean_std([_test(r) for r in recs.values()])
                cells.append(f"{mu:.4f} ± {sd:.4f} (n={len(recs)})")
                if by_p.get(0.0):  # no p = 0 run (e.g. a replication without its main run): no change to plot
                    dmu, dsd = mean_std([_test(r) - _test(by_p[0.0][s]) for s, r in recs.items()])
                    xs.append(p), ms.append(dmu), ss.append(0 if math.isnan(dsd) else dsd)
            lines.append(f"| {ds} | {side} | {method} | " + " | ".join(cells) + " |")
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=method)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xlabel(f"p = share of {side}s with text withheld")
        ax.set_title(ds, fontsize=9)
        ax.legend(fontsize=8)  # panels may hold different methods while runs are missing
    if png:
        _finish(fig, axes, "test MSE(p) − MSE(0), same split\n(mean ± std over seeds)",
                f"Missing review text at training time · profile {profile}", png)
    return "\n".join(lines)


def render(profile: str) -> str:
    """The README's results block (between its results markers): tables only, regenerated from results/."""
    main_runs, sweep = collect(profile)
    _, _, table = main_table(main_runs)
    return (f"Generated by `python -m reprorec.papers.r3.report --profile {profile} --readme` from `results/`.\n\n"
            "#### Test MSE of the default (hand-set) configs, mean ± sample std over seeds (bold: best per category)\n\n"
            + table + "\n\n"
            "#### Tuned vs default (equal budget: `tuning.yaml`; tuning saw seed 0's validation split only)\n\n"
            + tuned_table(main_runs, collect_tuned(profile)) + "\n\n"
            "Claims that tuned rows decide (every arm and the bias-only sanity line tuned), judged on both:\n\n"
            + verdicts_before_after() + "\n\n"
            f"#### λ study (test MSE on the seeds every λ shares; λ = 0 is NeuMF) — plot: `leaderboards/r3/lambda-{profile}.png`\n\n"
            + lambda_table_and_plot(sweep, profile, None) + "\n\n"
            f"#### Missing text (test MSE vs p on the seeds every p shares; p = 0 is the main run) — plot: `leaderboards/r3/missing-text-{profile}.png`\n\n"
            + missing_text_table_and_plot(collect_missing_text(profile, main_runs), profile, None) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="full", choices=["quick", "full"])
    ap.add_argument("--readme", action="store_true", help="rewrite the block between the results markers in README.md")
    args = ap.parse_args(argv)
    main_runs, sweep = collect(args.profile)
    datasets, _, table = main_table(main_runs)
    sig = significance(main_runs, datasets)
    out = report_dir("r3")
    png = out / f"lambda-{args.profile}.png"
    lam_table = lambda_table_and_plot(sweep, args.profile, png)
    mt_png = out / f"missing-text-{args.profile}.png"
    mt_table = missing_text_table_and_plot(collect_missing_text(args.profile, main_runs), args.profile, mt_png)
    out_json = out / f"significance-{args.profile}.json"
    out_json.write_text(json.dumps(sig, indent=2, sort_keys=True) + "\n")
    md = (f"<!-- Generated by `python -m reprorec.papers.r3.report --profile {args.profile}` from results/. -->\n"
          f"# R3 reproduction — measured numbers, profile `{args.profile}`\n\n"
          "## Test MSE, mean ± sample std over seeds (bold: best per category)\n\n" + table +
          "\n\n## Tuned vs default\n\n" + tuned_table(main_runs, collect_tuned(args.profile)) +
          "\n\n## R3 vs baselines, paired over seeds (same split per seed)\n\n" + significance_table(sig) +
          f"\n\n## λ sweep (test MSE on the seeds all λ share; λ = 0 is NeuMF) — plot: leaderboards/r3/{png.name}\n\n" + lam_table +
          f"\n\n## Missing text (test MSE vs p; p = 0 is the main run) — plot: leaderboards/r3/{mt_png.name}\n\n"
          + mt_table + "\n")
    out_md = out / f"results-{args.profile}.md"
    out_md.write_text(md)
    print(md)
    if args.readme:
        from reprorec.claims import replace_block

        readme = Path(__file__).with_name("README.md")
        readme.write_text(replace_block(readme.read_text(), render(args.profile).rstrip("\n"), tag="results"))
        print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
