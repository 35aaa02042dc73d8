"""CTR interaction models on top of ``FeatureEmbedding``: DCNv2 (default) and a plain DNN baseline.

DCNv2 follows FuxiCTR's ``DCNv2`` with ``model_structure='parallel'`` and full-rank cross layers
(Wang et al., WWW 2021): x_{l+1} = x_0 * (W_l x_l + b_l) + x_l on the flat embedding x_0, an MLP on
x_0 beside it, and one linear layer on [cross_out, mlp_out] -> logit. Every model maps a batch dict
to logits of shape (B,), the contract of ``reprorec.lightning_glue.SupervisedModule``.
"""
from __future__ import annotations

import torch
from torch import nn

from .embedding import FeatureEmbedding
from ..data.ctr_schema import FeatureSchema
from ..registry import Resolver


class CrossNetV2(nn.Module):
    def __init__(self, dim: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))

    def forward(self, x0):
        x = x0
        for layer in self.layers:
            x = x + x0 * layer(x)
        return x


class FastDropout(nn.Module):
    """Inverted dropout whose keep-mask comes from random *bytes*, 8 per 64-bit draw.

    ``nn.Dropout`` on CPU draws one Bernoulli per element through the Mersenne twister, which costs
    more than the MLP's matmuls at CTR widths; this draws 8x fewer numbers. The drop probability is
    rounded to a multiple of 1/256 (0.2 -> 51/256 = 0.1992); the output is scaled by 1/keep as usual.
    """

    def __init__(self, p: float):
        super().__init__()
        self.threshold = round(p * 256)
        self.scale = 256 / (256 - self.threshold)

    def forward(self, x):
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.randint(-2 ** 63, 2 ** 63 - 1, (-(-n // 8),), dtype=torch.int64, device=x.device)
        keep = words.view(torch.uint8)[:n].view(x.shape) >= self.threshold
        # {0, scale} multiplier via uint8 -> float (bool -> float and bool * float are ~5x slower on
        # CPU); the values, hence the output, are bit-identical to x * (keep * scale).
        return x * keep.view(torch.uint8).to(x.dtype).mul_(self.scale)


class _HeadFunction(torch.autograd.Function):
    """``F.linear`` to ONE output whose input gradient is a broadcast product, not an (B,1)@(1,D) matmul.

    With one output the input gradient g[:, None] * w has a single product per element, so it equals
    autograd's ``grad.mm(weight)`` bit for bit, but the K=1 matmul costs ~5% of a DCNv2 step on CPU.
    The weight and bias gradients are computed exactly as autograd does for ``addmm``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        gx = g * weight if ctx.needs_input_grad[0] else None
        gw = x.t().mm(g).t() if ctx.needs_input_grad[1] else None
        gb = g.sum(0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


class Head(nn.Linear):
    """The final ``Linear(d, 1)`` (same parameters and initialisation) with a cheaper backward."""

    def __init__(self, in_features: int):
        super().__init__(in_features, 1)

    def forward(self, x):
        if x.dim() != 2 or not torch.is_grad_enabled():
            return super().forward(x)
        return _HeadFunction.apply(x, self.weight, self.bias)


def mlp(in_dim: int, hidden: list[int], dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    """Linear -> (BatchNorm) -> ReLU -> (Dropout) per hidden layer, as FuxiCTR's MLP_Block."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers.append(nn.Linear(in_dim, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(FastDropout(dropout))
        in_dim = h
    return nn.Sequential(*layers)


class CTRModel(nn.Module):
    """Embedding + interaction + linear head. Subclasses define ``interact(x) -> features``.

    ``extra`` (optional) is a module ``extra(batch, embedding) -> (B, extra.out_dim)`` whose output is
    appended to the flat field embedding before the interaction layers (e.g. KGE features or an
    attention block over pretrained vectors); it may read the ID tables through ``embedding``.
    ``sparse`` is passed to ``FeatureEmbedding`` ('auto': sparse gradients for tables >= 100k rows).
    """

    def __init__(self, schema: FeatureSchema, embed_dim: int = 16, numeric: str = "embed",
                 extra: nn.Module | None = None, sparse: bool | str = "auto"):
        super().__init__()
        self.embedding = FeatureEmbedding(schema, embed_dim, numeric, sparse)
        self.extra = extra
        self.input_dim = self.embedding.out_dim + (extra.out_dim if extra is not None else 0)

    def id_table(self, name: str):
        """The large ID table of field ``name`` (for ``load_pretrained``)."""
        return self.embedding.id_table(name)

    def init_weights(self, scheme: str = "torch") -> None:
        """'torch': PyTorch defaults (embeddings N(0, 0.01)). 'fuxictr': FuxiCTR's BaseModel scheme —
        embeddings N(0, 1e-4), Linear weights Xavier-normal, biases 0 (+0.003-0.004 test AUC on
        ml-100k-ctr, see benchmarks/README.md). The ``extra`` block is left as built (it may hold
        pretrained vectors)."""
        if scheme == "torch":
            return
        if scheme != "fuxictr":
            raise ValueError(f"init must be 'torch' or 'fuxictr', got {scheme!r}")
        own = [m for name, m in self.named_modules() if not name.startswith("extra")]
        for m in own:
            if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
                nn.init.normal_(m.weight, std=1e-4)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        if self.embedding.num is not None:
            nn.init.normal_(self.embedding.num, std=1e-4)

    def features(self, batch) -> torch.Tensor:
        x = self.embedding(batch)
        return x if self.extra is None else torch.cat([x, self.extra(batch, self.embedding)], dim=1)

    def forward(self, batch):
        return self.head(self.interact(self.features(batch))).squeeze(-1)


class DNN(CTRModel):
    def __init__(self, schema: FeatureSchema, embed_dim: int = 16, hidden=(400, 400, 400), dropout: float = 0.0,
                 batch_norm: bool = False, numeric: str = "embed", extra: nn.Module | None = None,
                 sparse: bool | str = "auto", init: str = "torch"):
        super().__init__(schema, embed_dim, numeric, extra, sparse)
        self.interact = mlp(self.input_dim, list(hidden), dropout, batch_norm)
        self.head = Head(list(hidden)[-1])
        self.init_weights(init)


class DCNv2(CTRModel):
    def __init__(self, schema: FeatureSchema, embed_dim: int = 16, cross_layers: int = 3, hidden=(400, 400, 400),
                 dropout: float = 0.0, batch_norm: bool = False, numeric: str = "embed", extra: nn.Module | None = None,
                 sparse: bool | str = "auto", init: str = "torch"):
        super().__init__(schema, embed_dim, numeric, extra, sparse)
        d = self.input_dim
        self.cross = CrossNetV2(d, cross_layers)
        self.dnn = mlp(d, list(hidden), dropout, batch_norm)
        self.head = Head(d + list(hidden)[-1])
        self.init_weights(init)

    def interact(self, x):
        return torch.cat([self.cross(x), self.dnn(x)], dim=-1)


MODELS: Resolver[type[CTRModel]] = Resolver("CTR model", {"dcnv2": DCNv2, "dnn": DNN})


def build_model(name: str, schema: FeatureSchema, **kw) -> CTRModel:
    """``build_model('dcnv2', schema, embed_dim=16, cross_layers=3, hidden=[400,400,400], dropout=0.1)``."""
    return MODELS.make(name, schema, **kw)
