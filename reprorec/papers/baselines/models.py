"""The baselines have no models of their own: they run the shared ones, re-exported here so that every
paper folder answers "which models does it run" in the same file."""
from reprorec.ctr.linear import LogisticRegression
from reprorec.ctr.models import DCNv2, DNN
from reprorec.rating import BiasedMF

__all__ = ["BiasedMF", "DCNv2", "DNN", "LogisticRegression"]
