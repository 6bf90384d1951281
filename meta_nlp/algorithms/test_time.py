"""How each evaluated method adapts at test time: a meta-learner by its own rule, a baseline (finetune,
multitask) by plain SGD, setfit by its contrastive epochs and logistic regression. Every rule but setfit's (SetFit as
published) adds the class names to its head (--label-name-weight)."""
from __future__ import annotations

from dataclasses import replace

from meta_nlp.algorithms import TestTimeRule, build_algorithm
from meta_nlp.algorithms.inner import constant_lr
from meta_nlp.algorithms.setfit import setfit_rule
from meta_nlp.config import BASELINES, MetaConfig
from meta_nlp.models.encoder import MetaModel


def baseline_rule(model: MetaModel, cfg: MetaConfig) -> TestTimeRule:
    """finetune and multitask: SGD on the top --inner-layers and the head at --finetune-lr."""
    return TestTimeRule.configured(model.adaptable_names(cfg.inner_layers), constant_lr(cfg.finetune_lr), cfg)


def test_time_rule(method: str, model: MetaModel, cfg: MetaConfig) -> TestTimeRule:
    if method == "setfit":
        return setfit_rule(model, cfg)
    if method in BASELINES:
        return baseline_rule(model, cfg)
    return build_algorithm(replace(cfg, algorithm=method, backend="func")).test_time_rule(model)
