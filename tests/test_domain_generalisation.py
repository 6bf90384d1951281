"""Leave-one-language-out meta-learning: MLDG, cross-lingual and zero-shot episodes, the paired
bootstrap, leave-one-out sweeps and the study. Tiny random BERT, float64 where gradients are compared."""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_cfg
from meta_nlp.algorithms import build_algorithm
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.algorithms.inner import whole_task
from meta_nlp.config import MetaConfig
from meta_nlp.data import chatterbot
from meta_nlp.data.episodes import EpisodeSampler
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import double_backward_attention, head_logits, init_head

# --------------------------------------------------------------------------- MLDG


def two_language_corpus(per_label: int = 12) -> dict:
    """Two languages with the same six labels; every text says its language and label."""
    return {lang: {f"topic{j}": [f"{lang} text {j} number {i}" for i in range(per_label)] for j in range(6)}
            for lang in ("xx", "yy")}


def mldg_cfg(**kw) -> MetaConfig:
    return MetaConfig(algorithm="mldg", inner_steps=1, inner_lr=0.3, inner_layers=-1, mldg_beta=0.7, **kw)


def proto_loss(model, support, support_labels, query, query_labels, n_way, fast) -> torch.Tensor:
    """Query cross-entropy under a head prototype-initialised from the support set, written out."""
    head = init_head(model.embed(support, fast), support_labels, n_way, "proto")
    return F.cross_entropy(head_logits(model.embed(query, fast), head, model.log_scale.exp()), query_labels)


def mldg_objective_by_hand(model, train, pseudo, cfg: MetaConfig, second_order: bool) -> torch.Tensor:
    """L_train(θ) + β·L_pseudo(θ − α∇L_train(θ)), one inner step, without the inner loop's code."""
    params = model.encoder_params()
    names = model.adaptable_names(cfg.inner_layers)
    both = whole_task(train)
    theta = {n: params[n] for n in names}
    loss_train = proto_loss(model, both.support, both.support_labels, both.support, both.support_labels,
                            train.n_way, theta)
    grads = torch.autograd.grad(loss_train, list(theta.values()), create_graph=second_order, retain_graph=True)
    moved = {n: w - cfg.inner_lr * (g if second_order else g.detach()) for (n, w), g in zip(theta.items(), grads)}
    loss_pseudo = proto_loss(model, pseudo.support, pseudo.support_labels, pseudo.query, pseudo.query_labels,
                             pseudo.n_way, moved)
    return loss_train + cfg.mldg_beta * loss_pseudo


@pytest.mark.parametrize("first_order,inner_layers", [(False, -1), (True, -1), (False, 1)])  # 1: cached lower layer
def test_mldg_meta_gradient_equals_the_hand_computation(tiny_model, tokenizer, first_order, inner_layers):
    cfg = replace(mldg_cfg(mldg_first_order=first_order), inner_layers=inner_layers)
    algo = build_algorithm(cfg)
    sampler = EpisodeSampler(two_language_corpus(), 3, 2, 2, seed=0)
    train, pseudo = [to_batch(ep, tokenizer, 16, torch.device("cpu")) for ep in algo.draw_episodes(sampler, 0, step=1)]
    assert (train.episode.language, pseudo.episode.language) == ("xx", "yy")  # step 1: yy is the pseudo-target

    tiny_model.zero_grad(set_to_none=True)
    algo.accumulate_meta_gradient(tiny_model, [train, pseudo], step=1, weight=1.0)
    got = {n: p.grad.clone() for n, p in tiny_model.named_parameters() if p.grad is not None}

    tiny_model.zero_grad(set_to_none=True)
    with double_backward_attention(not first_order):
        objective = mldg_objective_by_hand(tiny_model, train, pseudo, cfg, second_order=not first_order)
    objective.backward()
    want = {n: p.grad.clone() for n, p in tiny_model.named_parameters() if p.grad is not None}
    assert got.keys() == want.keys() and len(got) > 10
    for name in want:
        assert torch.allclose(got[name], want[name], rtol=1e-7, atol=1e-12), name
    assert want["encoder.embeddings.word_embeddings.weight"].abs().sum() > 0


def test_mldg_second_order_differs_from_first_order(tiny_model, tokenizer):
    sampler = EpisodeSampler(two_language_corpus(), 3, 2, 2, seed=0)
    grads = {}
    for first_order in (False, True):
        algo = build_algorithm(mldg_cfg(mldg_first_order=first_order))
        batch = [to_batch(ep, tokenizer, 16, torch.device("cpu")) for ep in algo.draw_episodes(sampler, 0, 0)]
        tiny_model.zero_grad(set_to_none=True)
        algo.accumulate_meta_gradient(tiny_model, batch, step=0, weight=1.0)
        grads[first_order] = tiny_model.encoder.encoder.layer[1].output.dense.weight.grad.clone()
    assert not torch.allclose(grads[False], grads[True], rtol=1e-4, atol=1e-10)


def test_mldg_rotates_the_pseudo_target_over_every_training_language():
    corpus = {**two_language_corpus(), "zz": two_language_corpus()["xx"]}
    sampler = EpisodeSampler(corpus, 3, 2, 2, seed=0)
    algo = build_algorithm(mldg_cfg())
    targets = []
    for step in range(6):
        for task in range(4):
            train, pseudo = algo.draw_episodes(sampler, task, step)
            assert train.language != pseudo.language  # the pseudo-target is never a meta-train language
            assert algo.draw_episodes(sampler, task, step) == [train, pseudo]  # a pure function of (seed, step, task)
        targets.append(pseudo.language)
    assert targets == ["xx", "yy", "zz", "xx", "yy", "zz"]


def test_pseudo_target_queries_option_of_the_other_learners():
    # zz has 4 labels but shares 2 with the others, fewer than n_way = 3: no episode can query it, so the rotation
    # skips it (the first version rotated over every language and stopped at chatterbot's `bn`)
    corpus = {**two_language_corpus(),
              "zz": {label: [f"zz {label} {i}" for i in range(12)] for label in ("topic0", "topic1", "a", "b")}}
    sampler = EpisodeSampler(corpus, 3, 2, 2, seed=0)
    algo = build_algorithm(MetaConfig(algorithm="fomaml", pseudo_target_queries=True))
    for step in range(4):
        (ep,) = algo.draw_episodes(sampler, 5, step)
        assert ep.language == ["xx", "yy"][step % 2] and ep.support_language != ep.language


# --------------------------------------------------------------------------- episodes


def test_cross_lingual_episodes_have_support_and_query_in_different_languages():
    corpus = {lang: chatterbot.read_language(lang) for lang in ("en", "it", "ja")}
    sampler = EpisodeSampler(corpus, 5, 2, 3, seed=4, cross_lingual=True)
    seen = set()
    for i in range(30):
        ep = sampler.episode(i)
        assert ep.support_language != ep.language
        seen.add((ep.support_language, ep.language))
        assert len(ep.label_names) == 5
        for text, label in zip(ep.support_texts, ep.support_labels):  # the same label names, in each language
            assert text in sampler.corpus[ep.support_language][ep.label_names[label]]
        for text, label in zip(ep.query_texts, ep.query_labels):
            assert text in sampler.corpus[ep.language][ep.label_names[label]]
    assert len(seen) > 3
    assert sampler.episode(7) == EpisodeSampler(corpus, 5, 2, 3, seed=4, cross_lingual=True).episode(7)
    assert sampler.episode(3, "ja").language == "ja"


def test_episodes_of_a_chosen_language_are_deterministic_and_independent():
    sampler = EpisodeSampler(two_language_corpus(), 3, 2, 2, seed=0)
    assert sampler.episode(2, "yy") == sampler.episode(2, "yy") and sampler.episode(2, "yy").language == "yy"
    assert sampler.episode(2, "xx").support_texts != [t.replace("yy", "xx") for t in sampler.episode(2, "yy").support_texts]


def test_zero_shot_episodes_support_in_source_query_in_held_out_never_read_before(tmp_path, monkeypatch,
                                                                                   tiny_model_dir):
    read = []
    real = chatterbot.read_language
    monkeypatch.setattr(chatterbot, "read_language", lambda code, *part: read.append(code) or real(code, *part))
    cfg = tiny_cfg(tmp_path, tiny_model_dir, eval_mode="zero_shot", held_out_language=["ja"], n_way=3, k_shot=2,
                   n_query=2)
    split = prepare_languages(cfg)
    val = split.val_sampler(cfg)  # model selection mirrors the test: support in en, query in it
    assert {(ep.support_language, ep.language) for ep in val.episodes(0, 6)} == {("en", "it")}
    assert "ja" not in read
    held_out = load_held_out(cfg, "ja")  # the final evaluation, and only it, reads ja
    assert "ja" in read
    for ep in held_out.episodes(0, 5):
        assert (ep.support_language, ep.language) == ("en", "ja")
        assert all(t in held_out.corpus["en"][ep.label_names[y]] for t, y in zip(ep.support_texts, ep.support_labels))
        assert all(t in held_out.corpus["ja"][ep.label_names[y]] for t, y in zip(ep.query_texts, ep.query_labels))
    assert load_held_out(cfg, "ja").episodes(0, 5) == held_out.episodes(0, 5)  # the same for every method


def test_a_training_draw_redraws_training_alone(tmp_path, tiny_model_dir):
    """--training-draw k > 0: other training tasks; the same split, validation and held-out episodes."""
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["ja"], n_way=3, k_shot=2, n_query=2)
    again, other = replace(cfg, training_draw=1), replace(cfg, training_draw=2)
    assert cfg.training_seed == cfg.seed  # draw 0: every run before the flag, unchanged
    assert len({cfg.training_seed, again.training_seed, other.training_seed, replace(cfg, seed=1).training_seed}) == 4
    split, redrawn = prepare_languages(cfg), prepare_languages(again)
    assert split.train == redrawn.train and split.val == redrawn.val
    assert split.val_sampler(cfg).episodes(0, 4) == redrawn.val_sampler(again).episodes(0, 4)
    assert load_held_out(cfg, "ja").episodes(0, 4) == load_held_out(again, "ja").episodes(0, 4)
    assert split.train_sampler(cfg).episodes(0, 4) != redrawn.train_sampler(again).episodes(0, 4)


# --------------------------------------------------------------------------- statistics


def test_paired_bootstrap_covers_the_truth_and_beats_the_unpaired_interval():
    from meta_nlp.evaluation.stats import bootstrap_difference
    rng = np.random.default_rng(0)
    true_diff, covered, paired_widths, unpaired_widths = 0.05, 0, [], []
    for trial in range(60):
        difficulty = rng.uniform(0.2, 0.9, size=150)  # shared by both methods: what pairing cancels
        a = difficulty + true_diff + rng.normal(0, 0.03, size=150)
        b = difficulty + rng.normal(0, 0.03, size=150)
        diff, low, high = bootstrap_difference(a, b, n_resamples=1000, seed=trial)
        _, u_low, u_high = bootstrap_difference(a, b, paired=False, n_resamples=1000, seed=trial)
        covered += low <= true_diff <= high
        paired_widths.append(high - low)
        unpaired_widths.append(u_high - u_low)
        assert low < diff < high
    assert covered / 60 >= 0.85
    assert np.mean(paired_widths) < 0.3 * np.mean(unpaired_widths)


def simulated_draws(rng, draw_sd: float, seeds: int = 2, draws: int = 3, episodes: int = 200) -> tuple[dict, dict]:
    """Pooled rows of a method re-trained `draws` times per seed (each draw shifts its accuracy by N(0, draw_sd))
    and of one that does not train, on the same episodes; the expected difference over draws is 0."""
    rows = {"trained": {"episode_accuracy": [], "draw_accuracy": []}, "fixed": {"episode_accuracy": [], "draw_accuracy": []}}
    for _ in range(seeds):
        difficulty = rng.uniform(0.3, 0.7, size=episodes)
        fixed = difficulty + rng.normal(0, 0.1, size=episodes)
        trained = difficulty + rng.normal(0, draw_sd, size=(draws, 1)) + rng.normal(0, 0.1, size=(draws, episodes))
        for name, scores in (("trained", trained), ("fixed", np.tile(fixed, (draws, 1)))):
            rows[name]["episode_accuracy"] += scores.mean(0).tolist()
            rows[name]["draw_accuracy"].append(scores.mean(1).tolist())
    for name, row in rows.items():
        row.update(method=name, language="xx", episode_seed=[s for s in range(seeds) for _ in range(episodes)])
    return rows["trained"], rows["fixed"]


def test_the_interval_that_counts_retraining_covers_what_the_episode_interval_misses():
    from meta_nlp.evaluation.stats import bootstrap_difference, with_training_randomness
    rng = np.random.default_rng(0)
    covered, covered_by_episodes, trials = 0, 0, 300
    for trial in range(trials):
        trained, fixed = simulated_draws(rng, draw_sd=0.02)
        retrained = with_training_randomness(trained, fixed)
        _, low, high = bootstrap_difference(trained["episode_accuracy"], fixed["episode_accuracy"], n_resamples=300,
                                            seed=trial, strata=trained["episode_seed"])
        covered += retrained["ci95_low"] <= 0 <= retrained["ci95_high"]
        covered_by_episodes += low <= 0 <= high
        assert retrained["draws"] == [[3, 3], [3, 3]] and 0 < retrained["retraining_share"] < 1
    assert 0.92 <= covered / trials <= 0.99  # about 95%, as it claims
    assert covered_by_episodes / trials < 0.85  # the episodes' interval alone is too narrow when re-training varies
    trained, fixed = simulated_draws(rng, draw_sd=0.02, draws=1)
    assert with_training_randomness(trained, fixed) is None  # one draw per seed: its spread cannot be measured


def test_student_t_quantiles():
    from meta_nlp.evaluation.stats import student_t_quantile
    for df, expected in ((1, 12.7062), (2, 4.3027), (4, 2.7764), (30, 2.0423), (math.inf, 1.9600)):
        assert student_t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_bootstrap_within_strata_keeps_every_stratum():
    from meta_nlp.evaluation.stats import bootstrap_difference
    a = np.r_[np.ones(10), np.zeros(10)]
    diff, low, high = bootstrap_difference(a, np.zeros(20), n_resamples=200, strata=[0] * 10 + [1] * 10)
    assert diff == low == high == 0.5  # each seed's share is fixed: no spread from mixing them


# --------------------------------------------------------------------------- sweeps and the study

TINY = dict(max_steps=1, eval_episodes=2, val_episodes=2, eval_inner_steps=1, multitask_steps=1, inner_steps=1,
            meta_batch_size=1, n_way=3, k_shot=2, n_query=2, save_every=1)


def test_leave_one_out_sweep_writes_every_language_and_skips_finished_ones(tmp_path, tiny_model_dir, monkeypatch):
    from meta_nlp.recipes import meta_learn
    cfg = tiny_cfg(tmp_path, tiny_model_dir, leave_one_out=["en", "it"], **TINY)
    out = meta_learn.run_sweep(cfg)
    run = tmp_path / "run"
    for lang, other in (("en", "it"), ("it", "en")):
        data = json.loads((run / lang / "results.json").read_text())
        assert {r["language"] for r in data["results"]} == {lang} and data["train_languages"] == [other]
        assert (run / lang / "best").is_dir()
    total = json.loads((run / "results.json").read_text())
    assert {(r["method"], r["language"]) for r in total["results"]} == {
        (m, lang) for m in ("fomaml", "finetune", "multitask") for lang in ("en", "it")}
    assert total["config"]["held_out_language"] == ["en", "it"] and set(out["mean_over_held_out_languages"]) == {
        "fomaml", "finetune", "multitask"}
    assert "| it | fomaml |" in (run / "report.md").read_text()

    # resume: 'it' was interrupted (no results.json); 'en' is finished and must not run again
    first_en = (run / "en" / "results.json").read_text()
    (run / "it" / "results.json").unlink()
    ran = []
    real = meta_learn.run_experiment
    monkeypatch.setattr(meta_learn, "run_experiment", lambda c, a=None: ran.append(c.held_out_language) or real(c, a))
    again = meta_learn.run_sweep(replace(cfg, resume_from_checkpoint="latest"))
    assert ran == [["it"]]
    assert (run / "en" / "results.json").read_text() == first_en
    assert [r["accuracy"] for r in again["results"]] == [r["accuracy"] for r in out["results"]]  # exact resume
    with pytest.raises(MetaNLPError, match="max_steps=1, not 3"):  # never pooled with runs of other settings
        meta_learn.run_sweep(replace(cfg, max_steps=3))


def test_sweep_trains_once_for_the_languages_that_the_same_training_languages_serve(tmp_path, tiny_model_dir):
    from meta_nlp.recipes.meta_learn import sweep_folds
    cfg = tiny_cfg(tmp_path, tiny_model_dir, train_languages=["en", "it"], leave_one_out=["ja", "ko", "en"])
    folds = sweep_folds(cfg, ["ja", "ko", "en"])
    # ja and ko would both meta-train on en and it: one run evaluates both; en, a training language, trains on it
    assert [(f.held_out_language, f.train_languages, Path(f.output_dir).name) for f in folds] == [
        (["ja", "ko"], ["en", "it"], "ja+ko"), (["en"], ["it"], "en")]
    # without --train-languages every fold trains on all the other languages: one run per language
    every = replace(cfg, train_languages=[])
    assert [f.held_out_language for f in sweep_folds(every, ["ja", "ko"])] == [["ja"], ["ko"]]


def test_validation_languages_select_apart_from_training_and_both_rules_are_compared(tmp_path, tiny_model_dir):
    from meta_nlp.data import languages as language_data
    from meta_nlp.recipes import meta_learn
    cfg = tiny_cfg(tmp_path, tiny_model_dir, train_languages=[], validation_languages=["ko"], held_out_language=["ja"],
                   baselines=["finetune"], max_steps=2, eval_every=1, val_episodes=2, eval_episodes=2)
    split = language_data.prepare_languages(cfg)
    assert "ko" not in split.train and "ko" not in split.val and set(split.held_out_val) == {"ko"}
    assert split.val_sampler(cfg).languages == ["ko"]  # the run's own rule: the validation language only
    assert "ko" not in split.val_sampler(cfg, language_data.TRAINING_LANGUAGES).languages

    out = meta_learn.run_experiment(cfg)
    run = Path(cfg.output_dir)
    training = out["training"]
    compared = training["compared_selection"]["training-languages"]
    assert set(compared["val_accuracy_by_step"]) == set(training["val_accuracy_by_step"]) == {"0", "1", "2"}
    kept = json.loads((run / "best-training-languages" / "meta_nlp.json").read_text())
    assert kept["step"] == compared["selected_step"] and kept["selected_on"] == "training-languages"
    rows = {r["method"]: r for r in out["results"]}
    assert set(rows) == {"fomaml", "fomaml@training-languages", "finetune"}
    assert rows["fomaml@training-languages"]["selection"]["selected_step"] == compared["selected_step"]
    assert "vs_best_baseline" in rows["fomaml@training-languages"]  # compared on the same episodes
    with pytest.raises(MetaNLPError, match="'ja' is both a --validation-languages language and held out"):
        replace(cfg, validation_languages=["ja"]).validate()


def test_validation_labels_are_never_meta_trained_on_and_select_the_run(tmp_path, tiny_model_dir):
    from meta_nlp.data import languages as language_data
    from meta_nlp.recipes import meta_learn
    labels = ["food", "history", "money"]
    cfg = tiny_cfg(tmp_path, tiny_model_dir, validation_labels=labels, baselines=["multitask"],
                   max_steps=2, eval_every=1, val_episodes=2, eval_episodes=2, n_way=3)
    split = language_data.prepare_languages(cfg)
    for part in (split.train, split.val):  # neither meta-training nor the training languages' share reads them
        assert all(not set(labels) & set(rows) for rows in part.values())
    assert {lang: sorted(rows) for lang, rows in split.held_out_val.items()} == {"en": labels, "it": labels}
    assert split.selection_rules == [language_data.VALIDATION_LABELS, language_data.TRAINING_LANGUAGES]
    episode = split.val_sampler(cfg).episode(0)
    assert sorted(episode.label_names) == labels  # the run's own rule: episodes of the validation labels only

    out = meta_learn.run_experiment(cfg)
    rows = {r["method"]: r for r in out["results"]}
    assert set(rows) == {"fomaml", "fomaml@training-languages", "multitask"}
    assert "validation-labels" not in out["training"]["compared_selection"]
    report = (Path(cfg.output_dir) / "report.md").read_text()
    assert "the validation labels food, history, money in the training languages" in report
    # evaluate.py on the share's pick chooses its test-time setting on the share's episodes, as its run did
    again = meta_learn.evaluate_checkpoint(str(Path(cfg.output_dir) / "best-training-languages"), cfg.held_out_language,
                                           {"baselines": []}, tmp_path / "again")
    assert again["test_time_selected_on"] == language_data.TRAINING_LANGUAGES
    assert again["results"][0]["method"] == "fomaml@training-languages"  # the row's name in its run's report
    assert again["results"][0]["episode_accuracy"] == rows["fomaml@training-languages"]["episode_accuracy"]
    with pytest.raises(MetaNLPError, match="'trivial' is no label of the training languages; they have: ai, "):
        language_data.prepare_languages(replace(cfg, validation_labels=["food", "trivial"]))
    with pytest.raises(MetaNLPError, match="no training language has 5 classes .* among the --validation-labels"):
        language_data.prepare_languages(replace(cfg, n_way=5)).val_sampler(replace(cfg, n_way=5))
    with pytest.raises(MetaNLPError, match="two selection rules: choose one"):
        replace(cfg, validation_languages=["ko"]).validate()


def test_study_pools_seeds_pairs_with_the_best_baseline_and_resumes(tmp_path, tiny_model_dir, monkeypatch):
    from meta_nlp.recipes import study
    cfg = tiny_cfg(tmp_path, tiny_model_dir, train_languages=["en"], held_out_language=["it"],
                   baselines=["finetune"], **TINY)
    spec = study.StudySpec(methods=["fomaml"], seeds=[0, 1], shots=[1, 2], bootstrap_resamples=200)
    out = study.run_study(cfg, spec)
    run = tmp_path / "run"
    data = json.loads((run / "results.json").read_text())
    assert {"config", "versions", "results"} <= data.keys()
    assert {(r["method"], r["k_shot"]) for r in data["results"]} == {(m, k) for m in ("fomaml", "finetune") for k in (1, 2)}
    for r in data["results"]:
        assert r["language"] == "it" and r["n_episodes"] == 4 and r["seeds"] == [0, 1] and r["n_way"] == 3
        assert len(r["accuracy_by_step"]) == 2 and 0 <= r["accuracy"] <= 1
    vs = next(r for r in data["results"] if r["method"] == "fomaml" and r["k_shot"] == 2)["vs_best_baseline"]
    assert vs["baseline"] == "finetune" and vs["ci95_low"] <= vs["difference"] <= vs["ci95_high"]
    for name in ("accuracy_by_language.png", "accuracy_by_shots.png", "accuracy_by_step.png"):
        assert (run / name).stat().st_size > 1000
    report = (run / "report.md").read_text()
    assert "## held-out language: it" in report and "Method against method" in report
    assert "## the pick on validation alone" in report
    assert {r["method"] for r in data["ranked_on_validation"]} == {"fomaml", "finetune"}
    pair = next(p for p in data["pairwise"] if p["k_shot"] == 2)
    assert {pair["method"], pair["other"]} == {"fomaml", "finetune"}
    assert pair["ci95_low"] <= pair["difference"] <= pair["ci95_high"]
    assert data["over_languages"] == []  # one held-out language: nothing to average over
    assert (run / "it" / "seed1" / "fomaml" / "results.json").is_file()
    assert (run / "it" / "seed1" / "baselines" / "results.json").is_file()

    (run / "it" / "seed1" / "baselines" / "results.json").unlink()  # interrupted there
    calls = []
    real = study.evaluate_run
    monkeypatch.setattr(study, "run_experiment", lambda *a, **k: calls.append("meta-train"))
    monkeypatch.setattr(study, "evaluate_run", lambda *a, **k: calls.append("baselines") or real(*a, **k))
    so_far = study.run_study(cfg, replace(spec, finished_only=True))  # seed 1 is left out, nothing runs
    assert calls == [] and all(r["seeds"] == [0] and r["n_episodes"] == 2 for r in so_far["results"])
    assert "not finished yet, so left out here: it seed 1." in (run / "report.md").read_text()
    with pytest.raises(MetaNLPError, match="no .language, seed. of this study has finished"):
        study.run_study(replace(cfg, output_dir=str(tmp_path / "empty")), replace(spec, finished_only=True))
    again = study.run_study(cfg, spec)
    assert calls == ["baselines"]
    assert [r["accuracy"] for r in again["results"]] == [r["accuracy"] for r in out["results"]]

    # more K later: the finished runs are evaluated at K=3 from what they saved, never re-trained
    calls.clear()
    wider = study.run_study(cfg, replace(spec, shots=[1, 2, 3]))
    assert calls == ["baselines"] * 4  # 2 seeds x (fomaml run, baselines run), evaluation only
    by_key = {(r["method"], r["k_shot"]): r for r in wider["results"]}
    assert set(by_key) == {(m, k) for m in ("fomaml", "finetune") for k in (1, 2, 3)}
    assert by_key["fomaml", 3]["seeds"] == [0, 1] and by_key["fomaml", 3]["n_episodes"] == 4
    assert [by_key[r["method"], r["k_shot"]]["accuracy"] for r in out["results"]] == [r["accuracy"] for r in out["results"]]
    saved = json.loads((run / "it" / "seed0" / "fomaml" / "results.json").read_text())
    assert sorted(r["k_shot"] for r in saved["results"]) == [1, 2, 3] and saved["training"]["steps"] == 1

    # a finished run of other settings is refused, not pooled; where it was written does not matter
    with pytest.raises(MetaNLPError, match=r"seed0/fomaml finished earlier with eval_episodes=2, not 5"):
        study.run_study(replace(cfg, eval_episodes=5), spec)
    (tmp_path / "run").rename(tmp_path / "moved")
    calls.clear()
    moved = study.run_study(replace(cfg, output_dir=str(tmp_path / "moved")), replace(spec, shots=[1, 2, 3]))
    assert calls == [] and moved["results"] == wider["results"]
    # the baselines' folders finished beside fomaml, the study's --algorithm then; they train no meta-learner
    assert study.run_study(replace(cfg, output_dir=str(tmp_path / "moved"), algorithm="protonet"),
                           replace(spec, shots=[1, 2, 3]))["results"] == wider["results"] and calls == []
    shutil.rmtree(tmp_path / "moved" / "it" / "seed0" / "fomaml" / "best")  # scores kept, weights not (results/)
    with pytest.raises(MetaNLPError, match=r"seed0/fomaml has no saved model \(best/\) to evaluate at K=\[4\]"):
        study.run_study(replace(cfg, output_dir=str(tmp_path / "moved")), replace(spec, shots=[1, 2, 3, 4]))


def test_a_study_retrains_each_seed_per_training_draw_and_counts_it(tmp_path, tiny_model_dir):
    """--training-draws 0,1: each (seed, method) trains twice on the same episodes; the study scores each episode by
    the mean of the draws and gives every difference an interval that counts re-training."""
    from meta_nlp.recipes import study
    cfg = tiny_cfg(tmp_path, tiny_model_dir, train_languages=["en"], held_out_language=["it"],
                   baselines=["finetune"], **{**TINY, "eval_episodes": 4})
    spec = study.StudySpec(methods=["fomaml"], seeds=[0], shots=[2], bootstrap_resamples=100, training_draws=[0, 1])
    rows = {r["method"]: r for r in study.run_study(cfg, spec)["results"]}
    run = tmp_path / "run" / "it"
    runs = {draw: json.loads((run / folder / "fomaml" / "results.json").read_text())
            for draw, folder in ((0, "seed0"), (1, "seed0_draw1"))}
    assert [runs[d]["config"]["training_draw"] for d in (0, 1)] == [0, 1]
    trained = [next(r for r in runs[d]["results"] if r["method"] == "fomaml") for d in (0, 1)]
    fomaml = rows["fomaml"]
    assert fomaml["n_episodes"] == 4 and fomaml["draw_accuracy"] == [[r["accuracy"] for r in trained]]
    assert fomaml["episode_accuracy"] == pytest.approx(np.mean([r["episode_accuracy"] for r in trained], 0).tolist())
    assert rows["finetune"]["draw_accuracy"][0][0] == rows["finetune"]["draw_accuracy"][0][1]  # trains nothing
    retrained = fomaml["vs_best_baseline"]["with_training_randomness"]
    assert retrained["draws"] == [[2], [2]]
    assert retrained["ci95_low"] <= retrained["difference"] <= retrained["ci95_high"]
    assert "Counting re-training" in (tmp_path / "run" / "report.md").read_text()
    with pytest.raises(MetaNLPError, match="--training-draws are distinct draws"):
        study.StudySpec(training_draws=[1, 1]).validate()


def test_budget_curve_runs_the_study_at_each_budget_on_the_same_episodes(tmp_path, tiny_model_dir):
    from meta_nlp.recipes import budget, study
    cfg = tiny_cfg(tmp_path, tiny_model_dir, train_languages=["en"], held_out_language=["it"],
                   baselines=["finetune", "multitask"], **{**TINY, "multitask_steps": 0})
    spec = study.StudySpec(methods=["fomaml"], seeds=[0], shots=[2], bootstrap_resamples=100, budgets=[1, 2])
    rows = budget.run_budget_curve(cfg, spec)["results"]
    run = tmp_path / "run"
    assert {(r["method"], r["budget"]) for r in rows} == {(m, b) for m in ("fomaml", "finetune", "multitask")
                                                          for b in (1, 2)}
    for b in (1, 2):  # each budget is a whole study of its own, trained that many steps
        data = json.loads((run / f"steps{b}" / "it" / "seed0" / "fomaml" / "results.json").read_text())
        assert data["training"]["steps"] == b
        trained = json.loads((run / f"steps{b}" / "it" / "seed0" / "baselines" / "results.json").read_text())
        assert next(r for r in trained["results"] if r["method"] == "multitask")["selection"]["steps"] == b
    finetune = {r["budget"]: r["accuracy"] for r in rows if r["method"] == "finetune"}
    assert finetune[1] == finetune[2]  # φ⁰ on the same episodes: the budget cannot change it
    assert all(r["run_time_s"] > 0 and r["peak_memory_mib"] > 0 for r in rows)
    report = (run / "budget.md").read_text()
    assert "| 1 steps | 2 steps |" in report and "| multitask |" in report
    assert (run / "accuracy_by_budget.png").stat().st_size > 1000
    assert json.loads((run / "results.json").read_text())["budgets"] == [1, 2]


def test_a_study_sweeps_languages_of_a_held_out_task(tmp_path, tiny_model_dir):
    """Each fold meta-trains on --task's part of the others (the unseen-line split) and evaluates the held-out task's
    part of its language."""
    from meta_nlp.recipes import study
    cfg = tiny_cfg(tmp_path, tiny_model_dir, task="chatterbot_topics_train", held_out_task="chatterbot_topics_test",
                   leave_one_out=["en", "it"], baselines=[], **TINY)
    rows = study.run_study(cfg, study.StudySpec(methods=["fomaml"], seeds=[0], shots=[2]))["results"]
    assert {(r["method"], r["language"]) for r in rows} == {("fomaml", "en"), ("fomaml", "it")}
    for lang, other in (("en", "it"), ("it", "en")):
        data = json.loads((tmp_path / "run" / lang / "seed0" / "fomaml" / "results.json").read_text())
        assert data["train_languages"] == [other] and data["config"]["held_out_task"] == "chatterbot_topics_test"
    with pytest.raises(MetaNLPError, match="--leave-one-out all sweeps the languages of --task"):
        replace(cfg, leave_one_out=["all"]).validate()


def test_mldg_and_zero_shot_evaluation_run_end_to_end(tmp_path, tiny_model_dir):
    from meta_nlp.recipes.meta_learn import run_experiment
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm="mldg", eval_mode="zero_shot", held_out_language=["ja"],
                   baselines=["finetune"], eval_shots=[1], **{**TINY, "max_steps": 2, "meta_batch_size": 2})
    out = run_experiment(cfg)
    assert out["training"]["steps"] == 2
    assert {(r["method"], r["k_shot"]) for r in out["results"]} == {(m, k) for m in ("mldg", "finetune") for k in (1, 2)}
    assert all(r["language"] == "ja" for r in out["results"])


def test_cross_lingual_meta_training_step(tmp_path, tiny_model_dir):
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.recipes.meta_learn import trainer_for
    cfg = tiny_cfg(tmp_path, tiny_model_dir, cross_lingual_episodes=True, **TINY)
    trainer = trainer_for(cfg.algorithm, cfg, prepare_languages(cfg), make_accelerator(cfg))
    objective = trainer.objective
    assert objective.train_sampler.cross_lingual
    ep = objective.draw_task(0, 0, 1).episodes[0]
    assert ep.support_language != ep.language
    assert trainer.train_step(0)["grad_norm"] > 0


def synthetic_run(method: str, language: str, seed: int, accuracies: list[float]) -> dict:
    """A (language, seed, method) run's result row, as evaluate_run writes it."""
    return {"method": method, "language": language, "seed": seed, "k_shot": 5, "n_way": 5, "n_query": 5,
            "episode_accuracy": accuracies, "accuracy": float(np.mean(accuracies)), "accuracy_by_step": [0.2, 0.3],
            "adapt_steps": 1, "lr_factor": 1.0, "selection": {"selected_step": 20}}


def test_study_comparisons_find_a_known_difference_and_no_difference():
    from meta_nlp.recipes import study
    rng = np.random.default_rng(0)
    rows = []
    for lang, gain in (("ja", 0.1), ("it", 0.0)):
        for seed in (0, 1):
            base = list(rng.uniform(0.2, 0.8, size=50).round(2))
            rows += [synthetic_run("finetune", lang, seed, base),
                     synthetic_run("mldg", lang, seed, [b + gain for b in base]),
                     synthetic_run("fomaml", lang, seed, list(rng.uniform(0.2, 0.8, size=50)))]
    results = study.pooled_over_seeds(rows, ["finetune"], 500)
    mldg_ja = next(r for r in results if (r["method"], r["language"]) == ("mldg", "ja"))
    assert mldg_ja["selected_step"] == [20, 20] and mldg_ja["n_episodes"] == 100
    assert mldg_ja["vs_best_baseline"]["difference"] == pytest.approx(0.1)
    assert mldg_ja["vs_best_baseline"]["ci95_low"] == pytest.approx(0.1)  # the same gain in every episode

    pairs = {(p["language"], p["method"], p["other"]): p for p in study.pairwise_differences(results, 500)}
    assert len(pairs) == 2 * 3  # three methods, both orders counted once, per language
    assert pairs["it", "finetune", "mldg"]["difference"] == pytest.approx(0.0)
    assert pairs["ja", "finetune", "mldg"]["difference"] == pytest.approx(-0.1)

    overall = {o["method"]: o for o in study.over_languages(results, ["finetune"], 500)}
    assert overall["mldg"]["vs_finetune"]["difference"] == pytest.approx(0.05)  # mean of +0.1 and 0
    assert overall["mldg"]["seeds"] == [0, 1]
    assert overall["mldg"]["vs_finetune"]["ci95_low"] == pytest.approx(0.05)
    assert overall["mldg"]["beats_best_baseline_in"] == ["ja"]
    assert "vs_finetune" not in overall["finetune"]
    lo, hi = overall["fomaml"]["vs_finetune"]["ci95_low"], overall["fomaml"]["vs_finetune"]["ci95_high"]
    assert lo < overall["fomaml"]["vs_finetune"]["difference"] < hi

    # a study under way: 'it' has only seed 0, so the languages are compared on seed 0 alone, each counting once
    under_way = study.pooled_over_seeds([r for r in rows if (r["language"], r["seed"]) != ("it", 1)], ["finetune"], 500)
    overall = {o["method"]: o for o in study.over_languages(under_way, ["finetune"], 500)}
    seed0 = {(r["method"], r["language"]): r["accuracy"] for r in rows if r["seed"] == 0}
    assert overall["mldg"]["seeds"] == [0] and overall["mldg"]["vs_finetune"]["difference"] == pytest.approx(0.05)
    assert overall["fomaml"]["accuracy"] == pytest.approx((seed0["fomaml", "ja"] + seed0["fomaml", "it"]) / 2)


def test_several_tasks_meta_train_together_each_language_a_domain_of_its_own(tmp_path, tiny_model_dir):
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.recipes import meta_learn
    task_dir, data = tmp_path / "tasks", tmp_path / "tasks" / "data"
    data.mkdir(parents=True)
    (task_dir / "colours.yaml").write_text("name: colours\ntype: classification\nsource:\n  kind: local_files\n"
                                           "  data_dir: data\n  layout: per_language_file\n  text_column: text\n"
                                           "  label_column: label\n")
    rows = [f"{colour} thing number {i}" for colour in ("red", "blue", "green", "black", "white") for i in range(12)]
    (data / "xx.csv").write_text("text,label\n" + "".join(f"{t},{t.split()[0]}\n" for t in rows))
    cfg = tiny_cfg(tmp_path, tiny_model_dir, task="chatterbot_topics,colours", task_dir=[str(task_dir)],
                   train_languages=["en", "colours:xx"], held_out_language=["it"], baselines=["finetune", "multitask"],
                   n_way=3, k_shot=2, n_query=2, max_steps=2, eval_episodes=2, val_episodes=2)
    split = prepare_languages(cfg)
    assert sorted(split.train) == ["chatterbot_topics:en", "colours:xx"]
    episodes = [split.train_sampler(cfg).episode(i) for i in range(12)]
    assert {e.language for e in episodes} == set(split.train)  # episodes are drawn across both tasks
    for e in episodes:  # ... each from one task: never colours and chatterbot topics in one episode
        assert set(e.label_names) <= {"red", "blue", "green", "black", "white"} or \
            not set(e.label_names) & {"red", "blue", "green", "black", "white"}
    rows = {r["method"]: r for r in meta_learn.run_experiment(cfg)["results"]}
    assert set(rows) == {"fomaml", "finetune", "multitask"} and rows["fomaml"]["language"] == "it"

    with pytest.raises(MetaNLPError, match="chatterbot_topics:it is held out"):
        prepare_languages(replace(cfg, train_languages=["chatterbot_topics:it", "colours:xx"]))
    with pytest.raises(MetaNLPError, match="no task of --task chatterbot_topics,colours has language 'qq'"):
        prepare_languages(replace(cfg, train_languages=["qq"]))
    with pytest.raises(MetaNLPError, match="several tasks cannot be combined with --leave-one-out"):
        replace(cfg, leave_one_out=["it"]).validate()


def test_the_study_ranks_methods_on_validation_alone_over_the_runs_all_of_them_have():
    """Item 7 of issue 17: the recommended method is the one with the best training-language validation, even where
    another has the better held-out accuracy; a run only some methods have does not tip the balance."""
    from meta_nlp.recipes import study
    rows = []
    for lang in ("ja", "it"):
        for seed in (0, 1):
            # fomaml@training-languages: validated on another rule's episodes, so not ranked however high it scores
            validation = {"fomaml": 0.45, "anil": 0.40, "finetune": 0.42, "fomaml@training-languages": 0.60}
            for method, held_out in (("fomaml", 0.30), ("anil", 0.50), ("finetune", 0.40),
                                     ("fomaml@training-languages", 0.35)):
                row = synthetic_run(method, lang, seed, [held_out] * 4)
                row["val_grid"] = {"0.3": [0.1, validation[method]], "1": [0.1, validation[method] - 0.05]}
                if (method, lang, seed) == ("anil", "ja", 1):
                    row["val_grid"] = {"1": [0.99]}  # anil's best run on validation...
                if (method, lang, seed) == ("finetune", "ja", 1):
                    del row["val_grid"]  # ...is not counted: finetune has no validation score for that run
                rows.append(row)
    results = study.pooled_over_seeds(rows, ["finetune"], 100)
    ranking = study.ranked_on_validation(results, 5)
    assert [r["method"] for r in ranking] == ["fomaml", "finetune", "anil"]
    assert [r["validation"] for r in ranking] == pytest.approx([0.45, 0.42, 0.40])
    assert all(r["runs"] == 3 for r in ranking)
    assert next(r for r in ranking if r["method"] == "anil")["held_out"] == pytest.approx(0.5)
    assert study.ranked_on_validation(results, 1) == []
