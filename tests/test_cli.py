"""Bad input gets one clear line (exit 2), never a traceback; --help explains."""
from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize("args, needles", [
    (["--algorithm", "magic"], ["magic", "maml", "protonet"]),
    (["--task", "nope"], ["unknown task", "chatterbot_topics"]),
    (["--held-out-language", "xx"], ["no language 'xx'", "ja"]),
    (["--held-out-language", "ja", "--train-languages", "ja"], ["both held out and a training language"]),
    (["--train-languages", "en", "--n-way", "40"], ["'en'", "--n-way 40"]),
    (["--train-languages", "en", "--k-shot", "200"], ["'en'", "k_shot+n_query"]),
    (["--model", "./no/such/model"], ["model folder not found"]),
    (["--baselines", "oracle"], ["unknown baseline", "finetune"]),
    (["--mixed-precision", "fp8"], ["--mixed-precision"]),
])
def test_bad_meta_train_input_is_one_line(args, needles, tmp_path):
    assert_one_line_error(run_script("meta_train.py", *args, "--output-dir", str(tmp_path)), *needles)


def test_broken_and_unknown_yaml_configs(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("n_way: [5\nk_shot: 5\n")
    assert_one_line_error(run_script("meta_train.py", "--config", str(broken)), "broken YAML", "broken.yaml")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("n_wayy: 5\n")
    assert_one_line_error(run_script("meta_train.py", "--config", str(unknown)), "unknown field 'n_wayy'")
    assert_one_line_error(run_script("meta_train.py", "--config", str(tmp_path / "none.yaml")), "not found")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load_and_validate(path):
    from meta_nlp.config import config_from_dict, load_yaml_config
    config_from_dict(load_yaml_config(str(path)), source=path.name).validate()


def test_missing_hub_model_is_a_clear_error_offline(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "meta_train.py"), "--model", "nobody/no-such-model",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert_one_line_error(proc, "nobody/no-such-model", "HF_HUB_OFFLINE")


def test_help_lists_every_contract_flag():
    proc = run_script("meta_train.py", "--help")
    assert proc.returncode == 0
    for flag in ("--algorithm", "--task", "--model", "--held-out-language", "--n-way", "--k-shot", "--n-query",
                 "--inner-steps", "--inner-lr", "--meta-lr", "--meta-batch-size", "--max-steps", "--eval-episodes",
                 "--eval-inner-steps", "--baselines", "--seed", "--output-dir", "--config",
                 "--resume-from-checkpoint", "--mixed-precision", "--report-to", "--k_shot", "--push-to-hub"):
        assert flag in proc.stdout, flag


def test_flags_override_the_yaml_file(tmp_path):
    from meta_nlp.config import parse_config
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("n_way: 3\nk-shot: 2\nheld_out_language: [it]\n")
    cfg = parse_config(["--config", str(cfg_file), "--k_shot", "4"])
    assert (cfg.n_way, cfg.k_shot, cfg.held_out_language) == (3, 4, ["it"])


def test_list_tasks_shows_languages():
    proc = run_script("meta_train.py", "--list-tasks")
    assert proc.returncode == 0 and "chatterbot_topics" in proc.stdout and " ja " in proc.stdout


def test_evaluate_and_push_need_a_real_run(tmp_path):
    assert_one_line_error(run_script("evaluate.py", "--checkpoint", str(tmp_path / "none"), "--held-out-language", "it"),
                          "checkpoint not found")
    assert_one_line_error(run_script("meta_train.py", "--push-to-hub"), "--hub-model-id")


def test_token_overlap_counts_the_pieces_a_held_out_language_shares_with_its_training_languages():
    def shared(held_out: str, *train: str) -> float:
        proc = run_script("token_overlap.py", "--held-out-language", held_out,
                          *[a for lang in train for a in ("--train-languages", lang)])
        assert proc.returncode == 0, proc.stderr[-2000:]
        row = next(line for line in proc.stdout.splitlines() if line.startswith(f"| {held_out} |"))
        return float(row.split("|")[3].strip().rstrip("%"))
    # Spanish and Portuguese share most of Italian's word pieces; Korean's jamo occur in neither
    assert shared("it", "es", "pt") > 70 > 10 > shared("ko", "es", "pt")
    proc = run_script("token_overlap.py", "--task", "tatoeba", "--data-dir", str(ROOT / "no-such-folder"))
    assert_one_line_error(proc, "no-such-folder")


def test_every_console_command_resolves_and_helps():
    """[project.scripts]: each entry point imports to a callable whose --help exits 0 (run as the installed command)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "meta-nlp-train" in scripts
    procs = {}
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), target
        code = f"import sys; sys.argv[0] = {name!r}; from {module} import {attr}; {attr}()"
        procs[name] = subprocess.Popen([sys.executable, "-c", code, "--help"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.startswith(f"usage: {name}"), err[-2000:]
