"""Prototypical networks: class means of support embeddings; logits = -scale·distance.
On a translation-ranking episode the candidates play the prototypes: logits = scale·cosine similarity."""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch, TextSet, whole_task
from meta_nlp.models.encoder import MetaModel, prototypes, ranking_head


class ProtoNet(Algorithm):
    name = "protonet"

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        scale = model.log_scale.exp()
        if batch.query_targets is not None:  # translation ranking: the candidates are the prototypes
            batch = every_group_as_query(batch)
            query = TextSet(model, batch.query, batch.query_targets, [], batch.n_way)
            features = query.embed({})
            logits = query.logits(features, ranking_head(features[0].shape[-1], features[0]), scale)
        else:
            z_s, z_q = model.embed(batch.support), model.embed(batch.query)  # in this order: dropout's draws
            logits = self.class_logits(z_s, z_q, batch, scale) + self.name_logits(model, z_q, batch, scale)
        loss = self.query_loss(logits, batch)
        self.backward(loss, weight)
        return {"loss": loss.item(), "query_acc": (logits.argmax(-1) == batch.query_labels).float().mean().item()}

    def name_logits(self, model: MetaModel, z_q: torch.Tensor, batch: EpisodeBatch,
                    scale: torch.Tensor) -> torch.Tensor | float:
        """What the class names add to the query's logits (scale·w·cos(text, name), the test-time head's term) under
        --meta-train-label-names; 0 without it or without names."""
        weight = self.name_weight()
        if not weight or batch.label_names is None:
            return 0.0
        return scale * weight * (z_q @ model.embed(batch.label_names).t())

    def class_logits(self, z_s: torch.Tensor, z_q: torch.Tensor, batch: EpisodeBatch, scale: torch.Tensor) -> torch.Tensor:
        """The query's class logits from the support and query embeddings."""
        protos = prototypes(z_s, batch.support_labels, batch.n_way)
        if self.cfg.protonet_distance == "cosine":
            return scale * (z_q @ F.normalize(protos, dim=-1).t())
        return -scale * ((z_q.unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(-1)


def every_group_as_query(batch: EpisodeBatch) -> EpisodeBatch:
    """A ranking episode whose query holds all its groups, support's and query's. ProtoNet adapts nothing on a
    ranking episode (the candidates are the prototypes), so the support groups are more examples to learn from,
    not a set to adapt on; without them meta-training saw half the pairs the multitask baseline's batch holds."""
    whole = whole_task(batch)
    return replace(batch, query=whole.support, query_labels=whole.support_labels, query_targets=whole.support_targets)
