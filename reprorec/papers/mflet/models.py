"""The MF-LET ranking model: the shared DCNv2 backbone fed with multi-faceted ID tables.

Each facet (``scratch``, ``contrastive``, ``kge``) owns one table per ID field (user, item),
named ``<field>_<facet>``. A table whose width differs from the ranking ID width gets a learned
linear projection; the (projected) facet vectors are concatenated in front of the backbone's
attribute / multi-hot / numeric embeddings, exactly where the backbone puts its own ID fields,
and the DCNv2 cross network + MLP run on that. With no facet the model is the backbone on
non-ID features only (experiment (1)).

It is a `reprorec.serving.HybridModel`: the facet tables are the large tables served from host
memory, everything else (attribute embeddings, projections, DCNv2) is the dense part.

Facet 1: user-item contrastive pretraining of the ID tables (MF-LET, Section "User-Pin
Contrastive Learning" in the paper's description).

A two-tower model that has *only* a user-ID table and an item-ID table — no other feature — so the
IDs are learned independently of everything the ranking model already sees. Trained on the
pretraining window's positive engagements with in-batch negatives: for a batch of B positive
pairs (u_b, i_b), the logits are s(u_a, i_b) / tau and the loss is the softmax cross-entropy
with the diagonal as target (sampled softmax / InfoNCE with in-batch negatives).
"""
from __future__ import annotations

from dataclasses import asdict

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from reprorec.ctr.models import build_model
from reprorec.data.ctr_schema import FeatureSchema, IdField, MultiHotField
from reprorec.lightning_glue import make_loader
from reprorec.serving import HybridModel


ID_FIELDS = ("user", "item")


def schema_to_dict(schema: FeatureSchema) -> dict:
    return asdict(schema)


def schema_from_dict(d: dict) -> FeatureSchema:
    return FeatureSchema([IdField(**f) for f in d["id_fields"]], list(d["cat_fields"]), d["cat_size"],
                         [MultiHotField(**m) for m in d["multi_hot"]], list(d["numeric"]))


class MFLETRanker(HybridModel):
    def __init__(self, schema: dict, facets: dict[str, int], id_dim: int = 16, arch: str = "dcnv2",
                 backbone: dict | None = None, init_std: float = 1e-2):
        """schema: the data's FeatureSchema as a dict (its ID fields give the table sizes);
        facets: {facet name: table width}, e.g. {'contrastive': 16, 'kge': 32}; {} = no ID tables."""
        super().__init__()
        self.init_kwargs = {"schema": schema, "facets": dict(facets), "id_dim": id_dim, "arch": arch,
                            "backbone": dict(backbone or {}), "init_std": init_std}
        data_schema = schema_from_dict(schema)
        sizes = {f.name: f.num_ids for f in data_schema.id_fields}
        self.facets = dict(facets)
        self.tables = nn.ModuleDict()
        self.proj = nn.ModuleDict()
        self.table_keys = {}
        for facet, width in self.facets.items():
            for field in ID_FIELDS:
                name = f"{field}_{facet}"
                self.tables[name] = nn.Embedding(sizes[field], width, sparse=True)
                nn.init.normal_(self.tables[name].weight, std=init_std)
                self.proj[name] = nn.Linear(width, id_dim, bias=False) if width != id_dim else nn.Identity()
                self.table_keys[name] = field
        # The backbone sees one ID field per facet table (so its widths are right), but its own ID
        # tables are dropped: the facet tables above replace them.
        ranked = FeatureSchema([IdField(n, 1, id_dim) for n in self.table_keys], data_schema.cat_fields,
                               data_schema.cat_size, data_schema.multi_hot, data_schema.numeric)
        self.backbone = build_model(arch, ranked, **{k: tuple(v) if isinstance(v, list) else v
                                                     for k, v in (backbone or {}).items()})
        self.backbone.embedding.ids = nn.ModuleDict()

    @property
    def embedding(self):  # what reprorec.ctr.run.fit_ctr inspects (hash collisions of its ID tables)
        return self.backbone.embedding

    @torch.no_grad()
    def load_facet(self, facet: str, vectors: dict[str, torch.Tensor], freeze: bool) -> None:
        """Initialise the facet's tables from pretrained vectors (row-aligned with the ranking ID maps)."""
        for field in ID_FIELDS:
            table = self.tables[f"{field}_{facet}"]
            v = torch.as_tensor(vectors[field], dtype=table.weight.dtype)
            if v.shape != table.weight.shape:
                raise ValueError(f"pretrained {facet}/{field} has shape {tuple(v.shape)}, table {tuple(table.weight.shape)}")
            table.weight.copy_(v)
            table.weight.requires_grad_(not freeze)

    def dense_forward(self, emb: dict, batch: dict) -> torch.Tensor:
        parts = [self.proj[name](emb[name]) for name in self.table_keys]
        rest = self.backbone.embedding(batch)
        x = torch.cat([*parts, rest], dim=1) if parts else rest
        return self.backbone.head(self.backbone.interact(x)).squeeze(-1)


def in_batch_softmax_loss(u: torch.Tensor, i: torch.Tensor, temperature: float, normalize: bool = True) -> torch.Tensor:
    """Mean over the batch of -log softmax_b(<u_a, i_b> / tau)[a] (row a's own item is its positive)."""
    if normalize:
        u, i = F.normalize(u, dim=-1), F.normalize(i, dim=-1)
    logits = u @ i.T / temperature
    return F.cross_entropy(logits, torch.arange(len(u), device=u.device))


class TwoTower(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float = 0.1):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user(users), self.item(items)


class ContrastiveModule(L.LightningModule):
    def __init__(self, model: TwoTower, temperature: float, lr: float, normalize: bool = True):
        super().__init__()
        self.model, self.temperature, self.lr, self.normalize = model, temperature, lr, normalize

    def training_step(self, batch, _):
        u, i = self.model(batch["user"], batch["item"])
        loss = in_batch_softmax_loss(u, i, self.temperature, self.normalize)
        self.log("pretrain/contrastive_loss", loss, on_step=False, on_epoch=True, batch_size=len(u))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)


def pretrain_contrastive(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int, *, dim: int,
                         temperature: float = 0.1, lr: float = 0.01, epochs: int = 10, batch_size: int = 512,
                         normalize: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    """Train the two-tower on positive (user, item) pairs; returns {'user': (n_users, dim), 'item': (n_items, dim)}.

    Batches drop the last partial batch so every row sees the same number of negatives.
    """
    torch.manual_seed(seed)
    model = TwoTower(n_users, n_items, dim)
    loader = make_loader({"user": users, "item": items}, batch_size, shuffle=True, seed=seed)
    loader.sampler.drop_last = True
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, deterministic=True)
    trainer.fit(ContrastiveModule(model, temperature, lr, normalize), loader)
    return {"user": model.user.weight.detach().clone(), "item": model.item.weight.detach().clone()}
