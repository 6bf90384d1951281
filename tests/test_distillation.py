"""Distillation (issue 15): MetaDistil's exact teacher gradient, the student's initialisation, the KD query loss,
the quiz split's disjointness, the whole run from the command line on tiny models, and its one-line errors."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from meta_nlp.algorithms import build_algorithm
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import DISTILLATION_METHODS, MetaConfig, parse_config
from meta_nlp.data.languages import prepare_languages
from meta_nlp.engine.trainer import make_accelerator
from meta_nlp.errors import MetaNLPError
from meta_nlp.learner import HEAD_FILE, Classifier, MetaLearner
from meta_nlp.models.encoder import MetaModel, double_backward_attention, kept_layers, student_encoder
from meta_nlp.objectives.distillation import (DistillationObjective, DistillationTask, SupervisedDistillationObjective,
                                              SupervisedTask, Teacher)
from meta_nlp.evaluation.zero_shot import macro_f1
from meta_nlp.recipes.distill import (pool_seeds, prepare_students, run_distillation, save_student_init, set_apart_quiz_rows, student_trainer,
                                      teacher_learner_dir)
from conftest import ROOT, tiny_bert, tiny_cfg
from test_meta_gradients import tiny_episode


def tiny_distillation(tokenizer, teacher_steps: int, alpha=0.7, temperature=2.0, pilot_lr=0.5):
    """A float64 teacher (2 layers), a 1-layer student made from it, and the objective around them (no data)."""
    teacher_model = MetaModel(tiny_bert(seed=1), logit_scale=5.0).double()
    student = MetaModel(student_encoder(teacher_model.encoder, 1), logit_scale=4.0).double()
    for p in student.encoder.parameters():  # the student must differ from the teacher's layers, not only be fewer
        p.data.add_(0.05 * torch.randn_like(p))
    cfg = MetaConfig(algorithm="protonet", kd_alpha=alpha, kd_temperature=temperature, pilot_lr=pilot_lr)
    rule = build_algorithm(replace(cfg, inner_layers=1, inner_lr=0.3)).test_time_rule(teacher_model)
    teacher = Teacher(teacher_model, tokenizer, rule, lr_factor=1.0, steps=teacher_steps, head_init="proto",
                      max_length=16)
    objective = DistillationObjective.__new__(DistillationObjective)  # the math only: no data, no loading
    objective.cfg, objective.model, objective.teacher, objective.tokenizer = cfg, student, teacher, tokenizer
    objective.device, objective.mode = torch.device("cpu"), "metadistil"
    episode, quiz = tiny_episode(), tiny_episode(n_way=2, k_shot=1, n_query=3, language="yy")
    task = DistillationTask([episode], None, quiz=to_batch(quiz, tokenizer, 16, torch.device("cpu")))
    return objective, task


def tiny_supervised_distillation(tokenizer, teacher_steps: int):
    """The same teacher and student as a supervised classifier: a head over 3 labels, rows instead of episodes."""
    objective, _ = tiny_distillation(tokenizer, teacher_steps)
    supervised = SupervisedDistillationObjective.__new__(SupervisedDistillationObjective)
    supervised.__dict__.update(objective.__dict__)
    supervised.cfg = replace(objective.cfg, max_length=16)
    supervised.label_names = ["c0", "c1", "c2"]
    supervised.head = torch.nn.ParameterDict({"weight": torch.nn.Parameter(0.1 * torch.randn(3, 32, dtype=torch.float64)),
                                              "bias": torch.nn.Parameter(0.1 * torch.randn(3, dtype=torch.float64))})
    episode, quiz = tiny_episode(), tiny_episode(n_way=3, k_shot=1, n_query=2, language="yy")
    rows = list(zip(episode.query_texts, episode.query_labels))
    support = list(zip(episode.support_texts, episode.support_labels))
    quiz_rows = list(zip(quiz.query_texts, quiz.query_labels))
    return supervised, SupervisedTask(supervised.labelled_batch(support, rows),
                                      supervised.labelled_batch(quiz_rows, quiz_rows))


def create_graph_teacher_gradient(objective, task) -> dict[str, torch.Tensor]:
    """The same derivative by plain reverse mode: differentiate the pilot step itself (create_graph=True)."""
    with double_backward_attention(True):
        return _create_graph_teacher_gradient(objective, task)


def _create_graph_teacher_gradient(objective, task) -> dict[str, torch.Tensor]:
    cfg, batch = objective.cfg, objective.pilot_batch(task)
    teacher = objective.teacher
    params = dict(teacher.model.named_parameters())
    probs = teacher.query_probs(teacher.batch(batch), cfg.kd_temperature, differentiable=True)
    theta = {n: p.detach().requires_grad_() for n, p in objective.student_weights().items()}
    grads = torch.autograd.grad(objective.pilot_loss(theta, batch, probs), list(theta.values()), create_graph=True,
                                allow_unused=True)
    piloted = {n: p - cfg.pilot_lr * g if g is not None else p for (n, p), g in zip(theta.items(), grads)}
    quiz_loss = F.cross_entropy(objective.student_logits(piloted, task.quiz), task.quiz.query_labels)
    found = torch.autograd.grad(quiz_loss, list(params.values()), allow_unused=True)
    return {n: g for n, g in zip(params, found) if g is not None}


@pytest.mark.parametrize("setting", ["episodic", "supervised"])
@pytest.mark.parametrize("teacher_steps", [0, 1])
def test_metadistil_teacher_gradient_is_exact(tokenizer, teacher_steps, setting):
    build = tiny_distillation if setting == "episodic" else tiny_supervised_distillation
    objective, task = build(tokenizer, teacher_steps)
    expected = create_graph_teacher_gradient(objective, task)
    objective.teacher.model.zero_grad(set_to_none=True)
    objective.teacher_gradient(task, weight=1.0, backward=lambda loss: loss.backward())
    got = {n: p.grad for n, p in objective.teacher.model.named_parameters() if p.grad is not None}
    assert set(got) == set(expected)
    flat_expected = torch.cat([expected[n].reshape(-1) for n in expected])
    flat_got = torch.cat([got[n].reshape(-1) for n in expected])
    assert flat_expected.norm() > 1e-8  # the teacher learns something: not the first-order zero
    assert ((flat_got - flat_expected).norm() / flat_expected.norm()).item() < 1e-6


def test_first_order_shortcut_gives_the_teacher_nothing(tokenizer):
    """Why the exact route is needed: with the pilot step's gradient held constant, the quiz loss of the piloted
    student does not depend on the teacher at all."""
    objective, task = tiny_distillation(tokenizer, teacher_steps=0)
    batch = to_batch(task.episodes[0], tokenizer, 16, torch.device("cpu"))
    probs = objective.teacher.query_probs(objective.teacher.batch(batch), 2.0, differentiable=True)
    theta = {n: p.detach().requires_grad_() for n, p in objective.model.encoder.named_parameters()}
    grads = torch.autograd.grad(objective.pilot_loss(theta, batch, probs), list(theta.values()), allow_unused=True)
    piloted = {n: p - 0.5 * g if g is not None else p for (n, p), g in zip(theta.items(), grads)}
    quiz_loss = F.cross_entropy(objective.student_logits(piloted, task.quiz), task.quiz.query_labels)
    assert not quiz_loss.requires_grad or all(
        g is None for g in torch.autograd.grad(quiz_loss, list(objective.teacher.model.parameters()),
                                               allow_unused=True))


def test_student_keeps_evenly_spaced_teacher_layers():
    assert kept_layers(6, 3) == [0, 2, 4] and kept_layers(6, 6) == list(range(6)) and kept_layers(12, 4) == [0, 3, 6, 9]
    teacher = tiny_bert()
    student = student_encoder(teacher, 1)
    assert student.config.num_hidden_layers == 1 and teacher.config.num_hidden_layers == 2
    for (name, p) in student.named_parameters():
        source = name.replace("encoder.layer.0.", "encoder.layer.0.")  # layer 0 of 2 kept as layer 0
        assert torch.equal(p, dict(teacher.named_parameters())[source])
    for bad in (0, 3):
        with pytest.raises(MetaNLPError, match="--student-layers"):
            student_encoder(teacher, bad)


def test_kd_query_loss_mixes_cross_entropy_and_kl(tokenizer):
    cfg = MetaConfig(algorithm="protonet", kd_alpha=0.25, kd_temperature=3.0)
    algorithm = build_algorithm(cfg)
    batch = to_batch(tiny_episode(), tokenizer, 16, torch.device("cpu"))
    logits = torch.randn(len(batch.query_labels), batch.n_way, dtype=torch.float64)
    teacher = F.softmax(torch.randn_like(logits), -1)
    kd = replace(batch, soft_targets=teacher)
    ce = F.cross_entropy(logits, batch.query_labels)
    kl = (teacher * (teacher.log() - F.log_softmax(logits / 3.0, -1))).sum(-1).mean()
    assert torch.allclose(algorithm.query_loss(logits, kd), 0.75 * ce + 0.25 * 9.0 * kl)
    assert torch.allclose(algorithm.query_loss(logits, batch), ce)  # no teacher: plain cross-entropy


# ----------------------------------------------------------------------------- data and errors
def distill_cfg(tmp_path, model_dir, **overrides) -> MetaConfig:
    values = dict(teacher=model_dir, student_layers=1, algorithm="protonet", baselines=list(DISTILLATION_METHODS),
                  train_languages=["en", "it", "fa"], max_steps=2, meta_batch_size=1, save_every=1)
    values.update(overrides)
    return tiny_cfg(tmp_path, model_dir, **values)


def texts_of(corpus) -> dict[str, set[str]]:
    return {lang: {t for items in by_label.values() for t in items} for lang, by_label in corpus.items()}


def test_quiz_rows_are_apart_from_training_validation_and_held_out_rows(tmp_path, tiny_model_dir):
    cfg = distill_cfg(tmp_path, tiny_model_dir)
    languages = prepare_languages(cfg)
    reduced, quiz = set_apart_quiz_rows(languages, cfg)
    train, val, quiz_texts = texts_of(reduced.train), texts_of(languages.val), texts_of(quiz)
    # The held-out language is not even read (tests/test_held_out_guard.py watches the files of a whole run).
    assert quiz_texts and set(quiz) <= set(languages.train) and not set(quiz) & set(cfg.held_out_language)
    for lang, texts in quiz_texts.items():
        assert texts and not texts & train.get(lang, set()) and not texts & val[lang]
        before = sum(len(v) for v in languages.train[lang].values())
        after = sum(len(v) for v in reduced.train.get(lang, {}).values())
        assert after + sum(len(v) for v in quiz[lang].values()) <= before  # a row is in one share at most


@pytest.mark.parametrize("flags, message", [
    (["--kd-alpha", "1.5"], "--kd-alpha must be between 0 and 1"),
    (["--student-layers", "0"], "--student-layers must be at least 1"),
    (["--quiz-fraction", "0"], "--quiz-fraction must be between 0 and 1"),
    (["--algorithm", "reptile"], "a student learns with one of"),
    (["--distillation", "fitnets"], "--distillation must be kd or metadistil"),
    (["--baselines", "multitask"], "unknown baseline 'multitask' of a distillation run"),
    (["--mlti-ratio", "0.5"], "--mlti-ratio mixes token embeddings"),
])
def test_bad_distillation_settings_are_one_line_errors(flags, message):
    with pytest.raises(MetaNLPError, match=re.escape(message)):
        parse_config(["--teacher", "runs/x", *flags])


def test_a_distillation_run_compares_every_student_by_default():
    assert parse_config(["--teacher", "runs/x"]).baselines == list(DISTILLATION_METHODS)
    assert parse_config(["--teacher", "runs/x", "--baselines", "teacher"]).baselines == ["teacher"]


def test_bad_teacher_and_student_and_quiz_share_are_one_line_errors(tmp_path, tiny_model_dir):
    acc = make_accelerator(distill_cfg(tmp_path, tiny_model_dir))
    with pytest.raises(MetaNLPError, match="--teacher .*/nowhere: not a finished run, a saved learner nor an encoder"):
        teacher_learner_dir(distill_cfg(tmp_path, str(tmp_path / "nowhere")), tmp_path / "out", acc)
    cfg = distill_cfg(tmp_path, tiny_model_dir, student_layers=3)  # the tiny teacher has 2 layers
    languages = prepare_languages(cfg)
    with pytest.raises(MetaNLPError, match="--student-layers must be between 1 and the teacher's 2 layers, got 3"):
        save_student_init(cfg, teacher_learner_dir(cfg, tmp_path / "out", acc), tmp_path / "out", languages, acc)
    with pytest.raises(MetaNLPError, match="--quiz-fraction 0.01 leaves no training language"):
        set_apart_quiz_rows(languages, replace(cfg, quiz_fraction=0.01))


# ----------------------------------------------------------------------------- the whole run
@pytest.mark.slow
def test_distillation_run_end_to_end(tmp_path, tiny_model_dir):
    """Every method on the same episodes; the distilled student is a learner; the report and card say so."""
    out = tmp_path / "run"
    args = [sys.executable, str(ROOT / "scripts" / "meta_train.py"), "--teacher", tiny_model_dir, "--student-layers", "1",
            "--algorithm", "protonet", "--model", tiny_model_dir, "--output-dir", str(out), "--max-steps", "2",
            "--meta-batch-size", "1", "--eval-every", "1", "--val-episodes", "2", "--eval-episodes", "3",
            "--eval-inner-steps", "1", "--eval-lr-grid", "1.0", "--inner-layers", "-1", "--meta-lr", "1e-3",
            "--teacher-lr", "1e-3", "--train-languages", "en", "--train-languages", "it", "--train-languages", "fa",
            "--hub-dry-run", "--hub-model-id", "me/student"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    rows = {r["method"]: r for r in data["results"]}
    assert list(rows) == ["student_metadistil", "teacher", "finetune", "student", "student_kd"]
    assert len({tuple(len(r["episode_accuracy"]) for r in rows.values())}) == 1
    for method in ("student_metadistil", "teacher", "finetune", "student_kd"):
        assert set(rows[method]["vs_student"]) >= {"difference", "ci95_low", "ci95_high"}
    summary = {r["method"]: r for r in data["distillation"]}
    assert summary["student"]["parameters"] < summary["teacher"]["parameters"]
    assert all(r["texts_per_s"] > 0 for r in summary.values()) and "retention" in summary["student_kd"]
    assert set(data["training"]) == {"student_metadistil", "student", "student_kd"}
    assert "## Distillation" in (out / "report.md").read_text()
    student = MetaLearner.from_pretrained(str(out))  # the run's distilled student, as any run's learner
    assert student.model.encoder.config.num_hidden_layers == 1 and student.meta["distillation"]["method"] == \
        "student_metadistil"
    assert student.adapt(["good food", "nice meal", "bad game", "lost match"], ["food", "food", "sport", "sport"]
                         ).predict(["tasty food"])[0] in ("food", "sport")
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--checkpoint", str(out),
                            "--held-out-language", "ko", "--eval-episodes", "2", "--output-dir", str(tmp_path / "ko")],
                           capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert again.returncode == 0 and "re-evaluated alone" in again.stdout, again.stderr[-3000:]
    assert [r["method"] for r in json.loads((tmp_path / "ko" / "results.json").read_text())["results"]] == ["protonet"]
    card = (out / "hub_upload" / "README.md").read_text()
    assert "A student of" in card and "student_metadistil" in card and "## Distillation" in card
    # MetaDistil's checkpoint also holds its teacher and the teacher's optimiser and schedule (a resume continues
    # them); KD's holds the student's alone (student, schedule, trainer state).
    def saved(run_dir, pattern):
        return len(list(run_dir.glob(f"checkpoints/checkpoint_2/{pattern}")))
    assert (saved(out, "custom_checkpoint_*.pkl"), saved(out, "optimizer*.bin")) == (5, 2)
    assert (saved(out / "student_kd", "custom_checkpoint_*.pkl"), saved(out / "student_kd", "optimizer*.bin")) == (3, 1)


def test_macro_f1_weighs_every_label_once():
    # label 0: P=2/3 R=1 F1=0.8; label 1: P=1/2 R=1/2 F1=1/2; label 2 (never predicted): 0.
    assert macro_f1([0, 0, 0, 1, 1], [0, 0, 1, 1, 2]) == pytest.approx((0.8 + 0.5 + 0.0) / 3)


@pytest.mark.parametrize("setting, method", [("episodic", "student_metadistil"), ("supervised", "student_metadistil"),
                                             ("episodic", "student_kd")])
def test_a_student_resumes_exactly_teacher_included(tmp_path, tiny_model_dir, setting, method):
    cfg = distill_cfg(tmp_path, tiny_model_dir, distill_setting=setting, max_steps=4, save_every=2,
                      distillation=method.removeprefix("student_"), teacher_lr=1e-3)
    acc = make_accelerator(cfg)

    def trained(c) -> dict[str, torch.Tensor]:
        t = student_trainer(method, prepare_students(c, acc), acc)
        t.train()
        return {f"{i}.{n}": p.detach().clone() for i, m in enumerate(t.trained) for n, p in m.named_parameters()}
    full = trained(cfg)
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "checkpoint_4")  # the run died after step 2
    resumed = trained(replace(cfg, resume_from_checkpoint="latest"))
    assert full.keys() == resumed.keys() and any(n.startswith("1.") for n in full) == (method == "student_metadistil")
    assert not [n for n in full if not torch.equal(full[n], resumed[n])]


@pytest.mark.slow
def test_supervised_distillation_end_to_end(tmp_path, tiny_model_dir):
    """MetaDistil's own setting: classifiers over the task's labels, labelling the held-out rows zero-shot."""
    cfg = distill_cfg(tmp_path, tiny_model_dir, distill_setting="supervised", eval_every=1, teacher_lr=1e-3)
    out = run_distillation(cfg)
    rows = {r["method"]: r for r in out["results"]}
    assert list(rows) == ["student_metadistil", "teacher", "finetune", "student", "student_kd"]
    assert len({r["n_rows"] for r in rows.values()}) == 1 and rows["student"]["n_rows"] > 100
    assert all(0 <= r["macro_f1"] <= 1 and r["setting"] == "supervised" for r in rows.values())
    assert "difference" in rows["student_kd"]["vs_student"]
    assert (tmp_path / "run" / "best" / HEAD_FILE).is_file() and (tmp_path / "run" / "student" / "best" / HEAD_FILE).is_file()
    classifier = Classifier.from_pretrained(str(tmp_path / "run"))  # the distilled student, as anyone loads it
    assert set(classifier.predict(["what a match", "I love this food"])) <= set(classifier.labels)
    with pytest.raises(MetaNLPError, match="without a classification head"):
        Classifier.from_pretrained(str(tmp_path / "run" / "student_init"))
    report = (tmp_path / "run" / "report.md").read_text()
    assert "zero-shot classification of held-out rows" in report and "## Distillation" in report


def fake_distillation_run(path, seed: int, shift: float, supervised: bool = False, **config) -> None:
    """A finished run's results.json as run_distillation writes it (5-way, 4 episodes a method; or 4 zero-shot rows
    whose majority label has a share of 0.2)."""
    accuracy = {"teacher": 0.6, "finetune": 0.4, "student": 0.45, "student_kd": 0.5 + shift}
    setting = {"setting": "supervised", "k_shot": 0, "macro_f1": 0.3, "majority_share": 0.2} if supervised else \
        {"k_shot": 5, "n_way": 5, "n_query": 5, "accuracy_by_step": [0.5], "adapt_steps": 0, "lr_factor": 1.0}
    results = [{"method": m, "language": "ja", "seed": seed, "accuracy": a, "ci95": 0.01, **setting,
                "episode_accuracy": [a - 0.04, a, a, a + 0.04]} for m, a in accuracy.items()]
    table = [{"method": m, "language": "ja", "parameters": 10 if m == "teacher" else 5, "texts_per_s": 100.0 + seed}
             for m in accuracy]
    path.mkdir(parents=True)
    cfg = MetaConfig(teacher="runs/t", algorithm="protonet", seed=seed, output_dir=str(path),
                     distill_setting="supervised" if supervised else "episodic", **config).to_dict()
    (path / "results.json").write_text(json.dumps({"config": cfg, "results": results, "distillation": table,
                                                   "wall_time_s": 1.0}))


@pytest.mark.parametrize("supervised", [False, True])
def test_pooling_seeds_pairs_episodes_within_seeds(tmp_path, supervised):
    fake_distillation_run(tmp_path / "s0", 0, 0.0, supervised)
    fake_distillation_run(tmp_path / "s1", 1, 0.1, supervised)
    pooled = pool_seeds([tmp_path / "s0", tmp_path / "s1"], tmp_path / "pooled")
    rows = {r["method"]: r for r in pooled["distillation"]}
    assert rows["student_kd"]["accuracy"] == pytest.approx(0.55)
    assert rows["student_kd"]["retention"] == pytest.approx((0.55 - 0.2) / (0.6 - 0.2), abs=1e-4)  # chance 0.2 both
    assert rows["student_kd"]["vs_student"]["difference"] == pytest.approx(0.1)
    assert rows["teacher"]["texts_per_s"] == 100.5 and "retention" not in rows["teacher"]
    assert "## Distillation" in (tmp_path / "pooled" / "report.md").read_text()
    fake_distillation_run(tmp_path / "other", 2, 0.0, supervised, kd_alpha=0.9)
    with pytest.raises(MetaNLPError, match="these runs differ in kd_alpha"):
        pool_seeds([tmp_path / "s0", tmp_path / "other"], tmp_path / "bad")


def test_any_encoder_can_be_the_student(tmp_path, tiny_model_dir):
    """--student MODEL instead of the teacher's layers: the student is that encoder, untouched."""
    from transformers import AutoModel
    student_dir = tmp_path / "other_student"
    tiny_bert(seed=3).save_pretrained(student_dir)
    tokenizer_of(tiny_model_dir).save_pretrained(student_dir)
    cfg = distill_cfg(tmp_path, tiny_model_dir, student=str(student_dir))
    students = prepare_students(cfg, make_accelerator(cfg))
    started, given = AutoModel.from_pretrained(students.start), AutoModel.from_pretrained(student_dir)
    assert all(torch.equal(a, b) for a, b in zip(started.state_dict().values(), given.state_dict().values()))
    assert MetaLearner.from_pretrained(str(students.start)).meta["distillation"]["student"] == str(student_dir)


def tokenizer_of(path: str):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(path)
