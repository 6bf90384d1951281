"""Reptile: adapt on the whole task (support ∪ query), then move φ toward the adapted weights.

Its meta-gradient is φ - φ̃, written as the gradient of ½|φ - stopgrad(φ̃)|² so the trainer's
optimiser, clipping and all-reduce treat it like any other meta-gradient."""
from __future__ import annotations

import torch

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch, constant_lr, inner_loop
from meta_nlp.models.encoder import MetaModel


def whole_task(batch: EpisodeBatch) -> EpisodeBatch:
    """Support and query concatenated: Reptile trains on all of a task's examples."""
    pad = max(batch.support["input_ids"].shape[1], batch.query["input_ids"].shape[1])

    def cat(key: str) -> torch.Tensor:
        a, b = batch.support[key], batch.query[key]
        a = torch.nn.functional.pad(a, (0, pad - a.shape[1]))
        b = torch.nn.functional.pad(b, (0, pad - b.shape[1]))
        return torch.cat([a, b])

    both = {k: cat(k) for k in batch.support}
    labels = torch.cat([batch.support_labels, batch.query_labels])
    return EpisodeBatch(both, labels, batch.query, batch.query_labels, batch.n_way, batch.episode)


class Reptile(Algorithm):
    name = "reptile"

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        cfg = self.cfg
        names = self.adapted_names(model)
        params = model.encoder_params()
        for state in inner_loop(model, whole_task(batch), names, cfg.inner_steps, constant_lr(cfg.inner_lr),
                                create_graph=False, head_init=cfg.head_init, track_meta_grad=False):
            pass
        loss = sum(0.5 * ((params[n] - state.fast[n].detach()) ** 2).sum() for n in names)
        self.backward(loss, weight)
        return {"loss": state.support_loss.item()}
