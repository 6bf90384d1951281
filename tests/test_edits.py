"""Model editing's rows (meta_nlp/data/edits.py): split by translation group, disjoint, held-out language unread."""
from __future__ import annotations

import pytest

from conftest import tiny_cfg
from meta_nlp.data.edits import set_apart_edit_rows, translation_groups
from meta_nlp.data.languages import prepare_languages
from meta_nlp.errors import MetaNLPError


def rows_of(corpus) -> set[tuple[str, str]]:
    return {(lang, t) for lang, by_label in corpus.items() for texts in by_label.values() for t in texts}


@pytest.fixture(scope="module")
def chatterbot(tmp_path_factory, tiny_model_dir):
    cfg = tiny_cfg(tmp_path_factory.mktemp("edits"), tiny_model_dir, train_languages=["en", "it", "ko"],
                   held_out_language=["ja"])
    return cfg, prepare_languages(cfg)


def test_translations_share_a_group(chatterbot):
    cfg, split = chatterbot
    groups = translation_groups(cfg, split)
    by_group: dict[str, set[str]] = {}
    for (lang, _), group in groups.items():
        by_group.setdefault(group, set()).add(lang)
    multilingual = [g for g, langs in by_group.items() if len(langs) > 1]
    assert len(multilingual) > 50  # chatterbot's it/ko utterances are aligned with English ones
    assert all(lang in ("en", "it", "ko") for langs in by_group.values() for lang in langs)


def test_editing_rows_are_apart_from_the_classifiers_and_from_each_other(chatterbot):
    cfg, split = chatterbot
    edit = set_apart_edit_rows(cfg, split, 0.3)
    base = rows_of(edit.base.train) | rows_of(edit.base.val)
    train, evaluation = rows_of(edit.editor_train), rows_of(edit.editor_eval)
    assert train and evaluation and not base & train and not base & evaluation and not train & evaluation
    group_sets = [{edit.groups[r] for r in rows} for rows in (base, train, evaluation)]
    assert not group_sets[0] & group_sets[1] and not group_sets[0] & group_sets[2] and not group_sets[1] & group_sets[2]
    assert base | train | evaluation == rows_of(split.train) | rows_of(split.val)  # no row lost
    assert set_apart_edit_rows(cfg, split, 0.3).groups == edit.groups  # seeded: the same split again
    with pytest.raises(MetaNLPError, match="between 0 and 1"):
        set_apart_edit_rows(cfg, split, 1.0)
