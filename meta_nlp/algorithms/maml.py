"""MAML (second order), first-order MAML, ANIL and Meta-SGD / MAML++: one inner loop, four settings."""
from __future__ import annotations

import torch

from meta_nlp.algorithms.base import Algorithm, TestTimeRule
from meta_nlp.algorithms.inner import EpisodeBatch, LrFn, constant_lr, inner_loop, query_logits
from meta_nlp.models.encoder import MetaModel, double_backward_attention, layer_of


def multi_step_weights(n_steps: int, meta_step: int, anneal_steps: int, device) -> torch.Tensor:
    """MAML++ multi-step loss: weights over inner steps 1..n, from uniform to last-step-only."""
    if anneal_steps <= 0:
        w = torch.zeros(n_steps, device=device)
        w[-1] = 1.0
        return w
    frac = min(1.0, meta_step / anneal_steps)
    w = torch.full((n_steps,), (1.0 - frac) / n_steps, device=device)
    w[-1] += frac
    return w


class MAML(Algorithm):
    name = "maml"
    second_order = True

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        with double_backward_attention(self.needs_double_backward_attention(step)):
            return self._accumulate(model, batch, step, weight)

    def _accumulate(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        cfg = self.cfg
        weights = multi_step_weights(cfg.inner_steps, step, cfg.multi_step_loss_steps, batch.query_labels.device)
        loss = torch.zeros((), device=batch.query_labels.device)
        for state in inner_loop(model, batch, self.adapted_names(model), cfg.inner_steps, self.inner_lr(model),
                                create_graph=self.is_second_order(step), head_init=cfg.head_init,
                                label_name_weight=self.name_weight()):
            if state.step == 0 or weights[state.step - 1] == 0:
                continue
            logits = query_logits(model, batch, state)
            loss = loss + weights[state.step - 1] * self.query_loss(logits, batch)
        self.backward(loss, weight)
        acc = (logits.argmax(-1) == batch.query_labels).float().mean()
        return {"loss": loss.item(), "query_acc": acc.item()}

    def inner_lr(self, model: MetaModel) -> LrFn:
        return constant_lr(self.cfg.inner_lr)

    def test_time_rule(self, model: MetaModel) -> TestTimeRule:
        return TestTimeRule.configured(self.adapted_names(model), self.inner_lr(model), self.cfg)


class FOMAML(MAML):
    name = "fomaml"
    second_order = False


class ANIL(MAML):
    """Almost No Inner Loop: only the per-episode head adapts; the encoder is a meta-learned feature map.
    Second order is cheap here (the encoder is run once per set), so ANIL keeps it and fused attention."""
    name = "anil"
    second_order = False  # no double backward through attention is ever needed

    def adapted_names(self, model: MetaModel) -> list[str]:
        return []

    def is_second_order(self, step: int) -> bool:
        return True


def lr_key(name: str, granularity: str) -> str:
    """ParameterDict keys cannot hold dots."""
    return (layer_of(name) if granularity == "layer_step" else name).replace(".", "__")


class MetaSGD(MAML):
    """Learned inner learning rates: per parameter tensor (Meta-SGD) or per layer and per step (MAML++)."""
    name = "metasgd"

    def setup(self, model: MetaModel) -> None:
        cfg = self.cfg
        params = model.encoder_params()
        for name in self.adapted_names(model) + ["head.weight", "head.bias"]:
            key = lr_key(name, cfg.lr_granularity)
            if key in model.inner_lrs:
                continue
            shape = (cfg.inner_steps,) if cfg.lr_granularity == "layer_step" else \
                (params[name].shape if name in params else ())
            like = model.log_scale  # the model's dtype and device (a float64 test model gets float64 rates)
            model.inner_lrs[key] = torch.nn.Parameter(torch.full(shape, cfg.inner_lr, dtype=like.dtype, device=like.device))

    def inner_lr(self, model: MetaModel) -> LrFn:
        g = self.cfg.lr_granularity
        if g == "layer_step":
            def lr(name: str, step: int):
                rates = model.inner_lrs[lr_key(name, g)]
                return rates[min(step, rates.shape[0] - 1)]  # test-time steps beyond training reuse the last
            return lr
        # Meta-SGD: a rate tensor shaped like the parameter; the per-episode head has no fixed
        # shape, so its rate is one scalar per head tensor.
        return lambda name, step: model.inner_lrs[lr_key(name, g)]
