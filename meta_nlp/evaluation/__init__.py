"""Episodic evaluation on held-out languages: same seeded episodes for every method, mean ± 95% CI."""
