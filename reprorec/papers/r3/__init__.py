"""R3 — Review Regularized Neural Collaborative Filtering (Pan, Tao & Ai, DLP-KDD 2020), with its baselines."""
from reprorec.papers import citation

from . import methods  # noqa: F401  (registers the methods)

CITATION = citation(
    key="pan2020r3", kind="inproceedings", title="Review Regularized Neural Collaborative Filtering",
    authors=["Zhimeng Pan", "Wenzheng Tao", "Qingyao Ai"],
    venue="DLP-KDD 2020 (Workshop on Deep Learning Practice for High-Dimensional Sparse Data, KDD)", year=2020,
    url="https://arxiv.org/abs/2008.13527")

from .replication import derive_experiments, eligibility  # noqa: E402,F401  (the paper's hooks)
