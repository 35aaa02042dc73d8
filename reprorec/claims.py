"""Claims as code: each paper's claims (``reprorec/papers/<p>/claims.yaml``) tested on the records.

A claim file lists, per claim, the paper's wording and its source, the comparison (arms, metric,
direction, datasets, profile or study, tuned or not), the kind of claim and its family. An arm named
``<method>@<study>`` is that method's runs of a named study (``kge-attention-transra@rand-kge``), so a study
arm can be compared with a main experiment; ``compare.study`` sets the study of every other arm. The rules
below turn the records into one outcome per (claim, dataset):
reproduced / not reproduced / inconclusive / baseline fails sanity / not testable, each with an
effect, a confidence interval, a Holm-adjusted p-value and n (paired seeds).

Pairing. Runs of the arms are paired by seed; a seed is used only when every arm has a record for
it and all of them carry the same split fingerprint (otherwise they did not see the same test rows).
When a (method, seed) has several records (re-runs), the newest is used.

Effect. d_s = sign * sum_m c_m * metric(m, s) per paired seed s (c = +1 for A, -1 for B, or the
claim's contrast; sign = +1 when higher is better), so a positive effect is always in the claim's
favour. The effect is the mean of d_s over seeds.

Uncertainty: seeds *and* test rows. Each record carries B bootstrap replicates of its test metrics
(reprorec.bootstrap) whose row indices depend only on (fingerprint of the test rows, their number),
so every arm on one split was resampled identically and d_{s,b} is a paired replicate of d_s. Model
d_s = effect + u_s (training noise, variance su^2) + e_{k(s)} (test-row sampling noise of the test
rows k that seed s used; k is the replicates' ``rows`` fingerprint, else the record's split). Two cases occur in this suite: a split per seed (R3, baselines: e is then
inside the seed-to-seed variation) and one split for all seeds (time windows: MF-LET, TransRA,
SPIDER: e is shared and the seed-to-seed variation does not see it at all, which is why a paired
t-test over seeds alone overstates certainty there). Estimates:
  V_row = var_b( mean_s d_{s,b} )                      row noise of the mean, both cases (indices are
                                                       shared within a split, independent across splits)
  su^2  = max(0, var_s(d_s) - mean_s var_b(d_{s,b}) * (1 - P_same))
                                                       P_same = share of seed pairs on the same split
  Var(effect) = su^2 / S + V_row,  df by Welch-Satterthwaite over the mean squares it is built from
                                                       (var_s(d)/S with S - 1 df, V_row with B - 1, the
                                                       subtracted within-seed part), so clipping su^2 to 0
                                                       never buys the B - 1 df of the rows alone.
With a split per seed this is the paired t-test's variance (var_s(d)/S); with one split it adds the
row noise the t-test misses. This is the hierarchical (seeds, then rows) bootstrap's variance computed
in closed form from the replicates, with a t reference distribution: with 5 seeds a percentile
bootstrap over seeds under-covers badly (it treats 5 values as the population), a t interval does not.
Records without replicates (made before the hook) fall back to the seed-only paired t-test, and the
result says so ("seeds only").

p-values and decisions (alpha from the claim file, 0.05 by default):
  superiority      two-sided p for effect = 0. reproduced: effect > 0 and Holm-adjusted p < alpha;
                   not reproduced: effect <= 0 (noted as "opposite effect" when the CI lies below 0,
                   "no effect detected" when it spans 0); inconclusive otherwise. 95% CI.
  non-inferiority  (margin m) one-sided p for H0 effect <= -m. reproduced: adjusted p < alpha;
                   not reproduced: the 90% CI lies below -m; inconclusive otherwise. 90% CI.
  equivalence      (margin m) TOST p = max of the two one-sided p's for |effect| >= m.
                   reproduced: adjusted p < alpha; not reproduced: the 90% CI lies outside [-m, m];
                   inconclusive otherwise. 90% CI (TOST at alpha <=> 90% CI inside [-m, m]).
  trend            d_s = the claim's metric at the end of the record's curve minus at its first
                   point (oriented); decided as superiority. Curves have no replicates: seeds only.
  not-testable     reported with its reason.
  coded            a rule that is not a comparison of test metrics (e.g. SPIDER's weight sparsity), written
                   in the paper's code before its numbers: ``rule: <module>:<function>``, called as
                   function(claim, index) -> [ClaimResult] (one per dataset, outcome, effect, p and its own
                   adjustment decided by the rule; not part of a Holm family here).
Holm's step-down adjustment is applied within each family (the tests of a family: every dataset of
every claim that names it); intervals are not adjusted.
Tuned or default configs: ``tuned: false`` (default rows), ``true`` (tuned rows only) or ``prefer``: the
tuned rows of a (claim, dataset) when every arm and the sanity baseline has them (an equal tuning budget
for all), else the default rows; the uncertainty column says "tuned configs" when tuned rows decided.
Sanity guard: a claim may name the paper's trivial baseline (``sanity: {trivial: <method>}``, e.g.
the global mean, bias-only, the no-ID arm) or a trivial value (``{value: 0.5}``, chance AUC). When the
comparison's baseline B is worse than that (mean over the paired seeds), the outcome is
"baseline fails sanity", whatever the effect: beating a broken baseline is not a win.
"""
from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from .records import REPO_ROOT, iter_checked_records
from .registry import experiment_name
from .registry import PAPERS_DIR

OUTCOMES = ("reproduced", "not reproduced", "inconclusive", "baseline fails sanity", "not testable")
KINDS = ("superiority", "non-inferiority", "equivalence", "trend", "not-testable", "coded")


# ------------------------------------------------------------------------------------------ statistics
def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (nan with fewer than two values): the one helper for tables."""
    v = np.asarray([x for x in values], dtype=float)
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def holm(pvalues) -> list[float]:
    """Holm (1979) step-down adjusted p-values, in the input order; nan entries are not tests."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), math.nan)
    idx = [i for i in range(len(p)) if not math.isnan(p[i])]
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def tost(effect: float, se: float, df: float, margin: float) -> float:
    """Two one-sided tests of H0 |effect| >= margin: max of the two one-sided p-values."""
    return max(one_sided_above(effect, se, df, -margin), 1.0 - one_sided_above(effect, se, df, margin))


def one_sided_above(effect: float, se: float, df: float, bound: float) -> float:
    """p-value of H0 effect <= bound against effect > bound (t reference distribution)."""
    if se == 0:
        return 0.0 if effect > bound else 1.0
    return float(stats.t.sf((effect - bound) / se, df))


@dataclass
class Estimate:
    effect: float
    se: float
    df: float
    n: int                    # paired seeds
    rows: bool                # uncertainty includes test-row sampling (replicates present)
    d: np.ndarray             # per-seed effects
    splits: int = 1           # distinct split fingerprints among the paired seeds

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        if self.n == 0 or math.isnan(self.se):
            return math.nan, math.nan
        h = float(stats.t.ppf(0.5 + level / 2, self.df)) * self.se if self.se > 0 else 0.0
        return self.effect - h, self.effect + h

    def p_two_sided(self) -> float:
        if math.isnan(self.se):
            return math.nan
        if self.se == 0:
            return 1.0 if self.effect == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.effect) / self.se, self.df))


def estimate(d: np.ndarray, reps: np.ndarray | None = None, split_ids=None) -> Estimate:
    """Effect and its uncertainty from per-seed effects ``d`` (S,) and, when every record had them,
    their paired bootstrap replicates ``reps`` (S, B); ``split_ids`` (S,) the split of each seed.
    See the module docstring for the variance model."""
    d = np.asarray(d, dtype=float)
    S = len(d)
    split_ids = list(split_ids) if split_ids is not None else list(range(S))
    n_splits = len(set(split_ids))
    if S == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, False, d, 0)
    eff = float(d.mean())
    var_seed = float(d.var(ddof=1)) if S > 1 else math.nan
    if reps is None:
        if S < 2:
            return Estimate(eff, math.nan, math.nan, S, False, d, n_splits)
        return Estimate(eff, math.sqrt(var_seed / S), S - 1, S, False, d, n_splits)
    reps = np.asarray(reps, dtype=float)
    B = reps.shape[1]
    v_row = float(reps.mean(0).var(ddof=1))
    v_within = float(reps.var(axis=1, ddof=1).mean())
    if S > 1:
        same = sum(split_ids[i] == split_ids[j] for i in range(S) for j in range(S) if i != j) / (S * (S - 1))
        su2 = max(0.0, var_seed - v_within * (1 - same))
        seed_part = su2 / S
    else:
        seed_part = 0.0  # one seed: training noise cannot be estimated (the result notes n = 1)
    var = seed_part + v_row
    # Welch-Satterthwaite over the observed mean squares the variance is built from (var_seed/S with S - 1
    # df, the subtracted within-seed row part, V_row with B - 1 df), not over the clipped su^2: when su^2
    # clips to 0 the seeds still limit what is known, and counting only V_row's B - 1 df would make a
    # five-seed comparison look as certain as a B-sample one.
    if S > 1:
        a, w = var_seed / S, v_within * (1 - same) / S
        den = a ** 2 / (S - 1) + w ** 2 / (S * (B - 1)) + v_row ** 2 / (B - 1)
    else:
        den = v_row ** 2 / (B - 1)
    df = max(1.0, var ** 2 / den) if den > 0 else float(max(S - 1, 1))
    return Estimate(eff, math.sqrt(var), df, S, True, d, n_splits)


# ------------------------------------------------------------------------------------------ claim files
@dataclass
class Claim:
    id: str
    paper: str
    kind: str
    paper_says: str = ""
    source: str = ""
    verified: bool = True
    compare: dict = field(default_factory=dict)
    family: str | None = None
    margin: float | None = None
    sanity: dict | None = None
    reason: str = ""            # for not-testable
    rule: str = ""              # for coded: "<module>:<function>"
    label: str = ""             # short statement shown in tables
    alpha: float = 0.05

    @property
    def datasets(self) -> list[str | None]:
        if self.kind == "not-testable":
            return [None]
        return list(self.compare.get("datasets") or [None])

    @property
    def contrast(self) -> dict[str, float]:
        c = self.compare
        if "contrast" in c:
            return {k: float(v) for k, v in c["contrast"].items()}
        out = {c["a"]: 1.0}
        if c.get("b"):
            out[c["b"]] = -1.0
        return out


def claims_path(paper: str) -> Path:
    return PAPERS_DIR / paper / "claims.yaml"


def papers_with_claims() -> list[str]:
    return sorted(p.parent.name for p in PAPERS_DIR.glob("*/claims.yaml"))


def load_claims(paper: str) -> list[Claim]:
    return parse_claims(yaml.safe_load(claims_path(paper).read_text()), paper)


def parse_claims(raw: dict, paper: str) -> list[Claim]:
    """Claims from a claims file's content (validated: kinds, margins, reasons, directions, unique ids)."""
    defaults = raw.get("defaults", {}) or {}
    out = []
    for c in raw["claims"]:
        compare = {**(defaults.get("compare") or {}), **(c.get("compare") or {})}
        kind = c["kind"]
        if kind not in KINDS:
            raise ValueError(f"{paper} {c['id']}: unknown kind {kind!r} (one of {KINDS})")
        if kind in ("non-inferiority", "equivalence") and c.get("margin") is None:
            raise ValueError(f"{paper} {c['id']}: a {kind} claim needs an explicit margin")
        if kind == "not-testable" and not c.get("reason"):
            raise ValueError(f"{paper} {c['id']}: a not-testable claim needs its reason")
        if kind == "coded" and ":" not in str(c.get("rule", "")):
            raise ValueError(f"{paper} {c['id']}: a coded claim needs its rule as '<module>:<function>'")
        if kind not in ("not-testable", "coded"):
            for key in ("metric", "direction"):
                if key not in compare:
                    raise ValueError(f"{paper} {c['id']}: compare needs {key!r}")
            if compare["direction"] not in ("higher", "lower"):
                raise ValueError(f"{paper} {c['id']}: direction must be 'higher' or 'lower'")
        out.append(Claim(id=str(c["id"]), paper=paper, kind=kind, paper_says=c.get("paper_says", ""),
                         source=c.get("source", ""), verified=bool(c.get("verified", True)), compare=compare,
                         family=c.get("family"), margin=c.get("margin"), sanity=c.get("sanity"),
                         reason=c.get("reason", ""), rule=c.get("rule", ""), label=c.get("label", ""),
                         alpha=float(c.get("alpha", defaults.get("alpha", 0.05)))))
    ids = [c.id for c in out]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{paper}: duplicate claim ids")
    return out


# ------------------------------------------------------------------------------------------ records
def _study(rec: dict) -> str | None:
    """The record's study as its label ('rand-kge', 'rank-batch: model.rank=3'); None for a main experiment."""
    from .studies import label

    return canonical_study(label(rec))


def canonical_study(text: str | None) -> str | None:
    """'name: b=2,a=1' -> 'name: a=1,b=2': a grid point's keys in sorted order, so a claim may name a point
    in any key order (records store their point with sorted keys)."""
    if not text or ": " not in text:
        return text
    name, point = text.split(": ", 1)
    return f"{name}: " + ",".join(sorted(point.split(",")))


def arm(name: str, study=None) -> tuple[str, str | None]:
    """A contrast key -> (method or experiment, study): 'r3' runs under the claim's study (None: main
    runs); 'r3@missing-text: data.missing_text.side=user,data.missing_text.p=0.75' runs at that study
    point, so one contrast can set a method's runs under two conditions against each other."""
    method, at, arm_study = name.partition("@")
    return (method.strip(), canonical_study(arm_study.strip())) if at else (name, canonical_study(study))


@functools.lru_cache(maxsize=None)
def _experiment_names(paper: str, dataset: str) -> frozenset[str]:
    """The experiment names (config file stems minus the dataset) of ``paper`` on ``dataset``."""
    from .registry import config_files

    prefix = f"{dataset}-"
    return frozenset(p.stem[len(prefix):] for p in config_files(paper) if p.stem.startswith(prefix))


def _is_trial(rec: dict) -> bool:
    return rec.get("trial") is not None or "/trial-" in rec.get("_path", "")


class RecordIndex:
    """(paper, dataset, method, profile, study, tuned) -> {seed: newest record}. By default the records of
    results/ that reprorec.records.check_record accepts (an edited record never decides a verdict)."""

    def __init__(self, records=None):
        self.cells: dict = defaultdict(dict)
        recs = list(iter_checked_records() if records is None else records)
        for r in sorted(recs, key=lambda r: r.get("created") or ""):
            if _is_trial(r) or not r.get("metrics", {}).get("test"):
                continue
            # a claim names the experiment or, where no experiment is named like the record's method
            # (kge-attention, shared by kge-attention-transe/-transr/-transra), the method; never the method
            # where an experiment carries its name (both-frozen's records are method both: not experiment both)
            names = {experiment_name(r)}
            if r["method"] not in _experiment_names(r["paper"], r["dataset"]):
                names.add(r["method"])
            for name in names:
                key = (r["paper"], r["dataset"], name, r.get("profile"), _study(r), bool(r.get("tuned_from")))
                self.cells[key][r["seed"]] = r

    def runs(self, paper, dataset, method, profile, study=None, tuned=False) -> dict[int, dict]:
        return self.cells.get((paper, dataset, method, profile, study, bool(tuned)), {})


# ------------------------------------------------------------------------------------------ evaluation
@dataclass
class ClaimResult:
    """One (claim, dataset) outcome; what tables, READMEs and the site render."""

    paper: str
    claim: str
    dataset: str | None
    kind: str
    label: str
    metric: str | None
    outcome: str
    effect: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    ci_level: float = 0.95
    p: float = math.nan
    p_adj: float = math.nan
    n: int = 0
    uncertainty: str = ""      # 'seeds + test rows' | 'seeds only (records without bootstrap replicates)' | ...
    family: str | None = None
    margin: float | None = None
    note: str = ""
    paper_says: str = ""
    source: str = ""

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _sign(claim: Claim) -> float:
    return 1.0 if claim.compare["direction"] == "higher" else -1.0


def _replicates(rec: dict, metric: str):
    """(replicates of ``metric`` or None, what must match across arms: scheme, B, n, the rows' fingerprint)."""
    b = (rec.get("bootstrap") or {}).get("test") or {}
    vals = (b.get("metrics") or {}).get(metric)
    key = (b.get("scheme"), b.get("B"), b.get("n"), b.get("rows", (rec.get("data") or {}).get("split")))
    return (np.asarray(vals, dtype=float), key) if vals else (None, None)


def paired_runs(arms: dict[str, dict[int, dict]]) -> tuple[list[int], list[str], str]:
    """Seeds every arm has, on one split fingerprint per seed; (seeds, their split ids, a note on dropped seeds)."""
    common = sorted(set.intersection(*(set(r) for r in arms.values()))) if arms else []
    seeds, splits, dropped, unknown = [], [], [], 0
    for s in common:
        fps = [(arm[s].get("data") or {}).get("split") for arm in arms.values()]
        known = set(fps) - {None}
        if len(known) <= 1:  # a record that did not store its split (legacy) is paired by its config alone
            seeds.append(s)
            splits.append(known.pop() if known else None)
            unknown += None in fps
        else:
            dropped.append(s)
    notes = ([f"seeds {dropped} dropped: arms used different splits"] if dropped else []) + \
        ([f"{unknown} seed(s) paired without a recorded split fingerprint (legacy records)"] if unknown else [])
    return seeds, splits, "; ".join(notes)


def contrast_estimate(arms: dict[str, dict[int, dict]], weights: dict[str, float], metric: str,
                      sign: float = 1.0) -> tuple[Estimate, str]:
    """Estimate of sign * sum_m w_m metric_m over seeds paired across ``arms`` (name -> {seed: record})."""
    seeds, splits, note = paired_runs(arms)
    if not seeds:
        return estimate(np.array([])), note
    d = np.array([sign * sum(w * arms[m][s]["metrics"]["test"][metric] for m, w in weights.items()) for s in seeds])
    reps, rows = [], []
    for s in seeds:
        per = [_replicates(arms[m][s], metric) for m in weights]
        if any(v is None for v, _ in per) or len({k for _, k in per}) != 1:
            reps = None
            break
        reps.append(sign * sum(w * v for (v, _), w in zip(per, weights.values())))
        rows.append(per[0][1][3])  # seeds with the same test rows share their row noise (and their draws)
    if reps is None:
        return estimate(d, None, splits), note
    return estimate(d, np.array(reps), rows), note


def compare(a: dict[int, dict], b: dict[int, dict], metric: str) -> dict:
    """A − B on test ``metric`` over paired seeds (raw sign; no direction), for the papers' report tables:
    {'mean', 'std' (of the per-seed differences), 'p' (two-sided), 'ci', 'n', 'wins' (seeds with A > B),
    'rows' (whether test-row sampling is in the uncertainty), 'd'}."""
    est, _ = contrast_estimate({"A": a, "B": b}, {"A": 1.0, "B": -1.0}, metric)
    return {"mean": est.effect, "std": mean_std(est.d)[1], "p": est.p_two_sided(), "ci": est.ci(), "n": est.n,
            "wins": int((est.d > 0).sum()), "rows": est.rows, "d": est.d}


def _trend_estimate(runs: dict[int, dict], metric: str, sign: float) -> tuple[Estimate, str]:
    d, notes = [], ""
    for s in sorted(runs):
        r = runs[s]
        curve = r.get("curve") or []
        if len(curve) < 2 or r.get("curve_metric", metric) != metric:
            notes = "records without a curve of this metric left out"
            continue
        d.append(sign * (curve[-1][1] - curve[0][1]))
    return estimate(np.array(d)), notes


def _uncertainty(est: Estimate, kind: str = "") -> str:
    if est.n == 0:
        return ""
    if kind == "trend":
        return "seeds only (a curve's points carry no bootstrap replicates)"
    if est.rows:
        return "seeds + test rows" + (" (one seed: training noise not estimated)" if est.n == 1 else "")
    return "seeds only (records without bootstrap replicates)"


def _evaluate_one(claim: Claim, dataset: str | None, index: RecordIndex) -> ClaimResult:
    c = claim.compare
    res = ClaimResult(claim.paper, claim.id, dataset, claim.kind, claim.label, c.get("metric"), "not testable",
                      family=claim.family, margin=claim.margin, paper_says=claim.paper_says, source=claim.source)
    if claim.kind == "not-testable":
        res.note = claim.reason
        return res
    metric, sign = c["metric"], _sign(claim)
    profile, study, tuned = c.get("profile", "full"), c.get("study"), c.get("tuned", False)
    if tuned == "prefer":  # tuned rows when every arm (and the sanity baseline) has them, else the defaults
        trivial = (claim.sanity or {}).get("trivial")
        names = list(claim.contrast) + ([trivial] if trivial else [])
        tuned = all(index.runs(claim.paper, dataset, arm(m, study)[0], profile, arm(m, study)[1], True) for m in names)
    tuned = bool(tuned)

    def get(m: str) -> dict:
        name, st = arm(m, study)  # 'method@study': that study's runs of the method
        return index.runs(claim.paper, dataset, name, profile, st, tuned)

    if claim.kind == "trend":
        est, note = _trend_estimate(get(c["a"]), metric, sign)
        res.note = note
    else:
        arms = {m: get(m) for m in claim.contrast}
        missing = [m for m, r in arms.items() if not r]
        if missing:
            res.note = f"no {profile} records of {', '.join(missing)}"
            return res
        est, res.note = contrast_estimate(arms, claim.contrast, metric, sign)
    if est.n < 2 and not est.rows:
        res.note = res.note or f"{est.n} paired seed(s): too few"
        res.n = est.n
        return res
    res.effect, res.n, res.uncertainty = est.effect, est.n, _uncertainty(est, claim.kind) + ("; tuned configs" if tuned else "")
    if claim.kind in ("non-inferiority", "equivalence"):
        res.ci_level = 0.90
        m = float(claim.margin)
        res.p = one_sided_above(est.effect, est.se, est.df, -m) if claim.kind == "non-inferiority" \
            else tost(est.effect, est.se, est.df, m)
    else:
        res.p = est.p_two_sided()
    res.ci = est.ci(res.ci_level)
    res._sanity = _sanity_failure(claim, dataset, index, get)  # type: ignore[attr-defined]
    return res


def _coded(claim: Claim, index: RecordIndex) -> list[ClaimResult]:
    """A coded claim's results from its rule (see the module doc)."""
    import importlib

    module, func = claim.rule.split(":")
    return list(getattr(importlib.import_module(module), func)(claim, index))


def _sanity_failure(claim: Claim, dataset, index, get) -> str:
    """'' or why the comparison's baseline fails the sanity check (worse than the trivial baseline)."""
    s = claim.sanity
    if not s or claim.kind not in ("superiority", "non-inferiority") or not claim.compare.get("b"):
        return ""
    metric, sign, b = claim.compare["metric"], _sign(claim), claim.compare["b"]
    base = get(b)
    if "trivial" in s:
        triv = get(s["trivial"])
        seeds = sorted(set(base) & set(triv))
        if not seeds:
            return ""
        vb = float(np.mean([base[x]["metrics"]["test"][metric] for x in seeds]))
        vt = float(np.mean([triv[x]["metrics"]["test"][metric] for x in seeds]))
        what = f"{s['trivial']} {vt:.4g}"
    else:
        vb = float(np.mean([r["metrics"]["test"][metric] for r in base.values()]))
        vt = float(s["value"])
        what = f"trivial value {vt:g}"
    return f"{b} ({metric} {vb:.4g}) is worse than {what}" if sign * (vb - vt) < 0 else ""


def _decide(res: ClaimResult, claim: Claim) -> None:
    if math.isnan(res.effect) or math.isnan(res.p_adj):
        return
    p, lo, hi, a = res.p_adj, res.ci[0], res.ci[1], claim.alpha
    if claim.kind in ("superiority", "trend"):
        res.outcome = "reproduced" if res.effect > 0 and p < a else ("not reproduced" if res.effect <= 0 else "inconclusive")
        if res.outcome == "not reproduced":  # say which: the data contradict the claim, or only fail to show it
            what = "opposite effect (CI below 0)" if hi < 0 else "no effect detected (CI spans 0)"
            res.note = "; ".join(x for x in (what, res.note) if x)
    elif claim.kind == "non-inferiority":
        m = float(claim.margin)
        res.outcome = "reproduced" if p < a else ("not reproduced" if hi < -m else "inconclusive")
    elif claim.kind == "equivalence":
        m = float(claim.margin)
        res.outcome = "reproduced" if p < a else ("not reproduced" if lo > m or hi < -m else "inconclusive")
    why = getattr(res, "_sanity", "")
    if why:
        res.outcome = "baseline fails sanity"
        res.note = "; ".join(x for x in (why, res.note) if x)


def _datasets(claim: Claim, dataset: str | None, replicable: bool) -> list[str | None]:
    """The claim's datasets; a dataset it does not list, for a paper that can be replicated
    (reprorec/replicate.py), is a replication: the claim is tested there alone."""
    if dataset is None or dataset in claim.datasets or claim.kind == "not-testable" or not replicable:
        return claim.datasets
    return [dataset]


CONFIG_CHOICES = {"default": False, "tuned": True}


def evaluate(paper: str, dataset: str | None = None, records=None, index: RecordIndex | None = None,
             claims: list[Claim] | None = None, profile: str | None = None,
             configs: str | None = None) -> list[ClaimResult]:
    """Every (claim, dataset) result of ``paper`` (Holm within families spans the paper's claims; with
    ``dataset`` only that dataset's rows are returned, adjusted within the whole family as always; a
    dataset the claims do not list is a replication, adjusted within itself).
    ``records`` (an iterable of records) or ``index`` replace results/; ``claims`` replaces claims.yaml;
    ``profile`` replaces the claims' profile (a replication run under another one); ``configs`` ('default'
    or 'tuned') replaces every claim's `tuned:` choice, so the verdicts on default rows (before tuning)
    and on tuned rows can be set side by side."""
    import dataclasses

    from .eligibility import hook

    index = index or RecordIndex(records)
    claims = load_claims(paper) if claims is None else claims
    if profile:
        claims = [dataclasses.replace(c, compare={**c.compare, "profile": profile}) for c in claims]
    if configs:
        if configs not in CONFIG_CHOICES:
            raise ValueError(f"configs must be one of {sorted(CONFIG_CHOICES)}, got {configs!r}")
        claims = [dataclasses.replace(c, compare={**c.compare, "tuned": CONFIG_CHOICES[configs]}) for c in claims]
    replicable = dataset is not None and hook(paper, "derive_experiments") is not None
    results = [(r, c) for c in claims
               for r in (_coded(c, index) if c.kind == "coded"
                         else [_evaluate_one(c, ds, index) for ds in _datasets(c, dataset, replicable)])]
    families: dict = defaultdict(list)
    for i, (r, c) in enumerate(results):
        if c.kind != "coded":  # a coded rule adjusts its own tests
            families[c.family or f"{paper}:{c.id}"].append(i)
    for idx in families.values():
        adj = holm([results[i][0].p for i in idx])
        for i, pa in zip(idx, adj):
            results[i][0].p_adj = pa
    for r, c in results:
        if c.kind != "coded":
            _decide(r, c)
        r.__dict__.pop("_sanity", None)
    out = [r for r, _ in results]
    return [r for r in out if dataset is None or r.dataset == dataset]


# ------------------------------------------------------------------------------------------ rendering
def _num(x: float, digits: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.{digits}f}"


def _p(x: float) -> str:
    if x is None or math.isnan(x):
        return "—"
    return f"{x:.2g}" if x >= 0.001 else "< 0.001"


def table(results: list[ClaimResult], wording: bool = False) -> str:
    """Markdown table: one row per (claim, dataset)."""
    head = "| claim | dataset | comparison | kind | effect (+ = as claimed) | CI | p (Holm) | n | uncertainty | outcome |"
    lines = [head, "|---|---|---|---|---:|---|---:|---:|---|---|"]
    for r in results:
        kind = r.kind + (f" (margin {r.margin:g})" if r.margin is not None else "")
        ci = "—" if math.isnan(r.ci[0]) else f"{int(r.ci_level * 100)}% [{_num(r.ci[0])}, {_num(r.ci[1])}]"
        p = "—" if math.isnan(r.p) else f"{_p(r.p_adj)} (raw {_p(r.p)})"
        out = f"**{r.outcome}**" + (f" — {r.note}" if r.note else "")
        lines.append(f"| {r.claim} | {r.dataset or '—'} | {r.label} | {kind} | {_num(r.effect)} | {ci} | {p} | "
                     f"{r.n or '—'} | {r.uncertainty or '—'} | {out} |")
    return "\n".join(lines)


def summary(results: list[ClaimResult]) -> dict[str, str]:
    """claim id -> its outcome over datasets: the common outcome, else the count of each
    (e.g. '1 reproduced, 2 baseline fails sanity')."""
    by = defaultdict(list)
    for r in results:
        by[r.claim].append(r.outcome)
    out = {}
    for cid, outs in by.items():
        counts = [(o, outs.count(o)) for o in OUTCOMES if o in outs]
        out[cid] = outs[0] if len(counts) == 1 else ", ".join(f"{k} {o}" for o, k in counts)
    return out


RULES = ("Generated by `reprorec claims --write` from `claims.yaml` and the records (rules: `reprorec/claims.py`). "
         "Effect: mean over paired seeds, oriented so that + favours the claim, in the metric's units. "
         "Superiority: 95% CI; reproduced if effect > 0 and Holm-adjusted p < 0.05, not reproduced if effect ≤ 0 (noted as an opposite effect when the CI lies below 0, no effect detected when it spans 0). "
         "Non-inferiority / equivalence: 90% CI and TOST against the stated margin. "
         "Holm within each claim family; intervals unadjusted. "
         "'seeds + test rows': uncertainty over training seeds and test-set sampling (paired bootstrap "
         "replicates in the records); 'seeds only': records without replicates, seed-to-seed variation only.")


def verdict_block(paper: str, results: list[ClaimResult]) -> str:
    claims = {c.id: c for c in load_claims(paper)}
    lines = [RULES, "", table(results), "", "| claim | the paper says | source | outcome over datasets |", "|---|---|---|---|"]
    for cid, outcome in summary(results).items():
        c = claims[cid]
        src = c.source + ("" if c.verified else " (secondary source, unverified)")
        lines.append(f"| {cid} | {c.paper_says.strip()} | {src} | **{outcome}** |")
    return "\n".join(lines)


BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"


def replace_block(text: str, block: str, tag: str = "claims") -> str:
    b, e = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    if b not in text or e not in text:
        raise ValueError(f"markers {b} / {e} not found")
    return re.sub(re.escape(b) + r"\n.*?" + re.escape(e), lambda _: f"{b}\n{block}\n{e}", text, flags=re.S)


def readme_path(paper: str) -> Path:
    return PAPERS_DIR / paper / "README.md"


def status_line(paper: str, results: list[ClaimResult]) -> str:
    """The top README's status cell: each claim id with its outcome over datasets."""
    return "; ".join(f"{cid}: {o}" for cid, o in summary(results).items())


def generated(index: RecordIndex | None = None) -> dict[Path, str]:
    """{README path: its text with every claims block regenerated} for each paper with a claims file
    and for the top README (its status cells between <!-- claims-status:<paper>:begin/end --> markers)."""
    index = index or RecordIndex()
    out = {}
    top = REPO_ROOT / "README.md"
    top_text = top.read_text()
    for paper in papers_with_claims():
        res = evaluate(paper, index=index)
        path = readme_path(paper)
        out[path] = replace_block(path.read_text(), verdict_block(paper, res))
        tag = f"claims-status:{paper}"
        if f"<!-- {tag}:begin -->" in top_text:
            top_text = re.sub(rf"<!-- {re.escape(tag)}:begin -->.*?<!-- {re.escape(tag)}:end -->",
                              lambda _: f"<!-- {tag}:begin -->{status_line(paper, res)}<!-- {tag}:end -->",
                              top_text, flags=re.S)
    out[top] = top_text
    return out


def write_readmes() -> list[Path]:
    changed = []
    for path, text in generated().items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


# ------------------------------------------------------------------------------------------ CLI
def add_parser(sub) -> None:
    p = sub.add_parser("claims", help="test each paper's claims on the records (claims.yaml -> outcomes)")
    p.add_argument("paper", nargs="?", help="one paper (default: every paper with a claims.yaml)")
    p.add_argument("--dataset", help="only this dataset's rows (a dataset the claims do not list: a replication)")
    p.add_argument("--profile", help="the records' profile (default: each claim's, usually full)")
    p.add_argument("--configs", choices=sorted(CONFIG_CHOICES),
                   help="judge every claim on default-config rows only, or on tuned rows only "
                        "(default: each claim's `tuned:` setting)")
    p.add_argument("--write", action="store_true",
                   help="regenerate the verdict blocks of the paper READMEs and the status column of README.md")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_claims)


def cmd_claims(args) -> int:
    import json

    if args.write:
        for path in write_readmes():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    index = RecordIndex()
    papers = [args.paper] if args.paper else papers_with_claims()
    allres = {p: evaluate(p, args.dataset, index=index, profile=args.profile, configs=args.configs) for p in papers}
    if args.json:
        print(json.dumps({p: [r.as_dict() for r in rs] for p, rs in allres.items()}, indent=1, default=float))
        return 0
    for p, rs in allres.items():
        print(f"## {p}\n\n{table(rs)}\n")
    return 0
