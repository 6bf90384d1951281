"""R2D2 (Bertinetto et al. 2019): a ridge-regression head solved in closed form on each episode's support
embeddings, and the query loss back-propagated through the solve into the encoder.

Why it is here: at test time a regression fit on the support embeddings predicts (--test-time-head logistic),
while ProtoNet meta-trains class means and MAML a few SGD steps of a prototype head. R2D2 meta-trains the
encoder for the head that will predict, at ProtoNet's cost (one forward and backward per episode, no inner loop).
Translation-ranking episodes keep ProtoNet's candidate-as-prototype logits: there are no classes to regress on.
"""
from __future__ import annotations

import torch

from meta_nlp.algorithms.inner import EpisodeBatch
from meta_nlp.algorithms.protonet import ProtoNet
from meta_nlp.models.encoder import ridge_regression_head


class R2D2(ProtoNet):
    name = "r2d2"

    def class_logits(self, z_s: torch.Tensor, z_q: torch.Tensor, batch: EpisodeBatch, scale: torch.Tensor) -> torch.Tensor:
        return scale * (z_q @ ridge_regression_head(z_s, batch.support_labels, batch.n_way))
