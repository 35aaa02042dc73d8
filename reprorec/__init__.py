"""reprorec: reproducible benchmarks for four recommendation and representation-learning papers."""
