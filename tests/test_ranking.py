"""Translation-ranking tasks: episodes, full retrieval accuracy, and meta-training end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import ROOT, SHARED_DATA
from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.data.ranking import (RankingSampler, distinct_pairs, pivots_read, retrieval_accuracy, share_of_pivots_read,
                                   split_pairs_for_validation)
from meta_nlp.data.registry import find_task, load_pairs
from meta_nlp.errors import MetaNLPError
from meta_nlp.recipes.meta_learn import candidates_read_in_training, warn_of_candidates_read

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


def test_training_groups_take_up_to_max_way_candidates():
    corpus = {"xx": toy_pairs(100), "yy": toy_pairs(70, "yy")}  # yy fills groups of 7 with 5 support + 5 query
    wide = RankingSampler(corpus, n_way=5, k_shot=5, n_query=5, seed=0, max_way=10)
    for lang, ways in (("xx", 10), ("yy", 7)):
        ep = wide.episode(3, lang)
        assert len(ep.label_names) == ways and len(ep.support_texts) == len(ep.query_texts) == 5 * ways
        for texts, targets, labels in ((ep.support_texts, ep.support_targets, ep.support_labels),
                                       (ep.query_texts, ep.query_targets, ep.query_labels)):
            for i, (text, label) in enumerate(zip(texts, labels)):
                assert targets[i - i % ways + label] == "english" + text[2:]
    narrow = RankingSampler(corpus, n_way=5, k_shot=5, n_query=5, seed=0)
    assert RankingSampler(corpus, 5, 5, 5, seed=0, max_way=5).episode(3) == narrow.episode(3)  # n_way: as before
    assert len(narrow.episode(3).label_names) == 5


def test_too_few_pairs_and_duplicates():
    pairs = toy_pairs(10) + [("xx sentence 0", "another translation")]  # sentence 0 twice: dropped
    assert len(distinct_pairs(pairs)) == 9
    with pytest.raises(MetaNLPError, match=r"has 9 distinct translation pairs.*needs n_way\*\(k_shot\+n_query\)=10"):
        RankingSampler({"xx": pairs}, n_way=2, k_shot=2, n_query=3, seed=0)


def test_validation_holds_back_the_same_pivot_sentences_in_every_language():
    # Three languages paired with one pivot: each has its own subset of the pivot sentences, in its own order
    # (a per-language sample would hold a pair back in one language and train on its pivot in another).
    rng = np.random.default_rng(0)
    corpus = {lang: [(f"{lang} {i}", f"english sentence {i}") for i in rng.permutation(400)[:size]]
              for lang, size in (("xx", 400), ("yy", 300), ("zz", 250))}
    train, val = split_pairs_for_validation(corpus, 0.25, seed=3)
    trained_pivots = {t for pairs in train.values() for _, t in pairs}
    assert not trained_pivots & {t for pairs in val.values() for _, t in pairs}
    for lang, pairs in corpus.items():
        assert sorted(train[lang] + val[lang]) == sorted(pairs)
        assert 0.18 < len(val[lang]) / len(pairs) < 0.32
    assert split_pairs_for_validation(corpus, 0.25, seed=3) == (train, val)
    assert split_pairs_for_validation(corpus, 0.25, seed=4)[1] != val


@pytest.mark.parametrize("task_type, fields, needles", [
    ("translation_ranking", "validation_split: by_position\n", ["field 'validation_split' is for labelled tasks",
                                                                "same pivot sentences"]),
    ("translation_ranking", "pivot_part: [0.5, 0.5]\n", ["field 'pivot_part' must be [start, end]", "[0.5, 0.5]"]),
    ("classification", "pivot_part: [0.0, 0.6]\n", ["field 'pivot_part' is for translation_ranking tasks"]),
], ids=["validation-split", "empty-pivot-part", "pivot-part-of-classification"])
def test_pair_only_and_label_only_task_fields_are_one_line_errors(tmp_path, task_type, fields, needles):
    (tmp_path / "my_names.yaml").write_text(f"name: my_names\ntype: {task_type}\n{fields}source:\n  kind: cldr_names\n")
    with pytest.raises(MetaNLPError) as err:
        find_task("my_names", [str(tmp_path)])
    assert "my_names.yaml" in str(err.value) and all(needle in str(err.value) for needle in needles), err.value


def test_pivot_part_keeps_its_share_of_english_names_and_refuses_another_pivot(tmp_path):
    (tmp_path / "half_names.yaml").write_text("name: half_names\ntype: translation_ranking\npivot_part: [0.0, 0.5]\n"
                                              "source:\n  kind: cldr_names\n")
    half, whole = find_task("half_names", [str(tmp_path)]), find_task("cldr_names")
    kept, pairs = load_pairs(half, "ja"), load_pairs(whole, "ja")
    assert set(kept) < set(pairs) and 0.4 < len(kept) / len(pairs) < 0.6
    # The part is drawn over the pivot's (English) sentences: against French it would mean nothing.
    with pytest.raises(MetaNLPError, match="field 'pivot_part' selects en sentences.*not 'fr'"):
        load_pairs(half, "ja", pivot="fr")


SIB200 = SHARED_DATA / "sib200"
SPLIT_RANKING_TASKS = [  # (a task with _train and _test parts, its data folder)
    pytest.param("tatoeba", TATOEBA, marks=needs_tatoeba, id="tatoeba"),
    pytest.param("chatterbot_parallel", None, id="chatterbot_parallel"),
    pytest.param("cldr_names", None, id="cldr_names"),
    pytest.param("sib200_parallel", SIB200, marks=pytest.mark.skipif(not SIB200.is_dir(), reason=f"{SIB200} is absent"),
                 id="sib200_parallel"),
]


@pytest.mark.parametrize("name, data_dir", SPLIT_RANKING_TASKS)
def test_train_and_test_parts_never_share_an_english_sentence(name, data_dir):
    whole, train_task, test_task = (find_task(n, data_dir=data_dir) for n in (name, f"{name}_train", f"{name}_test"))
    languages = [lang for lang in whole.languages() if lang != whole.reader.pivot]
    train = {lang: load_pairs(train_task, lang) for lang in languages}
    test = {lang: load_pairs(test_task, lang) for lang in languages}
    train_pivots = {t for pairs in train.values() for _, t in pairs}
    test_pivots = {t for pairs in test.values() for _, t in pairs}
    assert not train_pivots & test_pivots
    assert 0.33 < len(test_pivots) / (len(train_pivots) + len(test_pivots)) < 0.47
    for lang in languages:
        assert sorted(train[lang] + test[lang]) == sorted(load_pairs(whole, lang))


def test_share_of_pivots_read_counts_held_out_candidates_seen_in_training():
    held_out = toy_pairs(4, "ja")
    read = [{"it": toy_pairs(2, "it")}, {"ko": [("ko sentence", "english sentence 3")]}]
    assert share_of_pivots_read(held_out, pivots_read(read)) == 0.75  # sentences 0 and 1 from it's pairs, 3 from ko's
    assert share_of_pivots_read(held_out, pivots_read([])) == 0.0


@pytest.mark.parametrize("tasks, share", [(dict(task="chatterbot_parallel"), 1.0),
                                          (dict(task="chatterbot_parallel_train",
                                                held_out_task="chatterbot_parallel_test"), 0.0)])
def test_a_run_counts_the_held_out_candidates_meta_training_read(tasks, share):
    """Chatterbot's files are translations of one another: every English candidate of held-out ja is the English
    side of another language's pair, unless training and evaluation read disjoint parts of them."""
    cfg = MetaConfig(held_out_language=["ja"], **tasks)
    shares = candidates_read_in_training(prepare_languages(cfg), {"ja": load_held_out(cfg, "ja")})
    assert shares == {"ja": share}
    printed = []
    warn_of_candidates_read(shares, cfg.task, [], SimpleNamespace(print=printed.append))
    if share:  # the fix named is the task's own parts, which the registry has
        assert len(printed) == 1 and "100.0% of ja's" in printed[0]
        assert "--task chatterbot_parallel_train --held-out-task chatterbot_parallel_test" in printed[0]
    else:
        assert printed == []


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
    assert all(200 < len(split.val[lang]) < 300 for lang in split.val)  # about 25% of 1000 pairs
    trained_pivots = {t for pairs in split.train.values() for _, t in pairs}
    assert not trained_pivots & {t for pairs in split.val.values() for _, t in pairs}
    cfg = MetaConfig(task="tatoeba", data_dir=str(TATOEBA), held_out_language=["jpn"])
    assert len(split.train_sampler(cfg).episode(0).label_names) == cfg.train_ways == 10  # wider training groups
    assert len(split.val_sampler(cfg).episode(0).label_names) == cfg.n_way == 5


@needs_tatoeba
@pytest.mark.slow
def test_meta_train_on_tatoeba_reports_episode_and_retrieval_accuracy(tmp_path, tiny_model_dir):
    out = tmp_path / "run"
    args = [sys.executable, str(ROOT / "scripts" / "meta_train.py"), "--task", "tatoeba", "--data-dir", str(TATOEBA),
            "--held-out-language", "jpn", "--train-languages", "deu", "--train-languages", "ita",
            "--model", tiny_model_dir, "--algorithm", "anil", "--max-steps", "2", "--val-episodes", "2",
            "--eval-episodes", "3", "--eval-lr-grid", "1", "--multitask-steps", "2", "--mlti-ratio", "1",
            "--train-n-way", "0", "--output-dir", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["method"] for r in results} == {"anil", "finetune", "multitask"}
    for r in results:
        assert r["language"] == "jpn" and r["n_episodes"] == 3 and 0 <= r["accuracy"] <= 1
        assert r["retrieval"]["n_pairs"] > 900 and 0 <= r["retrieval"]["to_pivot"] <= 1
        assert 0 <= r["candidates_read_in_training"] <= 1
    assert "Full retrieval" in (out / "report.md").read_text()
