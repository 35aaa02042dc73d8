"""Training throughput of our DCNv2 beside FuxiCTR's DCNv2 and DeepCTR-Torch's DCN (matrix = DCNv2 cross).

    python benchmarks/ctr_throughput.py [--peers-python /tmp/ctr-peers-venv/bin/python] [--reps 3] [--ml-reps 5]
    python benchmarks/ctr_throughput.py report results/benchmarks/ctr_throughput.json   # table only
    python benchmarks/ctr_throughput.py collect run.log   # record from the runs a cut-short run logged

Peers are not project dependencies: install them in their own venv (torch==2.13.0 first, then
fuxictr==2.3.10 'polars<2' deepctr-torch==0.3.0 requests). FuxiCTR's wheel has no DCNv2 class, so it
is composed here from the wheel's own BaseModel, FeatureEmbedding, CrossNetV2 and MLP_Block in
FuxiCTR's parallel DCNv2 structure. Each (implementation, dataset) runs in its own process, one at a
time, with one torch thread; repetitions are interleaved (rep r runs every implementation once, with
seed r, before rep r+1), so a change in the shared machine's load hits every implementation alike.
The parent writes results/benchmarks/ctr_throughput.json and prints a markdown table: median and
range of samples per CPU-second over reps, the ratio of medians, the range of the per-rep ratios, and
test AUC (mean ± std) on ML-100K.

Datasets (encoded once by `prepare`, excluded from timing; every implementation gets the same ids):
  ml-100k-ctr    the backbone's ML-100K CTR proxy (reprorec.data.ctr): user, item, gender, age,
                 occupation, zip, year (categorical) + genres (multi-hot, mean-pooled). Trained E epochs on
                 the ranking-train window; test AUC at the best validation epoch; samples/s over train steps.
  criteo-synth   SYNTHETIC rows in the Criteo schema: 13 numeric + 26 categorical fields with the Kaggle
                 DAC per-field cardinalities (torchrec KAGGLE_NUM_EMBEDDINGS_PER_FEATURE) capped at
                 --cap rows per field (hash-bucket cap), Zipf-distributed ids, random labels (throughput only).

What is timed: forward, loss, backward and optimiser step of each library's own training step (FuxiCTR:
BaseModel.train_step incl. its gradient clipping at norm 10; DeepCTR: the body of BaseModel.fit's loop,
sum-reduced BCE; ours: CTRModule's step, Adam + SparseAdam), on batches sliced from in-memory tensors.
No regulariser anywhere (FuxiCTR None, DeepCTR l2=0, ours weight_decay 0); Adam lr 1e-3 for all.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("CTR_BENCH_DIR", "/tmp/ctr_bench"))
KAGGLE_CARDS = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
                5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572]
SETTINGS = {  # identical for every implementation
    "ml-100k-ctr": dict(embed_dim=16, cross_layers=3, hidden=[256, 128], dropout=0.2, lr=1e-3, batch_size=1024, epochs=6),
    "criteo-synth": dict(embed_dim=16, cross_layers=3, hidden=[400, 400, 400], dropout=0.0, lr=1e-3, batch_size=4096,
                         warmup=3, steps=20),
}


# ---------------------------------------------------------------- data (system python, repo importable)
def prepare(cap: int, rows: int) -> None:
    """Encode both datasets once into .npz: per-field local ids, bags, numerics, labels, window indices."""
    sys.path.insert(0, str(REPO))
    from reprorec.data.ctr import load_ctr

    WORK.mkdir(parents=True, exist_ok=True)
    d = load_ctr("ml-100k-ctr")
    arrays, meta = {}, {"categorical": {}, "bags": {}, "numeric": [], "windows": {}}
    order = ["train", "val", "test"]
    full = {k: np.concatenate([d.windows[w][k].numpy() for w in order]) for k in d.windows["train"]}
    start = 0
    for w in order:
        n = len(d.windows[w]["y"])
        meta["windows"][w] = [start, start + n]
        start += n
    for f in d.schema.id_fields:
        arrays[f.name] = full[f.name]
        meta["categorical"][f.name] = f.num_ids
    for j, (name, off, card) in enumerate(zip(d.schema.cat_fields, d.schema.cat_offsets(), d.schema.cat_cardinalities)):
        arrays[name] = full["cat"][:, j] - off
        meta["categorical"][name] = card
    for b in d.schema.multi_hot:
        arrays[b.name] = full[b.name]
        meta["bags"][b.name] = b.vocab_size
    arrays["label"] = full["y"].astype(np.float32)
    np.savez(WORK / "ml-100k-ctr.npz", **arrays)
    (WORK / "ml-100k-ctr.json").write_text(json.dumps(meta))

    rng = np.random.default_rng(0)
    cards = [min(c, cap) for c in KAGGLE_CARDS]
    arrays = {"label": (rng.random(rows) < 0.25).astype(np.float32)}
    meta = {"categorical": {}, "bags": {}, "numeric": [f"I{i}" for i in range(1, 14)], "windows": {"train": [0, rows]},
            "cards_source": "torchrec KAGGLE_NUM_EMBEDDINGS_PER_FEATURE (Criteo Kaggle DAC)", "cap": cap}
    for i, card in enumerate(cards, 1):
        arrays[f"C{i}"] = np.minimum(rng.zipf(1.2, rows) - 1, card - 1).astype(np.int64)
        meta["categorical"][f"C{i}"] = card
    arrays["num"] = np.log1p(rng.exponential(5.0, (rows, 13))).astype(np.float32)
    np.savez(WORK / "criteo-synth.npz", **arrays)
    (WORK / "criteo-synth.json").write_text(json.dumps(meta))


def load(name: str):
    import torch

    arrays = np.load(WORK / f"{name}.npz")
    meta = json.loads((WORK / f"{name}.json").read_text())
    return {k: torch.as_tensor(arrays[k]) for k in arrays.files}, meta


# ---------------------------------------------------------------- implementations: (model, step, predict)
def build_ours(data, meta, s, numeric="embed"):
    import torch

    sys.path.insert(0, str(REPO))
    from reprorec.ctr import DCNv2, FeatureSchema, IdField, MultiHotField
    from reprorec.ctr.module import make_optimizers

    ids = [n for n in meta["categorical"] if n in ("user", "item")]
    cats = [n for n in meta["categorical"] if n not in ids]
    cards = [meta["categorical"][n] for n in cats]
    schema = FeatureSchema([IdField(n, meta["categorical"][n]) for n in ids], cats, sum(cards),
                           [MultiHotField(b, v) for b, v in meta["bags"].items()], meta["numeric"], cards)
    offsets = torch.as_tensor(schema.cat_offsets())
    batch_all = {n: data[n] for n in ids + list(meta["bags"])}
    batch_all["cat"] = torch.stack([data[n] for n in cats], 1) + offsets
    if meta["numeric"]:
        batch_all["num"] = data["num"]
    y_all = data["label"]
    model = DCNv2(schema, s["embed_dim"], s["cross_layers"], tuple(s["hidden"]), s["dropout"], numeric=numeric,
                  init="fuxictr")
    opts = make_optimizers(model, s["lr"])
    bf16 = os.environ.get("BENCH_BF16") == "1"

    def step(idx):
        batch = {k: v[idx] for k, v in batch_all.items()}
        for o in opts:
            o.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y_all[idx])
        loss.backward()
        for o in opts:
            o.step()

    def predict(idx):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return torch.sigmoid(model({k: v[idx] for k, v in batch_all.items()}).float())

    return model, step, predict


def build_fuxictr(data, meta, s):
    from collections import OrderedDict

    import torch
    from fuxictr.features import FeatureMap
    from fuxictr.pytorch.layers import CrossNetV2, FeatureEmbedding, MLP_Block
    from fuxictr.pytorch.models import BaseModel

    fmap = FeatureMap("bench", str(WORK / "fuxictr"))
    features = OrderedDict()
    for n in meta["numeric"]:
        features[n] = {"type": "numeric", "source": ""}
    for n, card in meta["categorical"].items():
        features[n] = {"type": "categorical", "vocab_size": card, "source": ""}
    for n, vocab in meta["bags"].items():
        features[n] = {"type": "sequence", "vocab_size": vocab, "max_len": int(data[n].shape[1]), "padding_idx": 0,
                       "feature_encoder": "layers.MaskedAveragePooling()", "source": ""}
    fmap.features, fmap.labels, fmap.default_emb_dim = features, ["label"], s["embed_dim"]
    fmap.num_fields = fmap.get_num_fields()

    class DCNv2(BaseModel):  # FuxiCTR's DCNv2, model_structure="parallel", full-rank cross layers
        def __init__(self, feature_map, **kw):
            super().__init__(feature_map, model_id="DCNv2", gpu=-1, embedding_regularizer=None,
                             net_regularizer=None, model_root=str(WORK / "fuxictr"), verbose=0, metrics=["AUC"])
            self.embedding_layer = FeatureEmbedding(feature_map, kw["embed_dim"])
            d = feature_map.sum_emb_out_dim()
            self.crossnet = CrossNetV2(d, kw["cross_layers"])
            self.parallel_dnn = MLP_Block(input_dim=d, output_dim=None, hidden_units=kw["hidden"],
                                          hidden_activations="ReLU", output_activation=None,
                                          dropout_rates=kw["dropout"], batch_norm=False)
            self.fc = torch.nn.Linear(d + kw["hidden"][-1], 1)
            self.compile("adam", "binary_crossentropy", kw["lr"])
            self.reset_parameters()
            self.model_to_device()

        def forward(self, inputs):
            x = self.embedding_layer(self.get_inputs(inputs), flatten_emb=True)
            out = self.fc(torch.cat([self.crossnet(x), self.parallel_dnn(x)], dim=-1))
            return {"y_pred": self.output_activation(out)}

    model = DCNv2(fmap, **s)
    model._max_gradient_norm = 10.0  # BaseModel.fit's default
    cols = {n: data[n] for n in features if n not in meta["numeric"]}
    cols.update({n: data["num"][:, j] for j, n in enumerate(meta["numeric"])})
    cols["label"] = data["label"]

    def step(idx):
        model.train_step({k: v[idx] for k, v in cols.items()})

    def predict(idx):
        return model({k: v[idx] for k, v in cols.items()})["y_pred"].flatten()

    return model, step, predict


def build_deepctr(data, meta, s):
    import torch
    import torch.nn.functional as F
    from deepctr_torch.inputs import DenseFeat, SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DCN

    d = s["embed_dim"]
    columns = [SparseFeat(n, card, embedding_dim=d) for n, card in meta["categorical"].items()]
    columns += [VarLenSparseFeat(SparseFeat(n, vocab, embedding_dim=d), maxlen=int(data[n].shape[1]), combiner="mean")
                for n, vocab in meta["bags"].items()]
    columns += [DenseFeat(n, 1) for n in meta["numeric"]]
    model = DCN(columns, columns, cross_num=s["cross_layers"], cross_parameterization="matrix",
                dnn_hidden_units=tuple(s["hidden"]), l2_reg_linear=0, l2_reg_embedding=0, l2_reg_cross=0,
                l2_reg_dnn=0, dnn_dropout=s["dropout"], task="binary", device="cpu", seed=int(os.environ["BENCH_SEED"]))
    model.compile(torch.optim.Adam(model.parameters(), lr=s["lr"]), "binary_crossentropy")
    parts = []
    for name, (lo, hi) in sorted(model.feature_index.items(), key=lambda kv: kv[1][0]):
        if name in meta["numeric"]:
            parts.append(data["num"][:, meta["numeric"].index(name)][:, None])
        else:
            col = data[name]
            parts.append((col if col.dim() == 2 else col[:, None]).float())
    X, y = torch.cat(parts, 1), data["label"]
    opt = model.optim

    def step(idx):  # the body of deepctr_torch BaseModel.fit's batch loop
        model.train()
        pred = model(X[idx]).squeeze(-1)
        opt.zero_grad()
        loss = F.binary_cross_entropy(pred, y[idx], reduction="sum") + model.get_regularization_loss() + model.aux_loss
        loss.backward()
        opt.step()

    def predict(idx):
        return model(X[idx]).flatten()

    return model, step, predict


def gemm_floor(data, meta, s, steps: int = 30) -> float:
    """CPU seconds per training step spent in the matmuls of our DCNv2 alone (forward, input gradient
    and weight gradient of every Linear, at the step's batch size, nothing else): a lower bound that
    every implementation of the same model pays, so FuxiCTR's step time over it caps any ratio."""
    import torch

    model, _, _ = build_ours(data, meta, s)
    b = s["batch_size"]
    mats = []
    for lin in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
        k, n = lin.in_features, lin.out_features
        mats += [(torch.randn(b, k), torch.randn(k, n)), (torch.randn(b, n), torch.randn(n, k)),
                 (torch.randn(k, b), torch.randn(b, n))]
    for a, w in mats:
        torch.mm(a, w)
    c0 = time.process_time()
    for _ in range(steps):
        for a, w in mats:
            torch.mm(a, w)
    return (time.process_time() - c0) / steps


# ---------------------------------------------------------------- one worker process
def worker(impl: str, dataset: str, seed: int, numeric: str) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    load_start = round(os.getloadavg()[0], 2)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    os.environ["BENCH_SEED"] = str(seed)
    s = SETTINGS[dataset]
    data, meta = load(dataset)
    if impl == "gemm-floor":
        sec = gemm_floor(data, meta, s)
        return {"impl": impl, "dataset": dataset, "seed": seed, "numeric": numeric, "bf16": False,
                "batch_size": s["batch_size"], "torch": torch.__version__, "samples_per_cpu_s": s["batch_size"] / sec,
                "samples_per_s": float("nan"), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "loadavg_1min_start": load_start, "loadavg_1min_end": os.getloadavg()[0]}
    if impl == "ours":
        model, step, predict = build_ours(data, meta, s, numeric)
    else:
        model, step, predict = {"fuxictr": build_fuxictr, "deepctr": build_deepctr}[impl](data, meta, s)
    n_params = sum(p.numel() for p in model.parameters())
    bs = s["batch_size"]
    lo, hi = meta["windows"]["train"]
    g = torch.Generator().manual_seed(seed)
    out = {"impl": impl, "dataset": dataset, "seed": seed, "numeric": numeric, "params": n_params,
           "loadavg_1min_start": load_start,
           "bf16": os.environ.get("BENCH_BF16") == "1", "batch_size": bs, "torch": torch.__version__}
    if dataset == "criteo-synth":
        order = lo + torch.randperm(hi - lo, generator=g)
        batches = [order[i * bs:(i + 1) * bs] for i in range(s["warmup"] + s["steps"])]
        model.train()
        for idx in batches[:s["warmup"]]:
            step(idx)
        t0, c0 = time.perf_counter(), time.process_time()
        for idx in batches[s["warmup"]:]:
            step(idx)
        out["samples_per_s"] = s["steps"] * bs / (time.perf_counter() - t0)
        out["samples_per_cpu_s"] = s["steps"] * bs / (time.process_time() - c0)
    else:
        train_time, cpu_time, n_train, best = 0.0, 0.0, 0, (-1.0, None, None)
        for epoch in range(s["epochs"]):
            model.train()
            order = lo + torch.randperm(hi - lo, generator=g)
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, len(order), bs):
                step(order[i:i + bs])
            train_time += time.perf_counter() - t0
            cpu_time += time.process_time() - c0
            n_train += len(order)
            model.eval()
            with torch.no_grad():
                auc = {w: roc_auc_score(data["label"][a:b].numpy(), predict(torch.arange(a, b)).numpy())
                       for w, (a, b) in meta["windows"].items() if w != "train"}
            if auc["val"] > best[0]:
                best = (auc["val"], auc["test"], epoch)
        out.update(samples_per_s=n_train / train_time, samples_per_cpu_s=n_train / cpu_time, val_auc=best[0], test_auc=best[1], best_epoch=best[2])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["loadavg_1min_end"] = os.getloadavg()[0]  # the machine is shared: how busy it was
    return out


# ---------------------------------------------------------------- where our step's time goes
PROFILE_STEPS = 20
OP_GROUPS = {  # torch.profiler self-CPU time of each aten op, grouped by what it does
    "matrix products (mm, addmm, bmm)": ("aten::mm", "aten::addmm", "aten::bmm"),
    "elementwise: cross-layer products, ReLU, dropout masks, their backward": (
        "aten::mul", "aten::clamp_min", "aten::threshold_backward", "aten::ge", "aten::add", "aten::add_",
        "aten::sub_", "aten::random_", "aten::sum", "aten::cat", "aten::copy_", "aten::fill_", "aten::sigmoid",
        "aten::binary_cross_entropy_with_logits", "aten::div", "aten::where", "aten::_to_copy"),
    "embedding lookups and their backward": ("aten::embedding_dense_backward", "aten::_embedding_bag_dense_backward",
                                             "aten::index", "aten::_embedding_bag", "aten::index_select",
                                             "aten::embedding"),
    "optimiser (Adam, zero_grad)": ("aten::_fused_adam_", "aten::_foreach_", "Optimizer.zero_grad#Adam.zero_grad",
                                    "Optimizer.step#Adam.step", "aten::zero_"),
}


def profile_ours(dataset: str, seed: int) -> dict:
    """Self-CPU time per step of our training step by operation group (torch.profiler), beside the
    un-profiled step time and the GEMM floor measured in the same process."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    load_start = round(os.getloadavg()[0], 2)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    s = SETTINGS[dataset]
    data, meta = load(dataset)
    model, step, _ = build_ours(data, meta, s)
    lo, hi = meta["windows"]["train"]
    bs = s["batch_size"]
    order = lo + torch.randperm(hi - lo, generator=torch.Generator().manual_seed(seed))
    idxs = [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]
    for i in idxs[:5]:
        step(i)
    c0 = time.process_time()
    for i in idxs:
        step(i)
    step_ms = 1000 * (time.process_time() - c0) / len(idxs)
    floor_ms = 1000 * gemm_floor(data, meta, s)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in idxs[:PROFILE_STEPS]:
            step(i)
    groups = {g: 0.0 for g in OP_GROUPS} | {"other": 0.0}
    for ev in prof.key_averages():
        ms = ev.self_cpu_time_total / 1000 / PROFILE_STEPS
        name = next((g for g, ops in OP_GROUPS.items() if ev.key in ops or any(ev.key.startswith(o) for o in ops
                                                                                  if o.endswith("_"))), "other")
        groups[name] += ms
    return {"seed": seed, "dataset": dataset, "step_ms": step_ms, "gemm_floor_ms": floor_ms,
            "profiled_ms_by_group": groups, "loadavg_1min_start": load_start,
            "loadavg_1min_end": round(os.getloadavg()[0], 2)}


def profile_summary(reps: list[dict]) -> dict:
    import statistics as st

    groups = list(reps[0]["profiled_ms_by_group"])
    total = st.median(sum(r["profiled_ms_by_group"].values()) for r in reps)
    return {"step_ms_median": st.median(r["step_ms"] for r in reps),
            "gemm_floor_ms_median": st.median(r["gemm_floor_ms"] for r in reps),
            "profiled_step_ms_median": total,
            "by_group_ms_median": {g: st.median(r["profiled_ms_by_group"][g] for r in reps) for g in groups},
            "by_group_share": {g: st.median(r["profiled_ms_by_group"][g] / sum(r["profiled_ms_by_group"].values())
                                            for r in reps) for g in groups}}


def profile_table(s: dict) -> str:
    lines = [f"Our step: {s['step_ms_median']:.2f} ms (un-profiled), GEMM floor {s['gemm_floor_ms_median']:.2f} ms "
             f"(step / floor = {s['step_ms_median'] / s['gemm_floor_ms_median']:.2f}).", "",
             "| operation group | share of the profiled step | ≈ ms of the un-profiled step |", "|---|---:|---:|"]
    for g in s["by_group_ms_median"]:
        share = s["by_group_share"][g]
        lines.append(f"| {g} | {100 * share:.0f}% | {share * s['step_ms_median']:.2f} |")
    lines.append("\n(The profiler times each op by the wall clock, which a loaded machine stretches; the shares are "
                 "what it measures, the ms column scales them to the step's CPU time.)")
    return "\n".join(lines)


# ---------------------------------------------------------------- parent: run everything, one at a time
def run_one(python: str, impl: str, dataset: str, seed: int, numeric: str = "embed", bf16: bool = False) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_BF16": "1" if bf16 else "0", "PYTHONPATH": str(REPO)}
    cmd = [python, __file__, "worker", impl, dataset, "--seed", str(seed), "--numeric", numeric]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl}/{dataset} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(res), file=sys.stderr)
    return res


def label(r: dict) -> str:
    return r["impl"] + (" (bf16)" if r["bf16"] else "") + (" numeric=raw" if r["numeric"] == "raw" else "")


def table(runs: list[dict]) -> str:
    """Per (dataset, implementation): median [min-max] samples per CPU-second over reps, the ratio of
    medians against FuxiCTR and DeepCTR, the range of per-rep ratios against FuxiCTR (same rep = same
    seed, run back to back), wall-clock samples/s, test AUC and its difference to FuxiCTR's. CPU time of
    the process is the steadier clock on a shared machine (1 thread each); wall-clock is beside it."""
    import statistics as st

    groups: dict = {}
    for r in runs:
        groups.setdefault((r["dataset"], label(r)), []).append(r)
    lines = ["| data | implementation | samples/CPU-s median [min–max] | vs FuxiCTR (ratio of medians) "
             "| per-rep ratio vs FuxiCTR [min–max] | vs DeepCTR | samples/s wall (median) | test AUC | ΔAUC vs FuxiCTR "
             "| peak RSS MB | reps |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def med(rs, key="samples_per_cpu_s"):
        return st.median(r[key] for r in rs) if rs else float("nan")

    for (data, impl), rs in sorted(groups.items()):
        cpu = [r["samples_per_cpu_s"] for r in rs]
        fx = {r["seed"]: r for r in groups.get((data, "fuxictr"), [])}
        ref = {p: med(groups.get((data, p), [])) for p in ("fuxictr", "deepctr")}
        per_rep = [r["samples_per_cpu_s"] / fx[r["seed"]]["samples_per_cpu_s"] for r in rs if r["seed"] in fx]
        aucs = [r["test_auc"] for r in rs if "test_auc" in r]
        fx_aucs = [r["test_auc"] for r in fx.values() if "test_auc" in r]
        auc = f"{st.mean(aucs):.4f} ± {st.stdev(aucs):.4f}" if len(aucs) > 1 else (f"{aucs[0]:.4f}" if aucs else "-")
        dauc = f"{st.mean(aucs) - st.mean(fx_aucs):+.4f}" if aucs and fx_aucs else "-"
        span = f"[{min(per_rep):.2f}–{max(per_rep):.2f}]" if per_rep else "-"
        lines.append(f"| {data} | {impl} | {st.median(cpu):,.0f} [{min(cpu):,.0f}–{max(cpu):,.0f}] | "
                     f"{st.median(cpu) / ref['fuxictr']:.2f}× | {span} | {st.median(cpu) / ref['deepctr']:.2f}× | "
                     f"{med(rs, 'samples_per_s'):,.0f} | {auc} | {dauc} | {max(r['peak_rss_mb'] for r in rs):,.0f} | {len(rs)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers-python", default="/tmp/ctr-peers-venv/bin/python")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions on criteo-synth")
    ap.add_argument("--ml-reps", type=int, default=5, help="interleaved repetitions on ml-100k-ctr")
    ap.add_argument("--bf16", action="store_true", help="also run ours under bf16 autocast")
    ap.add_argument("--cap", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=4096 * 23)
    ap.add_argument("--impls", nargs="+", default=["ours", "fuxictr", "deepctr", "gemm-floor"])
    ap.add_argument("--allow-dirty", action="store_true")
    args = ap.parse_args()
    prepare(args.cap, args.rows)
    me, peers = sys.executable, args.peers_python
    plan = {"ml-100k-ctr": [("ours", me, "embed"), ("fuxictr", peers, "embed"), ("deepctr", peers, "embed")],
            "criteo-synth": [("ours", me, "embed"), ("fuxictr", peers, "embed"), ("deepctr", peers, "embed"),
                             ("ours", me, "raw")]}
    runs = []
    for rep in range(max(args.reps, args.ml_reps)):
        for dataset, variants in plan.items():
            if rep >= (args.ml_reps if dataset == "ml-100k-ctr" else args.reps):
                continue
            for impl, py, numeric in variants + [("gemm-floor", me, "embed")]:
                if impl in args.impls:
                    runs.append(run_one(py, impl, dataset, rep, numeric))
            if args.bf16:
                runs.append(run_one(me, "ours", dataset, rep, bf16=True))
    finalize(runs, peers, args.cap, args.rows, allow_dirty=args.allow_dirty)


def summary(runs: list[dict]) -> dict:
    """Per dataset: each implementation's ratio to FuxiCTR in samples per CPU-second (ratio of medians and
    the range of per-rep ratios, rep = seed, run back to back), and the test AUC difference."""
    import statistics as st

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from record import ratio_summary

    out = {}
    for data in sorted({r["dataset"] for r in runs}):
        rows = [dict(r, impl=label(r), rep=r["seed"]) for r in runs if r["dataset"] == data]
        for impl in sorted({r["impl"] for r in rows} - {"fuxictr"}):
            e = {"vs_fuxictr": ratio_summary(rows, impl, "fuxictr", "samples_per_cpu_s")}
            a = [r["test_auc"] for r in rows if r["impl"] == impl and "test_auc" in r]
            b = [r["test_auc"] for r in rows if r["impl"] == "fuxictr" and "test_auc" in r]
            if a and b:
                e["test_auc"], e["test_auc_fuxictr"], e["delta_auc"] = st.mean(a), st.mean(b), st.mean(a) - st.mean(b)
            out[f"{data}/{impl}"] = e
    return out


def finalize(runs: list[dict], peers_python: str, cap: int, rows: int, allow_dirty: bool = False) -> None:
    """Write the record through benchmarks/record.py and print the table."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import record as bench_record

    print(table(runs))
    reps = [dict(r, impl=label(r), rep=r["seed"]) for r in runs]
    bench_record.write("ctr_throughput", reps=reps, summary=summary(runs),
                       settings={"models": SETTINGS, "cap": cap, "rows": rows, "interleaved": True},
                       peers={"python": peers_python, "freeze": subprocess.run(
                           [peers_python, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()},
                       allow_dirty=allow_dirty)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "report":  # re-render the table of a finished record
        rec = json.loads(Path(sys.argv[2]).read_text())
        print(table(rec.get("reps") or rec["runs"]))
    elif len(sys.argv) > 1 and sys.argv[1] == "profile":  # our ML-100K step by operation vs the GEMM floor
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import record as bench_record
        prepare(1_000_000, 4096 * 23) if not (WORK / "ml-100k-ctr.npz").exists() else None
        reps = [dict(profile_ours("ml-100k-ctr", seed), impl="ours-profile", rep=seed) for seed in range(3)]
        bench_record.write("ctr_profile", reps=reps, summary=profile_summary(reps),
                           settings={"model": SETTINGS["ml-100k-ctr"], "steps": PROFILE_STEPS},
                           allow_dirty="--allow-dirty" in sys.argv)
        print(profile_table(profile_summary(reps)))
    elif len(sys.argv) > 1 and sys.argv[1] == "worker":
        ap = argparse.ArgumentParser()
        ap.add_argument("cmd")
        ap.add_argument("impl")
        ap.add_argument("dataset")
        ap.add_argument("--seed", type=int, default=0)
        ap.add_argument("--numeric", default="embed")
        a = ap.parse_args()
        print(json.dumps(worker(a.impl, a.dataset, a.seed, a.numeric)))
    else:
        main()
