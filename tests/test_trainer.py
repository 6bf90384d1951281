"""The Accelerate meta-trainer: exact resume, and 2 processes = 1 process over the same tasks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from conftest import ROOT, tiny_cfg
from meta_nlp.training.trainer import MetaTrainer, latest_checkpoint


def trained_params(cfg) -> dict[str, torch.Tensor]:
    trainer = MetaTrainer(cfg)
    trainer.setup()
    trainer.train()
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters()}


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, tiny_model_dir):
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm="fomaml", max_steps=4, save_every=2)
    full = trained_params(cfg)
    ckpt = latest_checkpoint(tmp_path / "run")
    assert ckpt.name == "step_4"
    shutil.rmtree(ckpt)  # pretend the run died after step 2
    resumed = trained_params(replace(cfg, resume_from_checkpoint="latest"))
    assert (tmp_path / "run" / "checkpoints" / "step_4").is_dir()
    moved = [n for n in full if not torch.equal(full[n], resumed[n])]
    assert not moved, f"resumed run differs in {moved[:3]}"
    # and the run did train: the weights are not φ⁰
    fresh = MetaTrainer(replace(cfg, max_steps=0))
    fresh.setup()
    assert any(not torch.equal(p, full[n]) for n, p in fresh.model.named_parameters())


def launch(nproc: int, model_dir: str, out, meta_batch: int) -> None:
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--num_processes", str(nproc)]
    if nproc > 1:
        args += ["--multi_gpu", "--main_process_port", "29517"]
    args += [str(ROOT / "tests" / "dist_worker.py"), model_dir, str(out), str(meta_batch)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_give_the_same_meta_gradient_as_one(tmp_path, tiny_model_dir):
    launch(1, tiny_model_dir, tmp_path / "one.pt", meta_batch=4)
    launch(2, tiny_model_dir, tmp_path / "two.pt", meta_batch=2)
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
