"""The real CLI end to end: packaged MiniLM + chatterbot data, and a 2-process run (slow)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, free_port

pytestmark = pytest.mark.slow

QUICK = ["--max-steps", "2", "--meta-batch-size", "1", "--inner-steps", "1", "--val-episodes", "2",
         "--eval-episodes", "4", "--eval-inner-steps", "2", "--eval-lr-grid", "1", "--multitask-steps", "2",
         "--train-languages", "en", "--train-languages", "it", "--eval-every", "1", "--save-every", "1"]


def run(args: list[str], env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run([sys.executable, "scripts/meta_train.py", *QUICK, "--output-dir", str(out),
         "--hub-dry-run", "--hub-model-id", "me/tiny-protonet"])
    return out


def test_meta_train_writes_results_report_and_plot(default_run):
    data = json.loads((default_run / "results.json").read_text())
    assert {"config", "versions", "results"} <= data.keys()
    assert data["config"]["algorithm"] == "protonet" and data["config"]["held_out_language"] == ["ja"]
    methods = {r["method"] for r in data["results"]}
    assert methods == {"protonet", "finetune", "multitask"}
    for r in data["results"]:
        assert r["language"] == "ja" and r["n_episodes"] == 4 and (r["n_way"], r["k_shot"]) == (5, 5)
        assert 0.0 <= r["accuracy"] <= 1.0 and r["ci95"] >= 0 and len(r["accuracy_by_step"]) == 3
        assert len(r["episode_accuracy"]) == 4
        if r["adapt_steps"] == 0:  # no test-time step taken: the chosen scores are those before any step
            assert r["episode_accuracy_before_steps"] == r["episode_accuracy"]
        assert sum(r["episode_accuracy_before_steps"]) / 4 == pytest.approx(r["accuracy_by_step"][0], abs=1e-4)
    assert "| ja | protonet |" in (default_run / "report.md").read_text()
    assert (default_run / "accuracy_by_step.png").stat().st_size > 1000
    assert (default_run / "checkpoints" / "checkpoint_2").is_dir()
    assert (default_run / "multitask" / "best").is_dir()  # the baseline trains on the same engine, with checkpoints
    from meta_nlp.learner import Classifier
    baseline = Classifier.from_pretrained(str(default_run / "multitask"))  # a classifier of the training labels
    assert len(baseline.labels) > 5 and set(baseline.predict(["I like football", "the stock market"])) <= set(baseline.labels)
    assert (default_run / "multitask" / "checkpoints" / "checkpoint_2").is_dir()
    upload = default_run / "hub_upload"  # --hub-dry-run: exactly what would be pushed
    assert (upload / "README.md").is_file() and (upload / "meta_nlp.json").is_file()
    assert not (upload / "checkpoints").exists() and "me/tiny-protonet" in (upload / "README.md").read_text()
    assert not [f.name for f in upload.rglob("*") if f.is_file() and str(default_run).encode() in f.read_bytes()]


def test_saved_run_adapts_from_python_and_reproduces_its_numbers(default_run):
    from accelerate import Accelerator
    from meta_nlp import MetaLearner
    from meta_nlp.config import config_from_dict
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.recipes.meta_learn import evaluate_run

    learner = MetaLearner.from_pretrained(str(default_run))
    clf = learner.adapt(["I love pizza", "pasta is great", "the match was won", "he scored a goal"],
                        ["food", "food", "sports", "sports"])
    predictions = clf.predict(["pizza and pasta", "a goal in the match"])
    assert set(predictions) <= {"food", "sports"} and len(predictions) == 2
    saved = json.loads((default_run / "results.json").read_text())
    cfg = config_from_dict(saved["config"])
    again = evaluate_run(cfg, prepare_languages(cfg), Accelerator(cpu=True), methods=[cfg.algorithm],
                         learners={cfg.algorithm: default_run / "best"}, record_choice=False)
    first = next(r for r in saved["results"] if r["method"] == cfg.algorithm)
    assert again[0]["episode_accuracy"] == first["episode_accuracy"]


def test_evaluate_script_on_another_language(default_run):
    proc = run([sys.executable, "scripts/evaluate.py", "--checkpoint", str(default_run), "--held-out-language", "ko",
                "--baselines", "none", "--eval-episodes", "3", "--max-length", "48"])
    data = json.loads((default_run / "eval_ko" / "results.json").read_text())
    assert [(r["method"], r["language"], r["n_episodes"]) for r in data["results"]] == [("protonet", "ko", 3)]
    assert data["config"]["max_length"] == 48  # texts cut at 48 tokens, not at the run's 32
    assert "| ko | protonet |" in proc.stdout
    assert data["mixed_precision"] in ("no", "bf16")  # what --mixed-precision auto became here
    assert data["wall_time_s"] > 0 and data["peak_memory_mib"] > 0 and data["scoring_passes_computed"] > 0
    # Again with the encoder "moved back toward φ⁰" by a share of 1 (the learner itself, to the bit): every pass is
    # read back from the first evaluation's scores/, and the scores are the same.
    run([sys.executable, "scripts/evaluate.py", "--checkpoint", str(default_run), "--held-out-language", "ko",
         "--baselines", "none", "--eval-episodes", "3", "--max-length", "48", "--weight-ensemble", "1"])
    again = json.loads((default_run / "eval_ko" / "results.json").read_text())
    assert again["weight_ensemble"] == 1.0 and (default_run / "eval_ko" / "weight_ensemble" / "meta_nlp.json").is_file()
    assert again["scoring_passes_computed"] == 0 and again["scoring_passes_read_back"] == data["scoring_passes_computed"]
    assert again["results"][0]["episode_accuracy"] == data["results"][0]["episode_accuracy"]


def test_resume_latest_of_a_finished_run_only_evaluates(default_run):
    """Nothing is trained or scored again: the selected weights stay byte for byte, and the scores are the same."""
    before = json.loads((default_run / "results.json").read_text())
    weights = (default_run / "best" / "model.safetensors").read_bytes()
    proc = run([sys.executable, "scripts/meta_train.py", *QUICK, "--output-dir", str(default_run),
                "--resume-from-checkpoint", "latest", "--baselines", "none"])
    assert f"resumed from {default_run / 'checkpoints' / 'checkpoint_2'} at step 2" in proc.stdout + proc.stderr
    after = json.loads((default_run / "results.json").read_text())
    assert (default_run / "best" / "model.safetensors").read_bytes() == weights
    first = next(r for r in before["results"] if r["method"] == "protonet")
    assert [r["episode_accuracy"] for r in after["results"]] == [first["episode_accuracy"]]
    assert after["training"]["steps"] == 2 and after["training"]["selected_step"] == before["training"]["selected_step"]
    # nor scored again: every pass the first run computed is read back from its scores/ folder
    assert after["scoring_passes_computed"] == 0 and after["scoring_passes_read_back"] > 0


def test_two_process_cli_run(tmp_path, tiny_model_dir):
    out = tmp_path / "ddp"
    # On a machine without GPUs: ACCELERATE_USE_CPU=1 with --multi_gpu (gloo). `--cpu --num_processes 2`
    # would silently run one process.
    run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
         "scripts/meta_train.py", *QUICK, "--model", tiny_model_dir, "--output-dir", str(out), "--meta-batch-size", "2"],
        env={"OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"})
    data = json.loads((out / "results.json").read_text())
    assert data["num_processes"] == 2 and {r["n_episodes"] for r in data["results"]} == {4}
