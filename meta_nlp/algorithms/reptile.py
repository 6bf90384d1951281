"""Reptile: adapt on the whole task (support ∪ query), then move φ toward the adapted weights.

Its meta-gradient is φ - φ̃, written as the gradient of ½|φ - stopgrad(φ̃)|² so the trainer's
optimiser, clipping and all-reduce treat it like any other meta-gradient."""
from __future__ import annotations

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch, constant_lr, inner_loop, whole_task
from meta_nlp.models.encoder import MetaModel


class Reptile(Algorithm):
    name = "reptile"

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        cfg = self.cfg
        names = self.adapted_names(model)
        params = model.encoder_params()
        for state in inner_loop(model, whole_task(batch), names, cfg.inner_steps, constant_lr(cfg.inner_lr),
                                create_graph=False, head_init=cfg.head_init, track_meta_grad=False,
                                label_name_weight=self.name_weight()):
            pass
        loss = sum(0.5 * ((params[n] - state.fast[n].detach()) ** 2).sum() for n in names)
        self.backward(loss, weight)
        return {"loss": state.support_loss.item()}
