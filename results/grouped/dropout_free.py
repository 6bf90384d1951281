"""Why multitask moved in results/grouped (plan addendum 6's rule (2)): is training on texts grouped by length
(`meta_nlp.models.encoder.by_length`) the whole-batch training up to rounding, once dropout draws are taken out?
For ProtoNet and the multitask baseline under the default job's settings, each trained 3 steps from φ⁰ twice, whole
batch and grouped, with dropout off and on; how far apart the two end, against how far training moved the weights.
Run from the repository root: python results/grouped/dropout_free.py          # output dropout_free.txt"""
import tempfile
from dataclasses import replace

import torch
import yaml

from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import prepare_languages
from meta_nlp.engine.trainer import make_accelerator
from meta_nlp.models import encoder
from meta_nlp.recipes.meta_learn import trainer_for

STEPS = 3


def trained(method: str, cfg: MetaConfig, languages, group_cost: int, dropout: bool) -> tuple[dict, dict]:
    """(φ⁰, the weights after STEPS training steps) with `group_cost` (10**9: one group, the whole batch)."""
    encoder.GROUP_COST_TOKENS = group_cost
    torch.manual_seed(0)
    trainer = trainer_for(method, cfg, languages, make_accelerator(cfg))
    model = trainer.objective.model
    if not dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0  # BERT's attention dropout reads its module's p too
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    for step in range(STEPS):
        trainer.train_step(step)
    return start, {n: p.detach().clone() for n, p in model.named_parameters()}


def norm(a: dict, b: dict) -> float:
    return float(sum((a[n] - b[n]).pow(2).sum() for n in a).sqrt())


default_cost = encoder.GROUP_COST_TOKENS
with tempfile.TemporaryDirectory() as tmp:
    cfg = MetaConfig(**yaml.safe_load(open("configs/default.yaml")))
    cfg = replace(cfg, max_steps=STEPS, output_dir=tmp, baselines=[]).validate()
    languages = prepare_languages(cfg)
    for method in ("protonet", "multitask"):
        for dropout in (False, True):
            start, whole = trained(method, cfg, languages, 10 ** 9, dropout)
            _, grouped = trained(method, cfg, languages, default_cost, dropout)
            moved, apart = norm(whole, start), norm(whole, grouped)
            print(f"{method}, {STEPS} steps, dropout {'on' if dropout else 'off'}: training moved the weights by "
                  f"{moved:.3e}; grouped and whole-batch end {apart:.3e} apart ({apart / moved:.1e} of the move)")
