"""TransRA reproduction (Jin, Pan, Tang et al. 2025, "Entity Representation Learning Through Onsite-Offsite
Graph for Pinterest Ads"): onsite-offsite graph proxy, TransE/TransR/TransRA (interpretation) KGE, and the
ranking experiments (a)-(d). See README.md."""
from reprorec.papers import citation

from . import methods  # noqa: F401  (registers the experiments)

CITATION = citation(
    key="jin2025transra", kind="misc", title="Entity Representation Learning Through Onsite-Offsite Graph for Pinterest Ads",
    authors=["Jiayin Jin", "Zhimeng Pan", "Yang Tang", "Jiarui Feng", "Kungang Li", "Chongyuan Xiang", "Jiacheng Li",
             "Runze Su", "Siping Ji", "Han Sun", "Ling Leng", "Prathibha Deshikachar"],
    venue="arXiv preprint arXiv:2508.02609", year=2025, url="https://arxiv.org/abs/2508.02609")
