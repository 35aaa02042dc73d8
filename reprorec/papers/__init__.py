"""One package per reproduced paper; each registers its methods with reprorec.registry on import."""
