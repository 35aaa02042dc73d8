"""TransRA reproduction (Jin, Pan, Tang et al. 2025, "Entity Representation Learning Through Onsite-Offsite
Graph for Pinterest Ads"): onsite-offsite graph proxy, TransE/TransR/TransRA (interpretation) KGE, and the
ranking experiments (a)-(d). See README.md."""
from . import methods  # noqa: F401  (registers the experiments)
