"""MLDG (Li et al., 2018) over languages: learn a step on some training languages that also helps
a language it did not see.

Each task pairs a meta-train episode (a training language) with a pseudo-target episode (the
step's pseudo-held-out language; meta-step s uses training language s mod L, so every language
takes its turn). With θ the encoder and α, T the inner lr and steps:

    min_θ  L_train(θ) + β · L_pseudo(θ′),   θ′ = θ − α∇L_train(θ)   (T steps of the shared inner loop)

L_train is the meta-train episode's loss over all its examples (support ∪ query) under a
prototype-initialised head; L_pseudo is the pseudo-target episode's query loss under a head
prototype-initialised from its own support, both embedded with θ′. Second order differentiates
through the step (double-backward attention); --mldg-first-order treats it as a constant.
At test time MLDG adapts like MAML: SGD on the support set from the learned θ.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from meta_nlp.algorithms.base import Algorithm, pseudo_target_language
from meta_nlp.algorithms.inner import EpisodeBatch, constant_lr, inner_loop, query_logits, whole_task
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Episode, EpisodeSampler
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import MetaModel, double_backward_attention


class MLDG(Algorithm):
    name = "mldg"

    def __init__(self, cfg: MetaConfig):
        super().__init__(cfg)
        self.second_order = not cfg.mldg_first_order

    @classmethod
    def check_config(cls, cfg: MetaConfig) -> None:
        if cfg.cross_lingual_episodes or cfg.pseudo_target_queries:
            raise MetaNLPError("--algorithm mldg draws its own languages (meta-train vs pseudo-target): drop "
                               "--cross-lingual-episodes / --pseudo-target-queries")
        if len(cfg.train_languages) == 1:
            raise MetaNLPError("a pseudo-held-out language needs at least 2 --train-languages")
        if cfg.head_init != "proto":
            raise MetaNLPError("--algorithm mldg needs --head-init proto (a zero head gives the pseudo-target no gradient)")

    def draw_episodes(self, sampler: EpisodeSampler, index: int, step: int) -> list[Episode]:
        """[meta-train episode, pseudo-target episode]; the meta-train language cycles over the others."""
        target = pseudo_target_language(sampler.languages, step)
        others = [lang for lang in sampler.languages if lang != target]
        return [sampler.episode(index, language=others[index % len(others)]), sampler.episode(index, language=target)]

    def accumulate_meta_gradient(self, model: MetaModel, batch: list[EpisodeBatch], step: int, weight: float) -> dict:
        train, pseudo = batch
        with double_backward_attention(self.needs_double_backward_attention(step)):
            loss_train, loss_pseudo = self.losses(model, train, pseudo, create_graph=self.is_second_order(step))
            loss = loss_train + self.cfg.mldg_beta * loss_pseudo
            self.backward(loss, weight)
        return {"loss": loss.item(), "loss_train": loss_train.item(), "loss_pseudo": loss_pseudo.item()}

    def losses(self, model: MetaModel, train: EpisodeBatch, pseudo: EpisodeBatch,
               create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(L_train(θ), L_pseudo(θ′)), both still attached to θ."""
        cfg, names = self.cfg, self.adapted_names(model)
        for state in inner_loop(model, whole_task(train), names, cfg.inner_steps, constant_lr(cfg.inner_lr),
                                create_graph=create_graph, head_init=cfg.head_init, head_is_a_function_of_phi=True,
                                label_name_weight=self.name_weight()):
            if state.step == 0:
                loss_train = state.support_loss
        # Zero steps on the pseudo-target: its head is prototype-initialised at θ′, nothing more.
        for target in inner_loop(model, pseudo, names, 0, constant_lr(cfg.inner_lr), create_graph=create_graph,
                                 head_init=cfg.head_init, start=state.fast, label_name_weight=self.name_weight()):
            loss_pseudo = F.cross_entropy(query_logits(model, pseudo, target), pseudo.query_labels)
        return loss_train, loss_pseudo
