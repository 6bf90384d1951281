"""Prototypical networks: class means of support embeddings; logits = -scale·distance.
On a translation-ranking episode the candidates play the prototypes: logits = scale·cosine similarity."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch, TextSet
from meta_nlp.models.encoder import MetaModel, prototypes, ranking_head


class ProtoNet(Algorithm):
    name = "protonet"

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        scale = model.log_scale.exp()
        if batch.query_targets is not None:  # translation ranking: the candidates are the prototypes
            query = TextSet(model, batch.query, batch.query_targets, [], batch.n_way)
            features = query.embed({})
            logits = query.logits(features, ranking_head(features[0].shape[-1], features[0]), scale)
        else:
            logits = self.class_logits(model, batch, scale)
        loss = self.query_loss(logits, batch)
        self.backward(loss, weight)
        return {"loss": loss.item(), "query_acc": (logits.argmax(-1) == batch.query_labels).float().mean().item()}

    def class_logits(self, model: MetaModel, batch: EpisodeBatch, scale: torch.Tensor) -> torch.Tensor:
        z_s = model.embed(batch.support)
        z_q = model.embed(batch.query)
        protos = prototypes(z_s, batch.support_labels, batch.n_way)
        if self.cfg.protonet_distance == "cosine":
            return scale * (z_q @ F.normalize(protos, dim=-1).t())
        return -scale * ((z_q.unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(-1)
