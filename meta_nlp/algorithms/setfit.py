"""SetFit (Tunstall et al. 2022), the few-shot baseline a practitioner with a sentence encoder would pick: on each
episode, fine-tune the encoder contrastively on pairs built from the support set (same label: cosine similarity
1, different labels: 0, squared error), then fit a logistic regression on the support embeddings and predict
the query set with it. Written here rather than taken from the `setfit` package, which pins other versions of
transformers and sentence-transformers than ours.

It is evaluated like every other method, on the same seeded episodes, and its "steps" are contrastive epochs:
step 0 is the logistic regression on φ⁰'s embeddings, step t the one after t epochs, each of
--setfit-iterations pairs per support example (SetFit's num_iterations). Its learning rate (--setfit-lr) is
scaled by the same --eval-lr-grid, and the factor and the number of epochs are chosen on meta-validation,
as for the other methods. Two differences from the paper, both for CPU cost and both shared with the
`finetune` baseline: it adapts the top --inner-layers transformer layers (the paper: the whole body; pass
--inner-layers -1 for that), and it runs without dropout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from meta_nlp.algorithms.base import TestTimeRule
from meta_nlp.algorithms.inner import EpisodeBatch, constant_lr
from meta_nlp.config import MetaConfig
from meta_nlp.models.encoder import MetaModel, Params, SetEncoder, head_logits, logistic_regression_head


@dataclass
class SetFitRule(TestTimeRule):
    iterations: int = 20
    seed: int = 0

    def predict(self, model: MetaModel, batch: EpisodeBatch, steps: int, factor: float, head_init: str) -> list[list[int]]:
        """Query predictions of the logistic regression after 0..steps contrastive epochs on the support pairs.

        Always in float32, whatever the run's --mixed-precision: SetFit's AdamW steps (lr 2e-5) move a weight by a
        few bf16 rounding steps at most, and autocast rounds the weights to bf16 in every product, so under bf16
        its 3 epochs changed the accuracy of 1 of 12 validation episodes, against 8 in float32
        (`results/setfit_auto/setfit_precision_check.txt`)."""
        support, query = SetEncoder(model, batch.support, self.names), SetEncoder(model, batch.query, self.names)
        preds = []
        with torch.autocast(batch.support_labels.device.type, enabled=False):
            for fast in self.epochs(model, support, batch.support_labels, steps, factor):
                with torch.no_grad():
                    z_support, z_query = support(fast), query(fast)
                head = logistic_regression_head(z_support, batch.support_labels, batch.n_way)
                preds.append(head_logits(z_query, head, 1.0).argmax(-1).tolist())
        return preds

    def epochs(self, model: MetaModel, support: SetEncoder, labels: torch.Tensor, steps: int,
               factor: float) -> Iterator[Params]:
        """The adapted encoder weights (a copy; φ is left as it is) after 0, 1, ..., steps contrastive epochs on the
        pairs of the support set (`support`: its encoder, `labels`: its labels)."""
        params = model.encoder_params()
        fast = {n: params[n].detach().clone().requires_grad_() for n in self.names}
        optimizer = torch.optim.AdamW(fast.values(), lr=self.lr("encoder", 0) * factor)
        rng = torch.Generator().manual_seed(self.seed)  # the same pairs at every lr factor: a paired comparison
        yield fast
        for _ in range(steps):
            for first, second, same in pair_batches(labels.cpu(), self.iterations, rng):
                z = support(fast)
                loss = F.mse_loss(F.cosine_similarity(z[first], z[second], dim=-1), same.to(z))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            yield fast


def pair_batches(labels: torch.Tensor, iterations: int, rng: torch.Generator):
    """One epoch of SetFit's pairs, one batch per iteration: every support example paired with one example of its
    label (similarity 1) and one of another label (0), shuffled. SetFit shuffles all pairs into batches of 16;
    here every step embeds the whole support set anyway (N·K texts), so a step takes all 2·N·K pairs of an
    iteration at the cost of 16: the same pairs, a third of the steps. Yields (first indices, second indices,
    same-label targets)."""
    same_label = labels[:, None] == labels[None, :]
    not_self = ~torch.eye(len(labels), dtype=torch.bool)
    # Each example's partners: (example, same label?, the candidates), the ones that have any.
    partners = [(i, same, torch.nonzero((same_label[i] == same) & not_self[i]).flatten())
                for i in range(len(labels)) for same in (True, False)]
    partners = [(i, same, pool) for i, same, pool in partners if len(pool)]
    for _ in range(iterations):
        firsts, seconds, targets = [], [], []
        for i, same, pool in partners:
            firsts.append(i)
            seconds.append(int(pool[torch.randint(len(pool), (1,), generator=rng)]))
            targets.append(float(same))
        order = torch.randperm(len(firsts), generator=rng)
        yield torch.tensor(firsts)[order], torch.tensor(seconds)[order], torch.tensor(targets)[order]


def setfit_rule(model: MetaModel, cfg: MetaConfig) -> SetFitRule:
    """SetFit on the encoder layers that the finetune baseline adapts (the head is the logistic regression)."""
    return SetFitRule(model.adaptable_names(cfg.inner_layers), constant_lr(cfg.setfit_lr),
                      iterations=cfg.setfit_iterations, seed=cfg.seed)
