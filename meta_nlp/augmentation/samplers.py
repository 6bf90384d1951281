"""SMLMT and cross-lingual support: samplers that wrap the episode sampler (see this package's docstring)."""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Protocol

import numpy as np

from meta_nlp.augmentation import MIX_STREAM, SMLMT_STREAM, TRANSLATE_STREAM
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, Episode, language_key
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.data.registry import TaskSpec, find_task, load_pairs
from meta_nlp.data.sources import Pairs
from meta_nlp.errors import MetaNLPError

logger = logging.getLogger(__name__)

# Scripts written without spaces: each character counts as a word (BERT's tokenizer splits them the same way).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD = re.compile(rf"[{CJK}]|(?:(?![{CJK}])[^\W\d_])+")
Translations = dict[tuple[str, str], list[tuple[str, str]]]  # (language, text) -> its (language, translation)s


class Sampler(Protocol):
    def episode(self, index: int, **kwargs) -> Episode: ...


class SamplerWrapper:
    """Behaves like the sampler it wraps (languages, corpus, ...) except for the episodes it changes."""

    def __init__(self, base: Sampler):
        self.base = base

    def __getattr__(self, name: str):
        if name == "base":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)

    def episode(self, index: int, **kwargs) -> Episode:
        return self.changed(self.base.episode(index, **kwargs), index, kwargs.get("language"))

    def cross_lingual_episode(self, index: int, query_language: str | None = None) -> Episode:
        return self.changed(self.base.cross_lingual_episode(index, query_language), index, query_language)

    def changed(self, ep: Episode, index: int, language: str | None) -> Episode:
        """What this wrapper does to episode `index` of the wrapped sampler."""
        return ep

    def episodes(self, start: int, count: int) -> list[Episode]:
        return [self.episode(i) for i in range(start, start + count)]


def stream(seed: int, kind: int, index: int, language: str | None) -> np.random.Generator:
    return np.random.default_rng([seed, kind, index, *([language_key(language)] if language else [])])


# --- SMLMT --------------------------------------------------------------------------------------


def unlabelled_texts(corpus: Corpus) -> dict[str, list[str]]:
    """language -> its sentences without labels (both sides of a text pair), each once."""
    return {lang: list(dict.fromkeys(part for texts in by_label.values() for text in texts
                                     for part in (text if isinstance(text, tuple) else (text,))))
            for lang, by_label in corpus.items()}


def masked(text: str, word: str, mask: str) -> str:
    """`text` with every occurrence of `word` (any case, whole words only) replaced by the mask token."""
    return WORD.sub(lambda m: mask if m.group().casefold() == word else m.group(), text)


def sentences_by_word(texts: list[str], per_word: int, mask: str) -> dict[str, list[int]]:
    """word (casefolded) -> ids of the texts that can serve its class: the word occurs, and once masked it is not
    left as part of another word ('the' in 'other'), which would give the label away. Words with fewer than
    `per_word` such texts are dropped; texts that mask to the same string count once."""
    candidates: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for word in {w.casefold() for w in WORD.findall(text)}:
            candidates.setdefault(word, []).append(i)
    usable = {}
    for word, ids in candidates.items():
        if len(ids) < per_word:
            continue
        by_masked: dict[str, int] = {}
        for i in ids:
            m = masked(texts[i], word, mask)
            if word not in m.replace(mask, " ").casefold():
                by_masked.setdefault(m, i)
        if len(by_masked) >= per_word:
            usable[word] = list(by_masked.values())
    return usable


class SMLMTSampler:
    """Self-supervised N-way K-shot episodes (SMLMT) from unlabelled sentences: N words, K+Q sentences for each
    with the word replaced by the mask token; label = the word. Support and query never share a sentence."""

    def __init__(self, texts: dict[str, list[str]], mask_token: str, n_way: int, k_shot: int, n_query: int,
                 seed: int):
        self.n_way, self.k_shot, self.n_query, self.seed, self.mask = n_way, k_shot, n_query, seed, mask_token
        self.texts = {lang: list(dict.fromkeys(t)) for lang, t in sorted(texts.items())}
        per_word = k_shot + n_query
        self.sentences = {lang: sentences_by_word(t, per_word, mask_token) for lang, t in self.texts.items()}
        self.languages = [lang for lang, words in self.sentences.items() if len(words) >= n_way]
        if not self.languages:
            raise MetaNLPError(f"--smlmt-ratio: no training language has {n_way} words that occur in {per_word} "
                               "sentences each; lower --n-way, --k-shot or --n-query")
        self.words = {lang: sorted(self.sentences[lang]) for lang in self.languages}

    def episode(self, index: int, language: str | None = None) -> Episode:
        rng = stream(self.seed, SMLMT_STREAM, index, language)
        if language is None:
            language = self.languages[rng.integers(len(self.languages))]
        elif language not in self.words:
            raise MetaNLPError(f"SMLMT has no language {language!r}; have: {', '.join(self.languages)}")
        words = self.words[language]
        chosen = [words[i] for i in rng.choice(len(words), self.n_way, replace=False)]  # random order: permuted ids
        support, s_labels, query, q_labels = [], [], [], []
        for label_id, word in enumerate(chosen):
            ids = self.sentences[language][word]
            picks = rng.choice(len(ids), self.k_shot + self.n_query, replace=False)
            texts = [masked(self.texts[language][ids[j]], word, self.mask) for j in picks]
            support += texts[: self.k_shot]
            query += texts[self.k_shot:]
            s_labels += [label_id] * self.k_shot
            q_labels += [label_id] * self.n_query
        return Episode(support, s_labels, query, q_labels, chosen, language)


class MixedSampler(SamplerWrapper):
    """Episode `index` is an SMLMT episode with probability `ratio`, decided by (seed, index) alone, else the
    wrapped sampler's. A `language` SMLMT cannot serve gets the wrapped sampler's episode."""

    def __init__(self, base: Sampler, smlmt: SMLMTSampler, ratio: float, seed: int):
        super().__init__(base)
        self.smlmt, self.ratio, self.seed = smlmt, ratio, seed

    def is_smlmt(self, index: int) -> bool:
        return bool(np.random.default_rng([self.seed, MIX_STREAM, index]).random() < self.ratio)

    def episode(self, index: int, **kwargs) -> Episode:
        language, ways = kwargs.get("language"), kwargs.get("ways")
        if self.is_smlmt(index) and (language is None or language in self.smlmt.languages) \
                and ways in (None, self.smlmt.n_way):
            return self.smlmt.episode(index, language=language)
        return self.base.episode(index, **kwargs)


# --- cross-lingual support ----------------------------------------------------------------------


def translations_through_pivot(pairs: dict[str, Pairs], pivot: str) -> Translations:
    """Every text's translations in the other languages: texts paired with the same pivot sentence translate
    each other (ja <-> en <-> it), and the pivot sentence translates them all."""
    groups: dict[str, set[tuple[str, str]]] = {}
    for lang, lang_pairs in pairs.items():
        for text, pivot_text in lang_pairs:
            groups.setdefault(pivot_text, {(pivot, pivot_text)}).add((lang, text))
    table: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for members in groups.values():
        for member in members:
            table.setdefault(member, set()).update(m for m in members if m[0] != member[0])
    return {member: sorted(others) for member, others in table.items() if others}


class CrossLingualSupport(SamplerWrapper):
    """Replaces `ratio` of each episode's translatable support examples by a translation (label kept). The count
    is rounded at random, so the expected share is exactly `ratio`; a translation already in the episode is
    not used (it would duplicate an example, or put a query text in the support set)."""

    def __init__(self, base: Sampler, translations: Translations, ratio: float, seed: int):
        super().__init__(base)
        self.translations, self.ratio, self.seed = translations, ratio, seed

    def changed(self, ep: Episode, index: int, language: str | None) -> Episode:
        rng = stream(self.seed, TRANSLATE_STREAM, index, language)
        used = set(ep.support_texts) | set(ep.query_texts)
        options = [[t for _, t in self.translations.get((ep.support_language, text), []) if t not in used]
                   if isinstance(text, str) else [] for text in ep.support_texts]
        candidates = [i for i, o in enumerate(options) if o]
        count = int(np.floor(self.ratio * len(candidates) + rng.random()))
        texts = list(ep.support_texts)
        for i in sorted(rng.choice(candidates, count, replace=False)) if count else ():
            fresh = [t for t in options[i] if t not in used]
            if fresh:
                texts[i] = fresh[rng.integers(len(fresh))]
                used.add(texts[i])
        return replace(ep, support_texts=texts)


def parallel_task_of(task: TaskSpec, cfg: MetaConfig) -> TaskSpec:
    """The task's `parallel_task`, read with the same --data-dir (a local copy of SIB-200 serves both)."""
    if not task.parallel_task:
        raise MetaNLPError(f"--cross-lingual-support-ratio needs translations, but {task.path} has no field "
                           "'parallel_task' (a translation_ranking task with this task's languages)")
    try:
        parallel = find_task(task.parallel_task, cfg.task_dir, cfg.data_dir)
    except MetaNLPError as e:
        raise MetaNLPError(f"{task.path}: field 'parallel_task': {e}") from None
    if parallel.type != "translation_ranking":
        raise MetaNLPError(f"{task.path}: field 'parallel_task' names {parallel.name}, a {parallel.type} task; "
                           "it must be a translation_ranking task")
    return parallel


def training_translations(cfg: MetaConfig, split: LanguageSplit, why: str) -> tuple[Translations, str]:
    """(translations between the training languages from the task's parallel data, its pivot language). The held-out
    languages are never read, not even as the pivot (`why` names what asked, in the error)."""
    parallel = parallel_task_of(split.task, cfg)
    pivot = parallel.reader.pivot
    if pivot in cfg.held_out_language:
        raise MetaNLPError(f"{why}: {parallel.name} pairs every language with {pivot}, which is held out and cannot "
                           "be read before the final evaluation")
    languages = [lang for lang in split.train if lang != pivot and lang in parallel.languages()]
    assert not set(languages) & set(cfg.held_out_language), "held-out language read for translations"
    return translations_through_pivot({lang: load_pairs(parallel, lang, pivot) for lang in languages}, pivot), pivot


def support_translations(cfg: MetaConfig, split: LanguageSplit) -> Translations:
    """Translations between training languages from the task's parallel data; a translation that is a
    meta-validation text is not used (it would leak)."""
    table, _ = training_translations(cfg, split, "--cross-lingual-support-ratio")
    val_texts = {(lang, text) for lang, by_label in split.val.items() for texts in by_label.values() for text in texts}
    table = {key: kept for key, others in table.items()
             if (kept := [t for t in others if t[0] in split.train and t not in val_texts])}
    for lang in split.train:
        texts = {t for texts in split.train[lang].values() for t in texts}
        share = sum((lang, t) in table for t in texts) / max(1, len(texts))
        logger.info("cross-lingual support: %.0f%% of %s's training texts have a translation", 100 * share, lang)
    return table


# --- what the trainer uses ----------------------------------------------------------------------


def smlmt_sampler(cfg: MetaConfig, split: LanguageSplit, tokenizer) -> SMLMTSampler:
    mask = getattr(tokenizer, "mask_token", None)
    if not mask:
        raise MetaNLPError(f"--smlmt-ratio needs a tokenizer with a mask token; the one of {cfg.model} has none")
    return SMLMTSampler(unlabelled_texts(split.train), mask, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.training_seed)


def training_sampler(cfg: MetaConfig, split: LanguageSplit, tokenizer) -> Sampler:
    """The meta-training sampler with the augmentations `cfg` asks for: cross-lingual support on the labelled
    episodes, then SMLMT episodes mixed in. Meta-validation is never augmented: selection sees real tasks."""
    sampler: Sampler = split.train_sampler(cfg)
    if cfg.cross_lingual_support_ratio > 0:
        sampler = CrossLingualSupport(sampler, support_translations(cfg, split), cfg.cross_lingual_support_ratio,
                                      cfg.training_seed)
    if cfg.smlmt_ratio > 0:
        sampler = MixedSampler(sampler, smlmt_sampler(cfg, split, tokenizer), cfg.smlmt_ratio, cfg.training_seed)
    return sampler
