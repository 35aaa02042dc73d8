"""Config -> CTR data, model and a finished run: the three calls every CTR method makes.

    data = data_from_cfg(cfg)                        # CTRData (time windows, schema, id maps)
    model = model_from_cfg(cfg, data.schema)         # DCNv2 / DNN
    model.id_table("item").load_pretrained(vectors, ids=rows, freeze=False)   # optional (KGE init)
    return fit_ctr(model, data, cfg, ctx)            # CTRModule + fit_evaluate -> RunResult

Config keys read here: ``data`` (passed to ``load_ctr``: windows, min_count, neg_ratio, negatives, real_mask, buckets,
id_dim, val_frac, split_seed), ``model`` {arch: dcnv2|dnn, embed_dim, cross_layers, hidden,
dropout, batch_norm, numeric}, ``train`` {lr, sparse_lr, weight_decay, batch_size, windows, ...};
``train.windows`` (default ['train']) lists the time windows the ranker trains on, e.g.
['pretrain', 'train'] (val and test are unchanged).
"""
from __future__ import annotations

import torch

from .. import config as C
from ..metrics import binary_metrics
from ..train import RunContext, RunResult, fit_evaluate
from ..data.ctr import CTRData, load_ctr
from .models import CTRModel, build_model
from .module import CTRModule


def data_from_cfg(cfg: dict) -> CTRData:
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(C.get(cfg, "data", {}) or {}).items()}
    return load_ctr(cfg["dataset"], **kw)


def model_from_cfg(cfg: dict, schema, arch: str | None = None, **extra_kw) -> CTRModel:
    """``extra_kw`` (e.g. ``extra=<module>``) are passed to the model beside the config's keys."""
    kw = dict(C.get(cfg, "model", {}) or {}) | extra_kw
    name = arch or kw.pop("arch", "dcnv2")
    kw.pop("arch", None)
    if "hidden" in kw:
        kw["hidden"] = tuple(kw["hidden"])
    return build_model(name, schema, **kw)


@torch.no_grad()
def real_review_metrics(model, window: dict, batch_size: int = 8192) -> dict[str, float]:
    """AUC / logloss on the rows with ``window['real']`` set (real reviews; sampled negatives dropped),
    keyed ``auc_real`` / ``logloss_real``: a second metric for proxies whose negatives are sampled."""
    was = model.training
    model.eval()
    real = window["real"].bool()
    rows = {k: v[real] for k, v in window.items()}
    scores = torch.cat([model({k: v[i:i + batch_size] for k, v in rows.items()})
                        for i in range(0, int(real.sum()), batch_size)])
    model.train(was)
    m = binary_metrics()
    m.update(torch.sigmoid(scores.float()), rows["y"].long())
    return {f"{k}_real": float(v) for k, v in m.compute().items()}


def fit_ctr(model: CTRModel, data: CTRData, cfg: dict, ctx: RunContext, extra: dict | None = None) -> RunResult:
    """Train on data.windows['train'], early-stop on val, report val (+ test) of the best epoch."""
    module = CTRModule(model, lr=float(C.get(cfg, "train.lr", 1e-3)),
                       sparse_lr=C.get(cfg, "train.sparse_lr"),
                       weight_decay=float(C.get(cfg, "train.weight_decay", 0.0)))
    loaders = data.loaders(int(C.get(cfg, "train.batch_size", 1024)), seed=ctx.seed,
                           train_windows=tuple(C.get(cfg, "train.windows", None) or ("train",)))
    metrics, epochs = fit_evaluate(module, loaders, cfg, ctx)
    for split, values in metrics.items():  # the model now holds the best-validation weights
        if "real" in data.windows.get(split, {}):
            values.update(real_review_metrics(model, data.windows[split]))
    collisions = {name: table.collisions() for name, table in model.embedding.ids.items() if table.buckets}
    info = {"data": data.info, "cuts": data.cuts, **({"hash_collisions": collisions} if collisions else {})}
    return RunResult(metrics, data.files, data.split_fingerprint, epochs, extra={**info, **(extra or {})},
                     test_rows=module.test_rows)
