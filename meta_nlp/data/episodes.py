"""N-way K-shot episodes: one language per episode, label ids permuted, support/query disjoint.

An episode is a pure function of (seed, index[, language]): the same seed gives the same episodes
to every method and baseline, on any number of processes, before and after a resume.
Cross-lingual episodes (X-MAML; zero-shot evaluation) take the support set from one language
and the query set from another, over labels the two share.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from meta_nlp.errors import MetaNLPError

Corpus = dict[str, dict[str, list[str]]]  # language -> label -> texts


@dataclass
class Episode:
    support_texts: list[str]
    support_labels: list[int]
    query_texts: list[str]
    query_labels: list[int]
    label_names: list[str]  # label id -> label string; the order is this episode's permutation
    language: str  # of the query set (the language being evaluated)
    support_language: str = ""  # differs from `language` in cross-lingual episodes
    # Translation ranking (data/ranking.py): text i's candidates are the targets of its group of n_way
    # (texts g*n_way .. g*n_way+n_way-1), and its label is the position of its own translation there.
    support_targets: list[str] | None = None
    query_targets: list[str] | None = None

    def __post_init__(self) -> None:
        self.support_language = self.support_language or self.language


def drop_ambiguous_texts(by_label: dict[str, list[str]]) -> dict[str, list[str]]:
    """Remove texts filed under more than one label ("Hello" in greetings and conversations)."""
    counts: dict[str, int] = {}
    for texts in by_label.values():
        for t in set(texts):
            counts[t] = counts.get(t, 0) + 1
    return {label: [t for t in texts if counts[t] == 1] for label, texts in by_label.items()}


def split_for_validation(corpus: Corpus, fraction: float, seed: int,
                         by_position: bool = False) -> tuple[Corpus, Corpus]:
    """Hold back `fraction` of every (language, label) for meta-validation (training-domain validation): a random
    sample of its texts, or with `by_position` one run of consecutive texts at the same relative place in every
    language (`held_back_rows`)."""
    train: Corpus = {}
    val: Corpus = {}
    for lang in sorted(corpus):
        train[lang], val[lang] = {}, {}
        for i, label in enumerate(sorted(corpus[lang])):
            texts = list(corpus[lang][label])
            n_val = int(round(fraction * len(texts)))
            if by_position:
                held = held_back_rows(len(texts), n_val, seed, label)
                val[lang][label] = texts[held.start:held.stop]
                train[lang][label] = texts[:held.start] + texts[held.stop:]
            else:
                order = np.random.default_rng([seed, 7, i, len(texts)]).permutation(len(texts))
                val[lang][label] = [texts[j] for j in order[:n_val]]
                train[lang][label] = [texts[j] for j in order[n_val:]]
    return train, val


def held_back_rows(n_texts: int, n_val: int, seed: int, label: str) -> range:
    """`n_val` consecutive rows of a label's `n_texts`, starting at a fraction of the list drawn from (seed, label)
    alone, so the same for every language. Why: where languages translate each other line by line (chatterbot's
    topic files), a random sample holds back a line in one language and trains on its translation in another, so
    validation reads content meta-training has seen, unlike a held-out language evaluated on unseen lines; one
    block at the same place holds the translations back everywhere (up to a few lines of drift at its two ends)."""
    start_fraction = np.random.default_rng([seed, 7, zlib.crc32(label.encode("utf-8"))]).uniform()
    start = int(round(start_fraction * (n_texts - n_val)))
    return range(start, start + n_val)


def eligible_labels(by_label: dict[str, list[str]], per_class: int) -> list[str]:
    return sorted(label for label, texts in by_label.items() if len(texts) >= per_class)


def language_key(language: str) -> int:
    """A stable integer for a language name (Python's str hash changes between processes)."""
    return zlib.crc32(language.encode("utf-8"))


def cross_lingual_pairs(corpus: Corpus, n_way: int, k_shot: int, n_query: int,
                        support_language: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(support language, query language) -> the labels both can serve (k_shot examples in the first,
    n_query in the second), for every pair of different languages sharing at least n_way of them."""
    pairs = {}
    for a in sorted(corpus):
        if support_language is not None and a != support_language:
            continue
        for b in sorted(corpus):
            shared = sorted(set(eligible_labels(corpus[a], k_shot)) & set(eligible_labels(corpus[b], n_query)))
            if a != b and len(shared) >= n_way:
                pairs[(a, b)] = shared
    return pairs


def episode_rng(seed: int, index: int, language: str | None, languages: list[str],
                what: str) -> tuple[np.random.Generator, str]:
    """(rng, language) of episode `index`: the language drawn by (seed, index) when not given, else checked and
    mixed into the rng, so two languages give independent episodes of the same index."""
    if language is None:
        rng = np.random.default_rng([seed, index])
        return rng, languages[rng.integers(len(languages))]
    if language not in languages:
        raise MetaNLPError(f"no {what} language {language!r}; have: {', '.join(languages)}")
    return np.random.default_rng([seed, index, language_key(language)]), language


def check_language(lang: str, by_label: dict[str, list[str]], n_way: int, k_shot: int, n_query: int, what: str) -> None:
    """One-line error when a language cannot give an N-way K-shot episode."""
    ok = eligible_labels(by_label, k_shot + n_query)
    if len(by_label) < n_way:
        raise MetaNLPError(f"{what} language {lang!r} has {len(by_label)} classes, fewer than --n-way {n_way}")
    if len(ok) < n_way:
        raise MetaNLPError(
            f"{what} language {lang!r} has only {len(ok)} classes with at least k_shot+n_query="
            f"{k_shot + n_query} examples (needs {n_way}); lower --n-way, --k-shot or --n-query")


class EpisodeSampler:
    """Deterministic episodes from a corpus: `sampler.episode(i)` is the same for a given seed.

    cross_lingual=True: every episode has its support set in one language and its query set in
    another (support_language fixes the first: zero-shot evaluation from a source language).
    max_way (`MetaConfig.train_ways`; 0: n_way): an episode takes up to max_way classes, as many as its language
    (or its two languages share) has."""

    def __init__(self, corpus: Corpus, n_way: int, k_shot: int, n_query: int, seed: int, what: str = "training",
                 cross_lingual: bool = False, support_language: str | None = None, max_way: int = 0):
        self.n_way, self.k_shot, self.n_query, self.seed = n_way, k_shot, n_query, seed
        self.max_way = max_way or n_way
        self.what, self.cross_lingual, self.support_language = what, cross_lingual, support_language
        self.corpus = {lang: drop_ambiguous_texts(by_label) for lang, by_label in corpus.items()}
        self.languages = sorted(self.corpus)
        if not self.languages:
            raise MetaNLPError(f"no {what} language left")
        if cross_lingual:
            if not self.pairs:
                raise MetaNLPError(
                    f"no two {what} languages share {n_way} labels with {k_shot} support and {n_query} query examples"
                    + (f" (support from {support_language!r})" if support_language else "")
                    + "; lower --n-way, --k-shot or --n-query")
            return
        for lang in self.languages:
            check_language(lang, self.corpus[lang], n_way, k_shot, n_query, what)
        self._labels = {lang: eligible_labels(self.corpus[lang], k_shot + n_query) for lang in self.languages}

    @cached_property
    def pairs(self) -> dict[tuple[str, str], list[str]]:
        return cross_lingual_pairs(self.corpus, self.n_way, self.k_shot, self.n_query, self.support_language)

    @cached_property
    def query_languages(self) -> list[str]:
        """The languages a cross-lingual episode can query: another language shares n_way labels with each (on
        chatterbot, `bn` shares fewer than 5 topics with any other, so it can never be a pseudo-target)."""
        return sorted({query for _, query in self.pairs})

    def episode(self, index: int, language: str | None = None, ways: int | None = None) -> Episode:
        """Episode `index`; `language` fixes its language (the query language when cross-lingual),
        drawn from an rng of (seed, index, language) so two languages give independent episodes. `ways` fixes its
        number of classes (in-language episodes; at most `ways_in(language)`), which is otherwise as many as the
        language has, up to max_way."""
        if self.cross_lingual:
            if ways is not None:
                raise MetaNLPError("a cross-lingual episode takes as many classes as its two languages share")
            return self.cross_lingual_episode(index, language)
        rng, language = episode_rng(self.seed, index, language, self.languages, self.what)
        labels = self._labels[language]
        count = min(self.max_way, len(labels)) if ways is None else ways
        if count > len(labels):
            raise MetaNLPError(f"{self.what} language {language!r} has {len(labels)} classes, fewer than {ways}")
        chosen = [labels[i] for i in rng.choice(len(labels), count, replace=False)]
        return self._fill(rng, chosen, language, language)

    def ways_in(self, language: str) -> int:
        """The most classes an in-language episode of `language` can take."""
        return min(self.max_way, len(self._labels[language]))

    def cross_lingual_episode(self, index: int, query_language: str | None = None) -> Episode:
        """Support in one language, query in another (`query_language` when given), same label names."""
        key = [language_key(query_language)] if query_language else []
        rng = np.random.default_rng([self.seed, index, *key])
        pairs = [p for p in self.pairs if query_language in (None, p[1])]
        if not pairs:
            raise MetaNLPError(f"no {self.what} language shares {self.n_way} labels with {query_language!r} "
                               f"for cross-lingual episodes")
        support_lang, query_lang = pairs[rng.integers(len(pairs))]
        labels = self.pairs[(support_lang, query_lang)]
        chosen = [labels[i] for i in rng.choice(len(labels), min(self.max_way, len(labels)), replace=False)]
        return self._fill(rng, chosen, support_lang, query_lang)

    def _fill(self, rng: np.random.Generator, chosen: list[str], support_lang: str, query_lang: str) -> Episode:
        support, s_labels, query, q_labels = [], [], [], []
        for label_id, label in enumerate(chosen):  # chosen is in random order: ids are permuted per episode
            if support_lang == query_lang:  # one draw, split: support and query never share a text
                texts = self.corpus[query_lang][label]
                picks = rng.choice(len(texts), self.k_shot + self.n_query, replace=False)
                support += [texts[j] for j in picks[: self.k_shot]]
                query += [texts[j] for j in picks[self.k_shot:]]
            else:
                s_texts, q_texts = self.corpus[support_lang][label], self.corpus[query_lang][label]
                support += [s_texts[j] for j in rng.choice(len(s_texts), self.k_shot, replace=False)]
                query += [q_texts[j] for j in rng.choice(len(q_texts), self.n_query, replace=False)]
            s_labels += [label_id] * self.k_shot
            q_labels += [label_id] * self.n_query
        return Episode(support, s_labels, query, q_labels, chosen, query_lang, support_lang)

    def episodes(self, start: int, count: int) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + count)]


def usable_languages(corpus: Corpus, n_way: int, k_shot: int, n_query: int) -> list[str]:
    """Languages that can give an N-way K-shot episode (used to pick default training languages)."""
    return [lang for lang in sorted(corpus)
            if len(eligible_labels(drop_ambiguous_texts(corpus[lang]), k_shot + n_query)) >= n_way]
