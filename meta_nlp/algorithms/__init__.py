"""Algorithms behind one protocol (see base.py); `build_algorithm` picks one from the config."""
from meta_nlp.algorithms.base import Algorithm, TestTimeRule
from meta_nlp.algorithms.maml import ANIL, FOMAML, MAML, MetaSGD
from meta_nlp.algorithms.mldg import MLDG
from meta_nlp.algorithms.protonet import ProtoNet
from meta_nlp.algorithms.reptile import Reptile
from meta_nlp.config import MetaConfig

REGISTRY = {"maml": MAML, "fomaml": FOMAML, "anil": ANIL, "metasgd": MetaSGD, "reptile": Reptile, "protonet": ProtoNet,
            "mldg": MLDG}


def build_algorithm(cfg: MetaConfig) -> Algorithm:
    if cfg.backend == "higher":
        from meta_nlp.algorithms.higher_backend import HigherMAML
        return HigherMAML(cfg, first_order=cfg.algorithm == "fomaml")
    return REGISTRY[cfg.algorithm](cfg)


__all__ = ["Algorithm", "TestTimeRule", "build_algorithm", "REGISTRY"]
