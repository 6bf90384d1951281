"""The held-out language is never read before the final evaluation: not by meta-training, not by the
multitask baseline's training, not by model selection, not in a study. Watched at the file level (every
`open` of the process, through an audit hook), not at the data-split layer."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import tiny_cfg
from meta_nlp.data import chatterbot
from meta_nlp.recipes import meta_learn

OPENED: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple) -> None:
    if _WATCHING[0] and event == "open" and isinstance(args[0], (str, bytes, Path)):
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only while a test watches


@pytest.fixture()
def watch_files(monkeypatch):
    """Yields the files opened before the held-out language was first loaded for evaluation."""
    before_evaluation: list[str] = []
    real = meta_learn.load_held_out

    def load_held_out(cfg, language):
        if _WATCHING[0]:
            before_evaluation.extend(OPENED)
            _WATCHING[0] = False  # evaluation itself reads it, of course
        return real(cfg, language)
    monkeypatch.setattr(meta_learn, "load_held_out", load_held_out)
    OPENED.clear()
    _WATCHING[0] = True
    yield before_evaluation
    _WATCHING[0] = False


def held_out_files(opened: list[str], language: str) -> list[str]:
    folder = str(chatterbot.language_folder(language))
    return [p for p in opened if p.startswith(folder)]


def test_meta_training_multitask_and_selection_never_open_the_held_out_language(tmp_path, tiny_model_dir, watch_files):
    cfg = tiny_cfg(tmp_path, tiny_model_dir, algorithm="fomaml", held_out_language=["ja"], train_languages=[],
                   baselines=["finetune", "multitask"], max_steps=2, eval_every=1, val_episodes=1, eval_episodes=1)
    meta_learn.run_experiment(cfg)
    assert watch_files, "the evaluation never loaded the held-out language: nothing was watched"
    opened_training = [p for p in watch_files if "/italian/" in p or "/english/" in p]
    assert opened_training, "the watch saw no training file opened either: it is not watching"
    assert not held_out_files(watch_files, "ja")


def test_distillation_never_opens_the_held_out_language(tmp_path, tiny_model_dir, watch_files):
    """Teacher loading, the quiz split, every student's training and selection: none reads the held-out language."""
    from meta_nlp.recipes.distill import run_distillation
    cfg = tiny_cfg(tmp_path, tiny_model_dir, teacher=tiny_model_dir, student_layers=1, algorithm="protonet",
                   held_out_language=["ja"], train_languages=["en", "it", "fa"], max_steps=1, eval_every=1,
                   val_episodes=1, eval_episodes=1, baselines=["teacher", "finetune", "student", "student_kd"])
    run_distillation(cfg)
    assert watch_files and [p for p in watch_files if "/italian/" in p]
    assert not held_out_files(watch_files, "ja")


def test_editing_never_opens_the_held_out_language_before_its_final_evaluation(tmp_path, tiny_model_dir, monkeypatch):
    """The split by translation group, the classifier's training, the editor's, the memory's radius: none reads the
    held-out language; only the final evaluation does (its translations of the edits)."""
    from meta_nlp.data import edits
    from meta_nlp.recipes import edit
    opened_before: list[str] = []
    real = edits.held_out_translations

    def held_out_translations(cfg, split):
        opened_before.extend(OPENED)
        _WATCHING[0] = False
        return real(cfg, split)
    monkeypatch.setattr(edit, "held_out_translations", held_out_translations)
    OPENED.clear()
    _WATCHING[0] = True
    try:
        edit.run_editing(tiny_cfg(tmp_path, tiny_model_dir, algorithm="mend", baselines=["ft"], held_out_language=["ja"],
                                  train_languages=["en", "it", "ko"], base_classifier_steps=2, eval_every=2, editor_steps=1,
                                  editor_rank=2, edit_checkpoints=[1]))
    finally:
        _WATCHING[0] = False
    assert opened_before and [p for p in opened_before if "/italian/" in p]
    assert not held_out_files(opened_before, "ja")


def test_a_study_never_opens_a_held_out_language_before_its_evaluation(tmp_path, tiny_model_dir, watch_files):
    from meta_nlp.recipes import study
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["ko"], train_languages=["en", "it"],
                   baselines=["finetune"], max_steps=1, eval_every=1, val_episodes=1, eval_episodes=1)
    study.run_study(cfg, study.StudySpec(methods=["fomaml"], seeds=[0], shots=[2]))
    assert watch_files and not held_out_files(watch_files, "ko")


SIB200 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sib200"


@pytest.mark.skipif(not SIB200.is_dir(), reason="needs ../shared/data/sib200 (the SIB-200 subset beside the project)")
def test_a_held_out_task_is_read_only_by_the_final_evaluation(tmp_path, tiny_model_dir, watch_files):
    """Meta-train on chatterbot topics, evaluate on SIB-200 topics in Japanese: a task and a language never trained
    on. Nothing of SIB-200's Japanese is opened before the final evaluation, and its episodes have SIB-200's labels."""
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_task="sib200", held_out_data_dir=str(SIB200),
                   held_out_language=["jpn_Jpan"], train_languages=["en", "it"], baselines=["finetune"],
                   max_steps=1, eval_every=1, val_episodes=1, eval_episodes=2)
    out = meta_learn.run_experiment(cfg)
    assert watch_files and [p for p in watch_files if "/italian/" in p]
    assert not [p for p in watch_files if p.startswith(str(SIB200))]
    assert {(r["method"], r["language"]) for r in out["results"]} == {("fomaml", "jpn_Jpan"), ("finetune", "jpn_Jpan")}
    sib_labels = set((SIB200 / "jpn_Jpan" / "labels.txt").read_text().split())
    assert set(meta_learn.load_held_out(cfg, "jpn_Jpan").episode(0).label_names) <= sib_labels
    assert "**Held-out task**: evaluated on `sib200`" in (tmp_path / "run" / "report.md").read_text()


def test_a_language_is_recognised_in_every_code_and_script():
    from meta_nlp.data.languages import base_language, same_language
    assert {base_language(c) for c in ("ja", "jpn", "jpn_Jpan")} == {"ja"}
    assert {base_language(c) for c in ("zh", "zh-Hant", "zho_Hans", "cmn", "cmn_Hans")} == {"zh"}
    assert base_language("hi-Latn") == "hi" and base_language("ita_Latn") == "it" and base_language("uk") == "uk"
    assert same_language("it", ["jpn_Jpan", "ita_Latn"]) == "ita_Latn"
    assert same_language("ko", ["jpn_Jpan", "ita_Latn"]) is None


@pytest.mark.skipif(not SIB200.is_dir(), reason="needs ../shared/data/sib200 (the SIB-200 subset beside the project)")
def test_a_held_out_task_keeps_its_language_out_of_meta_training_whatever_the_code(tmp_path, tiny_model_dir):
    """SIB-200 writes Japanese jpn_Jpan, chatterbot ja: holding out jpn_Jpan holds out chatterbot's ja too."""
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.errors import MetaNLPError
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_task="sib200", held_out_data_dir=str(SIB200),
                   held_out_language=["jpn_Jpan", "ita_Latn"], train_languages=[])
    trained = set(prepare_languages(cfg).train)
    assert "en" in trained and not trained & {"ja", "it"}
    with pytest.raises(MetaNLPError, match="chatterbot_topics:ja is held-out jpn_Jpan in another code"):
        prepare_languages(tiny_cfg(tmp_path, tiny_model_dir, held_out_task="sib200", held_out_data_dir=str(SIB200),
                                   held_out_language=["jpn_Jpan"], train_languages=["en", "ja"]))
    one_task = set(prepare_languages(tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["zh"],
                                              train_languages=[])).train)
    assert "en" in one_task and not one_task & {"zh", "zh-Hant"}  # another script of a held-out language


@pytest.mark.skipif(not SIB200.is_dir(), reason="needs ../shared/data/sib200 (the SIB-200 subset beside the project)")
def test_a_held_out_task_checks_its_languages_and_kind_before_training(tmp_path, tiny_model_dir):
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.errors import MetaNLPError
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_task="sib200", held_out_data_dir=str(SIB200),
                   held_out_language=["ja"])
    with pytest.raises(MetaNLPError, match="task sib200 has no language 'ja'"):
        prepare_languages(cfg)
    with pytest.raises(MetaNLPError, match="cldr_names is a translation_ranking task and --task chatterbot_topics"):
        prepare_languages(tiny_cfg(tmp_path, tiny_model_dir, held_out_task="cldr_names"))
    with pytest.raises(MetaNLPError, match="is --task itself"):
        tiny_cfg(tmp_path, tiny_model_dir, held_out_task="chatterbot_topics")


def test_validation_languages_are_kept_out_of_meta_training_whatever_the_script(tmp_path, tiny_model_dir):
    """Selection on --validation-languages rewards what transfers to a language meta-training never saw: `zh` as a
    validation language keeps `zh-Hant` out of meta-training too, and no validation language may be a held-out one
    in another code."""
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.errors import MetaNLPError
    from meta_nlp.recipes.meta_learn import sweep_languages
    cfg = tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["ja"], validation_languages=["zh"], train_languages=[])
    split = prepare_languages(cfg)
    assert "en" in split.train and not set(split.train) & {"zh", "zh-Hant", "ja"}
    assert set(split.held_out_val) == {"zh"}
    with pytest.raises(MetaNLPError, match="chatterbot_topics:zh-Hant is validation language zh in another code"):
        prepare_languages(tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["ja"], validation_languages=["zh"],
                                   train_languages=["en", "zh-Hant"]))
    with pytest.raises(MetaNLPError, match="--validation-languages zh-Hant is held-out zh in another code"):
        prepare_languages(tiny_cfg(tmp_path, tiny_model_dir, held_out_language=["zh"],
                                   validation_languages=["zh-Hant"], train_languages=[]))
    swept = sweep_languages(tiny_cfg(tmp_path, tiny_model_dir, leave_one_out=["all"], validation_languages=["zh"],
                                     train_languages=[]))
    assert "en" in swept and not set(swept) & {"zh", "zh-Hant"}
