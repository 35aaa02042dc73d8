"""Running test curves (metric at every 5% of the stream) from the result records -> PNGs.

  python -m reprorec.papers.spider.figures        writes reprorec/papers/spider/figures/<dataset>-<profile>.png

Streaming methods: mean ± std over seeds of the recorded curve. Offline CP has no stream: its final
test metric is drawn as a dashed horizontal line (a non-streaming reference).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from reprorec.records import iter_records

OUT = Path(__file__).resolve().parent / "figures"


def collect():
    groups = defaultdict(lambda: defaultdict(list))
    for rec in iter_records():
        if rec["paper"] == "spider" and rec.get("curve") and rec["profile"] in ("full", "prefix", "quick"):
            groups[(rec["dataset"], rec["profile"])][rec["method"]].append(rec)
    return groups


def plot(dataset: str, profile: str, by_method: dict, out_dir: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    metric = None
    for method, recs in sorted(by_method.items()):
        metric = recs[0]["config"]["metric"]["name"]
        if method == "cp-offline":
            vals = [r["metrics"]["test"][metric] for r in recs]
            ax.axhline(np.mean(vals), ls="--", color="grey", label=f"cp-offline (final, n={len(vals)})")
            continue
        curves = [np.asarray(r["curve"], dtype=float) for r in recs]
        n = min(len(c) for c in curves)
        x = curves[0][:n, 0]
        ys = np.stack([c[:n, 1] for c in curves])
        mean, std = ys.mean(0), ys.std(0)
        ax.plot(x, mean, marker="o", ms=2, label=f"{method} (n={len(recs)})")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("fraction of the training stream processed")
    ax.set_ylabel(f"test {metric}" + (" (standardised)" if metric == "rmse" else ""))
    ax.set_title(f"SPIDER reproduction · {dataset} · {profile}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dataset}-{profile}.png"
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def main() -> None:
    for (dataset, profile), by_method in sorted(collect().items()):
        if profile == "quick":
            continue
        print(plot(dataset, profile, by_method))


if __name__ == "__main__":
    main()
