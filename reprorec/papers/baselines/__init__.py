"""Foundation baselines: biased MF on MovieLens 100K and the CTR backbone on the CTR proxies; see README.md."""
from . import methods  # noqa: F401  (registers the methods)
