"""The engine: exact resume for every kind of objective, 2 processes = 1 process over the same tasks,
non-finite gradients skipped alike, frozen modules kept out of the optimiser and the checkpoint."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from conftest import ROOT, free_port, tiny_bert, tiny_cfg
from meta_nlp.data.languages import prepare_languages
from meta_nlp.engine.trainer import EngineSettings, Trainer, latest_checkpoint, make_accelerator
from meta_nlp.objectives.base import Objective
from meta_nlp.recipes.meta_learn import trainer_for


def trainer(cfg, method: str | None = None) -> Trainer:
    return trainer_for(method or cfg.algorithm, cfg, prepare_languages(cfg), make_accelerator(cfg))


def trained_params(cfg, method: str | None = None) -> dict[str, torch.Tensor]:
    t = trainer(cfg, method)
    t.train()
    return {f"{i}.{n}": p.detach().clone() for i, m in enumerate(t.trained) for n, p in m.named_parameters()}


@pytest.fixture(scope="module")
def dropout_model_dir(tmp_path_factory, tokenizer) -> str:
    """A tiny BERT whose dropout is on: a resumed run must draw the same dropout masks."""
    path = tmp_path_factory.mktemp("tiny_bert_dropout")
    model = tiny_bert()
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.2
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


RESUMABLE = {
    "fomaml": dict(algorithm="fomaml"),
    "metasgd": dict(algorithm="metasgd", multi_step_loss_steps=2, first_order_steps=1),
    "mldg": dict(algorithm="mldg"),
    "augmented": dict(algorithm="fomaml", mlti_ratio=0.5, smlmt_ratio=0.5, cross_lingual_support_ratio=0.5),
    "protonet": dict(algorithm="protonet"),
    "auxiliary": dict(algorithm="protonet", auxiliary_weight=1.0),
}


@pytest.mark.parametrize("method", [*RESUMABLE, "dropout", "multitask"])
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, tiny_model_dir, dropout_model_dir, method):
    model = dropout_model_dir if method == "dropout" else tiny_model_dir
    cfg = tiny_cfg(tmp_path, model, max_steps=4, save_every=2, multitask_steps=4, **RESUMABLE.get(method, {}))
    objective = "multitask" if method == "multitask" else None
    full = trained_params(cfg, objective)
    out = tmp_path / "run" / ("multitask" if objective else "")
    ckpt = latest_checkpoint(out)
    assert ckpt.name == "checkpoint_4"
    shutil.rmtree(ckpt)  # pretend the run died after step 2
    resumed = trained_params(replace(cfg, resume_from_checkpoint="latest"), objective)
    assert (out / "checkpoints" / "checkpoint_4").is_dir()
    moved = [n for n in full if not torch.equal(full[n], resumed[n])]
    assert not moved, f"resumed run differs in {moved[:3]}"
    # and the run did train: the weights are not the starting point
    fresh = trained_params(replace(cfg, max_steps=0, multitask_steps=0, output_dir=str(tmp_path / "fresh")), objective)
    assert any(not torch.equal(fresh[n], full[n]) for n in full)


def test_checkpoints_are_pruned_and_hold_only_trained_modules(tmp_path, tiny_model_dir):
    cfg = tiny_cfg(tmp_path, tiny_model_dir, max_steps=6, save_every=1, save_total_limit=2)
    t = trainer(cfg)
    frozen = tiny_bert(seed=1)
    t.objective.frozen_modules = lambda: {"teacher": frozen}  # what a KD teacher would be
    t = Trainer(t.objective, t.settings)
    assert all(not p.requires_grad for p in frozen.parameters())
    in_optimiser = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    assert not in_optimiser & {id(p) for p in frozen.parameters()}
    before = {n: p.clone() for n, p in frozen.named_parameters()}
    t.train()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["checkpoint_5", "checkpoint_6"]
    saved = sorted(p.name for p in (tmp_path / "run" / "checkpoints" / "checkpoint_6").iterdir())
    assert [n for n in saved if n.startswith("custom_checkpoint")] == [f"custom_checkpoint_{i}.pkl" for i in range(3)]
    assert all(torch.equal(before[n], p) for n, p in frozen.named_parameters())


def test_a_non_finite_gradient_is_skipped_counted_and_the_run_stays_deterministic(tmp_path, tiny_model_dir):
    cfg = tiny_cfg(tmp_path, tiny_model_dir, max_steps=3, save_every=10)
    poisoned_step = 1

    def run(poison: bool, out: str) -> tuple[dict, Trainer]:
        t = trainer(replace(cfg, output_dir=str(tmp_path / out)))
        real = t.objective.task_gradients

        def task_gradients(task, step, weight, backward, phase="main"):
            metrics = real(task, step, weight, backward, phase)
            if poison and step == poisoned_step:
                next(iter(t.trained[0].parameters())).grad.view(-1)[0] = float("nan")
            return metrics
        t.objective.task_gradients = task_gradients
        record = t.train()
        return {n: p.detach().clone() for n, p in t.trained[0].named_parameters()}, record

    clean, _ = run(False, "clean")
    a, record = run(True, "a")
    b, _ = run(True, "b")
    assert record["skipped_steps"] == 1
    assert all(torch.isfinite(p).all() for p in a.values())
    assert all(torch.equal(a[n], b[n]) for n in a)  # deterministic
    assert any(not torch.equal(a[n], clean[n]) for n in a)  # the poisoned step was not applied


def launch(nproc: int, model_dir: str, out, meta_batch: int, method: str) -> None:
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--num_processes", str(nproc)]
    if nproc > 1:
        args += ["--multi_gpu", "--main_process_port", str(free_port())]
    args += [str(ROOT / "tests" / "dist_worker.py"), model_dir, str(out), str(meta_batch), method]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["maml", "mldg", "multitask"])
def test_two_processes_give_the_same_gradient_as_one(tmp_path, tiny_model_dir, method):
    launch(1, tiny_model_dir, tmp_path / "one.pt", meta_batch=4, method=method)
    launch(2, tiny_model_dir, tmp_path / "two.pt", meta_batch=2, method=method)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert one.keys() == two.keys() and len(one) > 10
    for name in one:
        assert torch.allclose(one[name], two[name], rtol=1e-4, atol=1e-7), name
    assert any(g.abs().sum() > 0 for g in one.values())


def test_a_runs_peak_memory_is_its_own_not_the_processes():
    """A study runs many runs in one process: each records the peak since its own start."""
    import numpy as np
    from meta_nlp.memory import reset_peak_rss, run_peak_mib
    big = np.ones(300 * 2 ** 20 // 8)  # 300 MiB, every page touched
    high = run_peak_mib()
    del big
    if not reset_peak_rss():
        pytest.skip("this OS keeps only the process's lifetime peak (no /proc/self/clear_refs)")
    assert run_peak_mib() < high - 200


class TwoPhaseToy(Objective):
    """A toy objective with MetaDistil's shape: a 'teacher' phase, then a 'student' phase that reads the teacher
    as the first phase left it, and a frozen module beside them."""
    name = "toy"

    def __init__(self):
        self.teacher = torch.nn.Linear(1, 1, bias=False)
        self.student = torch.nn.Linear(1, 1, bias=False)
        self.frozen = torch.nn.Linear(1, 1, bias=False)
        for m, w in ((self.teacher, 1.0), (self.student, 0.0), (self.frozen, 5.0)):
            torch.nn.init.constant_(m.weight, w)
        self.seen_teacher = []

    def trained_modules(self):
        return {"teacher": self.teacher, "student": self.student}

    def frozen_modules(self):
        return {"frozen": self.frozen}

    def phases(self):
        return ("teacher", "student")

    def param_groups(self, phase="main"):
        return [{"params": list((self.teacher if phase == "teacher" else self.student).parameters()), "lr": 0.1,
                 "weight_decay": 0.0}]

    def draw_task(self, step, index, total):
        return float(index + 1)

    def task_gradients(self, task, step, weight, backward, phase="main"):
        if phase == "teacher":  # the teacher moves toward 3
            loss = (self.teacher.weight.sum() - 3.0) ** 2
        else:  # the student moves toward the teacher as the teacher phase of this step left it
            self.seen_teacher.append(self.teacher.weight.item())
            loss = (self.student.weight.sum() - self.teacher.weight.detach().sum()) ** 2
        backward(loss * weight)
        return {"loss": loss.item()}

    def selection_score(self, accelerator):
        return -abs(self.student.weight.item() - 3.0)

    def save_selected(self, path, record):
        pass


def test_a_two_phase_objective_updates_each_phase_in_turn_and_resumes_exactly(tmp_path):
    def run(steps: int, resume: str | None = None) -> TwoPhaseToy:
        toy = TwoPhaseToy()
        Trainer(toy, EngineSettings(output_dir=str(tmp_path), max_steps=steps, tasks_per_process=2, save_every=1,
                                    eval_every=100, resume_from_checkpoint=resume)).train()
        return toy
    toy = run(3)
    # step 1: the student read the teacher after the teacher's first update (AdamW's first step moves it by lr)
    assert toy.seen_teacher[0] == pytest.approx(1.1, abs=1e-6) and toy.seen_teacher[2] > toy.seen_teacher[0]
    assert toy.frozen.weight.item() == 5.0 and not toy.frozen.weight.requires_grad
    shutil.rmtree(tmp_path / "checkpoints" / "checkpoint_3")
    resumed = run(3, resume="latest")
    assert torch.equal(resumed.teacher.weight, toy.teacher.weight)
    assert torch.equal(resumed.student.weight, toy.student.weight)


def test_every_step_draws_new_tasks_numbered_across_the_run(tmp_path, tiny_model_dir):
    """Step s draws tasks s*T .. s*T+T-1 (T tasks a step): a step never repeats an earlier step's episodes."""
    cfg = tiny_cfg(tmp_path, tiny_model_dir, max_steps=3, meta_batch_size=2)
    t = trainer(cfg)
    drawn = []
    real = t.objective.draw_task

    def draw_task(step, index, total):
        drawn.append((step, index, total))
        return real(step, index, total)
    t.objective.draw_task = draw_task
    t.train()
    assert drawn == [(s, s * 2 + j, 2) for s in range(3) for j in range(2)]
    episodes = [real(s, s * 2 + j, 2).episodes[0].query_texts for s in range(3) for j in range(2)]
    assert len({tuple(q) for q in episodes}) == 6


@pytest.mark.parametrize("method", ["protonet", "fomaml"])
def test_meta_training_on_more_classes_than_tested_runs_and_learns(tmp_path, tiny_model_dir, method):
    """--train-n-way 8: meta-training's episodes have 8 classes (en and it have more) and the encoder learns."""
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm=method, max_steps=2, meta_batch_size=2, train_n_way=8)
    t = trainer(cfg)
    ways = {len(ep.label_names) for s in range(2) for j in range(2) for ep in t.objective.draw_task(s, s * 2 + j, 2).episodes}
    assert ways == {8}
    model = t.trained[0]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    t.train()
    moved = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert any(n.startswith("encoder.encoder.layer") for n in moved)


def test_the_auxiliary_loss_adds_its_weighted_gradient_to_the_meta_gradient_and_trains_its_own_head(tmp_path,
                                                                                                    tiny_model_dir):
    """--auxiliary-weight w: a task's gradient is ProtoNet's plus w x the cross-entropy gradient of the pooled rows
    (linear in w), which reaches the encoder and a head over every training label; w = 0 trains no head."""
    def task_gradient(weight: float) -> dict[str, torch.Tensor]:
        cfg = tiny_cfg(tmp_path / str(weight), tiny_model_dir, algorithm="protonet", auxiliary_weight=weight)
        objective = trainer(cfg).objective
        if weight:  # the head starts at zero, which passes the encoder no gradient: as after some training instead
            objective.auxiliary_head["weight"].data = torch.randn(objective.auxiliary_head["weight"].shape,
                                                                  generator=torch.Generator().manual_seed(0))
        modules = objective.trained_modules()
        objective.task_gradients(objective.draw_task(0, 0, 2), 0, 1.0, lambda loss: loss.backward())
        return {f"{k}.{n}": p.grad.clone() for k, m in modules.items() for n, p in m.named_parameters()
                if p.grad is not None}
    none, one, two = task_gradient(0.0), task_gradient(1.0), task_gradient(2.0)
    assert not any(n.startswith("auxiliary_head") for n in none)
    assert {n for n in one if n.startswith("auxiliary_head")} == {"auxiliary_head.weight", "auxiliary_head.bias"}
    layer = next(n for n in none if ".encoder.layer.1." in n)
    assert not torch.allclose(one[layer], none[layer])
    for n in none:
        assert torch.allclose(two[n] - none[n], 2 * (one[n] - none[n]), rtol=1e-3, atol=1e-6), n
    assert torch.allclose(two["auxiliary_head.weight"], 2 * one["auxiliary_head.weight"], rtol=1e-4, atol=1e-7)


def test_the_auxiliary_loss_of_translation_ranking_is_the_contrastive_loss_and_trains_no_head(tmp_path, tiny_model_dir):
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm="protonet", auxiliary_weight=1.0, task="chatterbot_parallel",
                   train_languages=["it", "ko"])
    objective = trainer(cfg).objective
    task = objective.draw_task(0, 0, 2)
    assert len(task.auxiliary) > 1 and all(isinstance(t, str) for pair in task.auxiliary for t in pair)
    assert "auxiliary_head" not in objective.trained_modules()
    metrics = objective.task_gradients(task, 0, 1.0, lambda loss: loss.backward())
    assert metrics["auxiliary_loss"] > 0


def test_one_process_under_accelerate_launch_uses_every_core_but_a_users_thread_count_is_kept():
    from meta_nlp.engine.trainer import cpu_threads
    cores, own = len(os.sched_getaffinity(0)), torch.get_num_threads()
    launched = {"ACCELERATE_MIXED_PRECISION": "no", "OMP_NUM_THREADS": "1"}  # what accelerate launch gives the process
    assert cpu_threads(0, 1, launched, launcher_env={}) == cores  # accelerate's default: the user set nothing
    assert cpu_threads(0, 1, launched, launcher_env={"OMP_NUM_THREADS": "1"}) == own  # the user's OMP_NUM_THREADS=1
    assert cpu_threads(0, 1, launched, launcher_env=None) == own  # the launcher's environment unknown
    assert cpu_threads(0, 2, launched, launcher_env={}) == own  # several processes: accelerate's split is kept
    assert cpu_threads(0, 1, {"OMP_NUM_THREADS": "1"}, launcher_env={}) == own  # plain python
    assert cpu_threads(2, 1, launched, launcher_env={"OMP_NUM_THREADS": "1"}) == 2  # --cpu-threads wins


@pytest.mark.parametrize("cuda, avx512_bf16, amx, expected", [
    (None, True, False, "bf16"), (None, False, True, "bf16"), (None, False, False, "no"),
    (True, False, False, "bf16"), (False, True, True, "no")])
def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively(monkeypatch, cuda, avx512_bf16, amx, expected):
    """--mixed-precision auto (the default): bf16 on a CUDA GPU with bf16 or a CPU with AVX512-BF16 or AMX;
    elsewhere float32 (emulated bf16 is slower). Given values are kept."""
    from meta_nlp.engine import trainer
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bool(cuda))
    device = torch.device("cpu" if cuda is None else "cuda")
    assert trainer.native_bf16(device) == (expected == "bf16")
    monkeypatch.setattr(trainer, "PartialState", lambda cpu: type("State", (), {"device": device})())
    assert trainer.resolved_precision("auto") == expected
    assert [trainer.resolved_precision(p) for p in ("no", "bf16", "fp16")] == ["no", "bf16", "fp16"]
    assert trainer.native_bf16(torch.device("mps")) is False


@pytest.mark.parametrize("method", ["protonet", "multitask"])
def test_frozen_embeddings_stay_as_pretrained_while_the_layers_above_learn(tmp_path, tiny_model_dir, method):
    """--freeze-embeddings: meta-training and the multitask baseline leave the embedding layer as it was loaded, and
    compute no gradient for it."""
    def moved(freeze: bool) -> tuple[set[str], set[str]]:
        """(parameters training changed, parameters that had a gradient while training)."""
        cfg = tiny_cfg(tmp_path / str(freeze), tiny_model_dir, algorithm="protonet", max_steps=2, multitask_steps=2,
                       freeze_embeddings=freeze)
        t = trainer(cfg, method)
        model = t.trained[0]
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        with_grad = set()
        for n, p in model.named_parameters():
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(lambda _, n=n: with_grad.add(n))
        t.train()
        return {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}, with_grad
    (free, free_grads), (frozen, frozen_grads) = moved(False), moved(True)
    assert any(".embeddings." in n for n in free) and any(".encoder.layer." in n for n in free)
    assert not any(".embeddings." in n for n in frozen) and any(".encoder.layer." in n for n in frozen)
    assert any(".embeddings." in n for n in free_grads) and not any(".embeddings." in n for n in frozen_grads)
    assert any(".encoder.layer." in n for n in frozen_grads)
