"""Hub publishing without network: the upload folder, the model card, a mocked push, the CLI."""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from meta_nlp.config import DEFAULT_MODEL, MetaConfig
from meta_nlp.errors import MetaNLPError
from meta_nlp.hub import build_upload_folder, push_run, resolve_token
from meta_nlp.learner import MetaLearner

ROOT = Path(__file__).resolve().parents[1]
WORDS = "hello music song play loud guitar sports game ball team score goal the a is".split()
TEXTS = ["play a song", "loud guitar music", "the ball game", "team score goal"]
LABELS = ["music", "music", "sports", "sports"]
LEARNER_FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "meta_params.safetensors", "meta_nlp.json"}


def tiny_learner(path: Path, cfg: MetaConfig) -> None:
    """A random 2-layer BERT with a 120-token vocabulary, saved as a learner: no meta-training."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast
    from meta_nlp.learner import save_learner
    from meta_nlp.models.encoder import MetaModel
    torch.manual_seed(0)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    vocab_file = path.parent / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file))
    encoder = BertModel(BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64))
    save_learner(path, MetaModel(encoder, cfg.logit_scale), tokenizer, cfg,
                 extra={"step": 2, "val_accuracy": 0.55, "train_languages": cfg.train_languages,
                        "test_time": {"lr_factor": 1.0, "steps": 1}})


def result_row(method: str, accuracy: float) -> dict:
    return {"method": method, "language": "ja", "accuracy": accuracy, "ci95": 0.031, "n_episodes": 20,
            "n_way": 2, "k_shot": 2, "n_query": 2, "adapt_steps": 1, "lr_factor": 1.0,
            "accuracy_by_step": [0.5, accuracy], "seed": 0}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run as meta_train leaves it: best/, results.json, report, plot, checkpoints/."""
    run = tmp_path_factory.mktemp("run")
    cfg = MetaConfig(model="some/base", algorithm="protonet", train_languages=["en", "it"], held_out_language=["ja"],
                     n_way=2, k_shot=2, max_length=16, inner_steps=1, seed=7, max_steps=2, output_dir=str(run))
    tiny_learner(run / "best", cfg)
    results = [result_row("protonet", 0.8125), result_row("finetune", 0.6)]
    (run / "results.json").write_text(json.dumps({
        "config": cfg.to_dict(), "versions": {"meta_nlp": "0.1.0", "torch": "test"}, "results": results,
        "wall_time_s": 1.5, "num_processes": 1, "mixed_precision": "bf16", "train_languages": ["en", "it"]}))
    (run / "report.md").write_text("# report\n")
    (run / "accuracy_by_step.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "checkpoints" / "checkpoint_2").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint_2" / "optimizer.bin").write_bytes(b"state")
    return run


@pytest.fixture(scope="module")
def upload_dir(run_dir, tmp_path_factory) -> Path:
    return build_upload_folder(run_dir, tmp_path_factory.mktemp("up") / "hub", command="meta_train --seed 7",
                               repo_id="alice/tiny-protonet")


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def machine_paths(tmp_path_factory) -> list[str]:
    """Absolute paths of this machine that must never be uploaded: pytest's temp root, the checkout, the home."""
    return [str(tmp_path_factory.getbasetemp()), str(ROOT)] + ([str(Path.home())] if Path.home() != Path("/") else [])


def files_holding(folder: Path, paths: list[str]) -> dict[str, list[str]]:
    """Each file of `folder` that contains any of `paths`, with the paths it contains."""
    found = {f.relative_to(folder).as_posix(): [p for p in paths if p.encode() in f.read_bytes()]
             for f in folder.rglob("*") if f.is_file()}
    return {name: hits for name, hits in found.items() if hits}


def test_upload_folder_holds_learner_results_and_card_but_no_checkpoints(upload_dir):
    files = files_in(upload_dir)
    assert LEARNER_FILES | {"results.json", "report.md", "accuracy_by_step.png", "README.md"} <= files
    assert not any(f.startswith("checkpoints") for f in files)


def test_upload_folder_holds_no_path_of_this_machine(upload_dir, run_dir, tmp_path_factory):
    assert json.loads((run_dir / "results.json").read_text())["config"]["output_dir"] == str(run_dir)  # the run's own
    assert files_holding(upload_dir, machine_paths(tmp_path_factory)) == {}
    assert json.loads((upload_dir / "results.json").read_text())["config"]["output_dir"] == "."


@pytest.mark.parametrize("model", ["local folder", "packaged default"])
@pytest.mark.parametrize("with_command", [True, False])
def test_local_paths_are_shown_relative_to_the_run_or_by_name(run_dir, tmp_path, tmp_path_factory, model, with_command):
    from huggingface_hub import ModelCard
    from meta_nlp.models.encoder import resolve_model_path
    run = tmp_path / "alice" / "runs" / "local"
    shutil.copytree(run_dir, run)
    model_dir = str(tmp_path / "models" / "tiny-bert") if model == "local folder" else resolve_model_path(DEFAULT_MODEL)
    if model_dir == DEFAULT_MODEL:
        pytest.skip("the packaged model is not installed")
    local = {"model": model_dir, "data_dir": str(tmp_path / "data" / "sib200"), "task_dir": [str(tmp_path / "tasks")],
             "output_dir": str(run), "resume_from_checkpoint": str(run / "checkpoints" / "checkpoint_2")}
    for name in ("results.json", "best/meta_nlp.json"):
        data = json.loads((run / name).read_text())
        data["config"].update(local)
        (run / name).write_text(json.dumps(data))
    (run / "report.md").write_text(f"# report\n\nModel `{model_dir}`, data from {local['data_dir']}\n")
    command = shlex.join([str(ROOT / "scripts" / "meta_train.py"), "--model", model_dir, "--output-dir", str(run),
                          f"--data-dir={local['data_dir']}", "--hub-token", "hf_secret", "--seed", "7"])
    upload = build_upload_folder(run, tmp_path / "up", command=command if with_command else None, repo_id="alice/tiny")

    assert files_holding(upload, machine_paths(tmp_path_factory)) == {}
    assert "hf_secret" not in (upload / "README.md").read_text()
    shown = DEFAULT_MODEL if model == "packaged default" else ".../tiny-bert"
    for name in ("results.json", "meta_nlp.json"):
        config = json.loads((upload / name).read_text())["config"]
        assert (config["model"], config["data_dir"], config["task_dir"]) == (shown, ".../sib200", [".../tasks"])
        assert (config["output_dir"], config["resume_from_checkpoint"]) == (".", "checkpoints/checkpoint_2")
    assert f"Model `{shown}`, data from .../sib200" in (upload / "report.md").read_text()
    card = ModelCard.load(upload / "README.md")
    assert card.data.base_model == (DEFAULT_MODEL if model == "packaged default" else None)
    assert "--data-dir" in card.text and "--output-dir" not in card.text and "--resume" not in card.text
    assert json.loads((run / "results.json").read_text())["config"] == {**json.loads((run_dir / "results.json").read_text())["config"], **local}


def test_default_upload_folder_is_in_the_run_and_is_rebuilt_clean(run_dir):
    first = build_upload_folder(run_dir)
    assert first == run_dir / "hub_upload"
    (first / "stale.txt").write_text("from an older dry run")
    assert "stale.txt" not in files_in(build_upload_folder(run_dir))


def test_card_metadata_names_base_model_languages_tags_and_accuracy(upload_dir):
    from huggingface_hub import ModelCard
    data = ModelCard.load(upload_dir / "README.md").data
    assert data.base_model == "some/base"
    assert {"meta-learning", "protonet", "few-shot", "multilingual"} <= set(data.tags)
    assert set(data.language) == {"en", "it", "ja"}
    assert data.library_name == "meta_nlp"
    [result] = data.eval_results  # the meta-learned method only
    assert (result.metric_type, result.metric_value, result.dataset_config) == ("accuracy", 0.8125, "ja")
    assert result.task_type == "text-classification" and result.dataset_split == "test"


def test_card_text_has_all_methods_command_and_usage(upload_dir):
    text = (upload_dir / "README.md").read_text()
    assert "0.8125 ± 0.0310" in text and "| finetune | 0.6000 ± 0.0310 | 20 | 2-way 2-shot |" in text
    assert "meta_train --seed 7" in text and "seed 7" in text
    assert "- wall time: 1.5 s, precision bf16" in text  # what --mixed-precision auto became on the run's device
    assert ("1 step, lr × 1; predictions by a logistic regression fit on the support embeddings, plus 1 × each text's "
            "cosine with each label's name") in text
    assert 'MetaLearner.from_pretrained("alice/tiny-protonet")' in text
    assert "## Limitations" in text


def test_translation_ranking_card_reports_retrieval_and_embedding_usage(run_dir, tmp_path):
    from huggingface_hub import ModelCard
    ranking = tmp_path / "ranking_run"
    shutil.copytree(run_dir, ranking)
    data = json.loads((ranking / "results.json").read_text())
    for r in data["results"]:
        r["retrieval"] = {"to_pivot": 0.25, "from_pivot": 0.5, "n_pairs": 1000}
    (ranking / "results.json").write_text(json.dumps(data))
    upload = build_upload_folder(ranking, tmp_path / "up", repo_id="alice/tiny-ranker")
    results = ModelCard.load(upload / "README.md").data.eval_results
    assert [(r.task_type, r.metric_value) for r in results] == [("sentence-similarity", 0.8125),
                                                                ("sentence-similarity", 0.25), ("sentence-similarity", 0.5)]
    text = (upload / "README.md").read_text()
    assert "translation ranking" in text and "| 0.2500 | 0.5000 |" in text
    assert 'AutoModel.from_pretrained("alice/tiny-ranker")' in text and "MetaLearner" not in text


def test_card_without_command_shows_an_equivalent_one(run_dir, tmp_path):
    text = (build_upload_folder(run_dir, tmp_path / "up") / "README.md").read_text()
    assert "scripts/meta_train.py --model some/base" in text  # settings at their default (protonet) are left out
    assert "--train-languages en --train-languages it" in text


def test_upload_folder_loads_offline_and_adapts(upload_dir, monkeypatch):
    import huggingface_hub.constants
    from meta_nlp.learner import MetaLearner
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: set both
    learner = MetaLearner.from_pretrained(str(upload_dir), device="cpu")
    predictions = learner.adapt(TEXTS, LABELS).predict(TEXTS)
    assert len(predictions) == len(TEXTS) and set(predictions) <= set(LABELS)


@pytest.mark.parametrize("revision", [None, "v1"])
def test_push_creates_repo_and_uploads_the_folder(run_dir, revision, tmp_path_factory):
    api = MagicMock()
    api.create_repo.return_value = "https://huggingface.co/alice/tiny"
    uploaded: dict = {}
    # the upload folder is temporary: record its files while it exists
    api.upload_folder.side_effect = lambda **kw: uploaded.update(
        kw, files=files_in(Path(kw["folder_path"])), leaks=files_holding(Path(kw["folder_path"]), machine_paths(tmp_path_factory)))
    url = push_run(run_dir, "alice/tiny", private=True, revision=revision, api=api)
    api.create_repo.assert_called_once_with("alice/tiny", private=True, exist_ok=True, repo_type="model")
    assert (api.create_branch.call_count == 1) == bool(revision)
    assert uploaded["repo_id"] == "alice/tiny" and uploaded["revision"] == revision
    assert LEARNER_FILES | {"README.md", "results.json"} <= uploaded["files"]
    assert not any(f.startswith("checkpoints") for f in uploaded["files"])
    assert uploaded["leaks"] == {}
    assert url == "https://huggingface.co/alice/tiny" + (f"/tree/{revision}" if revision else "")


def test_push_error_becomes_one_line(run_dir):
    api = MagicMock()
    api.create_repo.side_effect = PermissionError("403 Forbidden\nlong server body")
    with pytest.raises(MetaNLPError, match="push to alice/tiny failed: PermissionError: 403 Forbidden$"):
        push_run(run_dir, "alice/tiny", api=api)


def test_missing_token_is_a_clear_error(monkeypatch):
    import huggingface_hub
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(MetaNLPError, match="no Hugging Face token"):
        resolve_token(None)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_env")
    assert resolve_token(None) == "hf_env" and resolve_token("hf_flag") == "hf_flag"


def test_offline_push_fails_at_once(run_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    api = MagicMock()
    started = time.monotonic()
    with pytest.raises(MetaNLPError, match="HF_HUB_OFFLINE=1: cannot push"):
        push_run(run_dir, "alice/tiny", token="hf_x", api=api)
    assert time.monotonic() - started < 5 and not api.method_calls


@pytest.mark.parametrize("layout, message", [("empty", "no saved learner"), ("no_results", "has no results.json")])
def test_incomplete_run_dir_is_a_clear_error(run_dir, tmp_path, layout, message):
    if layout == "no_results":
        import shutil
        shutil.copytree(run_dir / "best", tmp_path / "best")
    with pytest.raises(MetaNLPError, match=message):
        build_upload_folder(tmp_path)


def test_a_resumable_checkpoint_is_not_taken_for_a_learner_and_the_error_says_what_to_load(tmp_path):
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint_40"
    checkpoint.mkdir(parents=True)
    with pytest.raises(MetaNLPError, match=f"checkpoint to resume training from.*{tmp_path / 'run' / 'best'}"):
        MetaLearner.from_pretrained(str(checkpoint))


def test_dry_run_refuses_to_overwrite_an_unrelated_folder(run_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MetaNLPError, match="not an upload folder"):
        build_upload_folder(run_dir, tmp_path)
    with pytest.raises(MetaNLPError, match="overwrite the run"):
        build_upload_folder(run_dir, run_dir / "best")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "push_to_hub.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_dry_run_writes_the_folder(run_dir, tmp_path):
    out = run_cli(str(run_dir), "--hub-model-id", "alice/tiny", "--hub-dry-run", "--hub-dry-run-dir", str(tmp_path / "up"))
    assert out.returncode == 0, out.stderr
    assert "nothing pushed" in out.stdout and (tmp_path / "up" / "README.md").is_file()


def test_cli_bad_run_dir_is_one_line_error(tmp_path):
    out = run_cli(str(tmp_path / "missing"), "--hub-model-id", "alice/tiny", "--hub-dry-run")
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
