"""SPIDER / SBDT — Streaming Probabilistic (Bayesian) Deep Tensor Factorization (Fang et al. 2020/2021)."""
from . import methods  # noqa: F401  (registers the methods)

TITLE = "SPIDER — Streaming Probabilistic Deep Tensor Factorization"
