"""How each evaluated method adapts at test time (meta-learners by their own rule; baselines by SGD)."""
from __future__ import annotations

from dataclasses import replace

from meta_nlp.algorithms import TestTimeRule, build_algorithm
from meta_nlp.algorithms.inner import constant_lr
from meta_nlp.config import BASELINES, MetaConfig
from meta_nlp.models.encoder import MetaModel


def test_time_rule_for(method: str, model: MetaModel, cfg: MetaConfig) -> TestTimeRule:
    if method in BASELINES:
        return TestTimeRule(model.adaptable_names(cfg.inner_layers), constant_lr(cfg.finetune_lr))
    return build_algorithm(replace(cfg, algorithm=method, backend="func")).test_time_rule(model)
