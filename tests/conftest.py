"""Shared fixtures: tiny random BERTs built from a BertConfig, and tiny episodes."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from meta_nlp.config import MetaConfig  # noqa: E402

# Tiny models gain nothing from intra-op threads, and on a loaded 2-core machine two threads
# make them ~90x slower; subprocess tests (the real CLI) keep torch's default.
torch.set_num_threads(1)
from meta_nlp.models.encoder import MetaModel  # noqa: E402


HF_ENVIRONMENT = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HF_HUB_TOKEN",
                  "HUGGING_FACE_HUB_TOKEN")


@pytest.fixture(autouse=True)
def no_hub_environment(monkeypatch):
    """Tests see neither the caller's offline switch nor token: a test about them sets them itself.
    huggingface_hub and datasets read the offline switch once, at import, so their copies are reset too."""
    for name in HF_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    if "datasets.config" in sys.modules:  # not imported here: most tests never need it
        monkeypatch.setattr(sys.modules["datasets.config"], "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(sys.modules["datasets.config"], "HF_DATASETS_OFFLINE", False)


@pytest.fixture(autouse=True)
def no_scores_from_other_tests():
    """Each test measures its own scores: none is read back from one that another test measured (evaluator's
    `_MEASURED`), so a test that counts or hooks the computation sees it."""
    from meta_nlp.evaluation import evaluator
    evaluator._MEASURED.clear()


def tiny_bert(vocab_size: int = 30522, seed: int = 0):
    from transformers import BertConfig, BertModel
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertModel(config)


@pytest.fixture(scope="session")
def tokenizer():
    """The packaged MiniLM's tokenizer: real word pieces for the chatterbot texts, no network."""
    from transformers import AutoTokenizer
    from meta_nlp.models.encoder import resolve_model_path
    return AutoTokenizer.from_pretrained(resolve_model_path(MetaConfig().model))


@pytest.fixture()
def tiny_model() -> MetaModel:
    return MetaModel(tiny_bert(), logit_scale=10.0).double()


@pytest.fixture()
def fresh_accelerate_state():
    """For a test that builds its own Accelerator: it starts from no accelerate state and leaves none. The state is
    one per process, and the precision one test set would be refused to a later test's run (auto: bf16 here)."""
    from accelerate.state import AcceleratorState
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    """A tiny random BERT saved as a local model folder (for the CLI and the trainer)."""
    path = tmp_path_factory.mktemp("tiny_bert")
    tiny_bert().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def free_port() -> int:
    """A port nobody listens on now, for a multi-process test (a fixed one collides with parallel runs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_cfg(tmp_path, model_dir: str, **overrides) -> MetaConfig:
    """A config that runs in seconds on the tiny model and the real chatterbot data."""
    # FOMAML, not the default ProtoNet, on two 5-class episodes a step, not one of up to 10 (--train-n-way): these
    # tests were written for a learner with an inner loop, and the default job's own settings are exercised end to
    # end by test_integration.py.
    values = dict(algorithm="fomaml", model=model_dir, output_dir=str(tmp_path / "run"), max_steps=4,
                  meta_batch_size=2, train_n_way=0, inner_steps=2, eval_every=100, save_every=2, val_episodes=2, eval_episodes=3,
                  eval_inner_steps=2, eval_lr_grid=[1.0], multitask_steps=2, train_languages=["en", "it"],
                  inner_layers=-1, warmup_steps=1, meta_lr=1e-3)
    values.update(overrides)
    return MetaConfig(**values).validate()
