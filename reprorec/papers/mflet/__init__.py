"""MF-LET (Su, Jin, Li et al. 2025): multi-faceted pretrained large ID embedding tables for ads ranking."""
from . import methods  # noqa: F401  (registers the methods)
