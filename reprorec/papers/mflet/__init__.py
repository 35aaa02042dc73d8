"""MF-LET (Su, Jin, Li et al. 2025): multi-faceted pretrained large ID embedding tables for ads ranking."""
from reprorec.papers import citation

from . import methods  # noqa: F401  (registers the methods)

# author list from public abstract mirrors of arXiv 2508.05700, not the arXiv page itself (one mirror lists
# 17 of these 19 names, without Degao Peng and Jinfeng Zhuang)
CITATION = citation(
    key="su2025mflet", kind="misc", title="Multi-Faceted Large Embedding Tables for Pinterest Ads Ranking",
    authors=["Runze Su", "Jiayin Jin", "Jiacheng Li", "Sihan Wang", "Guangtong Bai", "Zelun Wang", "Li Tang",
             "Yixiong Meng", "Huasen Wu", "Zhimeng Pan", "Kungang Li", "Han Sun", "Zhifang Liu", "Haoyang Li",
             "Siping Ji", "Degao Peng", "Jinfeng Zhuang", "Ling Leng", "Prathibha Deshikachar"],
    venue="arXiv preprint arXiv:2508.05700", year=2025, url="https://arxiv.org/abs/2508.05700")
