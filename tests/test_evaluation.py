"""Evaluation shortcuts must not change what is measured, and the multitask baseline gets the model
selection the meta-learners get."""
from __future__ import annotations

import json
import platform
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import MetaConfig, config_from_dict
from meta_nlp.data.episodes import Episode
from meta_nlp.models.encoder import SetEncoder, reusing_lower_states, tokenize
from meta_nlp.recipes.meta_learn import note_texts_cut, texts_cut

TEXTS = ["the cat sat", "a much longer sentence about the stock market and the rain today", "jazz",
         "old castle on the hill", "football match tonight at eight"]


def embeddings(model, tokenizer, texts, names, fast):
    return SetEncoder(model, tokenize(tokenizer, texts, 32, torch.device("cpu")), names)(fast)


def test_reused_lower_states_give_the_embeddings_of_a_full_forward(tiny_model, tokenizer):
    tiny_model.eval()
    names = tiny_model.adaptable_names(1)  # the top layer adapts: layer 0 is the one whose states are reused
    params = tiny_model.encoder_params()
    torch.manual_seed(0)
    fast = {n: params[n] + 0.1 * torch.randn_like(params[n]) for n in names}  # an adapted top layer
    # Batches that share texts at other positions and paddings, with a duplicate inside one batch.
    batches = [TEXTS[:3], [TEXTS[2], TEXTS[3], TEXTS[2], TEXTS[0]], [TEXTS[4], TEXTS[1]]]
    expected = [embeddings(tiny_model, tokenizer, b, names, fast) for b in batches]
    with reusing_lower_states(tiny_model):
        got = [embeddings(tiny_model, tokenizer, b, names, fast) for b in batches]
        cached = len(tiny_model.lower_cache.by_text)
    assert cached == len(TEXTS)  # each distinct text ran through the lower layer once
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-9)
    assert tiny_model.lower_cache is None  # nothing outlives the block


def test_reusing_lower_states_refuses_a_model_in_training_mode(tiny_model):
    tiny_model.train()
    with pytest.raises(RuntimeError, match="eval mode"):
        with reusing_lower_states(tiny_model):
            pass


def test_evaluation_scores_do_not_change_with_reused_lower_states(tiny_model, tokenizer):
    from meta_nlp.algorithms.inner import adapt_and_predict, constant_lr
    tiny_model.eval()
    names = tiny_model.adaptable_names(1)
    episodes = [Episode([TEXTS[i % 5] + f" {i}" for i in range(4)], [0, 0, 1, 1],
                        [TEXTS[(i + 2) % 5] for i in range(4)], [0, 1, 0, 1], ["a", "b"], "xx") for _ in range(2)]
    batches = [to_batch(ep, tokenizer, 32, torch.device("cpu")) for ep in episodes]
    plain = [adapt_and_predict(tiny_model, b, names, 2, constant_lr(0.5), "proto") for b in batches]
    with reusing_lower_states(tiny_model):
        reused = [adapt_and_predict(tiny_model, b, names, 2, constant_lr(0.5), "proto") for b in batches]
    assert reused == plain


def test_multitask_budget_defaults_to_the_meta_learners_examples():
    assert MetaConfig().multitask_budget() == (40, 400)  # the default: four episodes of up to 10 classes a step
    cfg = MetaConfig(max_steps=40, meta_batch_size=2, n_way=5, train_n_way=0, k_shot=5, n_query=5)
    assert cfg.multitask_budget() == (40, 100)
    assert cfg.multitask_budget(num_processes=4) == (40, 400)
    assert MetaConfig(multitask_steps=7, multitask_batch_size=3).multitask_budget() == (7, 3)
    assert MetaConfig(train_n_way=10, meta_batch_size=1).multitask_budget() == (40, 100)  # at most 10 classes a task


@pytest.mark.parametrize("method", ["multitask", "fomaml"])
@pytest.mark.parametrize("val_scores, chosen", [([0.5, 0.4, 0.45], 0), ([0.3, 0.6, 0.5], 2), ([0.3, 0.3, 0.3], 0)])
def test_the_engine_keeps_the_step_meta_validation_prefers_start_included(tmp_path, tiny_model_dir, method,
                                                                           val_scores, chosen):
    """The multitask baseline gets the model selection the meta-learners get: the same engine code."""
    from conftest import tiny_cfg
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.learner import MetaLearner
    from meta_nlp.recipes.meta_learn import trainer_for
    cfg = tiny_cfg(tmp_path, tiny_model_dir, max_steps=4, multitask_steps=4, eval_every=2, multitask_lr=5e-3)
    trainer = trainer_for(method, cfg, prepare_languages(cfg), make_accelerator(cfg))
    model = trainer.objective.model
    seen = []  # the encoder's weights at each validation

    def selection_score(accelerator):
        seen.append({k: v.detach().clone() for k, v in model.encoder.state_dict().items()})
        return val_scores[len(seen) - 1]
    trainer.objective.selection_score = selection_score
    record = trainer.train()
    assert record["selected_step"] == chosen
    assert list(record["val_accuracy_by_step"]) == ["0", "2", "4"]
    assert not torch.equal(seen[0]["embeddings.word_embeddings.weight"], seen[-1]["embeddings.word_embeddings.weight"])
    best = MetaLearner.from_pretrained(str(trainer.output_dir), device="cpu").model.encoder.state_dict()
    for name, value in seen[chosen // 2].items():
        assert torch.equal(best[name], value), name


@pytest.mark.parametrize("selected, warned", [(0, True), (20, False)])
def test_the_report_says_when_model_selection_kept_the_start(tmp_path, selected, warned):
    """A meta-learner whose selection kept φ⁰ is finetune in disguise: the report says so, and only then."""
    from meta_nlp.evaluation.report import write_report
    config = {"task": "chatterbot_topics", "n_way": 5, "k_shot": 5, "model": "m", "algorithm": "protonet",
              "max_steps": 40, "meta_batch_size": 2, "inner_steps": 5, "seed": 0}
    result = {"language": "ja", "method": "protonet", "k_shot": 5, "accuracy": 0.4, "ci95": 0.01, "n_episodes": 2,
              "adapt_steps": 0, "lr_factor": 1.0, "accuracy_by_step": [0.4]}
    text = write_report(tmp_path, config, [result], {}, {"selected_step": selected, "steps": 40}).read_text()
    assert ("Model selection kept φ⁰" in text) == warned


@pytest.mark.parametrize("head, said", [("transductive", "refit with the episode's query texts"),
                                        ("logistic", "a logistic regression fit on the support embeddings, plus 1 ×"),
                                        (None, "the per-episode head")])  # a run saved before the flag: 'sgd'
def test_the_report_says_which_head_predicted(tmp_path, head, said):
    from meta_nlp.evaluation.report import write_report
    config = {"task": "chatterbot_topics", "n_way": 5, "k_shot": 5, "model": "m", "algorithm": "protonet",
              "max_steps": 40, "meta_batch_size": 2, "inner_steps": 5, "seed": 0,
              **({"test_time_head": head, "label_name_weight": 1.0} if head else {})}
    result = {"language": "ja", "method": "protonet", "k_shot": 5, "accuracy": 0.4, "ci95": 0.01, "n_episodes": 2,
              "adapt_steps": 0, "lr_factor": 1.0, "accuracy_by_step": [0.4]}
    text = write_report(tmp_path, config, [result]).read_text()
    assert said in text.split("Predictions by ", 1)[1].split("\n", 1)[0]
    assert ("refit" in text) == (head == "transductive")


def test_the_logistic_readout_predicts_with_a_logistic_regression_on_the_adapted_support_embeddings(tiny_model,
                                                                                                   tokenizer):
    """--test-time-head logistic: the encoder adapts by the same SGD steps as with the 'sgd' readout, and after
    each step the logistic regression fit on the support set's embeddings under those weights predicts."""
    from meta_nlp.algorithms.inner import adapt_and_predict, constant_lr, inner_loop
    from meta_nlp.models.encoder import head_logits, logistic_regression_head
    tiny_model.eval().requires_grad_(False)
    names = tiny_model.adaptable_names(1)
    episode = Episode([TEXTS[i % 5] + f" {i}" for i in range(6)], [0, 0, 1, 1, 2, 2],
                      [TEXTS[(i + 2) % 5] + " again" for i in range(6)], [0, 1, 2, 0, 1, 2], ["a", "b", "c"], "xx")
    batch = to_batch(episode, tokenizer, 32, torch.device("cpu"))
    expected = []
    for state in inner_loop(tiny_model, batch, names, 2, constant_lr(0.5), create_graph=False, head_init="proto",
                            track_meta_grad=False):
        with torch.no_grad():
            fast = {k: v.detach() for k, v in state.fast.items()}
            head = logistic_regression_head(tiny_model.embed(batch.support, fast), batch.support_labels, 3)
            expected.append(head_logits(tiny_model.embed(batch.query, fast), head, 1.0).argmax(-1).tolist())
    got = adapt_and_predict(tiny_model, batch, names, 2, constant_lr(0.5), "proto", readout="logistic")
    assert got == expected
    assert got != adapt_and_predict(tiny_model, batch, names, 2, constant_lr(0.5), "proto")  # the readout matters
    # head-only adaptation (ANIL) never changes the support embeddings: every step predicts as step 0 does
    assert adapt_and_predict(tiny_model, batch, [], 2, constant_lr(0.5), "proto", readout="logistic") == [expected[0]] * 3


def test_the_transductive_readout_refits_the_logistic_head_on_the_query_texts_it_soft_labels(tiny_model, tokenizer):
    """--test-time-head transductive: after each test-time step, the logistic head (names added) is refit
    TRANSDUCTIVE_ROUNDS times on the support set plus the query texts, each weighted by the last head's
    probabilities; adapting without query texts (MetaLearner.adapt) gives the logistic head."""
    from meta_nlp.algorithms.inner import (TRANSDUCTIVE_ROUNDS, adapt_and_predict, constant_lr, inner_loop,
                                           readout_head)
    from meta_nlp.models.encoder import head_logits, logistic_regression_head
    tiny_model.eval().requires_grad_(False)
    names = tiny_model.adaptable_names(1)
    episode = Episode([TEXTS[i % 5] + f" {i}" for i in range(6)], [0, 0, 1, 1, 2, 2],
                      [TEXTS[(i + 2) % 5] + " again" for i in range(6)], [0, 1, 2, 0, 1, 2], ["a", "b", "c"], "xx")
    batch = to_batch(episode, tokenizer, 32, torch.device("cpu"))
    expected, inductive = [], []
    for state in inner_loop(tiny_model, batch, names, 2, constant_lr(0.5), create_graph=False, head_init="proto",
                            track_meta_grad=False, label_name_weight=0.5):
        with torch.no_grad():
            fast = {k: v.detach() for k, v in state.fast.items()}
            zs, zq = tiny_model.embed(batch.support, fast), tiny_model.embed(batch.query, fast)
            named = tiny_model.embed(batch.label_names, fast)
            head = logistic_regression_head(zs, batch.support_labels, 3)
            head["head.weight"] = head["head.weight"] + 0.5 * named
            inductive.append(head_logits(zq, head, 1.0).argmax(-1).tolist())
            for _ in range(TRANSDUCTIVE_ROUNDS):
                probs = torch.softmax(head_logits(zq, head, 1.0), -1)
                head = logistic_regression_head(zs, batch.support_labels, 3, pseudo_labelled=(zq, probs))
                head["head.weight"] = head["head.weight"] + 0.5 * named
            expected.append(head_logits(zq, head, 1.0).argmax(-1).tolist())
            without_query = readout_head(state, batch, "transductive")
            assert torch.equal(without_query["head.weight"], readout_head(state, batch, "logistic")["head.weight"])
    got = adapt_and_predict(tiny_model, batch, names, 2, constant_lr(0.5), "proto", readout="transductive",
                            label_name_weight=0.5)
    assert got == expected != inductive  # the query texts move the head
    assert adapt_and_predict(tiny_model, batch, names, 2, constant_lr(0.5), "proto", readout="logistic",
                             label_name_weight=0.5) == inductive


def test_every_method_but_setfit_predicts_with_the_chosen_test_time_head(tiny_model):
    from dataclasses import replace
    from meta_nlp.algorithms.setfit import SetFitRule
    from meta_nlp.algorithms.test_time import test_time_rule
    cfg = MetaConfig(test_time_head="logistic").validate()
    for method in ("finetune", "multitask", "fomaml", "anil", "protonet", "metasgd"):
        assert test_time_rule(method, tiny_model, cfg).readout == "logistic"
        assert test_time_rule(method, tiny_model, replace(cfg, test_time_head="sgd")).readout == "sgd"
    assert isinstance(test_time_rule("setfit", tiny_model, cfg), SetFitRule)


def test_a_test_time_head_that_does_not_exist_is_refused():
    from meta_nlp.errors import MetaNLPError
    with pytest.raises(MetaNLPError, match="--test-time-head must be one of sgd, logistic"):
        MetaConfig(test_time_head="svm").validate()


def test_a_learner_saved_with_the_logistic_head_adapts_with_it(tiny_model, tokenizer):
    from meta_nlp.learner import MetaLearner
    from meta_nlp.models.encoder import logistic_regression_head
    texts, labels = TEXTS[:4], ["x", "y", "x", "y"]
    cfg = MetaConfig(test_time_head="logistic", max_length=32, label_name_weight=0.0).validate()  # the head alone
    learner = MetaLearner(tiny_model, tokenizer, cfg, {"method": "finetune", "test_time": {"lr_factor": 1.0, "steps": 0}})
    with torch.no_grad():
        z = tiny_model.embed(tokenize(tokenizer, texts, 32, torch.device("cpu")))
    expected = logistic_regression_head(z, torch.tensor([0, 1, 0, 1]), 2)
    head = learner.adapt(texts, labels).head
    for name in expected:
        torch.testing.assert_close(head[name], expected[name])


@pytest.mark.parametrize("method", ["multitask", "fomaml"])
def test_model_selection_scores_checkpoints_with_the_head_that_will_predict(tmp_path, tiny_model_dir, monkeypatch,
                                                                           method):
    from conftest import tiny_cfg
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.objectives import meta_learning, multitask
    from meta_nlp.recipes.meta_learn import trainer_for
    readouts = []
    for module in (meta_learning, multitask):
        monkeypatch.setattr(module, "validation_accuracy",
                            lambda model, tokenizer, rule, *args, **kwargs: readouts.append(rule.readout) or 0.5)
    cfg = tiny_cfg(tmp_path, tiny_model_dir, test_time_head="logistic")
    trainer = trainer_for(method, cfg, prepare_languages(cfg), make_accelerator(cfg))
    trainer.objective.selection_score(trainer.accelerator)
    assert readouts == ["logistic"]


def test_model_selection_scores_a_checkpoint_at_the_steps_test_time_would_take(monkeypatch):
    """Seed 1 of SIB-200 (results.md, twenty-fifth measurements): after 40 meta-steps a checkpoint was 5 points ahead
    of φ⁰ with no test-time step, but 3 steps at lr ×1 undid it, and scored after the last step φ⁰ was kept, although
    the test-time rule may stop at 0 steps. --selection-steps chosen scores each checkpoint at the steps
    --test-time-selection picks on its own pass; 'last' is how runs scored before, and what a saved run that predates
    the field ran with."""
    import numpy as np
    from meta_nlp.config import saved_config
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.evaluation import evaluator
    from meta_nlp.evaluation.evaluator import selection_accuracy
    # validation episodes x steps 0..3 at lr x1 (the means of that run's passes, two episodes each)
    phi0 = np.array([[.40, .41, .42, .40], [.43, .41, .42, .42]])
    trained = np.array([[.47, .45, .42, .39], [.46, .45, .43, .40]])
    chosen, last = MetaConfig(), MetaConfig(selection_steps="last")
    assert chosen.selection_steps == "chosen"
    # 'chosen': the trained checkpoint at 0 steps (.465) beats φ⁰ at its best, 2 steps (.42); 'last': φ⁰ wins
    assert (selection_accuracy(trained, chosen), selection_accuracy(phi0, chosen)) == pytest.approx((.465, .42))
    assert (selection_accuracy(trained, last), selection_accuracy(phi0, last)) == pytest.approx((.395, .41))
    # what the objectives call: the lr x1 pass over --inner-steps steps, reduced so
    passes = []
    monkeypatch.setattr(evaluator, "score_episodes", lambda *args, **kwargs: passes.append(args[5:7]) or trained)
    assert evaluator.validation_accuracy(None, None, None, None, chosen, None) == pytest.approx(.465)
    assert passes == [(chosen.inner_steps, 1.0)]
    # under one_se, the fewest steps within one standard error of the pass's best (.55 at 2 steps, SE .05)
    noisy = np.array([[.4, .4, .6], [.6, .6, .6], [.4, .4, .4], [.6, .6, .6]])
    assert selection_accuracy(noisy, MetaConfig(test_time_selection="one_se")) == pytest.approx(.50)
    assert selection_accuracy(noisy, chosen) == pytest.approx(.55)
    saved = MetaConfig().to_dict()
    del saved["selection_steps"]
    assert config_from_dict(saved_config(saved)).selection_steps == "last"
    with pytest.raises(MetaNLPError, match="--selection-steps must be one of chosen, last"):
        MetaConfig(selection_steps="first").validate()


def test_one_se_selection_adapts_only_when_validation_says_it_is_worth_its_noise():
    """'best' takes the highest validation mean (ties: the grid's first factor, fewer steps); 'one_se' the fewest
    steps, then the smallest factor, within one standard error of it."""
    import numpy as np
    from meta_nlp.evaluation.evaluator import pick_test_time_setting
    # 4 validation episodes; columns: steps 0, 1, 2. lr x1 at 2 steps is best by 0.05 over no adaptation, a gain
    # smaller than its standard error over episodes (0.1): no adaptation is kept.
    noisy = {0.3: np.array([[.4, .4, .4], [.6, .6, .6], [.4, .4, .4], [.6, .6, .6]]),
             1.0: np.array([[.4, .4, .6], [.6, .6, .6], [.4, .4, .4], [.6, .6, .6]])}
    assert pick_test_time_setting(noisy, "best") == (1.0, 2)
    assert pick_test_time_setting(noisy, "one_se") == (0.3, 0)
    # a clear gain on every episode (best 0.825 at 2 steps, SE 0.075): adaptation is kept, at the fewest steps within
    # one SE of it (0.775 at 1 step)
    clear = {0.3: np.array([[.4, .5, .5], [.5, .6, .6], [.4, .5, .5], [.5, .6, .6]]),
             1.0: np.array([[.4, .7, .7], [.5, .8, 1.], [.4, .8, .7], [.5, .8, .9]])}
    assert pick_test_time_setting(clear, "best") == (1.0, 2)
    assert pick_test_time_setting(clear, "one_se") == (1.0, 1)
    tie = {0.3: np.array([[.5, .6]] * 2), 1.0: np.array([[.5, .6]] * 2)}
    assert pick_test_time_setting(tie, "best") == (0.3, 1)


@pytest.mark.parametrize("method, precision, dtype", [("finetune", "no", torch.float32),
                                                     ("finetune", "bf16", torch.bfloat16),
                                                     ("setfit", "bf16", torch.float32)])
def test_episodes_are_evaluated_at_the_runs_mixed_precision(tiny_model_dir, tokenizer, method, precision, dtype,
                                                            fresh_accelerate_state):
    """--mixed-precision bf16 speeds up evaluation as it does meta-training: the adapted layers run in bf16. SetFit
    adapts in float32 whatever the precision (its small AdamW steps would be lost in bf16's rounding)."""
    from accelerate import Accelerator
    from meta_nlp.algorithms.test_time import test_time_rule
    from meta_nlp.evaluation.evaluator import score_episodes
    from meta_nlp.models.encoder import MetaModel, load_encoder
    encoder, _ = load_encoder(tiny_model_dir)
    model = MetaModel(encoder)
    cfg = MetaConfig(inner_layers=1, test_time_head="logistic", mixed_precision=precision, setfit_iterations=1)

    class Episodes:
        def episode(self, i):
            return Episode([TEXTS[(i + j) % 5] for j in range(4)], [0, 0, 1, 1], TEXTS[:4], [0, 1, 0, 1], ["a", "b"], "xx")
    seen = set()
    top = model.encoder.encoder.layer[-1].output.dense
    handle = top.register_forward_hook(lambda module, args, out: seen.add(out.dtype))
    try:
        accelerator = Accelerator(mixed_precision=precision, cpu=True)
        scores = score_episodes(model, tokenizer, test_time_rule(method, model, cfg), Episodes(), 2, 1, 1.0, cfg,
                                accelerator, "test")
    finally:
        handle.remove()
    assert seen == {dtype} and scores.shape == (2, 2) and ((scores >= 0) & (scores <= 1)).all()


def test_episodes_scored_side_by_side_on_threads_score_as_one_after_another(tiny_model_dir, tokenizer, monkeypatch,
                                                                         fresh_accelerate_state):
    """On CPU, episodes run side by side, one torch thread each, each thread adapting its own modules over the same
    weights: the same scores as one episode after another (no thread adapts with another's fast weights), every
    thread used (the calling one too), torch's thread count restored, the allocator's free memory handed back before
    and after."""
    import threading
    from accelerate import Accelerator
    from meta_nlp.algorithms.test_time import test_time_rule
    from meta_nlp.evaluation import evaluator
    from meta_nlp.models.encoder import MetaModel, load_encoder
    model = MetaModel(load_encoder(tiny_model_dir)[0])
    cfg = MetaConfig(inner_layers=1, test_time_head="logistic")
    accelerator = Accelerator(cpu=True)

    class Episodes:
        def episode(self, i):
            return Episode([TEXTS[(i + j) % 5] for j in range(4)], [0, 0, 1, 1], TEXTS[i % 3:i % 3 + 2], [0, 1],
                           ["a", "b"], "xx")
    threads, trims = set(), []
    model.encoder.encoder.layer[-1].register_forward_hook(lambda *args: threads.add(threading.get_ident()))
    monkeypatch.setattr(evaluator, "release_free_memory", lambda: trims.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    scores = {}
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            threads.clear()
            monkeypatch.setattr(evaluator, "_MEASURED", {})
            scores[n] = evaluator.score_episodes(model, tokenizer, test_time_rule("finetune", model, cfg), Episodes(),
                                                 6, 2, 1.0, cfg, accelerator, "test")
            assert len(threads) == n and torch.get_num_threads() == n
            assert threading.get_ident() in threads  # this thread scores a share: its arena holds what training freed
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(scores[2], scores[1]) and scores[1].shape == (6, 3)
    assert trims == [2, 2]  # before and after threads score side by side: arenas cannot reuse each other's free memory
    copied = evaluator.module_copy(model)  # its own modules, the same weights (no second copy of the model in memory)
    assert copied.encoder is not model.encoder
    assert all(a is b for a, b in zip(copied.parameters(), model.parameters()))


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_free_memory_can_be_handed_back_on_glibc():
    from meta_nlp.memory import malloc_trim, release_free_memory
    assert malloc_trim() is not None
    assert malloc_trim()(0) in (0, 1)  # glibc's answer: whether memory was handed back
    release_free_memory()


def test_a_score_measured_before_is_reused_only_for_the_same_model_rule_and_episodes(tiny_model_dir, tokenizer,
                                                                                    fresh_accelerate_state):
    """The default job scored φ⁰ three times and each selected checkpoint twice on the same validation episodes; a
    repeat is now read back. It must equal a fresh computation, and anything that decides the scores must make
    them be computed again."""
    from dataclasses import replace
    from accelerate import Accelerator
    from meta_nlp.algorithms.test_time import test_time_rule
    from meta_nlp.evaluation import evaluator
    from meta_nlp.models.encoder import MetaModel, load_encoder
    model = MetaModel(load_encoder(tiny_model_dir)[0])
    cfg = MetaConfig(inner_layers=1, test_time_head="logistic")
    accelerator = Accelerator(cpu=True)

    class Episodes:
        def __init__(self, shift=0):
            self.shift = shift

        def episode(self, i):
            return Episode([TEXTS[(i + j + self.shift) % 5] for j in range(4)], [0, 0, 1, 1], TEXTS[:4],
                           [0, 1, 0, 1], ["a", "b"], "xx")
    runs = []
    handle = model.encoder.encoder.layer[-1].register_forward_hook(lambda *args: runs.append(1))

    def scores(rule=None, episodes=None, factor=1.0, steps=2):
        runs.clear()
        out = evaluator.score_episodes(model, tokenizer, rule or test_time_rule("finetune", model, cfg),
                                       episodes or Episodes(), 3, steps, factor, cfg, accelerator, "test")
        return out, bool(runs)
    try:
        first, computed = scores()
        assert computed
        again, computed = scores()
        assert not computed and (again == first).all()  # read back
        evaluator._MEASURED.clear()
        fresh, computed = scores()
        assert computed and (fresh == first).all()  # what was read back is what computing gives
        for changed in (dict(factor=3.0), dict(steps=1), dict(episodes=Episodes(shift=1)),
                        dict(rule=test_time_rule("finetune", model, replace(cfg, finetune_lr=0.01))),
                        dict(rule=test_time_rule("finetune", model, replace(cfg, label_name_weight=0.0)))):
            assert scores(**changed)[1], changed
        with torch.no_grad():
            model.encoder.embeddings.word_embeddings.weight[0, 0] += 1e-6  # any weight, even one that barely moves
        assert scores()[1]
    finally:
        handle.remove()


def repeating_run_cfg(tmp_path, tiny_model_dir) -> MetaConfig:
    """The default job in small: ProtoNet and both baselines, selection at steps 0 and 2, a grid of 2 lr factors."""
    from conftest import tiny_cfg
    return tiny_cfg(tmp_path, tiny_model_dir, algorithm="protonet", baselines=["finetune", "multitask"], max_steps=2,
                    eval_every=2, multitask_steps=2, inner_layers=1, eval_lr_grid=[0.3, 1.0])


def computed_passes(monkeypatch) -> list:
    """A list that grows by one for each scoring pass computed (not read back)."""
    from meta_nlp.evaluation import evaluator
    computed, measured = [], evaluator.measured_scores
    monkeypatch.setattr(evaluator, "measured_scores", lambda *args: computed.append(1) or measured(*args))
    return computed


def test_a_run_reads_back_the_passes_it_repeats(tmp_path, tiny_model_dir, monkeypatch):
    """The default job's repeats: φ⁰ by the baselines' rule (ProtoNet's test-time rule is the same SGD) at step 0 of
    the multitask baseline's selection and in finetune's x1 grid column, and each selected checkpoint in the x1
    column of its grid (more where a selection keeps φ⁰). Each distinct pass is computed once."""
    from meta_nlp.evaluation import evaluator
    from meta_nlp.recipes import meta_learn
    asked, computed = [], computed_passes(monkeypatch)
    key = evaluator.scoring_key
    monkeypatch.setattr(evaluator, "scoring_key", lambda *args: asked.append(key(*args)) or asked[-1])
    run = meta_learn.run_experiment(repeating_run_cfg(tmp_path, tiny_model_dir))
    # selection at steps 0 and 2 (ProtoNet, multitask): 4; a grid of 2 factors for 3 methods: 6; held out: 3
    assert len(asked) == 13 and len(computed) == len(set(asked)) <= 13 - 4
    # the run's results.json says so, and where its scoring time went
    assert (run["scoring_passes_computed"], run["scoring_passes_read_back"]) == (len(computed), 13 - len(computed))
    assert 0 < run["validation_scoring_s"] and 0 < run["held_out_scoring_s"]
    assert run["validation_scoring_s"] + run["held_out_scoring_s"] <= run["wall_time_s"]
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert all(saved[k] == run[k] for k in ("scoring_passes_computed", "scoring_passes_read_back",
                                             "validation_scoring_s", "held_out_scoring_s"))
    # and what --max-length cut of each language's texts, meta-training's and the held-out one's
    assert set(saved["training_texts_cut"]) == set(saved["train_languages"])
    assert all(0 <= share <= 1 for share in [*saved["training_texts_cut"].values(), *(r["texts_cut"] for r in saved["results"])])


def test_a_resumed_run_reads_back_the_passes_its_interrupted_self_finished(tmp_path, tiny_model_dir, monkeypatch):
    """Every pass a run computes is also kept in OUTPUT_DIR/scores; resumed (--resume-from-checkpoint latest), the
    run reads them back, so a run killed during its evaluation loses the pass it was in, not all of them. A file
    that cannot be read is computed again, and a run that does not resume computes everything itself."""
    from dataclasses import replace
    from meta_nlp.evaluation import evaluator
    from meta_nlp.recipes import meta_learn
    computed = computed_passes(monkeypatch)
    cfg = repeating_run_cfg(tmp_path, tiny_model_dir)
    first = meta_learn.run_experiment(cfg)
    # in the order they were computed: the last ones are the final evaluation's, which a resumed run asks again
    # (the selection passes during training it does not, and which of them repeat depends on what selection kept)
    kept = sorted((tmp_path / "run" / "scores").glob("*.npy"), key=lambda path: path.stat().st_mtime_ns)
    assert len(kept) == len(computed) == first["scoring_passes_computed"] > 2
    kept[-1].unlink()  # the pass it was computing when it was killed
    kept[-2].write_bytes(b"half a file")

    def again(run_cfg):
        evaluator._MEASURED.clear()  # a new process
        computed.clear()
        return meta_learn.run_experiment(run_cfg)
    resumed = again(replace(cfg, resume_from_checkpoint="latest"))
    # training is over, so only the evaluation's passes are asked: all but the two read back
    assert len(computed) == resumed["scoring_passes_computed"] == 2 and resumed["scoring_passes_read_back"] > 0
    assert resumed["results"] == first["results"]
    assert len(list((tmp_path / "run" / "scores").glob("*.npy"))) == len(kept)  # both written again, whole
    assert evaluator.read_scores(kept[-1]) is not None and evaluator.read_scores(kept[-2]) is not None
    fresh = again(cfg)
    assert len(computed) == fresh["scoring_passes_computed"] == first["scoring_passes_computed"]
    assert fresh["results"] == first["results"]


def label_name_episode(tokenizer):
    """Three classes whose names are words of the query texts: 'castle' is about the query 'old castle ...'."""
    episode = Episode([TEXTS[i % 5] + f" {i}" for i in range(6)], [0, 0, 1, 1, 2, 2],
                      ["old castle again", "football again", "jazz again"], [0, 1, 2],
                      ["castle", "football", "jazz"], "xx")
    return to_batch(episode, tokenizer, 32, torch.device("cpu"))


@pytest.mark.parametrize("readout", ["logistic", "sgd"])
def test_label_names_add_their_cosine_to_the_test_time_head(tiny_model, tokenizer, readout):
    """--label-name-weight w: each class's logit gains w·cos(text, the class name's embedding), under the weights the
    step adapted. With w far above the head's own logits the names alone decide; with w = 0 nothing changes."""
    from meta_nlp.algorithms.base import TestTimeRule
    from meta_nlp.algorithms.inner import constant_lr
    tiny_model.eval().requires_grad_(False)
    batch = label_name_episode(tokenizer)
    names = tiny_model.adaptable_names(1)
    without = TestTimeRule(names, constant_lr(0.5), readout).predict(tiny_model, batch, 1, 1.0, "proto")
    by_names = TestTimeRule(names, constant_lr(0.5), readout, 1e6).predict(tiny_model, batch, 1, 1.0, "proto")
    with torch.no_grad():
        cos = tiny_model.embed(batch.query) @ tiny_model.embed(batch.label_names).t()
    assert by_names[0] == cos.argmax(-1).tolist()  # step 0: φ's weights
    assert by_names != without


def test_every_rule_but_setfits_reads_the_label_names_weight(tiny_model):
    from meta_nlp.algorithms.test_time import test_time_rule
    cfg = MetaConfig(label_name_weight=0.7).validate()
    for method in ("finetune", "multitask", "fomaml", "maml", "anil", "protonet", "metasgd", "r2d2", "mldg"):
        assert test_time_rule(method, tiny_model, cfg).label_name_weight == 0.7
    assert test_time_rule("setfit", tiny_model, cfg).label_name_weight == 0.0  # SetFit as published


def test_a_learner_adapts_with_its_label_name_weight(tiny_model, tokenizer):
    from meta_nlp.learner import MetaLearner
    texts, labels = ["old castle", "football", "old castle hill", "football match"], ["castle", "football"] * 2
    heads = [MetaLearner(tiny_model, tokenizer, MetaConfig(label_name_weight=w, max_length=32).validate(),
                         {"method": "finetune", "test_time": {"lr_factor": 1.0, "steps": 0}}).adapt(texts, labels).head
             for w in (0.0, 2.0)]
    with torch.no_grad():
        names = tiny_model.embed(tokenize(tokenizer, ["castle", "football"], 32, torch.device("cpu")))
    torch.testing.assert_close(heads[1]["head.weight"], heads[0]["head.weight"] + 2.0 * names)


def test_runs_saved_before_label_names_read_back_without_them():
    from meta_nlp.config import config_from_dict, saved_config
    old = MetaConfig().to_dict()
    del old["label_name_weight"]
    assert config_from_dict(saved_config(old)).label_name_weight == 0.0


def test_a_negative_label_name_weight_is_refused():
    from meta_nlp.errors import MetaNLPError
    with pytest.raises(MetaNLPError, match="--label-name-weight must be 0 or more"):
        MetaConfig(label_name_weight=-1.0).validate()


def test_names_in_meta_training_need_a_weight_and_our_backend():
    from meta_nlp.errors import MetaNLPError
    with pytest.raises(MetaNLPError, match="needs a weight above 0"):
        MetaConfig(meta_train_label_names=True, label_name_weight=0.0).validate()
    with pytest.raises(MetaNLPError, match="drop --meta-train-label-names"):
        MetaConfig(algorithm="fomaml", meta_train_label_names=True, backend="higher").validate()
    assert MetaConfig(meta_train_label_names=True).validate().meta_train_label_names


def test_labels_that_name_nothing_add_nothing(tokenizer):
    """Ids (PAWS-X's 0 and 1) and the labels of text pairs say nothing about a text's content: no names there."""
    from meta_nlp.algorithms.inner import tokenized_label_names
    cpu = torch.device("cpu")
    assert tokenized_label_names(["a", "b"], ["0", "1"], tokenizer, 16, cpu) is None
    assert tokenized_label_names([("a", "b"), ("c", "d")], ["entailment", "neutral"], tokenizer, 16, cpu) is None
    named = tokenized_label_names(["a", "b"], ["small_talk", "food"], tokenizer, 16, cpu)
    assert tokenizer.decode(named["input_ids"][0], skip_special_tokens=True) == "small talk"


def test_an_interrupted_write_keeps_the_previous_results_json(tmp_path, monkeypatch):
    """A run killed while writing results.json leaves the last complete one (a resumed study reads it back), and
    no partial file behind."""
    import json
    from pathlib import Path
    from meta_nlp.evaluation.report import write_results
    write_results(tmp_path, {"seed": 0}, [{"method": "fomaml", "accuracy": 0.5}])
    real_write_text = Path.write_text

    def killed_halfway(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(Path, "write_text", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_results(tmp_path, {"seed": 0}, [{"method": "fomaml", "accuracy": 0.6}] * 50)
    monkeypatch.undo()
    assert json.loads((tmp_path / "results.json").read_text())["results"] == [{"method": "fomaml", "accuracy": 0.5}]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_texts_cut_counts_what_max_length_cuts_and_the_note_names_the_length_that_keeps_them(tokenizer):
    short, long = "hello there", " ".join(["word"] * 40)  # 4 and 42 tokens with [CLS] and [SEP]
    corpus = {"xx": {"a": [short, long], "b": [short, short]}, "yy": {"a": [short, short]},
              "zz": [(short, long), (short, short)]}  # ranking pairs: both sides are read
    cut = texts_cut(tokenizer, corpus, max_length=32)
    assert cut["xx"]["share"] == 0.25 and cut["yy"]["share"] == 0.0 and cut["zz"]["share"] == 0.25
    assert cut["xx"]["whole_95"] > 32 and cut["yy"]["whole_95"] <= 32
    assert texts_cut(tokenizer, corpus, max_length=64)["xx"]["share"] == 0.0
    printed = []
    note_texts_cut(cut, 32, "held-out", SimpleNamespace(print=printed.append))
    assert len(printed) == 1 and "25% of xx, 25% of zz;" in printed[0] and "yy" not in printed[0]
    assert f"--max-length {max(cut['xx']['whole_95'], cut['zz']['whole_95'])} keeps 95%" in printed[0]
    printed.clear()
    note_texts_cut(texts_cut(tokenizer, {"yy": corpus["yy"]}, 32), 32, "held-out", SimpleNamespace(print=printed.append))
    assert printed == []  # nothing cut: nothing to say


def test_a_weight_ensemble_lies_between_the_initial_encoder_and_the_learner(tmp_path, tokenizer):
    """evaluate --weight-ensemble SHARE evaluates φ⁰ + SHARE·(φ − φ⁰), saved as a learner that loads and adapts."""
    from conftest import tiny_bert
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.learner import MetaLearner, save_learner, save_weight_ensemble
    from meta_nlp.models.encoder import MetaModel
    initial, trained = tiny_bert(seed=0), tiny_bert(seed=1)
    initial.save_pretrained(tmp_path / "phi0")
    tokenizer.save_pretrained(tmp_path / "phi0")
    cfg = MetaConfig(model=str(tmp_path / "phi0"), max_length=16)
    model = MetaModel(trained, cfg.logit_scale)
    model.log_scale.data.fill_(1.7)  # a learned logit scale is the learner's, not blended
    save_learner(tmp_path / "run", model, tokenizer, cfg, extra={"step": 40, "train_languages": ["en"]})
    start, end = initial.state_dict(), trained.state_dict()
    for share in (0.25, 1.0):
        out = save_weight_ensemble(tmp_path / "run", share, tmp_path / f"blend{share}")
        learner = MetaLearner.from_pretrained(str(out), device="cpu")
        for name, value in learner.model.encoder.state_dict().items():
            if value.is_floating_point():
                torch.testing.assert_close(value, start[name] + share * (end[name] - start[name]), msg=name)
        moved = learner.model.encoder.state_dict()["encoder.layer.1.output.dense.weight"]
        assert not torch.equal(moved, start["encoder.layer.1.output.dense.weight"])
        assert learner.model.log_scale.item() == pytest.approx(1.7)
        assert learner.meta["weight_ensemble"]["share"] == share and learner.meta["step"] == 40
    assert learner.adapt(["a cat", "the dog", "jazz", "rock music"], ["x", "x", "y", "y"]).predict(["cat"])[0] in "xy"
    with pytest.raises(MetaNLPError, match="weight-ensemble must be in"):
        save_weight_ensemble(tmp_path / "run", 0.0, tmp_path / "none")
