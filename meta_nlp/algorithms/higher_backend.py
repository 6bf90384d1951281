"""MAML / FOMAML on the `higher` package: the reference backend the project started from.

`higher` is archived (last release 2020); the default backend is torch.func. This one is kept
so a user can check the default against it (tests/test_algorithms.py and test_meta_gradients.py do).
Two pitfalls it handles:
- with track_higher_grads=False higher gives the initial weights zero gradient, so the
  first-order path copies the query gradient of the fast weights onto φ itself;
- higher cannot differentiate through a computed initial head, so the proto-initialised
  head starts from a detached value here. Both backends take the same inner steps; their
  meta-gradients differ by exactly the head-initialisation term (dL/d head₀)·(d head₀/dφ),
  which tests/test_meta_gradients.py checks (head_init='zero' compares them directly).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from meta_nlp.algorithms.base import Algorithm
from meta_nlp.algorithms.inner import EpisodeBatch
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import MetaModel, double_backward_attention, head_logits, init_head


class _EncoderWithHead(nn.Module):
    """The stateful module higher needs: encoder + an nn.Linear head created for this episode."""

    def __init__(self, model: MetaModel, head: dict):
        super().__init__()
        self.model = model
        w = head["head.weight"]
        self.head = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype, device=w.device)
        with torch.no_grad():
            self.head.weight.copy_(head["head.weight"])
            self.head.bias.copy_(head["head.bias"])

    def forward(self, batch: dict) -> torch.Tensor:
        z = self.model.pool(self.model.encoder(**batch).last_hidden_state, batch)
        return head_logits(z, {"head.weight": self.head.weight, "head.bias": self.head.bias}, self.model.log_scale.exp())


class HigherMAML(Algorithm):
    def __init__(self, cfg, first_order: bool):
        super().__init__(cfg)
        self.name = "fomaml" if first_order else "maml"
        self.second_order = not first_order

    def accumulate_meta_gradient(self, model: MetaModel, batch: EpisodeBatch, step: int, weight: float) -> dict:
        import higher
        cfg = self.cfg
        if batch.query_targets is not None:
            raise MetaNLPError("--backend higher is the classification reference; translation ranking runs on func")
        with torch.no_grad():
            z = model.embed(batch.support)
        net = _EncoderWithHead(model, init_head(z, batch.support_labels, batch.n_way, cfg.head_init))
        names = set(self.adapted_names(model))
        inner = [p for n, p in model.encoder.named_parameters() if n in names] + list(net.head.parameters())
        opt = torch.optim.SGD(inner, lr=cfg.inner_lr)
        second = self.is_second_order(step)
        with double_backward_attention(second), \
                higher.innerloop_ctx(net, opt, copy_initial_weights=False, track_higher_grads=second) as (fnet, diffopt):
            for _ in range(cfg.inner_steps):
                diffopt.step(F.cross_entropy(fnet(batch.support), batch.support_labels))
            logits = fnet(batch.query)
            loss = F.cross_entropy(logits, batch.query_labels)
            if second:
                self.backward(loss, weight)
            else:
                self._copy_first_order_grads(model, net, fnet, loss, weight)
        return {"loss": loss.item(), "query_acc": (logits.argmax(-1) == batch.query_labels).float().mean().item()}

    @staticmethod
    def _copy_first_order_grads(model: MetaModel, net: nn.Module, fnet, loss: torch.Tensor, weight: float) -> None:
        """dL/d(fast weights) applied to φ: the first-order MAML meta-gradient (higher gives zero here)."""
        named = [n for n, _ in net.named_parameters()]
        grads = torch.autograd.grad(loss, fnet.parameters(), allow_unused=True)
        own = dict(net.named_parameters())
        for name, g in zip(named, grads):
            p = own[name]
            if g is None or name.startswith("head.") or not p.requires_grad:
                continue
            p.grad = g * weight if p.grad is None else p.grad + g * weight
