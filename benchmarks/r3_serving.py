"""Serving cost of R3 vs DeepCoNN and NARRE: predictions per second and per-request latency.

R3 serves exactly like NeuMF (its text head is training-only), so a prediction is two ID lookups per
tower and a small MLP. DeepCoNN and NARRE must, per request, fetch the user's and item's review
text (pre-tokenised id tensors held in memory — the cheapest possible case for them) and run their
CNNs. All three models are built at the sizes of reprorec/papers/r3/configs for the chosen category, on the
real training documents of seed 0; weights are untrained (timing does not depend on their values).
Both text baselines are also timed with their per-user/per-item text vectors precomputed offline
(possible when text is static): then they serve from lookups too, and the cost moves to refreshing
those vectors whenever a review arrives — reported as the time to recompute all of them.

Measured on CPU with torch at REPRO_THREADS threads (default 1), in eval mode under
torch.inference_mode: throughput = batched predictions of the whole test split (batch 1024),
latency = one (user, item) request at a time, each timed (median and p99), after a warm-up pass.
Writes results/benchmarks/r3_serving.json with env/hardware from reprorec.records.

    python benchmarks/r3_serving.py [--dataset amazon-musical-instruments] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reprorec import config as C  # noqa: E402
from reprorec import registry  # noqa: E402
from reprorec.records import code_state, environment, hardware, results_dir  # noqa: E402
from reprorec.train import set_threads  # noqa: E402
from reprorec.papers.r3 import data as D  # noqa: E402
from reprorec.papers.r3.models import NARRE, DeepCoNN, NeuMF  # noqa: E402


def build_models(dataset: str, profile: str) -> tuple[dict, D.ReviewData]:
    cfgs = {m: C.resolve(C.load(registry.find_config("r3", dataset, m)), profile) for m in ("r3", "deepconn", "narre")}
    rd = D.load(cfgs["r3"], seed=0)
    n_u, n_i, mu = rd.ratings.n_users, rd.ratings.n_items, rd.ratings.global_mean
    m = cfgs["r3"]["model"]
    models = {"r3 (= NeuMF at serving)": NeuMF(n_u, n_i, gmf_dim=m["gmf_dim"], mlp_layers=m["mlp_layers"],
                                               dropout=m["dropout"], global_mean=mu)}
    m = cfgs["deepconn"]["model"]
    ud, idocs, V = rd.documents(m["max_features"], m["doc_len"])
    models["deepconn"] = DeepCoNN(ud, idocs, V, emb_dim=m["emb_dim"], n_filters=m["n_filters"], kernel=m["kernel"],
                                  latent=m["latent"], fm_k=m["fm_k"], global_mean=mu)
    m = cfgs["narre"]["model"]
    reviews = rd.review_lists(m["max_features"], m["n_reviews"], m["review_len"])
    models["narre"] = NARRE(reviews, n_u, n_i, emb_dim=m["emb_dim"], n_filters=m["n_filters"], kernel=m["kernel"],
                            att_dim=m["att_dim"], latent=m["latent"], global_mean=mu)
    models = {k: v.eval() for k, v in models.items()}
    for name in ("deepconn", "narre"):
        models[f"{name} (towers precomputed)"] = CachedTowers(models[name], n_u, n_i).eval()
    return models, rd


class CachedTowers(torch.nn.Module):
    """DeepCoNN/NARRE with each user's and item's text vector computed once, offline.

    Both models' user (item) text vector depends only on that user's (item's) reviews, so with static
    text it can be precomputed; serving is then an ID lookup + the small top. Any new review means
    recomputing that user's and item's vectors, which is the on-the-fly work R3 never needs."""

    def __init__(self, model, n_users: int, n_items: int, chunk: int = 256):
        super().__init__()
        self.model = model
        t0 = time.perf_counter()
        with torch.inference_mode():
            users, items = torch.arange(n_users), torch.arange(n_items)
            self.X = torch.cat([self._tower(model, "user", users[s:s + chunk]) for s in range(0, n_users, chunk)])
            self.Y = torch.cat([self._tower(model, "item", items[s:s + chunk]) for s in range(0, n_items, chunk)])
        self.precompute_s = time.perf_counter() - t0

    @staticmethod
    def _tower(model, side: str, ids):
        from reprorec.papers.r3.models import trim

        fc, cnn = getattr(model, f"{side}_fc"), getattr(model, f"{side}_cnn")
        if isinstance(model, DeepCoNN):
            return fc(cnn(trim(getattr(model, f"{side}_docs")[ids])))
        att = getattr(model, f"{side}_att")
        tokens, partner, mask = (getattr(model, f"{side}_{k}") for k in ("tokens", "partner", "mask"))
        return fc(att(cnn(tokens[ids]), partner[ids], mask[ids]))

    def forward(self, batch):
        u, i = batch["user"], batch["item"]
        m = self.model
        if isinstance(m, DeepCoNN):
            return m.fm(torch.cat([self.X[u], self.Y[i]], -1))
        h0 = (m.user_id(u) + self.X[u]) * (m.item_id(i) + self.Y[i])
        return m.w(h0).squeeze(-1) + m.user_bias(u).squeeze(-1) + m.item_bias(i).squeeze(-1) + m.mu


def measure(model, users: torch.Tensor, items: torch.Tensor, repeats: int, n_requests: int, batch: int = 1024,
            min_seconds: float = 1.0) -> dict:
    """Throughput: passes over the test pairs in batches, repeated until ``min_seconds`` have passed
    (median rate over ``repeats`` such rounds). Latency: each of ``n_requests`` single-pair requests
    timed on its own; median and p99 over all of them (after one warm-up pass)."""
    def one_pass():
        for s in range(0, len(users), batch):
            model({"user": users[s:s + batch], "item": items[s:s + batch]})

    rates, lat = [], []
    with torch.inference_mode():
        one_pass()  # warm-up
        for _ in range(repeats):
            n, t0 = 0, time.perf_counter()
            while True:
                one_pass()
                n += len(users)
                if time.perf_counter() - t0 >= min_seconds:
                    break
            rates.append(n / (time.perf_counter() - t0))
        for _ in range(repeats):
            for k in range(n_requests):
                req = {"user": users[k:k + 1], "item": items[k:k + 1]}
                t0 = time.perf_counter()
                model(req)
                lat.append(time.perf_counter() - t0)
    lat_ms = torch.tensor(lat, dtype=torch.float64) * 1e3
    return {"predictions_per_s": statistics.median(rates), "latency_ms": float(lat_ms.median()),
            "latency_p99_ms": float(lat_ms.quantile(0.99)), "n_test_pairs": len(users), "n_requests": n_requests,
            "batch_size": batch, "parameters": sum(p.numel() for p in model.parameters())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="amazon-musical-instruments")
    ap.add_argument("--profile", default="full", help="config profile whose model sizes are timed")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200, help="single-pair requests timed for latency")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    set_threads()
    torch.manual_seed(0)
    models, rd = build_models(args.dataset, args.profile)
    test = rd.ratings.tensors["test"]
    rows = {name: measure(m, test["user"], test["item"], args.repeats, min(args.requests, len(test["user"])))
            for name, m in models.items()}
    probe = {"user": test["user"][:64], "item": test["item"][:64]}
    for name, m in models.items():
        if isinstance(m, CachedTowers):
            rows[name]["precompute_all_towers_s"] = m.precompute_s
            with torch.inference_mode():  # the cache serves the same predictions as the full model
                torch.testing.assert_close(m(probe), m.model(probe), rtol=1e-5, atol=1e-5)
    r3 = rows["r3 (= NeuMF at serving)"]
    ratios = {name: {"throughput_ratio_r3_over": r3["predictions_per_s"] / row["predictions_per_s"],
                     "latency_ratio_over_r3": row["latency_ms"] / r3["latency_ms"]}
              for name, row in rows.items() if not name.startswith("r3")}
    record = {"benchmark": "r3_serving", "dataset": args.dataset, "profile_sizes": args.profile,
              "data": {"files": rd.files, "split": rd.fingerprint}, "results": rows, "ratios": ratios,
              "protocol": "CPU, eval mode, torch.inference_mode; throughput = median of repeats of >= 1 s of batched "
                          "passes over the test pairs; latency = median/p99 of single-pair requests; weights "
                          "untrained; DeepCoNN/NARRE read pre-tokenised training documents held in memory",
              "code": code_state(), "env": environment(), "hardware": hardware(),
              "threads": torch.get_num_threads(), "repeats": args.repeats}
    out = Path(args.out) if args.out else results_dir() / "benchmarks" / "r3_serving.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    for name, row in rows.items():
        print(f"{name:32s} {row['predictions_per_s']:12.0f} pred/s   {row['latency_ms']:8.3f} ms/request (median)")
    for name, r in ratios.items():
        print(f"R3 vs {name}: {r['throughput_ratio_r3_over']:.1f}x throughput, {r['latency_ratio_over_r3']:.1f}x "
              f"lower latency")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("REPRO_THREADS", "1")
    raise SystemExit(main())
