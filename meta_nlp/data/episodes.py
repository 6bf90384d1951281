"""N-way K-shot episodes: one language per episode, label ids permuted, support/query disjoint.

An episode is a pure function of (seed, index): the same seed gives the same episodes to
every method and baseline, on any number of processes, before and after a resume.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    language: str


def drop_ambiguous_texts(by_label: dict[str, list[str]]) -> dict[str, list[str]]:
    """Remove texts filed under more than one label ("Hello" in greetings and conversations)."""
    counts: dict[str, int] = {}
    for texts in by_label.values():
        for t in set(texts):
            counts[t] = counts.get(t, 0) + 1
    return {label: [t for t in texts if counts[t] == 1] for label, texts in by_label.items()}


def split_for_validation(corpus: Corpus, fraction: float, seed: int) -> tuple[Corpus, Corpus]:
    """Hold back `fraction` of every (language, label) for meta-validation (training-domain validation)."""
    train: Corpus = {}
    val: Corpus = {}
    for lang in sorted(corpus):
        train[lang], val[lang] = {}, {}
        for i, label in enumerate(sorted(corpus[lang])):
            texts = list(corpus[lang][label])
            order = np.random.default_rng([seed, 7, i, len(texts)]).permutation(len(texts))
            n_val = int(round(fraction * len(texts)))
            val[lang][label] = [texts[j] for j in order[:n_val]]
            train[lang][label] = [texts[j] for j in order[n_val:]]
    return train, val


def eligible_labels(by_label: dict[str, list[str]], per_class: int) -> list[str]:
    return sorted(label for label, texts in by_label.items() if len(texts) >= per_class)


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
    """Deterministic episodes from a corpus: `sampler.episode(i)` is the same for a given seed."""

    def __init__(self, corpus: Corpus, n_way: int, k_shot: int, n_query: int, seed: int, what: str = "training"):
        self.n_way, self.k_shot, self.n_query, self.seed = n_way, k_shot, n_query, seed
        self.corpus = {lang: drop_ambiguous_texts(by_label) for lang, by_label in corpus.items()}
        self.languages = sorted(self.corpus)
        if not self.languages:
            raise MetaNLPError(f"no {what} language left")
        for lang in self.languages:
            check_language(lang, self.corpus[lang], n_way, k_shot, n_query, what)
        self._labels = {lang: eligible_labels(self.corpus[lang], k_shot + n_query) for lang in self.languages}

    def episode(self, index: int) -> Episode:
        rng = np.random.default_rng([self.seed, index])
        lang = self.languages[rng.integers(len(self.languages))]
        chosen = [self._labels[lang][i] for i in rng.choice(len(self._labels[lang]), self.n_way, replace=False)]
        support, s_labels, query, q_labels = [], [], [], []
        for label_id, label in enumerate(chosen):  # chosen is in random order: ids are permuted per episode
            texts = self.corpus[lang][label]
            picks = rng.choice(len(texts), self.k_shot + self.n_query, replace=False)
            support += [texts[j] for j in picks[: self.k_shot]]
            query += [texts[j] for j in picks[self.k_shot:]]
            s_labels += [label_id] * self.k_shot
            q_labels += [label_id] * self.n_query
        return Episode(support, s_labels, query, q_labels, chosen, lang)

    def episodes(self, start: int, count: int) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + count)]


def usable_languages(corpus: Corpus, n_way: int, k_shot: int, n_query: int) -> list[str]:
    """Languages that can give an N-way K-shot episode (used to pick default training languages)."""
    return [lang for lang in sorted(corpus)
            if len(eligible_labels(drop_ambiguous_texts(corpus[lang]), k_shot + n_query)) >= n_way]
