"""Foundation baselines: biased MF on MovieLens 100K and the CTR backbone on the CTR proxies; see README.md.

Not a reproduction of one paper: ``CITATION`` lists the papers of the methods it runs."""
from reprorec.papers import citation

from . import methods  # noqa: F401  (registers the methods)

CITATION = [
    citation(key="koren2009matrix", kind="article", title="Matrix Factorization Techniques for Recommender Systems",
             authors=["Yehuda Koren", "Robert Bell", "Chris Volinsky"], venue="Computer", year=2009,
             url="https://doi.org/10.1109/MC.2009.263", volume="42", number="8", pages="30--37"),
    citation(key="wang2021dcnv2", kind="inproceedings",
             title="DCN V2: Improved Deep & Cross Network and Practical Lessons for Web-scale Learning to Rank Systems",
             authors=["Ruoxi Wang", "Rakesh Shivanna", "Derek Cheng", "Sagar Jain", "Dong Lin", "Lichan Hong", "Ed Chi"],
             venue="Proceedings of the Web Conference (WWW)", year=2021, url="https://arxiv.org/abs/2008.13535"),
]
