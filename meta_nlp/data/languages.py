"""Which languages are meta-train, meta-validation and held out.

The held-out language is never read here: `prepare_languages` loads the training languages
only, and `load_held_out` is called by the final evaluation alone. In zero-shot evaluation
(--eval-mode zero_shot) the held-out episodes take their support set from the source language
and meta-validation mirrors that: support in one training language, query in another.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, EpisodeSampler, split_for_validation, usable_languages
from meta_nlp.data.registry import TaskSpec, find_task, load_corpus
from meta_nlp.errors import MetaNLPError

logger = logging.getLogger(__name__)
VAL_SEED_OFFSET = 1  # meta-validation episodes: seed + 1
TEST_SEED_OFFSET = 2  # held-out evaluation episodes: seed + 2 (the same for every method)


@dataclass
class LanguageSplit:
    task: TaskSpec
    train: Corpus
    val: Corpus
    held_out: list[str]  # names only: no data

    def train_sampler(self, cfg: MetaConfig) -> EpisodeSampler:
        return EpisodeSampler(self.train, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed,
                              cross_lingual=cfg.cross_lingual_episodes)

    def val_sampler(self, cfg: MetaConfig) -> EpisodeSampler:
        usable = usable_languages(self.val, cfg.n_way, cfg.k_shot, cfg.n_query)
        if not usable:
            raise MetaNLPError(
                f"no training language keeps {cfg.n_way} classes with {cfg.k_shot + cfg.n_query} examples in its "
                f"meta-validation share (--val-fraction {cfg.val_fraction}); raise --val-fraction or lower --n-query")
        # Selection mirrors the final evaluation: zero-shot is validated across training languages
        # (support from the source when it is one); a single training language can only validate in-language.
        cross = cfg.eval_mode == "zero_shot" and len(usable) > 1
        source = cfg.zero_shot_source if cross and cfg.zero_shot_source in usable else None
        return EpisodeSampler({lang: self.val[lang] for lang in usable}, cfg.n_way, cfg.k_shot, cfg.n_query,
                              cfg.seed + VAL_SEED_OFFSET, what="meta-validation", cross_lingual=cross,
                              support_language=source)


def task_of(cfg: MetaConfig) -> TaskSpec:
    """The run's task (with --data-dir applied), checked to be one meta-training can learn."""
    task = find_task(cfg.task, cfg.task_dir, cfg.data_dir)
    if task.type not in ("classification", "pair_classification"):
        raise MetaNLPError(f"task {task.name}: {task.type} tasks are not supported by meta_train yet")
    return task


def training_language_names(cfg: MetaConfig, task: TaskSpec) -> tuple[list[str], bool]:
    """(languages, chosen_by_user). Held-out languages are excluded and checked to exist."""
    known = task.languages()
    for lang in cfg.held_out_language + cfg.train_languages:
        if lang not in known:
            raise MetaNLPError(f"task {task.name} has no language {lang!r}; available: {', '.join(known)}")
    if cfg.train_languages:
        return list(cfg.train_languages), True
    return [lang for lang in known if lang not in cfg.held_out_language], False


def prepare_languages(cfg: MetaConfig) -> LanguageSplit:
    task = task_of(cfg)
    names, by_user = training_language_names(cfg, task)
    assert not set(names) & set(cfg.held_out_language), "held-out language leaked into training"
    corpus = load_corpus(task, names)
    train, val = split_for_validation(corpus, cfg.val_fraction, cfg.seed)
    usable = usable_languages(train, cfg.n_way, cfg.k_shot, cfg.n_query)
    if by_user:
        EpisodeSampler({lang: train[lang] for lang in names}, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed)  # raises
    skipped = sorted(set(names) - set(usable))
    if skipped:
        logger.info("skipping languages too small for %d-way %d-shot: %s", cfg.n_way, cfg.k_shot, ", ".join(skipped))
    if not usable:
        raise MetaNLPError(f"no training language has {cfg.n_way} classes with {cfg.k_shot + cfg.n_query} examples")
    return LanguageSplit(task, {lang: train[lang] for lang in usable}, {lang: val[lang] for lang in usable},
                         list(cfg.held_out_language))


def load_held_out(cfg: MetaConfig, language: str) -> EpisodeSampler:
    """The held-out language's episodes: read only by the final evaluation. Zero-shot: support
    from --zero-shot-source, query from the held-out language, over the labels they share."""
    task = task_of(cfg)
    if cfg.eval_mode == "zero_shot":
        corpus = load_corpus(task, [cfg.zero_shot_source, language])
        return EpisodeSampler(corpus, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + TEST_SEED_OFFSET,
                              what="zero-shot", cross_lingual=True, support_language=cfg.zero_shot_source)
    corpus = load_corpus(task, [language])
    return EpisodeSampler(corpus, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + TEST_SEED_OFFSET, what="held-out")
