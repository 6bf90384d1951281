"""The SetFit baseline: its pairs, its logistic regression, its contrastive epochs, and its row in a run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_cfg
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.algorithms.setfit import pair_batches, setfit_rule
from meta_nlp.data.episodes import Episode
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import SetEncoder, logistic_regression_head

WORDS = ["apple banana cherry", "river mountain lake", "guitar piano drum"]


def episode(k_shot: int = 3) -> Episode:
    support = [f"{WORDS[c]} {i}" for c in range(3) for i in range(k_shot)]
    query = [f"the {WORDS[c]} again {i}" for c in range(3) for i in range(2)]
    return Episode(support, [c for c in range(3) for _ in range(k_shot)], query, [c for c in range(3) for _ in range(2)],
                   ["a", "b", "c"], "xx")


def test_pairs_give_every_example_a_same_label_and_an_other_label_partner_per_iteration():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    firsts, seconds, targets = (torch.cat(x) for x in zip(*pair_batches(labels, 4, torch.Generator().manual_seed(0))))
    assert len(firsts) == 2 * 4 * len(labels)
    assert torch.equal(targets, (labels[firsts] == labels[seconds]).float())  # the target says whether labels agree
    assert not torch.any(firsts == seconds)
    for i in range(len(labels)):
        mine = firsts == i
        assert int(targets[mine].sum()) == 4 and int((1 - targets[mine]).sum()) == 4
    assert len(list(pair_batches(labels, 4, torch.Generator().manual_seed(0)))) == 4  # a step per iteration


@pytest.mark.parametrize("dim, repeated_text", [(8, False), (64, False), (64, True)])
def test_logistic_regression_reaches_the_optimum_of_its_objective(dim, repeated_text):
    # fewer dimensions than texts, more (the solver works in the texts' span), and a rank-deficient support
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(3, dim, dtype=torch.float64), dim=-1)
    labels = torch.arange(3).repeat_interleave(5)
    z = F.normalize(centres[labels] + 0.3 * torch.randn(15, dim, dtype=torch.float64), dim=-1)
    if repeated_text:
        z[1] = z[0]
    head = logistic_regression_head(z, labels, 3)
    weight, bias = head["head.weight"], head["head.bias"]
    assert ((z @ weight.t() + bias).argmax(-1) == labels).all()
    w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
    loss = F.cross_entropy(z @ w.t() + b, labels, reduction="sum") + 0.5 * w.pow(2).sum()
    grads = torch.autograd.grad(loss, [w, b])
    assert max(float(g.abs().max()) for g in grads) < 1e-4  # a stationary point of a convex objective: the optimum


def test_pseudo_labelled_texts_count_as_examples_with_soft_targets():
    """The transductive head's fit: more texts whose targets are class distributions. One-hot targets make it the
    plain head fit on all the texts; soft ones reach the optimum of the soft cross-entropy."""
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(3, 64, dtype=torch.float64), dim=-1)
    labels = torch.arange(3).repeat_interleave(4)
    z = F.normalize(centres[labels] + 0.3 * torch.randn(12, 64, dtype=torch.float64), dim=-1)
    more = F.normalize(centres[torch.tensor([0, 1, 2, 2])] + 0.3 * torch.randn(4, 64, dtype=torch.float64), dim=-1)
    hard = torch.tensor([0, 1, 2, 2])
    as_soft = logistic_regression_head(z, labels, 3, pseudo_labelled=(more, F.one_hot(hard, 3).double()))
    together = logistic_regression_head(torch.cat([z, more]), torch.cat([labels, hard]), 3)
    for name in together:
        torch.testing.assert_close(as_soft[name], together[name])
    probs = torch.softmax(torch.randn(4, 3, dtype=torch.float64), -1)
    head = logistic_regression_head(z, labels, 3, pseudo_labelled=(more, probs))
    w, b = head["head.weight"].clone().requires_grad_(), head["head.bias"].clone().requires_grad_()
    loss = (F.cross_entropy(z @ w.t() + b, labels, reduction="sum") + 0.5 * w.pow(2).sum()
            - (probs * torch.log_softmax(more @ w.t() + b, -1)).sum())
    assert max(float(g.abs().max()) for g in torch.autograd.grad(loss, [w, b])) < 1e-4
    assert not torch.allclose(head["head.weight"], logistic_regression_head(z, labels, 3)["head.weight"])


def test_pseudo_labels_in_single_precision_still_let_newton_converge(monkeypatch):
    """float32 probabilities sum to 1 only to float32's precision; the fit (in float64) must still meet its
    tolerance in a few Newton steps, not run all NEWTON_ITERATIONS (which made the transductive head 20× slower)."""
    import meta_nlp.models.encoder as encoder
    torch.manual_seed(0)
    z, more = F.normalize(torch.randn(25, 384), dim=-1), F.normalize(torch.randn(25, 384), dim=-1)
    probs = torch.softmax(torch.randn(25, 5), -1)
    steps, line_search = [], encoder.backtracked
    monkeypatch.setattr(encoder, "backtracked", lambda *args, **kwargs: steps.append(1) or line_search(*args, **kwargs))
    logistic_regression_head(z, torch.arange(5).repeat_interleave(5), 5, pseudo_labelled=(more, probs))
    assert len(steps) < encoder.NEWTON_ITERATIONS / 2


def test_contrastive_epochs_pull_same_label_texts_together_and_predict_every_epoch(tiny_model, tokenizer):
    cfg = tiny_cfg(Path("/unused"), "unused", inner_layers=-1, setfit_lr=1e-3, setfit_iterations=5)
    rule = setfit_rule(tiny_model, cfg)
    batch = to_batch(episode(), tokenizer, 16, torch.device("cpu"))
    same = (batch.support_labels[:, None] == batch.support_labels[None, :]).double()
    tiny_model.eval().requires_grad_(False)
    start = {n: p.clone() for n, p in tiny_model.encoder_params().items()}

    def contrastive_loss(params) -> float:
        with torch.no_grad():
            z = tiny_model.embed(batch.support, params)
            return float(F.mse_loss(z @ z.t(), same))
    support = SetEncoder(tiny_model, batch.support, rule.names)
    losses = [contrastive_loss(fast) for fast in rule.epochs(tiny_model, support, batch.support_labels, 2, 1.0)]
    assert losses[2] < losses[1] < losses[0]
    preds = rule.predict(tiny_model, batch, 2, 1.0, "proto")
    assert len(preds) == 3 and all(len(p) == len(batch.query_labels) for p in preds)
    assert all(torch.equal(p, tiny_model.encoder_params()[n]) for n, p in start.items())  # φ⁰ untouched


def test_setfit_is_a_baseline_of_a_run_on_the_same_episodes(tmp_path, tiny_model_dir):
    from meta_nlp.recipes import meta_learn
    cfg = tiny_cfg(tmp_path, tiny_model_dir, baselines=["finetune", "setfit"], max_steps=1, setfit_iterations=2,
                   n_way=3, k_shot=2, n_query=2, eval_episodes=2, val_episodes=2, eval_inner_steps=1)
    rows = {r["method"]: r for r in meta_learn.run_experiment(cfg)["results"]}
    assert set(rows) == {"fomaml", "finetune", "setfit"}
    assert len(rows["setfit"]["accuracy_by_step"]) == 2 and len(rows["setfit"]["episode_accuracy"]) == 2
    assert rows["fomaml"]["vs_best_baseline"]["baseline"] in ("finetune", "setfit")
    assert "| setfit |" in (Path(cfg.output_dir) / "report.md").read_text()
    assert json.loads((Path(cfg.output_dir) / "results.json").read_text())["config"]["setfit_iterations"] == 2


def test_setfit_refuses_translation_ranking(tmp_path, tiny_model_dir):
    from meta_nlp.data.languages import task_of
    cfg = tiny_cfg(tmp_path, tiny_model_dir, task="chatterbot_parallel", baselines=["setfit"], train_languages=[])
    with pytest.raises(MetaNLPError, match="--baselines setfit applies to classification tasks only"):
        task_of(cfg)
