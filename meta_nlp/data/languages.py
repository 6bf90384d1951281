"""Which languages are meta-train, meta-validation and held out.

The held-out language is never read here: `prepare_languages` loads the training languages
only, and `load_held_out` is called by the final evaluation alone. In zero-shot evaluation
(--eval-mode zero_shot) the held-out episodes take their support set from the source language
and meta-validation mirrors that: support in one training language, query in another.
A translation_ranking task's languages are the ones paired with its pivot (English); the pivot
itself is on both sides of every pair, so it is neither a training nor a held-out language.
Tasks spell one language differently (chatterbot `ja`, SIB-200 `jpn_Jpan`, Tatoeba `jpn`; `zh`,
`zh-Hant`, `cmn`): a training language that names a held-out or validation language in another
code or script is kept out of meta-training with it (`same_language`), and a validation language
must not name a held-out one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from babel.core import get_global

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, EpisodeSampler, split_for_validation, usable_languages
from meta_nlp.data.ranking import PairCorpus, RankingSampler, split_pairs_for_validation, usable_pair_languages
from meta_nlp.data.registry import TaskSpec, check_known, find_task, load_corpus, load_pairs
from meta_nlp.errors import MetaNLPError

logger = logging.getLogger(__name__)
VAL_SEED_OFFSET = 1  # meta-validation episodes: seed + 1
TEST_SEED_OFFSET = 2  # held-out evaluation episodes: seed + 2 (the same for every method)
QUIZ_SEED_OFFSET = 3  # distillation's quiz rows and episodes: seed + 3


# Model selection's validation episodes (the checkpoint and the test-time rule): from the training languages'
# --val-fraction share, or from --validation-languages that meta-training never sees (DomainBed's
# leave-one-domain-out selection: it rewards what transfers to an unseen language), or from --validation-labels
# that meta-training never sees (novel classes: it rewards what transfers to an unseen label set).
TRAINING_LANGUAGES, VALIDATION_LANGUAGES = "training-languages", "validation-languages"
VALIDATION_LABELS = "validation-labels"
COMPARED_RULE_MARK = "@"  # '<algorithm>@<rule>': the meta-learner as a rule other than the run's own selected it


def compared_method(algorithm: str, rule: str) -> str:
    """The name of the row of `algorithm` selected on `rule`'s validation episodes instead of the run's own."""
    return f"{algorithm}{COMPARED_RULE_MARK}{rule}"


def compared_rule(method: str) -> str | None:
    """The selection rule of a `compared_method` row; None for a row the run's own rule selected."""
    return method.split(COMPARED_RULE_MARK, 1)[1] if COMPARED_RULE_MARK in method else None


@dataclass
class LanguageSplit:
    task: TaskSpec
    train: Corpus | PairCorpus
    val: Corpus | PairCorpus  # the training languages' meta-validation share
    held_out_val: Corpus | PairCorpus | None = None  # every row of the --validation-languages (or --validation-labels)
    held_out_val_rule: str = VALIDATION_LANGUAGES  # which of the two `held_out_val` holds

    @property
    def ranking(self) -> bool:
        return self.task.type == "translation_ranking"

    def corpora_read(self) -> list[Corpus | PairCorpus]:
        """Everything meta-training and model selection read (the held-out languages are not among them)."""
        return [corpus for corpus in (self.train, self.val, self.held_out_val) if corpus is not None]

    @property
    def selection_rules(self) -> list[str]:
        """The validation sets that select models, the run's own first (the others are scored for comparison)."""
        return [self.held_out_val_rule, TRAINING_LANGUAGES] if self.held_out_val is not None else [TRAINING_LANGUAGES]

    def train_sampler(self, cfg: MetaConfig) -> EpisodeSampler | RankingSampler:
        if self.ranking:
            return RankingSampler(self.train, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.training_seed,
                                  max_way=cfg.train_ways)
        return EpisodeSampler(self.train, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.training_seed,
                              cross_lingual=cfg.cross_lingual_episodes, max_way=cfg.train_ways)

    def val_sampler(self, cfg: MetaConfig, rule: str | None = None) -> EpisodeSampler | RankingSampler:
        """Meta-validation episodes of a selection rule (default: the run's own, the first of `selection_rules`)."""
        rule = rule or self.selection_rules[0]
        corpus = self.val if rule == TRAINING_LANGUAGES else self.held_out_val
        usable = usable_in(self.task, corpus, cfg)
        if not usable:
            need = f"{cfg.n_way * (cfg.k_shot + cfg.n_query)} translation pairs" if self.ranking else \
                f"{cfg.n_way} classes with {cfg.k_shot + cfg.n_query} examples"
            if rule == VALIDATION_LANGUAGES:
                raise MetaNLPError(f"no --validation-languages language has {need}: name another one")
            if rule == VALIDATION_LABELS:
                raise MetaNLPError(f"no training language has {need} among the --validation-labels: name at least "
                                   f"--n-way ({cfg.n_way}) labels that the training languages share")
            raise MetaNLPError(f"no training language keeps {need} in its meta-validation share (--val-fraction "
                               f"{cfg.val_fraction}); raise --val-fraction or lower --n-query")
        if self.ranking:
            return RankingSampler({lang: corpus[lang] for lang in usable}, cfg.n_way, cfg.k_shot, cfg.n_query,
                                  cfg.seed + VAL_SEED_OFFSET, what="meta-validation")
        # Selection mirrors the final evaluation: zero-shot is validated across training languages
        # (support from the source when it is one); a single training language can only validate in-language.
        cross = cfg.eval_mode == "zero_shot" and len(usable) > 1
        source = cfg.zero_shot_source if cross and cfg.zero_shot_source in usable else None
        return EpisodeSampler({lang: corpus[lang] for lang in usable}, cfg.n_way, cfg.k_shot, cfg.n_query,
                              cfg.seed + VAL_SEED_OFFSET, what="meta-validation", cross_lingual=cross,
                              support_language=source)


def base_language(code: str) -> str:
    """The language a code names, whatever its code system or script: its ISO 639-1 code where CLDR has one
    ('jpn_Jpan', 'jpn', 'ja' -> 'ja'; 'zho_Hans', 'cmn', 'zh-Hant' -> 'zh'; 'hi-Latn' -> 'hi')."""
    language = code.replace("-", "_").split("_")[0].casefold()
    alias = get_global("language_aliases").get(language)
    return alias.replace("-", "_").split("_")[0] if alias else language


def same_language(lang: str, held_out: list[str]) -> str | None:
    """The held-out language that `lang` names in another code or script (or is), else None."""
    return next((h for h in held_out if base_language(h) == base_language(lang)), None)


def training_tasks(cfg: MetaConfig) -> list[TaskSpec]:
    """--task: one task (with --data-dir applied), or several (comma-separated) of one kind, met in this order."""
    names = cfg.task.split(",")
    tasks = [find_task(name, cfg.task_dir, cfg.data_dir) for name in names]
    kinds = {t.type for t in tasks}
    if len(kinds) > 1:
        raise MetaNLPError(f"--task {cfg.task}: the tasks meta-trained together must be of one kind, not "
                           f"{' and '.join(sorted(kinds))}")
    return tasks


def task_language(task: str, language: str) -> str:
    """How a language of one of several training tasks is named: 'task:language' (each is a domain of its own)."""
    return f"{task}:{language}"


def task_of(cfg: MetaConfig) -> TaskSpec:
    """The run's task (the first of several), checked to be one meta-training can learn."""
    task = training_tasks(cfg)[0]
    if task.type == "translation_ranking":
        asked = [flag for flag, on in (("--cross-lingual-episodes", cfg.cross_lingual_episodes),
                                       ("--pseudo-target-queries", cfg.pseudo_target_queries),
                                       ("--eval-mode zero_shot", cfg.eval_mode == "zero_shot"),
                                       ("--smlmt-ratio", cfg.smlmt_ratio > 0),
                                       ("--cross-lingual-support-ratio", cfg.cross_lingual_support_ratio > 0),
                                       ("--backend higher", cfg.backend == "higher"),
                                       ("--baselines setfit", "setfit" in cfg.baselines)) if on]
        if asked:
            raise MetaNLPError(f"task {task.name} is a translation_ranking task: {asked[0]} applies to classification "
                               "tasks only")
    if cfg.mlti_ratio > 0 and cfg.train_ways > cfg.n_way and (task.type == "translation_ranking"
                                                                or cfg.cross_lingual_episodes):
        raise MetaNLPError("--mlti-ratio mixes two meta-training episodes class by class, so they need one size, and "
                           "only in-language classification episodes can be drawn with a given number of classes: add "
                           "--train-n-way 0 (every episode --n-way classes; --meta-batch-size 2 keeps the texts a step)")
    return task


def held_out_task_of(cfg: MetaConfig) -> TaskSpec:
    """The task of the final evaluation: --held-out-task (never meta-trained on), else the run's own task (the
    first of several)."""
    trained = task_of(cfg)
    if cfg.held_out_task is None:
        return trained
    task = find_task(cfg.held_out_task, cfg.task_dir, cfg.held_out_data_dir)
    if task.type != trained.type:
        raise MetaNLPError(f"--held-out-task {task.name} is a {task.type} task and --task {trained.name} a "
                           f"{trained.type} task: meta-training prepares for tasks of its own kind")
    return task


def pivot_of(task: TaskSpec) -> str | None:
    """The pivot language of a translation_ranking task (every pair has it on one side), else None."""
    return task.reader.pivot if task.type == "translation_ranking" else None


def read_training_data(task: TaskSpec, languages: list[str]) -> Corpus | PairCorpus:
    """The languages' labelled texts, or for a translation_ranking task their pairs with the pivot."""
    if task.type == "translation_ranking":
        return {lang: load_pairs(task, lang) for lang in languages}
    return load_corpus(task, languages)


def usable_in(task: TaskSpec, corpus: Corpus | PairCorpus, cfg: MetaConfig) -> list[str]:
    """Languages of `corpus` that can give an N-way K-shot episode of the task's type."""
    usable = usable_pair_languages if task.type == "translation_ranking" else usable_languages
    return usable(corpus, cfg.n_way, cfg.k_shot, cfg.n_query)


def training_language_names(cfg: MetaConfig, task: TaskSpec) -> tuple[list[str], bool]:
    """(languages, chosen_by_user). Held-out and validation languages are excluded and checked to exist."""
    pivot = pivot_of(task)
    known = [lang for lang in task.languages() if lang != pivot]
    own_held_out = [] if cfg.held_out_task else cfg.held_out_language  # a held-out task's are checked against it
    for lang in own_held_out + cfg.train_languages + cfg.validation_languages:
        if lang == pivot:
            raise MetaNLPError(f"task {task.name}: {lang!r} is the pivot language of every pair; pick another language")
        if lang not in known:
            raise MetaNLPError(f"task {task.name} has no language {lang!r}; available: {', '.join(known)}")
    if cfg.train_languages:
        check_trainable(task.name, cfg.train_languages, cfg)
        return list(cfg.train_languages), True
    return trainable(task.name, known, cfg), False


def kept_out_as(lang: str, cfg: MetaConfig) -> tuple[str, str] | None:
    """('held-out' or 'validation language', the language of that flag that `lang` is, in any code or script) where
    `lang` must not be meta-trained on, else None."""
    for role, languages in (("held-out", cfg.held_out_language), ("validation language", cfg.validation_languages)):
        named = same_language(lang, languages)
        if named:
            return role, named
    return None


def trainable(task: str, known: list[str], cfg: MetaConfig) -> list[str]:
    """`known` less the held-out and validation languages, in any code or script; those spelled otherwise are
    logged."""
    kept, other_spelling = [], []
    for lang in known:
        kept_out = kept_out_as(lang, cfg)
        if kept_out is None:
            kept.append(lang)
        elif kept_out[1] != lang:
            other_spelling.append(f"{task_language(task, lang)} ({kept_out[0]} {kept_out[1]})")
    if other_spelling:
        logger.info("not meta-trained on, as held-out or validation languages in another code or script: %s",
                    ", ".join(other_spelling))
    return kept


def check_trainable(task: str, languages: list[str], cfg: MetaConfig) -> None:
    """Languages the user asked to meta-train on (of `task`) must not be held out or validation languages, in any
    code or script."""
    for lang in languages:
        kept_out = kept_out_as(lang, cfg)
        if kept_out:
            role, named = kept_out
            how = (f"is {role} {named} in another code or script" if named != lang
                   else "is held out" if role == "held-out" else "is a validation language")
            raise MetaNLPError(f"{task_language(task, lang)} {how}: it cannot be a training language")


def check_validation_not_held_out(cfg: MetaConfig) -> None:
    """Model selection never reads a held-out language, in any code or script (the same name is a config error)."""
    for lang in cfg.validation_languages:
        held = same_language(lang, cfg.held_out_language)
        if held:
            raise MetaNLPError(f"--validation-languages {lang} is held-out {held} in another code or script: "
                               "model selection must not read it")


def several_tasks_corpus(cfg: MetaConfig) -> tuple[list[str], bool, Corpus | PairCorpus]:
    """(names, chosen_by_user, data) of several training tasks: every language of each, named 'task:language', less
    the held-out languages; or the --train-languages, each 'task:language' or a language of every task that has it."""
    names, corpus = [], {}
    for task in training_tasks(cfg):
        pivot = pivot_of(task)
        known = [lang for lang in task.languages() if lang != pivot]
        if cfg.train_languages:
            chosen = [lang for lang in known if lang in cfg.train_languages
                      or task_language(task.name, lang) in cfg.train_languages]
            check_trainable(task.name, chosen, cfg)
        else:
            chosen = trainable(task.name, known, cfg)
        for lang, rows in read_training_data(task, chosen).items():
            names.append(task_language(task.name, lang))
            corpus[names[-1]] = rows
    unknown = [lang for lang in cfg.train_languages if lang not in names and lang not in {n.split(":", 1)[1] for n in names}]
    if unknown:
        raise MetaNLPError(f"no task of --task {cfg.task} has language {unknown[0]!r}; name it 'task:language', "
                           f"e.g. {names[0] if names else 'chatterbot_topics:en'}")
    return names, bool(cfg.train_languages), corpus


def prepare_languages(cfg: MetaConfig) -> LanguageSplit:
    task = task_of(cfg)
    check_validation_not_held_out(cfg)
    if "," in cfg.task:
        names, by_user, corpus = several_tasks_corpus(cfg)
    else:
        names, by_user = training_language_names(cfg, task)
        corpus = read_training_data(task, names)
    if cfg.held_out_task or "," in cfg.task:  # listed now, so that a wrong language fails before training; read later
        check_known(held_out_task_of(cfg), cfg.held_out_language)
    assert not set(names) & set(cfg.held_out_language + cfg.validation_languages), "held-out language leaked into training"
    if cfg.validation_labels:
        corpus, label_val = labels_kept_out(task, corpus, cfg.validation_labels)
    if task.type == "translation_ranking":
        train, val = split_pairs_for_validation(corpus, cfg.val_fraction, cfg.seed)
    else:
        by_position = all(t.validation_split == "by_position" for t in training_tasks(cfg))
        train, val = split_for_validation(corpus, cfg.val_fraction, cfg.seed, by_position)
    usable = usable_in(task, train, cfg)
    if by_user:  # a language the user named must work: the sampler raises the reason it does not
        sampler = RankingSampler if task.type == "translation_ranking" else EpisodeSampler
        sampler({lang: train[lang] for lang in names}, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed)
    skipped = sorted(set(names) - set(usable))
    if skipped:
        logger.info("skipping languages too small for %d-way %d-shot: %s", cfg.n_way, cfg.k_shot, ", ".join(skipped))
    if not usable:
        raise MetaNLPError(f"no training language has {cfg.n_way} classes with {cfg.k_shot + cfg.n_query} examples")
    train, val = {lang: train[lang] for lang in usable}, {lang: val[lang] for lang in usable}
    if cfg.validation_labels:
        logger.info("not meta-trained on, read only by model selection: the labels %s of every training language",
                    ", ".join(cfg.validation_labels))
        return LanguageSplit(task, train, val, {lang: label_val[lang] for lang in usable}, VALIDATION_LABELS)
    held_out_val = read_training_data(task, cfg.validation_languages) if cfg.validation_languages else None
    return LanguageSplit(task, train, val, held_out_val)


def labels_kept_out(task: TaskSpec, corpus: Corpus, labels: list[str]) -> tuple[Corpus, Corpus]:
    """(meta-training's rows, model selection's rows): every training language's rows of the --validation-labels,
    set apart before anything is split or sampled, so that no meta-training or baseline step reads them."""
    if task.type == "translation_ranking":
        raise MetaNLPError(f"--validation-labels keeps a classification task's labels out; {task.name} ranks "
                           "translations and has none")
    known = sorted({label for rows in corpus.values() for label in rows})
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise MetaNLPError(f"--validation-labels {unknown[0]!r} is no label of the training languages; they have: "
                           f"{', '.join(known)}")
    kept = {lang: {label: rows[label] for label in rows if label in labels} for lang, rows in corpus.items()}
    rest = {lang: {label: rows[label] for label in rows if label not in labels} for lang, rows in corpus.items()}
    return rest, kept


def load_held_out(cfg: MetaConfig, language: str) -> EpisodeSampler:
    """The held-out language's episodes: read only by the final evaluation. Zero-shot: support
    from --zero-shot-source, query from the held-out language, over the labels they share."""
    task = held_out_task_of(cfg)
    if task.type == "translation_ranking":
        return RankingSampler({language: load_pairs(task, language)}, cfg.n_way, cfg.k_shot, cfg.n_query,
                              cfg.seed + TEST_SEED_OFFSET, what="held-out")
    if cfg.eval_mode == "zero_shot":
        corpus = load_corpus(task, [cfg.zero_shot_source, language])
        return EpisodeSampler(corpus, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + TEST_SEED_OFFSET,
                              what="zero-shot", cross_lingual=True, support_language=cfg.zero_shot_source)
    corpus = load_corpus(task, [language])
    return EpisodeSampler(corpus, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + TEST_SEED_OFFSET, what="held-out")
