"""CTR ranking building blocks shared by the ads-ranking papers (MF-LET, TransRA) and baselines."""
