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

The text-aware baselines R3 is compared with read review text at prediction time:

DeepCoNN (Zheng, Noroozi & Yu, WSDM 2017): one CNN over the user's review document and one over
the item's, each max-pooled and projected to a latent vector; a factorisation machine over the
concatenation predicts the rating.
NARRE (Chen, Zhang, Liu & Ma, WWW 2018): a CNN encodes each review separately; review-level
attention (conditioned on the ID of the item/user each review was written for) pools a user's
(item's) reviews; the pooled text vector is added to an ID embedding, and the rating is
w·((q_u + X_u) ⊙ (p_i + Y_i)) + b_u + b_i + μ.
Word embeddings are trained from scratch (no downloads). Documents/review lists are buffers built
from training reviews only (reprorec/papers/r3/data.py), looked up by ID inside ``forward`` — that lookup and
the CNNs are the serving cost R3 avoids.
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
            if "text_mask" in batch:  # reviews whose text is withheld (data.missing_text) have no target
                mask = batch["text_mask"]
                return ((pred - batch["text"]).pow(2).mean(-1) * mask).sum() / mask.sum().clamp_min(1.0)
            return (pred - batch["text"]).pow(2).mean()
        tokens = batch["tokens"]
        logp = torch.log_softmax(pred, -1).gather(1, tokens)
        mask = (tokens > 0).float()
        return -(logp * mask).sum() / mask.sum().clamp_min(1.0)

    def regularization(self, batch) -> torch.Tensor:
        phi = self._phi if self._phi is not None else self.pair(batch)
        self._phi = None
        return self.lam * self.text_loss(phi, batch)


class TextCNN(nn.Module):
    """Embedded token ids (…, L) -> conv -> ReLU -> max over time -> (…, n_filters)."""

    def __init__(self, embedding: nn.Embedding, n_filters: int, kernel: int):
        super().__init__()
        self.embedding = embedding
        self.conv = nn.Conv1d(embedding.embedding_dim, n_filters, kernel, padding=kernel // 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Padding (id 0) is excluded from the max-pool, so trailing padding can be trimmed (``trim``)
        without changing the result: shorter batches cost less and mean exactly the same."""
        lead = tokens.shape[:-1]
        tokens = tokens.reshape(-1, tokens.shape[-1])
        h = torch.relu(self.conv(self.embedding(tokens).transpose(1, 2)))
        return h.masked_fill((tokens == 0).unsqueeze(1), 0.0).amax(-1).reshape(*lead, -1)


def trim(tokens: torch.Tensor) -> torch.Tensor:
    """Cut the last axis after the last non-padding position in the batch (at least one position)."""
    used = (tokens != 0).reshape(-1, tokens.shape[-1]).any(0).nonzero()
    return tokens[..., :int(used.max()) + 1 if len(used) else 1]


class FM(nn.Module):
    """Second-order factorisation machine on a dense vector (Rendle 2010)."""

    def __init__(self, dim: int, k: int, bias: float):
        super().__init__()
        self.linear = nn.Linear(dim, 1)
        nn.init.constant_(self.linear.bias, bias)
        self.V = nn.Parameter(torch.randn(dim, k) * 0.01)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        inter = 0.5 * ((z @ self.V).pow(2) - (z.pow(2) @ self.V.pow(2))).sum(-1)
        return self.linear(z).squeeze(-1) + inter


class DeepCoNN(nn.Module):
    def __init__(self, user_docs: torch.Tensor, item_docs: torch.Tensor, vocab_size: int, *, emb_dim: int = 64,
                 n_filters: int = 64, kernel: int = 3, latent: int = 32, fm_k: int = 8, dropout: float = 0.5,
                 global_mean: float = 0.0):
        super().__init__()
        self.register_buffer("user_docs", user_docs)
        self.register_buffer("item_docs", item_docs)
        emb = nn.Embedding(vocab_size + 1, emb_dim, padding_idx=0)
        self.user_cnn, self.item_cnn = TextCNN(emb, n_filters, kernel), TextCNN(emb, n_filters, kernel)
        self.user_fc, self.item_fc = nn.Linear(n_filters, latent), nn.Linear(n_filters, latent)
        self.drop = nn.Dropout(dropout)
        self.fm = FM(2 * latent, fm_k, global_mean)

    def forward(self, batch) -> torch.Tensor:
        x = self.user_fc(self.drop(self.user_cnn(trim(self.user_docs[batch["user"]]))))
        y = self.item_fc(self.drop(self.item_cnn(trim(self.item_docs[batch["item"]]))))
        return self.fm(torch.cat([x, y], -1))


class ReviewAttention(nn.Module):
    """NARRE's review-level attention: a_l = h·ReLU(W_O O_l + W_u e(partner_l) + b1) + b2, softmax over l."""

    def __init__(self, n_filters: int, n_partners: int, att_dim: int):
        super().__init__()
        self.partner = nn.Embedding(n_partners, att_dim)
        nn.init.normal_(self.partner.weight, std=0.01)
        self.W_O = nn.Linear(n_filters, att_dim)
        self.h = nn.Linear(att_dim, 1)

    def forward(self, O: torch.Tensor, partner: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        score = self.h(torch.relu(self.W_O(O) + self.partner(partner))).squeeze(-1)
        first = torch.zeros_like(mask)
        first[..., 0] = True  # an owner without training reviews attends to one empty review, not to nothing
        score = score.masked_fill(~(mask | first), float("-inf"))
        return (torch.softmax(score, -1).unsqueeze(-1) * O).sum(-2)


class NARRE(nn.Module):
    def __init__(self, reviews: dict, n_users: int, n_items: int, *, emb_dim: int = 64, n_filters: int = 64,
                 kernel: int = 3, att_dim: int = 32, latent: int = 32, dropout: float = 0.5,
                 global_mean: float = 0.0):
        super().__init__()
        for side in ("user", "item"):
            for key, t in reviews[side].items():
                self.register_buffer(f"{side}_{key}", t)
        emb = nn.Embedding(reviews["vocab_size"] + 1, emb_dim, padding_idx=0)
        self.user_cnn, self.item_cnn = TextCNN(emb, n_filters, kernel), TextCNN(emb, n_filters, kernel)
        self.user_att = ReviewAttention(n_filters, n_items, att_dim)   # a user's reviews were written for items
        self.item_att = ReviewAttention(n_filters, n_users, att_dim)
        self.user_fc, self.item_fc = nn.Linear(n_filters, latent), nn.Linear(n_filters, latent)
        self.user_id, self.item_id = nn.Embedding(n_users, latent), nn.Embedding(n_items, latent)
        self.user_bias, self.item_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        for e in (self.user_id, self.item_id):
            nn.init.normal_(e.weight, std=0.01)
        for e in (self.user_bias, self.item_bias):
            nn.init.zeros_(e.weight)
        self.drop = nn.Dropout(dropout)
        self.w = nn.Linear(latent, 1, bias=False)
        self.register_buffer("mu", torch.tensor(float(global_mean)))

    def _side(self, ids, cnn, att, fc, tokens, partner, mask):
        n = max(int(mask[ids].sum(-1).max()), 1)  # review slots are filled from the front
        O = cnn(trim(tokens[ids, :n]))
        return fc(self.drop(att(O, partner[ids, :n], mask[ids, :n])))

    def forward(self, batch) -> torch.Tensor:
        u, i = batch["user"], batch["item"]
        X = self._side(u, self.user_cnn, self.user_att, self.user_fc, self.user_tokens, self.user_partner,
                       self.user_mask)
        Y = self._side(i, self.item_cnn, self.item_att, self.item_fc, self.item_tokens, self.item_partner,
                       self.item_mask)
        h0 = (self.user_id(u) + X) * (self.item_id(i) + Y)
        return self.w(self.drop(h0)).squeeze(-1) + self.user_bias(u).squeeze(-1) + self.item_bias(i).squeeze(-1) \
            + self.mu
