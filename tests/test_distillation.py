"""Distillation (issue 15): MetaDistil's exact teacher gradient, the student's initialisation, the KD query loss,
the quiz split's disjointness, the whole run from the command line on tiny models, and its one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from meta_nlp.algorithms import build_algorithm
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import MetaConfig, parse_config
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import MetaModel, double_backward_attention, kept_layers, student_encoder
from meta_nlp.objectives.distillation import DistillationObjective, DistillationTask, Teacher
from tests.conftest import tiny_bert, tiny_cfg
from tests.test_meta_gradients import tiny_episode


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
    task = DistillationTask([episode], None, to_batch(quiz, tokenizer, 16, torch.device("cpu")))
    return objective, task


def create_graph_teacher_gradient(objective, task) -> dict[str, torch.Tensor]:
    """The same derivative by plain reverse mode: differentiate the pilot step itself (create_graph=True)."""
    with double_backward_attention(True):
        return _create_graph_teacher_gradient(objective, task)


def _create_graph_teacher_gradient(objective, task) -> dict[str, torch.Tensor]:
    cfg, batch = objective.cfg, to_batch(task.episodes[0], objective.tokenizer, 16, torch.device("cpu"))
    teacher = objective.teacher
    params = dict(teacher.model.named_parameters())
    probs = teacher.query_probs(teacher.batch(batch), cfg.kd_temperature, differentiable=True)
    theta = {n: p.detach().requires_grad_() for n, p in objective.model.encoder.named_parameters()}
    grads = torch.autograd.grad(objective.pilot_loss(theta, batch, probs), list(theta.values()), create_graph=True,
                                allow_unused=True)
    piloted = {n: p - cfg.pilot_lr * g if g is not None else p for (n, p), g in zip(theta.items(), grads)}
    quiz_loss = F.cross_entropy(objective.episode_logits(piloted, task.quiz), task.quiz.query_labels)
    found = torch.autograd.grad(quiz_loss, list(params.values()), allow_unused=True)
    return {n: g for n, g in zip(params, found) if g is not None}


@pytest.mark.parametrize("teacher_steps", [0, 1])
def test_metadistil_teacher_gradient_is_exact(tokenizer, teacher_steps):
    objective, task = tiny_distillation(tokenizer, teacher_steps)
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
    quiz_loss = F.cross_entropy(objective.episode_logits(piloted, task.quiz), task.quiz.query_labels)
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
