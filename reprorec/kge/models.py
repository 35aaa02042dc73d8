"""Translational KGE models: TransE, TransR and TransRA (interpretation), plus a name registry.

Every model scores a triple (h, r, t) as a *negative distance* (higher = more plausible):

  TransE  (Bordes et al. 2013):  s = -|| e_h + w_r - e_t ||_p
  TransR  (Lin et al. 2015):     s = -|| c(M_r e_h) + w_r - c(M_r e_t) ||_p,  M_r in R^{k x d}
  TransRA (interpretation):      TransR, but the *anchor* relations (user -> item engagement) use M_r = I,
                                 so anchors (users, items) interact in the entity space itself.

``c`` clamps a projected vector to L_p norm <= 1. Defaults, initialisation and the constraints applied
after each optimiser step follow PyKEEN 1.11 so the parity benchmark compares like with like: p = 1;
TransE entities are renormalised to unit L2 norm; TransR entities and relations are clamped to
L_p norm <= 1; Xavier-style uniform initialisation with PyKEEN's fan conventions.

Why TransRA exists (paper, abstract): the ranking model's ID embedding tables hold one vector per
user/item; a plain TransR embeds those entities in a space that every relation re-projects, so the
vector a ranking model reads is not the vector any relation scores with. Fixing the anchor
relation's projection to the identity makes the entity-table rows *directly* the vectors that
engagement edges were trained on — no projection mismatch when they seed the ranking tables.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..registry import Resolver


def _xavier_rows(weight: torch.Tensor, normalise: bool = False) -> None:
    """PyKEEN's ``xavier_uniform_`` for embedding tables: U(-a, a), a = sqrt(6 / row length);
    ``normalise`` then scales each row to unit L2 norm (PyKEEN's ``xavier_uniform_norm_``)."""
    bound = math.sqrt(6.0 / weight.shape[-1])
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        if normalise:
            weight.copy_(F.normalize(weight, dim=-1))


def _clamp_norm(x: torch.Tensor, p: int = 1, maxnorm: float = 1.0) -> torch.Tensor:
    """Scale rows whose L_p norm exceeds ``maxnorm`` back onto the ball (differentiable)."""
    norm = x.norm(p=p, dim=-1, keepdim=True)
    return x * torch.where(norm > maxnorm, maxnorm / norm.clamp_min(1e-12), torch.ones_like(norm))


class KGEModel(nn.Module):
    """Base class: entity table ``entity`` (E x d) and relation table ``relation`` (R x k).

    Subclasses define ``project(vectors, r)`` mapping entity vectors into relation r's space.
    Scoring, all-candidate scoring (for ranking) and the post-step constraints are shared.
    """

    name = "kge"

    def __init__(self, n_entities: int, n_relations: int, dim: int, relation_dim: int | None = None, p: int = 1):
        super().__init__()
        self.n_entities, self.n_relations, self.dim = n_entities, n_relations, dim
        self.relation_dim = relation_dim or dim
        self.p = p
        self.entity = nn.Embedding(n_entities, dim)
        self.relation = nn.Embedding(n_relations, self.relation_dim)
        _xavier_rows(self.entity.weight)
        _xavier_rows(self.relation.weight, normalise=True)

    # -- to override -------------------------------------------------------------------------
    def project(self, vectors: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """vectors (..., d), r (...) -> (..., k) in relation space. Identity for TransE."""
        return vectors

    @torch.no_grad()
    def post_step(self) -> None:
        """Constraints applied after every optimiser step."""

    # -- shared ------------------------------------------------------------------------------
    def entity_vectors(self) -> torch.Tensor:
        """The entity table (E x d): what a ranking model's ID embedding tables are seeded with."""
        return self.entity.weight

    def relation_view(self, entities: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Relation-specific view of entities (projected vectors): the 'views' attention pools over."""
        return self.project(self.entity(entities), r)

    def project_ids(self, e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Entities ``e`` (by id) in relation ``r``'s space, shapes (N,) -> (N, k)."""
        return self.project(self.entity(e), r)

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Score of each triple (broadcasting over leading dims): -|| P_r h + w_r - P_r t ||_p.

        Heads and tails are projected in one call, so a model can share work between them (TransR
        projects each distinct entity once per relation, with one matrix product per relation).
        """
        h, r, t = torch.broadcast_tensors(h, r, t)
        shape = h.shape
        h, r, t = h.reshape(-1), r.reshape(-1), t.reshape(-1)
        n = len(h)
        p = self.project_ids(torch.cat([h, t]), torch.cat([r, r]))
        d = p[:n] + self.relation(r) - p[n:]
        return -d.norm(p=self.p, dim=-1).reshape(shape)

    def _projected_all(self, r: int) -> torch.Tensor:
        """All entities in relation r's space (E x k)."""
        rr = torch.full((self.n_entities,), int(r), dtype=torch.long, device=self.entity.weight.device)
        return self.project(self.entity.weight, rr)

    def score_all(self, anchor: torch.Tensor, r: torch.Tensor, side: str) -> torch.Tensor:
        """Scores of every entity as the missing ``side`` ('tail' or 'head') of (anchor, r) queries: (Q, E).

        Queries are grouped by relation so each relation projects the entity table once.
        """
        out = torch.empty(len(anchor), self.n_entities, device=self.entity.weight.device)
        for rel in torch.unique(r).tolist():
            idx = (r == rel).nonzero(as_tuple=True)[0]
            cand = self._projected_all(rel)                              # (E, k)
            w = self.relation.weight[rel]
            q = cand[anchor[idx]]                                        # projected anchors (n, k)
            q = q + w if side == "tail" else q - w                       # h + r ≈ t  |  t - r ≈ h
            out[idx] = -torch.cdist(q, cand, p=float(self.p))
        return out


class TransE(KGEModel):
    """TransE: translation in one shared space; entities renormalised to unit length (PyKEEN default)."""

    name = "transe"

    def __init__(self, n_entities: int, n_relations: int, dim: int, relation_dim: int | None = None, p: int = 1):
        if relation_dim not in (None, dim):
            raise ValueError("TransE uses one space: relation_dim must equal dim")
        super().__init__(n_entities, n_relations, dim, dim, p)

    def score(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """-|| e_h + w_r - e_t ||_p: nothing to share between heads and tails, so no concatenation."""
        return -(self.entity(h) + self.relation(r) - self.entity(t)).norm(p=self.p, dim=-1)

    @torch.no_grad()
    def post_step(self) -> None:
        self.entity.weight.copy_(F.normalize(self.entity.weight, dim=-1))


class TransR(KGEModel):
    """TransR: per-relation projection matrices M_r (k x d); projected vectors clamped to norm <= 1."""

    name = "transr"

    def __init__(self, n_entities: int, n_relations: int, dim: int, relation_dim: int | None = None, p: int = 1):
        super().__init__(n_entities, n_relations, dim, relation_dim, p)
        self.projection = nn.Parameter(torch.empty(n_relations, self.relation_dim, dim))
        # torch's xavier_uniform_ on PyKEEN's (R, d, k) tensor: fan_in = d*k, fan_out = R*k
        bound = math.sqrt(6.0 / ((dim + n_relations) * self.relation_dim))
        nn.init.uniform_(self.projection, -bound, bound)

    def matrices(self, r: torch.Tensor) -> torch.Tensor:
        return self.projection[r]

    def all_matrices(self) -> torch.Tensor:
        """(R, k, d): every relation's projection matrix."""
        return self.matrices(torch.arange(self.n_relations, device=self.projection.device))

    def _grouped(self, vectors: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """(N, d) vectors, (N,) relations -> (N, k) unclamped: rows sorted by relation, one matrix
        product per relation present (instead of a batched mat-vec with a gathered k x d matrix per row,
        whose gather and scatter-add backward dominated training time)."""
        order = torch.argsort(r, stable=True)
        counts = torch.bincount(r, minlength=self.n_relations).tolist()
        mats = self.all_matrices()
        parts = [seg @ mats[i].T for i, seg in enumerate(torch.split(vectors[order], counts)) if counts[i]]
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        return out[torch.argsort(order)]

    def project(self, vectors: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        vectors, r = torch.broadcast_tensors(vectors, r[..., None])
        r = r[..., 0]
        if r.numel() == 0:
            return vectors.new_zeros(*r.shape, self.relation_dim)
        out = self._grouped(vectors.reshape(-1, self.dim), r.reshape(-1))
        return _clamp_norm(out.reshape(*r.shape, self.relation_dim), self.p)

    def project_ids(self, e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Each distinct entity of the batch is projected by every relation with one matrix product when
        that is cheaper than grouping rows by relation (few relations, many repeated entities, as in a
        batch of positives and their corruptions); otherwise rows are grouped by relation."""
        if e.numel() == 0:
            return self.entity.weight.new_zeros(0, self.relation_dim)
        uniq, inv = torch.unique(e, return_inverse=True)
        if len(uniq) * self.n_relations <= 2 * len(e):
            mats = self.all_matrices()                                    # (R, k, d)
            table = self.entity(uniq) @ mats.reshape(-1, self.dim).T      # (U, R*k)
            out = table.view(len(uniq), self.n_relations, self.relation_dim)[inv, r]
        else:
            out = self._grouped(self.entity(e), r)
        return _clamp_norm(out, self.p)

    def _projected_all(self, r: int) -> torch.Tensor:
        m = self.matrices(torch.tensor(int(r), device=self.projection.device))
        return _clamp_norm(self.entity.weight @ m.T, self.p)

    @torch.no_grad()
    def post_step(self) -> None:
        self.entity.weight.copy_(_clamp_norm(self.entity.weight, self.p))
        self.relation.weight.copy_(_clamp_norm(self.relation.weight, self.p))


class TransRA(TransR):
    """TransRA (interpretation): TransR whose *anchor* relations project with the identity.

    ``anchor_relations`` are the ids of the relations between anchor entities (the ranking model's
    users and items, e.g. user -> item engagement). For them M_r = I exactly (a fixed buffer, no
    parameter): those triples are scored TransE-style in the entity space, the same space the ranking
    model's ID tables live in. Every other relation keeps its learned TransR projection. Requires
    relation_dim == dim.
    """

    name = "transra"

    def __init__(self, n_entities: int, n_relations: int, dim: int, relation_dim: int | None = None, p: int = 1,
                 anchor_relations: list[int] | tuple[int, ...] = ()):
        if relation_dim not in (None, dim):
            raise ValueError("TransRA scores anchor relations in the entity space: relation_dim must equal dim")
        super().__init__(n_entities, n_relations, dim, dim, p)
        mask = torch.zeros(n_relations, dtype=torch.bool)
        mask[list(anchor_relations)] = True
        self.register_buffer("anchor_mask", mask)
        self.register_buffer("eye", torch.eye(dim))

    def matrices(self, r: torch.Tensor) -> torch.Tensor:
        m = self.projection[r]
        return torch.where(self.anchor_mask[r][..., None, None], self.eye, m)


MODELS: Resolver[type[KGEModel]] = Resolver("KGE model", {"transe": TransE, "transr": TransR, "transra": TransRA})


def build_model(name: str, n_entities: int, n_relations: int, dim: int, **kw) -> KGEModel:
    """``build_model('transr', E, R, 64, relation_dim=32)``; TransRA also takes ``anchor_relations=[ids]``."""
    return MODELS.make(name, n_entities, n_relations, dim, **kw)
