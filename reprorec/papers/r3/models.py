"""NeuMF (He et al., WWW 2017) for explicit ratings, and R3 = NeuMF + a review regulariser.

NeuMF: a GMF tower (p_u ⊙ q_i) and an MLP tower over [p'_u, q'_i] with separate embeddings; the
pair representation φ = [GMF, MLP output] goes through one linear layer to the rating (bias
initialised at the training mean so training starts from the global-mean predictor).

R3 (Pan, Tao & Ai, DLP-KDD 2020): during training only, a head maps the same φ to a representation
of the review the user wrote for the item, and the loss becomes  MSE(rating) + λ · text loss.
The head is never called by ``forward``: a trained R3 serves exactly like NeuMF, from two ID lookups.
Text heads:
  'svd' — linear map φ -> standardised TF-IDF/SVD vector, squared error averaged over dimensions;
  'bow' — linear map φ -> vocabulary logits, multinomial log-likelihood of the review's words
          (negative, averaged over tokens).
The head is created under a forked RNG so that adding it does not change the NCF initialisation
or the dropout stream: with λ = 0, R3 reproduces NeuMF bit for bit (tested).
"""
from __future__ import annotations

import torch
from torch import nn


class NeuMF(nn.Module):
    def __init__(self, n_users: int, n_items: int, gmf_dim: int = 16, mlp_layers=(64, 32, 16),
                 dropout: float = 0.0, global_mean: float = 0.0):
        super().__init__()
        mlp_layers = list(mlp_layers)
        self.gmf_user = nn.Embedding(n_users, gmf_dim)
        self.gmf_item = nn.Embedding(n_items, gmf_dim)
        self.mlp_user = nn.Embedding(n_users, mlp_layers[0] // 2)
        self.mlp_item = nn.Embedding(n_items, mlp_layers[0] // 2)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        layers: list[nn.Module] = []
        for d_in, d_out in zip(mlp_layers[:-1], mlp_layers[1:]):
            layers += [nn.Dropout(dropout), nn.Linear(d_in, d_out), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.pair_dim = gmf_dim + mlp_layers[-1]
        self.out = nn.Linear(self.pair_dim, 1)
        nn.init.constant_(self.out.bias, float(global_mean))

    def pair(self, batch) -> torch.Tensor:
        """φ(u, i): the representation both the rating and (in R3) the text are predicted from."""
        u, i = batch["user"], batch["item"]
        gmf = self.gmf_user(u) * self.gmf_item(i)
        mlp = self.mlp(torch.cat([self.mlp_user(u), self.mlp_item(i)], -1))
        return torch.cat([gmf, mlp], -1)

    def forward(self, batch) -> torch.Tensor:
        return self.out(self.pair(batch)).squeeze(-1)


class R3(NeuMF):
    """NeuMF whose training loss adds λ · (text loss of predicting the pair's review from φ)."""

    def __init__(self, n_users: int, n_items: int, *, text: str, text_dim: int, lam: float, head_seed: int = 0,
                 **neumf):
        super().__init__(n_users, n_items, **neumf)
        if text not in ("svd", "bow"):
            raise ValueError(f"text must be 'svd' or 'bow', got {text!r}")
        self.text, self.lam = text, float(lam)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(head_seed)
            # bow: logits over ids 1..V (id 0 is padding and is never a target)
            self.head = nn.Linear(self.pair_dim, text_dim + (1 if text == "bow" else 0))
        self._phi: torch.Tensor | None = None

    def forward(self, batch) -> torch.Tensor:
        phi = self.pair(batch)
        self._phi = phi if self.training else None  # reused by regularization(): one forward per step
        return self.out(phi).squeeze(-1)

    def text_loss(self, phi: torch.Tensor, batch) -> torch.Tensor:
        pred = self.head(phi)
        if self.text == "svd":
            return (pred - batch["text"]).pow(2).mean()
        tokens = batch["tokens"]
        logp = torch.log_softmax(pred, -1).gather(1, tokens)
        mask = (tokens > 0).float()
        return -(logp * mask).sum() / mask.sum().clamp_min(1.0)

    def regularization(self, batch) -> torch.Tensor:
        phi = self._phi if self._phi is not None else self.pair(batch)
        self._phi = None
        return self.lam * self.text_loss(phi, batch)
