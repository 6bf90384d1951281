"""Translation-ranking episodes: pick a sentence's translation among N candidates.

A translation_ranking task gives (sentence in language X, its translation in the pivot language)
pairs. An N-way K-shot episode draws N·(K+Q) distinct pairs of one language and cuts them into
groups of N: K support groups and Q query groups. Within a group, every X sentence must pick its
own translation among the group's N pivot sentences, so the label of a sentence is the position
of its translation in its group (random, since the pairs are drawn in random order). The support
groups are the K translation pairs per "class" the model adapts on; accuracy is N-way over the
query groups. Episodes are, like EpisodeSampler's, a pure function of (seed, index[, language]).

Full retrieval (Tatoeba's measure) is `retrieval_accuracy`: every sentence of the language
against all candidates, in both directions.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from meta_nlp.data.episodes import Episode, episode_rng
from meta_nlp.data.sources import Pairs
from meta_nlp.errors import MetaNLPError

PairCorpus = dict[str, Pairs]  # language -> (sentence, pivot translation) pairs


def distinct_pairs(pairs: Pairs) -> Pairs:
    """Pairs whose sentence and translation each occur once: a repeated sentence or translation would make
    two candidates of a group equally right."""
    seen_x: dict[str, int] = {}
    seen_t: dict[str, int] = {}
    for x, t in pairs:
        seen_x[x] = seen_x.get(x, 0) + 1
        seen_t[t] = seen_t.get(t, 0) + 1
    return [(x, t) for x, t in pairs if seen_x[x] == 1 and seen_t[t] == 1 and x.strip() and t.strip()]


def split_pairs_for_validation(corpus: PairCorpus, fraction: float, seed: int) -> tuple[PairCorpus, PairCorpus]:
    """Hold back about `fraction` of every language's pairs for meta-validation: those whose pivot sentence is
    held back (`pivot_held_back`), the same sentences in every language. Why: every language is paired with
    the same pivot, and where the pivot sides coincide (SIB-200's and chatterbot's parallel rows, CLDR's English
    names) a sample drawn per language holds a pair back in one language and meta-trains on its pivot sentence
    in another, so validation would score candidates meta-training has read."""
    train: PairCorpus = {}
    val: PairCorpus = {}
    for lang in sorted(corpus):
        held = [pivot_held_back(t, fraction, seed) for _, t in corpus[lang]]
        val[lang] = [pair for pair, h in zip(corpus[lang], held) if h]
        train[lang] = [pair for pair, h in zip(corpus[lang], held) if not h]
    return train, val


def pivot_held_back(pivot: str, fraction: float, seed: int) -> bool:
    """Whether meta-validation holds back this pivot sentence: a draw from (seed, its text) alone, so the
    answer is the same in every language and the share of held-back pairs is `fraction` up to sampling."""
    return pivot_place(pivot, f"validation {seed}") < fraction


def pivot_place(pivot: str, purpose: str) -> float:
    """A pivot sentence's place in [0, 1): a hash of (purpose, its text), uniform over sentences and the same in
    every language and process. A task's `pivot_part` keeps the pairs whose place (purpose 'part') is in its range;
    meta-validation holds back those below its fraction (purpose 'validation <seed>', independent of the part)."""
    digest = hashlib.blake2b(f"{purpose}\0{pivot}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def pivots_read(read: list[PairCorpus]) -> set[str]:
    """The pivot sentences of every pair in `read` (what meta-training and model selection read)."""
    return {pivot for corpus in read for language_pairs in corpus.values() for _, pivot in language_pairs}


def share_of_pivots_read(pairs: Pairs, seen: set[str]) -> float:
    """The share of `pairs` (a held-out language's) whose pivot sentence is in `seen` (`pivots_read` of what
    meta-training and model selection read): its evaluation candidates seen in training. Where languages share
    pivot sentences (parallel corpora: every chatterbot and SIB-200 candidate), only a task read in disjoint
    `pivot_part`s brings it to 0."""
    return sum(pivot in seen for _, pivot in pairs) / len(pairs) if pairs else 0.0


def pairs_needed(n_way: int, k_shot: int, n_query: int) -> int:
    return n_way * (k_shot + n_query)


def usable_pair_languages(corpus: PairCorpus, n_way: int, k_shot: int, n_query: int) -> list[str]:
    need = pairs_needed(n_way, k_shot, n_query)
    return [lang for lang in sorted(corpus) if len(distinct_pairs(corpus[lang])) >= need]


class RankingSampler:
    """Deterministic translation-ranking episodes: `sampler.episode(i)` is the same for a given seed.
    max_way (`MetaConfig.train_ways`; 0: n_way): groups of up to max_way candidates, as many as the language's pairs
    fill (never fewer than n_way); the episode's support and query groups are all of that size."""

    def __init__(self, corpus: PairCorpus, n_way: int, k_shot: int, n_query: int, seed: int, what: str = "training",
                 max_way: int = 0):
        self.n_way, self.k_shot, self.n_query, self.seed, self.what = n_way, k_shot, n_query, seed, what
        self.max_way = max_way or n_way
        self.corpus = {lang: distinct_pairs(pairs) for lang, pairs in sorted(corpus.items())}
        self.languages = sorted(self.corpus)
        if not self.languages:
            raise MetaNLPError(f"no {what} language left")
        need = pairs_needed(n_way, k_shot, n_query)
        for lang, pairs in self.corpus.items():
            if len(pairs) < need:
                raise MetaNLPError(
                    f"{what} language {lang!r} has {len(pairs)} distinct translation pairs; an {n_way}-way "
                    f"{k_shot}-shot episode with {n_query} query groups needs n_way*(k_shot+n_query)={need}; "
                    "lower --n-way, --k-shot or --n-query")

    def episode(self, index: int, language: str | None = None) -> Episode:
        rng, language = episode_rng(self.seed, index, language, self.languages, self.what)
        pairs = self.corpus[language]
        ways = min(self.max_way, len(pairs) // (self.k_shot + self.n_query))
        picks = [pairs[j] for j in rng.choice(len(pairs), pairs_needed(ways, self.k_shot, self.n_query), replace=False)]
        support, query = picks[:ways * self.k_shot], picks[ways * self.k_shot:]
        # Candidates of a group are its own translations in a fresh random order: label = where each one went.
        s_texts, s_targets, s_labels = grouped(support, ways, rng)
        q_texts, q_targets, q_labels = grouped(query, ways, rng)
        return Episode(s_texts, s_labels, q_texts, q_labels, [f"candidate {j}" for j in range(ways)], language,
                       support_targets=s_targets, query_targets=q_targets)

    def cross_lingual_episode(self, index: int, query_language: str | None = None) -> Episode:
        raise MetaNLPError("cross-lingual episodes (--cross-lingual-episodes, --pseudo-target-queries, "
                           "--eval-mode zero_shot) need a classification task; a translation pair is already cross-lingual")

    def episodes(self, start: int, count: int) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + count)]


def grouped(pairs: Pairs, ways: int, rng: np.random.Generator) -> tuple[list[str], list[str], list[int]]:
    """(sentences, candidates, labels) of `pairs` cut into groups of `ways`: each group's candidates are its own
    translations in a fresh random order, and a sentence's label is the slot its translation went to."""
    texts, targets, labels = [], [], []
    for g in range(0, len(pairs), ways):
        group = pairs[g: g + ways]
        order = rng.permutation(ways)  # candidate slot j holds the translation of sentence order[j]
        texts += [x for x, _ in group]
        targets += [group[i][1] for i in order]
        slot_of = np.argsort(order)
        labels += [int(slot_of[i]) for i in range(ways)]
    return texts, targets, labels


@torch.no_grad()
def retrieval_accuracy(embed, pairs: Pairs, batch_size: int = 128) -> dict:
    """Tatoeba's measure over all of a language's pairs: the share of sentences whose nearest neighbour
    (cosine) among all candidates of the other side is their own translation, both directions.
    `embed(texts) -> [n, d]` L2-normalised embeddings (the model without adaptation)."""
    pairs = distinct_pairs(pairs)
    xs = torch.cat([embed([x for x, _ in pairs[i: i + batch_size]]) for i in range(0, len(pairs), batch_size)])
    ts = torch.cat([embed([t for _, t in pairs[i: i + batch_size]]) for i in range(0, len(pairs), batch_size)])
    sim = xs.float() @ ts.float().t()
    gold = torch.arange(len(pairs), device=sim.device)
    return {"to_pivot": float((sim.argmax(1) == gold).float().mean()),
            "from_pivot": float((sim.argmax(0) == gold).float().mean()), "n_pairs": len(pairs)}
