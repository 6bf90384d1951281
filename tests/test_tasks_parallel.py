"""Parallel-data tasks (chatterbot_parallel, cldr_names, sib200_parallel), pair classification, and task
augmentation (SMLMT episodes, cross-lingual support sets)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import SHARED_DATA
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data import chatterbot, sources
from meta_nlp.augmentation.samplers import (CrossLingualSupport, MixedSampler, SMLMTSampler, parallel_task_of,
                                        training_sampler, translations_through_pivot, unlabelled_texts)
from meta_nlp.data.episodes import EpisodeSampler
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.data.registry import find_task, list_tasks, listed_languages, load_corpus, load_pairs
from meta_nlp.errors import MetaNLPError
from meta_nlp.models.encoder import tokenize

SIB200 = SHARED_DATA / "sib200"
MASK = "[MASK]"
CHATTERBOT_PARALLEL = ["it", "ja", "ko", "uk", "zh"]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def task_dir_with(tmp_path: Path, name: str, body: str) -> Path:
    """A --task-dir folder holding one task YAML (`body` without the name line)."""
    folder = tmp_path / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(f"name: {name}\n{body}", encoding="utf-8")
    return folder


# --- the new tasks are data, listed like the others ------------------------------------------------


def test_new_tasks_are_listed_with_their_types():
    tasks = {t.name: t for t in list_tasks()}
    for name in ("chatterbot_parallel", "cldr_names", "sib200_parallel"):
        assert tasks[name].type == "translation_ranking", name
    for name in ("xnli", "paws_x"):
        assert tasks[name].type == "pair_classification", name
    assert tasks["massive_intent"].type == "classification"
    assert listed_languages(tasks["chatterbot_parallel"]).split() == CHATTERBOT_PARALLEL
    assert "jpn_Jpan" not in listed_languages(tasks["sib200_parallel"])  # a Hub task: never asks the Hub to list
    assert tasks["chatterbot_topics"].parallel_task == "chatterbot_parallel"
    assert tasks["sib200"].parallel_task == "sib200_parallel"


# --- chatterbot_parallel ---------------------------------------------------------------------------


def test_chatterbot_alignment_keeps_only_files_of_equal_length(tmp_path, monkeypatch):
    def topic(folder: str, name: str, conversations: list[list[str]]) -> None:
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{name}.yml").write_text(json.dumps({"conversations": conversations}), encoding="utf-8")

    topic("english", "food", [["Hi", "Hello"], ["Pizza?", "Yes"]])
    topic("japanese", "food", [["やあ", "こんにちは"], ["ピザ？", "はい"]])  # 4 = 4: aligned
    topic("english", "sports", [["Ball", "Goal", "Run"]])
    topic("japanese", "sports", [["ボール", "走る"]])  # 3 != 2: a line was dropped, positions no longer match
    topic("japanese", "extra", [["余分"]])  # no English file
    monkeypatch.setattr(chatterbot, "corpus_root", lambda: tmp_path)
    assert chatterbot.aligned_pairs("ja") == [("やあ", "Hi"), ("こんにちは", "Hello"), ("ピザ？", "Pizza?"),
                                              ("はい", "Yes")]
    assert chatterbot.surviving_pair_counts(["ja"]) == {"ja": 4}


def test_chatterbot_parallel_pairs_per_language():
    counts = chatterbot.surviving_pair_counts(CHATTERBOT_PARALLEL)
    print("chatterbot_parallel pairs per language:", counts)  # pytest -s shows them
    task = find_task("chatterbot_parallel")
    for lang in CHATTERBOT_PARALLEL:
        pairs = load_pairs(task, lang)
        assert len(pairs) == counts[lang] >= 100, (lang, counts)
        assert len(set(pairs)) == len(pairs) and all(a and b for a, b in pairs)
    assert ("AIとは何ですか？", "What is AI?") in load_pairs(task, "ja")


# --- cldr_names ------------------------------------------------------------------------------------


def test_cldr_names_pairs_for_japanese():
    task = find_task("cldr_names")
    languages = task.languages()
    assert len(languages) > 200 and "ja" in languages and "zh_Hant" in languages
    assert "ja_JP" not in languages and "en" not in languages  # same names as ja; the pivot
    pairs = load_pairs(task, "ja")
    assert ("日本", "Japan") in pairs and ("日本語", "Japanese") in pairs and ("フランス", "France") in pairs
    assert len(pairs) > 500
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})  # one right answer each way
    assert ("Japon", "Japan") in load_pairs(task, "ja", pivot="fr") or ("日本", "Japon") in load_pairs(task, "ja", "fr")
    with pytest.raises(MetaNLPError, match="has no language 'xx_Nope'"):
        load_pairs(task, "xx_Nope")


# --- SIB-200 parallel by index_id ------------------------------------------------------------------


def test_sib200_pairs_share_index_id_and_read_two_languages_only(monkeypatch):
    if not SIB200.is_dir():
        pytest.skip(f"real data not found at {SIB200} (../shared/data next to the repository)")
    read: list[Path] = []
    real = sources.read_rows
    monkeypatch.setattr(sources, "read_rows", lambda path: read.append(path) or real(path))
    task = find_task("sib200_parallel", data_dir=SIB200)
    pairs = load_pairs(task, "jpn_Jpan")  # 'en' is the task's pivot, eng_Latn
    assert {p.parent.name for p in read} == {"jpn_Jpan", "eng_Latn"}
    _, jpn = real(SIB200 / "jpn_Jpan" / "dev.tsv")
    _, eng = real(SIB200 / "eng_Latn" / "dev.tsv")
    english = {row["index_id"]: row["text"] for row in eng}
    for row in jpn[:20]:
        assert (row["text"].strip(), english[row["index_id"]].strip()) in pairs
    assert 990 <= len(pairs) <= 1004
    german = load_pairs(task, "jpn_Jpan", pivot="deu_Latn")
    assert len(german) == len(pairs) and {a for a, _ in german} == {a for a, _ in pairs}


# --- pair classification ---------------------------------------------------------------------------


def test_pair_tokenisation_has_two_segments(tokenizer):
    batch = tokenize(tokenizer, [("The cat sat on the mat.", "A cat is sitting."), ("Hi", "Hello there")], 32,
                     torch.device("cpu"))
    for ids, types, mask in zip(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]):
        types = types[mask.bool()].tolist()
        assert types[0] == 0 and types[-1] == 1 and types == sorted(types)  # [CLS] a [SEP] | b [SEP]
        first_sep = ids.tolist().index(tokenizer.sep_token_id)
        assert types[first_sep] == 0 and types[first_sep + 1] == 1
    single = tokenize(tokenizer, ["The cat sat on the mat."], 32, torch.device("cpu"))
    assert single["token_type_ids"].max() == 0


def test_pair_classification_task_from_a_user_folder(tmp_path, tokenizer):
    task_dir = task_dir_with(tmp_path, "my_nli", "type: pair_classification\nsource:\n  kind: local_files\n"
                             "  data_dir: data\n  layout: per_language_file\n  text_column: premise\n"
                             "  text_pair_column: hypothesis\n  label_column: label\n")
    labels = ["contradiction", "entailment", "neutral"]
    for lang in ("en", "de", "fr"):
        write_jsonl(task_dir / "data" / f"{lang}.jsonl",
                    [{"premise": f"{lang} premise {i}", "hypothesis": f"{lang} {label} hypothesis {i}", "label": label}
                     for label in labels for i in range(6)] + [{"premise": "no hypothesis", "label": "neutral"}])
    cfg = MetaConfig(task="my_nli", task_dir=[str(task_dir)], held_out_language=["fr"], n_way=3, k_shot=2,
                     n_query=2)
    split = prepare_languages(cfg)
    assert sorted(split.train) == ["de", "en"]
    assert all(isinstance(t, tuple) and len(t) == 2 for texts in split.train["en"].values() for t in texts)
    episode = load_held_out(cfg, "fr").episode(0)
    for (premise, hypothesis), label in zip(episode.support_texts, episode.support_labels):
        assert premise.startswith("fr premise") and episode.label_names[label] in hypothesis
    batch = to_batch(episode, tokenizer, 32, torch.device("cpu"))
    assert batch.support["token_type_ids"].max() == 1 and batch.query["token_type_ids"].max() == 1


def test_massive_intent_reads_the_original_release_offline(tmp_path):
    """--data-dir with the release's data/<locale>.jsonl files (utt, intent) replaces the Hub copy."""
    for locale in ("en-US", "ja-JP"):
        write_jsonl(tmp_path / f"{locale}.jsonl", [{"id": str(i), "locale": locale, "partition": "train",
                                                    "utt": f"{locale} wake me up {i}", "intent": "alarm_set"}
                                                   for i in range(3)])
    task = find_task("massive_intent", data_dir=tmp_path)
    assert task.languages() == ["en-US", "ja-JP"]
    assert load_corpus(task, ["ja-JP"]) == {"ja-JP": {"alarm_set": [f"ja-JP wake me up {i}" for i in range(3)]}}


# --- bad input: one line naming the file and the field ---------------------------------------------

LOCAL = "source:\n  kind: local_files\n  data_dir: data\n  layout: per_language_file\n  text_column: text\n" \
        "  label_column: label\n"


@pytest.mark.parametrize("body, needles", [
    ("type: pair_classification\n" + LOCAL, ["missing field 'source.text_pair_column'"]),
    ("type: classification\n" + LOCAL + "  text_pair_column: b\n",
     ["field 'source.text_pair_column' applies to type pair_classification only"]),
    ("type: classification\n" + LOCAL + "  pivot: en\n", ["field 'source.pivot' applies to type translation_ranking"]),
    ("type: translation_ranking\n" + LOCAL, ["missing field 'source.id_column'"]),
    ("type: classification\nparallel_task: [a]\n" + LOCAL, ["field 'parallel_task' must be a task name"]),
    ("type: translation_ranking\nsource:\n  kind: chatterbot_parallel\n  pivot: ja\n",
     ["unknown field 'source.pivot'"]),
    ("type: translation_ranking\nsource:\n  kind: chatterbot_parallel\n  languages: ja\n",
     ["field 'source.languages' must be a non-empty list"]),
    ("type: classification\nsource:\n  kind: cldr_names\n",
     ["field 'type' is classification", "gives pairs", "field 'source.kind'"]),
    ("type: translation_ranking\nsource:\n  kind: local_files\n  layout: laser_tatoeba\n  pivot: deu\n",
     ["field 'source.pivot' is always eng"]),
], ids=["pair-without-text-pair", "text-pair-on-classification", "pivot-on-classification", "pairs-without-id",
        "parallel-task-not-a-name", "unknown-field", "languages-not-a-list", "pairs-source-for-classification",
        "tatoeba-pivot"])
def test_bad_new_fields_are_one_line_naming_file_and_field(tmp_path, body, needles):
    task_dir = task_dir_with(tmp_path, "bad", body)
    with pytest.raises(MetaNLPError) as err:
        find_task("bad", [str(task_dir)])
    message = str(err.value)
    assert "\n" not in message and "bad.yaml" in message, message
    for needle in needles:
        assert needle in message, message


def test_parallel_task_must_exist_and_be_translation_ranking(tmp_path):
    task_dir = task_dir_with(tmp_path, "mine", "type: classification\nparallel_task: xnli\nsource:\n"
                                               "  kind: chatterbot_corpus\n")
    (task_dir / "other.yaml").write_text("name: other\ntype: classification\nparallel_task: nowhere\n"
                                         "source:\n  kind: chatterbot_corpus\n")
    cfg = MetaConfig(task_dir=[str(task_dir)])
    with pytest.raises(MetaNLPError, match=r"mine.yaml: field 'parallel_task' names xnli, a pair_classification"):
        parallel_task_of(find_task("mine", [str(task_dir)]), cfg)
    with pytest.raises(MetaNLPError, match=r"other.yaml: field 'parallel_task': unknown task 'nowhere'"):
        parallel_task_of(find_task("other", [str(task_dir)]), cfg)
    plain = task_dir_with(tmp_path / "p", "plain", "type: classification\nsource:\n  kind: chatterbot_corpus\n")
    with pytest.raises(MetaNLPError, match=r"plain.yaml has no field 'parallel_task'"):
        parallel_task_of(find_task("plain", [str(plain)]), cfg)


# --- SMLMT -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smlmt() -> SMLMTSampler:
    texts = unlabelled_texts({lang: chatterbot.read_language(lang) for lang in ("en", "zh")})
    return SMLMTSampler(texts, MASK, n_way=5, k_shot=3, n_query=2, seed=0)


def test_smlmt_episodes_mask_n_distinct_words(smlmt):
    assert smlmt.languages == ["en", "zh"]
    for i in range(30):
        ep = smlmt.episode(i)
        assert len(set(ep.label_names)) == 5
        assert sorted(ep.support_labels) == [k for k in range(5) for _ in range(3)]
        assert sorted(ep.query_labels) == [k for k in range(5) for _ in range(2)]
        assert not set(ep.support_texts) & set(ep.query_texts)
        for text, label in zip(ep.support_texts + ep.query_texts, ep.support_labels + ep.query_labels):
            word = ep.label_names[label]
            assert MASK in text and word not in text.replace(MASK, " ").casefold(), (word, text)
    assert smlmt.episode(3, language="zh").language == "zh"


def test_smlmt_is_deterministic_per_index(smlmt):
    again = SMLMTSampler(smlmt.texts, MASK, n_way=5, k_shot=3, n_query=2, seed=0)
    assert [smlmt.episode(i) for i in range(10)] == [again.episode(i) for i in range(10)]
    assert smlmt.episode(1) != smlmt.episode(2)
    other_seed = SMLMTSampler(smlmt.texts, MASK, n_way=5, k_shot=3, n_query=2, seed=1)
    assert [smlmt.episode(i) for i in range(5)] != [other_seed.episode(i) for i in range(5)]


def small_corpus(per_label: int = 12) -> dict:
    return {lang: {f"t{j}": [f"{lang} {j} {i}" for i in range(per_label)] for j in range(6)} for lang in ("en", "xx")}


def test_smlmt_mixing_ratio_and_determinism(smlmt):
    base = EpisodeSampler(small_corpus(), 5, 3, 2, seed=0)
    mixed = MixedSampler(base, smlmt, ratio=0.3, seed=0)
    flags = [mixed.is_smlmt(i) for i in range(4000)]
    assert abs(sum(flags) / len(flags) - 0.3) < 0.03
    for i in range(200):
        ep = mixed.episode(i)
        assert (MASK in ep.support_texts[0]) == flags[i]
        if not flags[i]:
            assert ep == base.episode(i)  # the plain episode of an index is unchanged by mixing
    assert [mixed.episode(i) for i in range(50)] == [MixedSampler(base, smlmt, 0.3, 0).episode(i) for i in range(50)]
    assert mixed.languages == base.languages  # behaves like the sampler it wraps
    assert all(mixed.episode(i, language="xx").language == "xx" for i in range(20))  # xx: not an SMLMT language
    # an MLTI partner asked with another number of classes than SMLMT's n_way is the wrapped sampler's episode
    wide = MixedSampler(EpisodeSampler(small_corpus(), 5, 3, 2, seed=0, max_way=6), smlmt, ratio=1.0, seed=0)
    assert len(wide.episode(0, language="en", ways=6).label_names) == 6
    assert MASK in wide.episode(0, language="en", ways=5).support_texts[0]


# --- cross-lingual support -------------------------------------------------------------------------


def test_cross_lingual_support_keeps_labels_and_translates_the_requested_share():
    corpus = small_corpus()
    table = translations_through_pivot({"xx": [(f"xx {j} {i}", f"en {j} {i}") for j in range(6) for i in range(12)]},
                                       pivot="en")
    assert table[("en", "en 0 1")] == [("xx", "xx 0 1")] and table[("xx", "xx 0 1")] == [("en", "en 0 1")]
    base = EpisodeSampler(corpus, 4, 5, 3, seed=0)
    crossed = CrossLingualSupport(base, table, ratio=0.4, seed=0)
    shares = []
    for i in range(300):
        plain, ep = base.episode(i), crossed.episode(i)
        assert ep.support_labels == plain.support_labels and ep.query_texts == plain.query_texts
        moved = [(a, b) for a, b in zip(plain.support_texts, ep.support_texts) if a != b]
        for before, after in moved:  # the same sentence in the other language: same label, same example
            assert before.split()[1:] == after.split()[1:] and before.split()[0] != after.split()[0]
        shares.append(len(moved) / len(ep.support_texts))
    assert abs(sum(shares) / len(shares) - 0.4) < 0.03
    assert [crossed.episode(i) for i in range(20)] == [CrossLingualSupport(base, table, 0.4, 0).episode(i)
                                                       for i in range(20)]
    assert CrossLingualSupport(base, table, 0.0, 0).episode(7) == base.episode(7)


def test_training_sampler_augments_without_reading_the_held_out_language(monkeypatch, tokenizer):
    read: list[str] = []
    real = chatterbot.aligned_pairs
    monkeypatch.setattr(chatterbot, "aligned_pairs", lambda lang, pivot="en": read.append(lang) or real(lang, pivot))
    cfg = MetaConfig(train_languages=["en", "it", "ko"], held_out_language=["ja"], smlmt_ratio=0.5,
                     cross_lingual_support_ratio=0.5).validate()
    split = prepare_languages(cfg)
    sampler = training_sampler(cfg, split, tokenizer)
    assert sorted(read) == ["it", "ko"]  # en is the pivot; ja is never opened
    episodes = [sampler.episode(i) for i in range(40)]
    smlmt = [ep for ep in episodes if MASK in ep.support_texts[0]]
    labelled = [ep for ep in episodes if MASK not in ep.support_texts[0]]
    assert smlmt and labelled
    foreign = sum(text not in split.train[ep.language][ep.label_names[label]]
                  for ep in labelled for text, label in zip(ep.support_texts, ep.support_labels))
    assert foreign > 0  # some support examples now come from another training language
    plain = training_sampler(MetaConfig(train_languages=["en", "it", "ko"], held_out_language=["ja"]), split, tokenizer)
    assert isinstance(plain, EpisodeSampler)
