"""Config -> CTR data, model and a finished run: the three calls every CTR method makes.

    data = data_from_cfg(cfg)                        # CTRData (time windows, schema, id maps)
    model = model_from_cfg(cfg, data.schema)         # DCNv2 / DNN
    model.id_table("item").load_pretrained(vectors, ids=rows, freeze=False)   # optional (KGE init)
    return fit_ctr(model, data, cfg, ctx)            # CTRModule + fit_evaluate -> RunResult

The config blocks read here are declared once, below (CTRDataSchema, CTRModelSchema, CTRTrainSchema, CTRSchema), and
every CTR method's schema reuses them. ``data`` and ``model`` keys a config leaves unset are not passed
on, so the dataset loader's and the model class's own defaults apply (they differ per dataset/class).
"""
from __future__ import annotations

from typing import Literal, Optional

from .. import config as C
import torch

from ..config import Dropout, Experiment, Fraction, NonNegFloat, NonNegInt, PosFloat, PosInt, Section
from ..metrics import binary_metrics
from ..train import RunContext, RunResult, fit_evaluate
from ..data.ctr import CTRData, load_ctr
from .models import CTRModel, build_model
from .module import CTRModule


class CTRDataSchema(Section):
    """``load_ctr`` keyword arguments (time-windowed proxies: windows, neg_*; Criteo/Avazu: val_frac, split_seed)."""
    windows: Optional[tuple[Fraction, Fraction, Fraction]] = None  # cuts: pretrain | train | val | test
    min_count: Optional[PosInt] = None
    neg_ratio: Optional[PosInt] = None
    negatives: Optional[Literal["uniform", "time-consistent"]] = None  # how the Amazon proxy samples non-clicks
    real_mask: Optional[bool] = None           # also report AUC on the real rows only (auc_real)
    neg_seed: Optional[int] = None
    id_dim: Optional[PosInt] = None
    buckets: Optional[dict[str, PosInt]] = None
    val_frac: Optional[Fraction] = None
    split_seed: Optional[int] = None


class CTRModelSchema(Section):
    """``build_model`` keyword arguments (reprorec/ctr/models.py)."""
    arch: Literal["dcnv2", "dnn"] = "dcnv2"
    embed_dim: PosInt = 16
    cross_layers: NonNegInt = 3
    hidden: tuple[PosInt, ...] = (400, 400, 400)
    dropout: Dropout = 0.0
    batch_norm: bool = False
    numeric: Literal["embed", "raw"] = "embed"
    init: Literal["torch", "fuxictr"] = "torch"


class CTRTrainSchema(C.FitTrain):
    lr: PosFloat = 1e-3
    sparse_lr: Optional[PosFloat] = None        # SparseAdam rate of the ID tables (None: lr)
    weight_decay: NonNegFloat = 0.0
    batch_size: PosInt = 1024
    windows: tuple[Literal["pretrain", "train"], ...] = ("train",)  # time windows the ranker trains on


class CTRSchema(Experiment):
    data: CTRDataSchema = CTRDataSchema()
    model: CTRModelSchema = CTRModelSchema()
    train: CTRTrainSchema = CTRTrainSchema()


def data_from_cfg(cfg: dict) -> CTRData:
    return load_ctr(cfg["dataset"], **C.section(cfg, "data", CTRDataSchema).model_dump(exclude_unset=True))


def model_from_cfg(cfg: dict, schema, arch: str | None = None, **extra_kw) -> CTRModel:
    """``extra_kw`` (e.g. ``extra=<module>``) are passed to the model beside the config's keys."""
    m = C.section(cfg, "model", CTRModelSchema)
    kw = m.model_dump(exclude_unset=True, exclude={"arch"}) | extra_kw
    return build_model(arch or m.arch, schema, **kw)


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
    t = C.section(cfg, "train", CTRTrainSchema)
    module = CTRModule(model, lr=t.lr, sparse_lr=t.sparse_lr, weight_decay=t.weight_decay)
    loaders = data.loaders(t.batch_size, seed=ctx.seed, train_windows=t.windows)
    metrics, epochs = fit_evaluate(module, loaders, cfg, ctx)
    for split, values in metrics.items():  # the model now holds the best-validation weights
        if "real" in data.windows.get(split, {}):
            values.update(real_review_metrics(model, data.windows[split]))
    collisions = {name: table.collisions() for name, table in model.embedding.ids.items() if table.buckets}
    info = {"data": data.info, "cuts": data.cuts, **({"hash_collisions": collisions} if collisions else {})}
    return RunResult(metrics, data.files, data.split_fingerprint, epochs, extra={**info, **(extra or {})},
                     test_rows=module.test_rows)
