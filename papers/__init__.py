"""One package per reproduced paper; each registers its methods with common.registry on import."""
