"""What a finished study leaves behind: the best config as a YAML experiment, the trials as CSV, two plots.

Everything is stored under the study's name, so no study overwrites another's artefacts: the config in
configs/tuned/studies/<study>.yaml, the trials and plots in results/tuning/<study>*. The config that
`--profile full` and `run --tuned` use, configs/tuned/<dataset>-<method>.yaml, changes only by
`reprorec tune --promote STUDY` (a copy of the study's YAML, whose ``tuned_from`` names the study, so
every record run from it names the study too).

The tuned YAML is the base config with the best overrides merged at the top level *and removed
from every profile block*, so that resolving it under the tuning profile gives exactly the config
(and config hash) of the best trial, and the other profile keeps its own epochs/batch size with the
tuned values. Outputs carry no timestamps, so exporting the same study twice is byte-identical.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from .. import config as C
from .. import registry
from ..records import REPO_ROOT, output_results_dir, results_dir


def _atomic_write(path: Path, data: bytes | str) -> Path:
    """Write via a temp file + rename: two workers exporting at once never leave a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def _drop(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for p in parents:
        node = node.get(p) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


def _leaves(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        out += _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
    return out


def _fixed(texts: list[str]) -> dict:
    """The ``--set key=value`` overrides as one nested dict."""
    out: dict = {}
    for text in texts:
        out = C.deep_merge(out, C.parse_override(text))
    return out


def tuned_config(raw: dict, overrides: dict, source: str, tuned_from: dict) -> dict:
    """The base config (as loaded from YAML) with `overrides` winning over every profile."""
    out = C.deep_merge({k: v for k, v in raw.items() if not k.startswith("_")}, overrides)
    for block in (out.get("profiles") or {}).values():
        for key in _leaves(overrides):
            _drop(block or {}, key)
    out["source"] = source
    out["tuned_from"] = tuned_from  # not hashed; records run from this file inherit it (see run_experiment)
    return out


def tuned_path(cfg_path: Path, paper: str, dataset: str, method: str, explicit_config: bool) -> Path:
    """The promoted config: configs/tuned/ of the paper, or tuned/ beside an explicitly given --config file."""
    if explicit_config:
        return Path(cfg_path).parent / "tuned" / f"{dataset}-{method}.yaml"
    return registry.tuned_config_path(paper, dataset, method)


def study_path(cfg_path: Path, paper: str, study: str, explicit_config: bool) -> Path:
    """A study's exported config: tuned/studies/<study>.yaml beside the promoted ones."""
    base = Path(cfg_path).parent if explicit_config else registry.PAPERS_DIR / paper / "configs"
    return base / "tuned" / "studies" / f"{study}.yaml"


def study_artefacts(cfg_path: Path, spec) -> list[Path]:
    """The files a finished study named ``spec.study_name`` left here (config, trials, plots)."""
    out_dir = results_dir() / "tuning"
    found = [study_path(cfg_path, spec.paper, spec.study_name, bool(spec.config)), out_dir / f"{spec.study_name}.csv",
             out_dir / f"{spec.study_name}-history.png", out_dir / f"{spec.study_name}-importance.png"]
    return [p for p in found if p.exists()]


def promote(study: str, config: str | None = None, log=print) -> Path:
    """Make a study's config the one `--profile full` uses: copy tuned/studies/<study>.yaml to
    tuned/<dataset>-<method>.yaml (found among the papers' configs, or beside ``config``)."""
    if config:
        candidates = [Path(config).parent / "tuned" / "studies" / f"{study}.yaml"]
    else:
        candidates = sorted(registry.PAPERS_DIR.glob(f"*/configs/tuned/studies/{study}.yaml"))
    src = next((c for c in candidates if c.is_file()), None)
    if src is None:
        known = sorted(p.stem for p in registry.PAPERS_DIR.glob("*/configs/tuned/studies/*.yaml"))
        raise FileNotFoundError(f"no exported study {study!r} (looked for configs/tuned/studies/{study}.yaml); "
                                f"known: {', '.join(known) or 'none'}")
    cfg = yaml.safe_load(src.read_text())
    dest = src.parent.parent / f"{cfg['dataset']}-{cfg['method']}.yaml"
    if (cfg.get("tuned_from") or {}).get("study") != study:
        raise ValueError(f"{_rel(src)} does not name study {study!r} in its tuned_from block")
    _atomic_write(dest, f"# PROMOTED by `reprorec tune --promote {study}` from {src.name}\n" + src.read_text())
    log(f"promoted study {study}: {_rel(dest)} (used by --profile full and run --tuned)")
    return dest


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def export_config(cfg_path: Path, overrides: dict, tuned_from: dict, spec, log=print,
                  warnings: list[str] = ()) -> Path:
    """``warnings`` (e.g. `edge_warnings` of the best trial) go into the header as ``# warning:`` lines, so
    the file a study leaves behind says itself that its optimum may lie outside the searched range."""
    # the base's layers merged (defaults.yaml, extends): the exported file stands alone in tuned/studies/
    raw = {k: v for k, v in C.load(cfg_path).items() if not k.startswith("_")}
    raw.pop("tuned_from", None)
    t = tuned_from
    budget = (f"study {t['study']} ({t['storage']} storage), {t['n_trials']} completed trials, {t['sampler']} sampler, "
              f"{t['pruner']} pruner, profile {t['profile']}, trial seed {spec.seed}")
    source = (f"Tuned by `reprorec tune {spec.paper} {spec.method} --dataset {spec.dataset}`: {budget}; best "
              f"{t['metric']} = {t['best_value']:.6g} at trial {t['best_trial']}. Base config {_rel(cfg_path)} "
              f"(source: {' '.join(str(raw.get('source', '')).split())})")
    fixed = set(_leaves(_fixed(spec.overrides)))
    header = (f"# GENERATED by `reprorec tune` — do not edit; re-run the study instead.\n"
              f"# {budget}\n# best {t['metric']} = {t['best_value']!r} (trial {t['best_trial']}); tuned: "
              f"{', '.join(k for k in _leaves(overrides) if k not in fixed)}"
              + (f"; fixed by --set: {', '.join(sorted(fixed))}" if fixed else "") + "\n"
              + "".join(f"# warning: {w}\n" for w in warnings))
    body = yaml.safe_dump(tuned_config(raw, overrides, source, tuned_from), sort_keys=False, default_flow_style=None,
                          width=110, allow_unicode=True)
    path = study_path(cfg_path, spec.paper, spec.study_name, bool(spec.config))
    _atomic_write(path, header + body)
    log(f"tuned config: {_rel(path)} (make it the config of --profile full with "
        f"`reprorec tune --promote {spec.study_name}`)")
    return path


def trials_frame(study):
    """One row per trial, sorted by number: state, value, params, retry origin, worker, record, note."""
    import pandas as pd

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        row = {"number": t.number, "state": t.state.name, "value": t.value,
               "duration_s": round(t.duration.total_seconds(), 3) if t.duration else None,
               "last_epoch": max(t.intermediate_values) if t.intermediate_values else None}
        row.update({f"params_{k}": v for k, v in sorted(t.params.items())})
        row["retry_of"] = t.system_attrs.get("failed_trial")
        row["worker"] = t.user_attrs.get("worker")
        row["record"] = t.user_attrs.get("record")
        row["note"] = t.user_attrs.get("skipped") or t.user_attrs.get("error")
        rows.append(row)
    return pd.DataFrame(rows)


def export_trials(study, name: str, plots: bool = True, log=print) -> Path:
    out_dir = output_results_dir(lambda _: None) / "tuning"  # beside the trial records
    csv_path = _atomic_write(out_dir / f"{name}.csv", trials_frame(study).to_csv(index=False))
    log(f"trials: {_rel(csv_path)}")
    if plots:
        for path in export_plots(study, out_dir, name, log):
            log(f"plot: {_rel(path)}")
    return csv_path


def export_plots(study, out_dir: Path, name: str, log=print) -> list[Path]:
    """Optimisation history and fANOVA parameter importances (seeded), as PNG without timestamps."""
    import io
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis
    from optuna.importance import FanovaImportanceEvaluator

    written = []
    target = f"val/{study.user_attrs.get('reprorec', {}).get('metric', 'objective')}"
    jobs = [("history", lambda: vis.plot_optimization_history(study, target_name=target)),
            ("importance", lambda: vis.plot_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0),
                                                              target_name=target))]
    for kind, draw in jobs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw()
        except (ValueError, RuntimeError) as exc:  # e.g. importances need 2+ completed trials
            log(f"plot {kind} skipped: {exc}")
            continue
        fig = ax.figure
        fig.set_size_inches(7, 4.5)
        ax.set_title(f"{ax.get_title()} — {name}", fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        written.append(_atomic_write(out_dir / f"{name}-{kind}.png", buf.getvalue()))
    return written


def edge_warnings(trial, edge: float = 0.05) -> list[str]:
    """Parameters of ``trial`` (normally the best) that sit on the edge of their search range.

    A best value at a bound says the optimum may lie outside the range: widen it and tune again.
    Float/int ranges: within ``edge`` of the range's width from a bound (measured in log space for
    log-scaled ranges). Categorical choices that are all numbers: the smallest or largest choice.
    """
    import math

    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = []
    for name, value in trial.params.items():
        dist = trial.distributions[name]
        if isinstance(dist, (FloatDistribution, IntDistribution)):
            lo, hi, v = float(dist.low), float(dist.high), float(value)
            if dist.log:
                lo, hi, v = math.log(lo), math.log(hi), math.log(v)
            if hi <= lo:
                continue
            side = "low" if v - lo <= edge * (hi - lo) else "high" if hi - v <= edge * (hi - lo) else None
            bound = dist.low if side == "low" else dist.high
        elif isinstance(dist, CategoricalDistribution) and len(dist.choices) > 1 and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) for c in dist.choices):
            side = "low" if value == min(dist.choices) else "high" if value == max(dist.choices) else None
            bound = min(dist.choices) if side == "low" else max(dist.choices)
        else:
            continue
        if side:
            out.append(f"best {name} = {value:g} is at the {side} edge of its range (bound {bound:g}): "
                       "the optimum may lie outside; widen the search space")
    return out
