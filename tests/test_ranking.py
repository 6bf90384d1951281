"""Translation-ranking tasks: episodes, full retrieval accuracy, and meta-training end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, SHARED_DATA
from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import prepare_languages
from meta_nlp.data.ranking import RankingSampler, distinct_pairs, retrieval_accuracy
from meta_nlp.errors import MetaNLPError

TATOEBA = SHARED_DATA / "tatoeba"
needs_tatoeba = pytest.mark.skipif(not TATOEBA.is_dir(), reason=f"{TATOEBA} is absent (../shared/data)")


def toy_pairs(n: int, lang: str = "xx") -> list[tuple[str, str]]:
    return [(f"{lang} sentence {i}", f"english sentence {i}") for i in range(n)]


def test_every_text_finds_its_translation_in_its_group():
    sampler = RankingSampler({"xx": toy_pairs(60), "yy": toy_pairs(60, "yy")}, n_way=4, k_shot=2, n_query=3, seed=0)
    ep = sampler.episode(5)
    assert len(ep.support_texts) == 8 and len(ep.query_texts) == 12 and len(ep.label_names) == 4
    for texts, targets, labels in ((ep.support_texts, ep.support_targets, ep.support_labels),
                                   (ep.query_texts, ep.query_targets, ep.query_labels)):
        for i, (text, label) in enumerate(zip(texts, labels)):
            group = targets[i - i % 4: i - i % 4 + 4]
            assert group[label] == "english" + text[2:]  # its own translation sits in the labelled slot
    assert not set(ep.support_texts) & set(ep.query_texts)
    labels = [sampler.episode(i).query_labels for i in range(20)]
    assert len({tuple(x) for x in labels}) > 1  # slots are shuffled, so the label is not the position
    again = RankingSampler({"xx": toy_pairs(60), "yy": toy_pairs(60, "yy")}, 4, 2, 3, seed=0).episode(5)
    assert again == ep


def test_too_few_pairs_and_duplicates():
    pairs = toy_pairs(10) + [("xx sentence 0", "another translation")]  # sentence 0 twice: dropped
    assert len(distinct_pairs(pairs)) == 9
    with pytest.raises(MetaNLPError, match=r"has 9 distinct translation pairs.*needs n_way\*\(k_shot\+n_query\)=10"):
        RankingSampler({"xx": pairs}, n_way=2, k_shot=2, n_query=3, seed=0)


def test_retrieval_accuracy_both_directions():
    pairs = toy_pairs(4)
    vectors = {f"xx sentence {i}": i for i in range(4)} | {f"english sentence {i}": i for i in range(4)}
    vectors["english sentence 3"] = 0  # sentence 3's translation looks like sentence 0's

    def embed(texts):
        return torch.nn.functional.one_hot(torch.tensor([vectors[t] for t in texts]), 4).float()
    acc = retrieval_accuracy(embed, pairs, batch_size=3)
    assert acc == {"to_pivot": 0.75, "from_pivot": 0.75, "n_pairs": 4}


@needs_tatoeba
def test_pivot_and_classification_only_options_are_refused():
    with pytest.raises(MetaNLPError, match="'eng' is the pivot language"):
        prepare_languages(MetaConfig(task="tatoeba", data_dir=str(TATOEBA), held_out_language=["eng"]))
    with pytest.raises(MetaNLPError, match="--smlmt-ratio applies to classification tasks only"):
        prepare_languages(MetaConfig(task="tatoeba", data_dir=str(TATOEBA), held_out_language=["jpn"], smlmt_ratio=0.5))
    split = prepare_languages(MetaConfig(task="tatoeba", data_dir=str(TATOEBA), held_out_language=["jpn"]))
    assert "jpn" not in split.train and "eng" not in split.train and len(split.train) == 9
    assert all(len(split.val[lang]) == 250 for lang in split.val)  # 25% of 1000 pairs


@needs_tatoeba
@pytest.mark.slow
def test_meta_train_on_tatoeba_reports_episode_and_retrieval_accuracy(tmp_path, tiny_model_dir):
    out = tmp_path / "run"
    args = [sys.executable, str(ROOT / "scripts" / "meta_train.py"), "--task", "tatoeba", "--data-dir", str(TATOEBA),
            "--held-out-language", "jpn", "--train-languages", "deu", "--train-languages", "ita",
            "--model", tiny_model_dir, "--algorithm", "anil", "--max-steps", "2", "--val-episodes", "2",
            "--eval-episodes", "3", "--eval-lr-grid", "1", "--multitask-steps", "2", "--mlti-ratio", "1",
            "--output-dir", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["method"] for r in results} == {"anil", "finetune", "multitask"}
    for r in results:
        assert r["language"] == "jpn" and r["n_episodes"] == 3 and 0 <= r["accuracy"] <= 1
        assert r["retrieval"]["n_pairs"] > 900 and 0 <= r["retrieval"]["to_pivot"] <= 1
    assert "Full retrieval" in (out / "report.md").read_text()
