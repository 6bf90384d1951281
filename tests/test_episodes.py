"""Episode sampler properties and the held-out-language guard."""
from __future__ import annotations

import pytest

from meta_nlp.config import MetaConfig
from meta_nlp.data import chatterbot
from meta_nlp.data.episodes import EpisodeSampler, split_for_validation
from meta_nlp.data.languages import prepare_languages
from meta_nlp.errors import MetaNLPError


def small_corpus(n_labels=6, per_label=12):
    return {"xx": {f"topic{j}": [f"text {j} {i}" for i in range(per_label)] for j in range(n_labels)},
            "yy": {f"topic{j}": [f"other {j} {i}" for i in range(per_label)] for j in range(n_labels)}}


def test_episode_shape_disjoint_and_single_language():
    sampler = EpisodeSampler(small_corpus(), n_way=4, k_shot=3, n_query=2, seed=1)
    for i in range(20):
        ep = sampler.episode(i)
        assert len(ep.label_names) == 4 and len(set(ep.label_names)) == 4
        assert len(ep.support_texts) == 12 and len(ep.query_texts) == 8
        assert sorted(ep.support_labels) == sorted([k for k in range(4) for _ in range(3)])
        assert sorted(ep.query_labels) == sorted([k for k in range(4) for _ in range(2)])
        assert not set(ep.support_texts) & set(ep.query_texts)
        prefix = "text" if ep.language == "xx" else "other"
        assert all(t.startswith(prefix) for t in ep.support_texts + ep.query_texts)
        for text, label in zip(ep.support_texts + ep.query_texts, ep.support_labels + ep.query_labels):
            assert text.split()[1] == ep.label_names[label].removeprefix("topic")  # labels match texts


def test_episodes_are_deterministic_and_labels_permuted():
    a = EpisodeSampler(small_corpus(), 4, 3, 2, seed=7)
    b = EpisodeSampler(small_corpus(), 4, 3, 2, seed=7)
    assert [a.episode(i) for i in range(5)] == [b.episode(i) for i in range(5)]
    assert EpisodeSampler(small_corpus(), 4, 3, 2, seed=8).episode(0) != a.episode(0)
    # the same topic gets different ids across episodes (label permutation)
    ids = {ep.label_names.index("topic0") for ep in (a.episode(i) for i in range(40)) if "topic0" in ep.label_names}
    assert len(ids) > 1


def test_train_n_way_takes_as_many_classes_as_a_language_has_up_to_it():
    corpus = {**small_corpus(n_labels=8), "zz": small_corpus(n_labels=5)["yy"]}
    sampler = EpisodeSampler(corpus, 4, 3, 2, seed=1, max_way=6)
    ways = {lang: set() for lang in corpus}
    for i in range(30):
        ep = sampler.episode(i)
        ways[ep.language].add(len(set(ep.label_names)))
        assert len(ep.support_texts) == 3 * len(ep.label_names) and len(ep.query_texts) == 2 * len(ep.label_names)
        assert sorted(set(ep.query_labels)) == list(range(len(ep.label_names)))
    assert ways == {"xx": {6}, "yy": {6}, "zz": {5}}
    # up to n_way itself is the plain sampler, episode for episode
    plain = EpisodeSampler(corpus, 4, 3, 2, seed=1)
    assert [EpisodeSampler(corpus, 4, 3, 2, seed=1, max_way=4).episode(i) for i in range(5)] == plain.episodes(0, 5)


def test_only_training_episodes_take_train_n_way_classes():
    cfg = MetaConfig(train_languages=["en", "it"], train_n_way=8)  # en and it have more than 8 topics
    split = prepare_languages(cfg)
    assert {len(split.train_sampler(cfg).episode(i).label_names) for i in range(6)} == {8}
    assert {len(split.val_sampler(cfg).episode(i).label_names) for i in range(6)} == {5}


def test_cross_lingual_episodes_take_up_to_train_n_way_shared_classes():
    corpus = {**small_corpus(n_labels=8), "zz": small_corpus(n_labels=5)["yy"]}
    sampler = EpisodeSampler(corpus, 4, 3, 2, seed=1, cross_lingual=True, max_way=6)
    for i in range(20):
        ep = sampler.cross_lingual_episode(i)
        shared = 5 if "zz" in (ep.language, ep.support_language) else 8
        assert ep.language != ep.support_language and len(ep.label_names) == min(6, shared)
        assert len(ep.support_texts) == 3 * len(ep.label_names) and len(ep.query_texts) == 2 * len(ep.label_names)


def test_task_interpolation_mixes_a_task_with_one_of_as_many_classes():
    from meta_nlp.augmentation.interpolation import TaskInterpolation
    corpus = {**small_corpus(n_labels=8), "zz": small_corpus(n_labels=5)["yy"]}
    sampler = EpisodeSampler(corpus, 4, 3, 2, seed=1, max_way=6)  # xx, yy: episodes of 6 classes; zz: of 5
    assert [sampler.ways_in(lang) for lang in ("xx", "yy", "zz")] == [6, 6, 5]
    assert len(sampler.episode(0, language="xx", ways=5).label_names) == 5
    with pytest.raises(MetaNLPError, match="'zz' has 5 classes, fewer than 6"):
        sampler.episode(0, language="zz", ways=6)
    mlti = TaskInterpolation(ratio=1.0, alpha=0.5, seed=0)
    sizes = set()
    for step in range(12):
        task = sampler.episode(step)
        partner = mlti.draw(sampler, step, 0, [task]).partner
        assert len(partner.label_names) == len(task.label_names)
        assert partner.language != task.language  # another language has as many classes here
        sizes.add(len(task.label_names))
    assert sizes == {5, 6}
    # episodes of one size (--train-n-way 0): the partner is any other language's episode, drawn as it always was
    plain = EpisodeSampler(corpus, 4, 3, 2, seed=1)
    mix = mlti.draw(plain, 3, 0, [plain.episode(3)])
    assert mix.partner == plain.episode(0, language=mix.partner.language)
    with pytest.raises(MetaNLPError, match="mixes two meta-training episodes class by class"):
        prepare_languages(MetaConfig(train_languages=["en", "it"], mlti_ratio=0.5, cross_lingual_episodes=True))
    prepare_languages(MetaConfig(train_languages=["en", "it"], mlti_ratio=0.5))


def test_too_few_classes_or_examples_are_clear_errors():
    with pytest.raises(MetaNLPError, match="fewer than --n-way"):
        EpisodeSampler(small_corpus(n_labels=3), 4, 3, 2, seed=0)
    with pytest.raises(MetaNLPError, match="k_shot\\+n_query"):
        EpisodeSampler(small_corpus(per_label=4), 4, 3, 2, seed=0)


def test_texts_with_two_labels_are_dropped():
    corpus = small_corpus()
    corpus["xx"]["topic0"].append("shared")
    corpus["xx"]["topic1"].append("shared")
    sampler = EpisodeSampler(corpus, 4, 3, 2, seed=0)
    assert all("shared" not in texts for texts in sampler.corpus["xx"].values())


def test_validation_split_is_disjoint_and_complete():
    train, val = split_for_validation(small_corpus(per_label=20), 0.25, seed=0)
    for lang in train:
        for label in train[lang]:
            assert not set(train[lang][label]) & set(val[lang][label])
            assert len(train[lang][label]) + len(val[lang][label]) == 20 and len(val[lang][label]) == 5


def test_held_out_language_is_never_read_before_evaluation(monkeypatch):
    read = []
    real = chatterbot.read_language
    monkeypatch.setattr(chatterbot, "read_language", lambda code, *part: read.append(code) or real(code, *part))
    split = prepare_languages(MetaConfig(held_out_language=["ja"]))
    split.val_sampler(MetaConfig())
    assert read and "ja" not in read
    assert "ja" not in split.train and "ja" not in split.val


def test_chatterbot_source_reads_topics_as_labels():
    topics = chatterbot.read_language("ja")
    assert "food" in topics and len(topics) >= 10
    assert all(len(set(texts)) == len(texts) for texts in topics.values())  # de-duplicated


def test_split_by_position_holds_back_the_same_place_in_every_language():
    # two "translations" of one topic that drifted by two lines: the held-back block sits at the same relative
    # place in both, so a line held back in one is (up to the drift) held back in the other too
    corpus = {"aa": {"topic": [f"line{j}" for j in range(40)]}, "bb": {"topic": [f"line{j}" for j in range(42)]}}
    train, val = split_for_validation(corpus, 0.25, seed=3, by_position=True)
    for lang, n in (("aa", 40), ("bb", 42)):
        assert len(val[lang]["topic"]) == round(0.25 * n)
        assert sorted(train[lang]["topic"] + val[lang]["topic"]) == sorted(corpus[lang]["topic"])
    shared = set(val["aa"]["topic"]) & set(val["bb"]["topic"])
    assert len(shared) >= len(val["aa"]["topic"]) - 2
    # a random sample does not keep translations together (the reason for the option)
    _, sampled = split_for_validation(corpus, 0.25, seed=3)
    assert len(set(sampled["aa"]["topic"]) & set(sampled["bb"]["topic"])) < len(shared)
    # the place depends on the seed
    starts = {split_for_validation(corpus, 0.25, seed=s, by_position=True)[1]["aa"]["topic"][0] for s in range(5)}
    assert len(starts) > 1


def test_chatterbot_unseen_lines_task_validates_by_position():
    split = prepare_languages(MetaConfig(task="chatterbot_topics_train", held_out_language=["ko"]))
    val, train = split.val["it"]["emotion"], split.train["it"]["emotion"]
    rows = chatterbot.read_language("it", (0.0, 0.5))["emotion"]
    held = [rows.index(t) for t in val]
    assert held == list(range(held[0], held[0] + len(held)))  # one run of consecutive lines
    assert not set(val) & set(train)
