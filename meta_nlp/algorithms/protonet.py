"""Prototypical networks: class means of support embeddings; logits = -scale·distance."""
from __future__ import annotations

import torch.nn.functional as F

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch
from meta_nlp.models.encoder import MetaModel, prototypes


class ProtoNet(Algorithm):
    name = "protonet"

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        z_s = model.embed(batch.support)
        z_q = model.embed(batch.query)
        protos = prototypes(z_s, batch.support_labels, batch.n_way)
        scale = model.log_scale.exp()
        if self.cfg.protonet_distance == "cosine":
            logits = scale * (z_q @ F.normalize(protos, dim=-1).t())
        else:
            logits = -scale * ((z_q.unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(-1)
        loss = F.cross_entropy(logits, batch.query_labels)
        self.backward(loss, weight)
        return {"loss": loss.item(), "query_acc": (logits.argmax(-1) == batch.query_labels).float().mean().item()}
