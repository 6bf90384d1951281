"""The rows of model editing (the editing issue): which training-language rows train the classifier to edit, which
train an editor, and which the edits of an evaluation come from, split by *translation group* so that no split
holds a translation of another split's row.

A translation group is the set of a row's translations in the training languages: chatterbot utterances aligned
with the same English one (chatterbot_parallel), SIB-200 rows sharing an `index_id` (sib200_parallel), all
reached through the task's `parallel_task` and its pivot. A row without a known translation is a group of its own.
The held-out languages are never read here, not even as the pivot.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from meta_nlp.augmentation.samplers import parallel_task_of, training_translations
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.data.registry import load_pairs
from meta_nlp.errors import MetaNLPError

EDIT_SPLIT_STREAM = 13  # the random stream that assigns translation groups to the editing splits
Group = str


@dataclass
class EditSplit:
    base: LanguageSplit  # the classifier to edit trains and is selected on these (editor rows removed)
    editor_train: Corpus  # an editor learns (and ft / the memory baseline tune) on these
    editor_eval: Corpus  # the edits of an evaluation come from these
    groups: dict[tuple[str, str], Group]  # (language, text) -> translation group, for every training-language row


def translation_groups(cfg: MetaConfig, split: LanguageSplit) -> dict[tuple[str, str], Group]:
    """(language, text) -> its translation group, for every row of the training languages (train and val)."""
    rows = [(lang, text) for corpus in (split.train, split.val) for lang, by_label in corpus.items()
            for texts in by_label.values() for text in texts]
    if split.task.parallel_task:
        table, pivot = training_translations(cfg, split, "model editing's translation groups")
        pivot_of = {member: text for (lang, text), others in table.items() if lang == pivot for member in others}
        pivot_of.update({(pivot, text): text for (lang, text) in table if lang == pivot})
    else:
        pivot_of = {}
    return {row: pivot_of.get(row, f"{row[0]}\t{row[1]}") for row in rows}


def held_out_translations(cfg: MetaConfig, split: LanguageSplit) -> dict[Group, list[str]]:
    """Translation group -> its texts in the held-out languages: read only by the final evaluation (an edit made in
    one language, does it hold in one never seen?). Empty when the task has no parallel data for them."""
    if not split.task.parallel_task:
        return {}
    parallel = parallel_task_of(split.task, cfg)
    out: dict[Group, list[str]] = {}
    for lang in cfg.held_out_language:
        if lang in parallel.languages():
            for text, pivot_text in load_pairs(parallel, lang, parallel.reader.pivot):
                out.setdefault(pivot_text, []).append(text)
    return out


def set_apart_edit_rows(cfg: MetaConfig, split: LanguageSplit, fraction: float) -> EditSplit:
    """`fraction` of the translation groups (seeded) leave the classifier's rows, train and val alike: half of them
    train editors, half give the evaluation's edits."""
    if not 0.0 < fraction < 1.0:
        raise MetaNLPError(f"the editing share of the rows must be between 0 and 1 (exclusive), got {fraction}")
    groups = translation_groups(cfg, split)
    names = sorted(set(groups.values()))
    order = np.random.default_rng([cfg.seed, EDIT_SPLIT_STREAM]).permutation(len(names))
    chosen = [names[i] for i in order[:int(round(fraction * len(names)))]]
    editor_train, editor_eval = set(chosen[::2]), set(chosen[1::2])

    def rows(corpus: Corpus, keep) -> Corpus:
        return {lang: {label: [t for t in texts if keep(groups[(lang, t)])] for label, texts in by_label.items()}
                for lang, by_label in corpus.items()}
    editing = editor_train | editor_eval
    base = replace(split, train=rows(split.train, lambda g: g not in editing), val=rows(split.val, lambda g: g not in editing))
    both = {lang: {label: split.train[lang].get(label, []) + split.val[lang].get(label, [])
                   for label in set(split.train[lang]) | set(split.val[lang])} for lang in split.train}
    return EditSplit(base, rows(both, lambda g: g in editor_train), rows(both, lambda g: g in editor_eval), groups)
