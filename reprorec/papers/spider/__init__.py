"""SPIDER / SBDT — Streaming Probabilistic (Bayesian) Deep Tensor Factorization (Fang et al. 2020/2021)."""
from reprorec.papers import citation

from . import methods  # noqa: F401  (registers the methods)

TITLE = "SPIDER — Streaming Probabilistic Deep Tensor Factorization"
# arXiv 2007.07367 (as SPIDER, 2020), published as SBDT at ICML 2021
CITATION = citation(
    key="fang2021sbdt", kind="inproceedings", title="Streaming Bayesian Deep Tensor Factorization",
    authors=["Shikai Fang", "Zheng Wang", "Zhimeng Pan", "Ji Liu", "Shandian Zhe"],
    venue="Proceedings of the 38th International Conference on Machine Learning (ICML)", year=2021,
    url="https://arxiv.org/abs/2007.07367")
