"""R3 — Review Regularized Neural Collaborative Filtering (Pan, Tao & Ai, DLP-KDD 2020), with its baselines."""
from . import methods  # noqa: F401  (registers the methods)
