"""Algorithms behind one protocol (see base.py); `build_algorithm` picks one from the registry in config.py."""
from meta_nlp.algorithms.base import Algorithm, TestTimeRule
from meta_nlp.config import ALGORITHMS, MetaConfig, registered


def build_algorithm(cfg: MetaConfig) -> Algorithm:
    if cfg.backend == "higher":
        from meta_nlp.algorithms.higher_backend import HigherMAML
        return HigherMAML(cfg, first_order=cfg.algorithm == "fomaml")
    return registered(ALGORITHMS[cfg.algorithm])(cfg)


__all__ = ["Algorithm", "TestTimeRule", "build_algorithm"]
