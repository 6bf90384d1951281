"""Tasks as data: task YAMLs, their sources (local folders, the Hub, the LASER Tatoeba layout), bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA
from test_cli import assert_one_line_error, run_script
from meta_nlp.config import MetaConfig
from meta_nlp.data import chatterbot, sources
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.data.registry import find_task, load_corpus
from meta_nlp.data.sources import read_tatoeba_pairs
from meta_nlp.errors import MetaNLPError

SIB200 = SHARED_DATA / "sib200"
TATOEBA = SHARED_DATA / "tatoeba"
SIB200_LANGUAGES = ["arb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "ita_Latn", "jpn_Jpan", "kor_Hang", "nld_Latn",
                    "por_Latn", "rus_Cyrl", "spa_Latn", "zho_Hans"]
TATOEBA_LANGUAGES = ["cmn", "deu", "fra", "ita", "jpn", "kor", "nld", "por", "rus", "spa"]
LABELS = ["food", "music", "sports", "travel", "weather"]


def needs(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder} (../shared/data next to the repository)")


def offline_env(tmp_path: Path) -> dict:
    """No network and an empty Hugging Face cache: nothing can come from the Hub."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}


def write_table(path: Path, rows: list[dict]) -> None:
    """One language's rows as CSV, TSV or JSON Lines, chosen by the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return
    sep = "\t" if path.suffix == ".tsv" else ","
    path.write_text("\n".join([sep.join(rows[0])] + [sep.join(map(str, row.values())) for row in rows]) + "\n")


def topic_rows(lang: str, labels: list[str] = LABELS, per_label: int = 8) -> list[dict]:
    return [{"text": f"{lang} {label} sentence {i}", "label": label} for label in labels for i in range(per_label)]


def user_task(tmp_path: Path, source: str, top: str = "", name: str = "my_topics") -> Path:
    """A --task-dir folder holding one task YAML whose per_language_file data sits in ./data."""
    task_dir = tmp_path / "tasks"
    task_dir.mkdir(exist_ok=True)
    (task_dir / f"{name}.yaml").write_text(f"name: {name}\ntype: classification\n{top}source:\n{source}")
    return task_dir


LOCAL_SOURCE = "  kind: local_files\n  data_dir: data\n  layout: per_language_file\n  text_column: text\n" \
               "  label_column: label\n"


# --- SIB-200 through --data-dir ------------------------------------------------------------------


def test_sib200_from_a_local_copy_has_12_languages_of_7_topics():
    needs(SIB200)
    task = find_task("sib200", data_dir=SIB200)
    assert task.languages() == SIB200_LANGUAGES
    corpus = load_corpus(task, task.languages())
    for lang, by_label in corpus.items():
        assert list(by_label) == task.labels and len(by_label) == 7  # sorted, the YAML's label set
        assert 1000 <= sum(map(len, by_label.values())) <= 1004, lang  # 701 + 99 + 204 rows pooled
    assert any('"' in t for t in corpus["eng_Latn"]["entertainment"] + corpus["eng_Latn"]["politics"])  # CSV quoting


def test_sib200_train_and_test_split_the_pooled_task_without_sharing_a_sentence():
    # SIB-200 is parallel across languages by split, so meta-training on sib200_train and evaluating on sib200_test
    # keeps every held-out evaluation sentence out of meta-training, in any language
    needs(SIB200)
    texts = {name: load_corpus(find_task(name, data_dir=SIB200), ["jpn_Jpan", "eng_Latn"])
             for name in ("sib200", "sib200_train", "sib200_test")}
    for lang in ("jpn_Jpan", "eng_Latn"):
        seen, unseen, pooled = (sorted(t for ts in texts[name][lang].values() for t in ts)
                                for name in ("sib200_train", "sib200_test", "sib200"))
        assert (len(seen), len(unseen)) == (800, 204) and not set(seen) & set(unseen)
        assert sorted(seen + unseen) == pooled


def test_chatterbot_topics_train_and_test_keep_translated_lines_apart():
    # chatterbot's en and ja files are mostly line-by-line translations: where a ja file is exactly as long as its
    # en file, the English line at the position of each of ja's evaluation lines is not in English's training part
    tasks = {name: find_task(name) for name in ("chatterbot_topics_train", "chatterbot_topics_test")}
    train, test = (load_corpus(task, ["en", "ja"]) for task in tasks.values())
    for lang in ("en", "ja"):
        assert train[lang] and all(not set(train[lang][t]) & set(test[lang].get(t, [])) for t in train[lang])
    aligned = 0
    for path in sorted(chatterbot.language_folder("ja").glob("*.yml")):
        ja, en = chatterbot.utterances(path), chatterbot.utterances(chatterbot.language_folder("en") / path.name)
        if len(ja) != len(en):
            continue
        in_test = set(test["ja"].get(path.stem, []))
        translations = {e for j, e in zip(ja, en) if j in in_test}
        aligned += len(translations)
        assert not translations & set(train["en"].get(path.stem, [])), path.name
    assert aligned > 100  # the check above covers a good part of ja's evaluation lines


def test_sib200_held_out_language_is_never_read_before_evaluation(monkeypatch):
    needs(SIB200)
    read: list[Path] = []
    real = sources.read_rows
    monkeypatch.setattr(sources, "read_rows", lambda path: read.append(path) or real(path))
    cfg = MetaConfig(task="sib200", data_dir=str(SIB200), held_out_language=["jpn_Jpan"])
    split = prepare_languages(cfg)
    split.val_sampler(cfg)
    assert len(read) == 3 * 11 and not [p for p in read if "jpn_Jpan" in p.parts]
    assert sorted(split.train) == [lang for lang in SIB200_LANGUAGES if lang != "jpn_Jpan"]
    load_held_out(cfg, "jpn_Jpan")  # the final evaluation: now, and only now
    assert [p.parent.name for p in read[33:]] == ["jpn_Jpan"] * 3


def test_hub_source_offline_says_to_pass_data_dir(tmp_path):
    env = offline_env(tmp_path)
    listing = subprocess.run([sys.executable, str(ROOT / "scripts" / "meta_train.py"), "--task", "sib200",
                              "--held-out-language", "jpn_Jpan", "--output-dir", str(tmp_path / "run")],
                             capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert_one_line_error(listing, "sib200.yaml", "Davlan/sib200", "--data-dir")
    # a task that names its languages skips the listing call: then load_dataset itself must fail the same way
    task_dir = user_task(tmp_path, "  kind: huggingface\n  path: nobody/no-such-dataset\n  languages: [aa, bb]\n"
                                   "  text_column: text\n  label_column: label\n  splits: [train]\n")
    code = ("from meta_nlp.cli import main_guard; from meta_nlp.data.registry import find_task, load_corpus; "
            f"main_guard(lambda: load_corpus(find_task('my_topics', [{str(task_dir)!r}]), ['aa']) and 0)")
    loading = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                             env=env)
    assert_one_line_error(loading, "my_topics.yaml", "nobody/no-such-dataset", "--data-dir")


def test_hub_source_with_a_language_column_reads_one_language(tmp_path):
    """The Hub reader on a local dataset folder (load_dataset takes a path): works offline, filters by language."""
    for split in ("train", "test"):
        write_table(tmp_path / "hub" / f"{split}.csv",
                    [{"lang": lang, **row} for lang in ("aa", "bb") for row in topic_rows(lang + split, per_label=3)])
    task_dir = user_task(tmp_path, f"  kind: huggingface\n  path: {tmp_path / 'hub'}\n  config_per_language: false\n"
                                   "  language_column: lang\n  text_column: text\n  label_column: label\n"
                                   "  splits: [train, test]\n")
    code = ("import json; from meta_nlp.data.registry import find_task, load_corpus; "
            f"t = find_task('my_topics', [{str(task_dir)!r}]); "
            "print(json.dumps([t.languages(), load_corpus(t, ['bb'])]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=offline_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    languages, corpus = json.loads(proc.stdout)
    assert languages == ["aa", "bb"] and list(corpus) == ["bb"] and list(corpus["bb"]) == LABELS
    assert all(len(texts) == 6 and all(t.startswith("bb") for t in texts) for texts in corpus["bb"].values())


# --- a user's own task -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl"])
def test_user_task_dir_with_one_file_per_language(tmp_path, ext):
    task_dir = user_task(tmp_path, LOCAL_SOURCE, top=f"labels: [{', '.join(reversed(LABELS))}]\n")
    for lang in ("en", "de", "fr"):
        write_table(task_dir / "data" / f"{lang}.{ext}", topic_rows(lang))
    cfg = MetaConfig(task="my_topics", task_dir=[str(task_dir)], held_out_language=["fr"], n_way=3, k_shot=2,
                     n_query=2)
    split = prepare_languages(cfg)
    assert sorted(split.train) == ["de", "en"] and find_task("my_topics", [str(task_dir)]).labels == LABELS
    episode = load_held_out(cfg, "fr").episode(0)
    assert all(text.startswith("fr ") for text in episode.support_texts + episode.query_texts)


def test_list_tasks_shows_every_task_with_its_languages(tmp_path):
    task_dir = user_task(tmp_path, LOCAL_SOURCE)
    for lang in ("en", "de"):
        write_table(task_dir / "data" / f"{lang}.csv", topic_rows(lang))
    proc = run_script("meta_train.py", "--list-tasks", "--task-dir", str(task_dir), timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
    assert rows["my_topics"] == ["classification", "de", "en"]
    assert rows["sib200"][0] == "classification" and "--data-dir" in " ".join(rows["sib200"])  # offline: no Hub call
    assert rows["tatoeba"][0] == "translation_ranking" and "ja" in rows["chatterbot_topics"]
    assert "--data-dir" in " ".join(rows["tatoeba"])  # not shipped: the user names its folder
    if SIB200.is_dir():
        proc = run_script("meta_train.py", "--list-tasks", "--task", "sib200", "--data-dir", str(SIB200), timeout=120)
        assert proc.stdout.split()[2:] == SIB200_LANGUAGES


def test_a_task_that_includes_another_changes_only_the_fields_it_names(tmp_path):
    task_dir = user_task(tmp_path, LOCAL_SOURCE, top=f"labels: [{', '.join(LABELS)}]\n")
    (task_dir / "my_topics_v2.yaml").write_text("name: my_topics_v2\ninclude: my_topics.yaml\nsource:\n  data_dir: v2\n")
    write_table(task_dir / "data" / "en.csv", topic_rows("en"))
    write_table(task_dir / "v2" / "en.csv", topic_rows("v2", per_label=3))
    base, v2 = find_task("my_topics", [str(task_dir)]), find_task("my_topics_v2", [str(task_dir)])
    assert v2.source == {**base.source, "data_dir": "v2"} and v2.labels == base.labels == LABELS
    assert v2.type == "classification" and v2.path.name == "my_topics_v2.yaml"
    assert load_corpus(v2, ["en"])["en"]["food"] == [f"v2 food sentence {i}" for i in range(3)]
    assert len(load_corpus(base, ["en"])["en"]["food"]) == 8
    # A built-in task's file, from a user's folder: chatterbot_topics with a part of each file of its own.
    (task_dir / "early_topics.yaml").write_text("name: early_topics\ninclude: chatterbot_topics.yaml\n"
                                                "source:\n  file_part: [0.0, 0.3]\n")
    early = find_task("early_topics", [str(task_dir)])
    assert early.source == {**find_task("chatterbot_topics").source, "file_part": [0.0, 0.3]}


@pytest.mark.parametrize("files, needles", [
    ({"a.yaml": "name: a\ninclude: nowhere.yaml\n"}, ["a.yaml: field 'include' names nowhere.yaml", "not a file"]),
    ({"a.yaml": "name: a\ninclude: b.yaml\n", "b.yaml": "name: b\ninclude: a.yaml\n"}, ["includes this file again"]),
    ({"a.yaml": "include: my_topics.yaml\n"}, ["a.yaml: a task that includes another needs a 'name'"]),
    ({"a.yaml": "name: a\ninclude: [my_topics.yaml]\n"}, ["a.yaml: field 'include' must be the file name"]),
], ids=["missing-file", "cycle", "no-name", "not-a-name"])
def test_bad_include_is_one_line_naming_the_file(tmp_path, files, needles):
    task_dir = user_task(tmp_path, LOCAL_SOURCE)
    for name, text in files.items():
        (task_dir / name).write_text(text)
    with pytest.raises(MetaNLPError) as err:
        find_task("my_topics", [str(task_dir)])
    assert "\n" not in str(err.value) and all(needle in str(err.value) for needle in needles), str(err.value)


# --- Tatoeba ---------------------------------------------------------------------------------------


def test_tatoeba_pairs_are_line_aligned():
    needs(TATOEBA)
    assert find_task("tatoeba", data_dir=TATOEBA).languages() == TATOEBA_LANGUAGES
    for lang in TATOEBA_LANGUAGES:
        pairs = read_tatoeba_pairs(TATOEBA, lang)
        assert len(pairs) == 1000 and all(src.strip() and eng.strip() for src, eng in pairs)
        first = (TATOEBA / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").split("\n")[0]
        last = (TATOEBA / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").rstrip("\n").split("\n")[-1]
        assert pairs[0][0] == first and pairs[-1][1] == last


def test_tatoeba_needs_its_folder_and_aligned_files(tmp_path):
    with pytest.raises(MetaNLPError, match="pass its folder with --data-dir"):
        prepare_languages(MetaConfig(task="tatoeba"))
    (tmp_path / "tatoeba.xxx-eng.xxx").write_text("a\nb\n")
    (tmp_path / "tatoeba.xxx-eng.eng").write_text("A\n")
    with pytest.raises(MetaNLPError, match="line-aligned"):
        read_tatoeba_pairs(tmp_path, "xxx")


# --- bad input: one line naming the file and the field ---------------------------------------------


@pytest.mark.parametrize("source, top, data, needles", [
    (LOCAL_SOURCE.replace("  text_column: text\n", ""), "", "text,label\nhi,a\n",
     ["missing field 'source.text_column'"]),
    ("  kind: ftp\n", "", "text,label\nhi,a\n", ["field 'source.kind'", "'ftp'", "local_files"]),
    (LOCAL_SOURCE.replace("text_column: text", "text_column: sentence"), "", "text,label\nhi,a\n",
     ["field 'source.text_column'", "'sentence'", "en.csv", "columns: text, label"]),
    (LOCAL_SOURCE, "", "text,label\n", ["language 'en' has no rows", "en.csv", "source.data_dir"]),
    (LOCAL_SOURCE, "labels: [a, b]\n", "text,label\nhi,a\nyo,c\n", ["language 'en' has label 'c'", "field 'labels'"]),
    (LOCAL_SOURCE + "  txt_column: text\n", "", "text,label\nhi,a\n", ["unknown field 'source.txt_column'"]),
    ("  kind: chatterbot_corpus\n  file_part: [0.6, 0.5]\n", "", "", ["field 'source.file_part'", "[0.6, 0.5]"]),
    (LOCAL_SOURCE, "validation_split: lines\n", "text,label\nhi,a\n", ["field 'validation_split'", "by_position"]),
], ids=["missing-field", "unknown-kind", "missing-column", "language-without-data", "label-not-in-labels",
        "unknown-field", "empty-file-part", "unknown-validation-split"])
def test_bad_task_input_is_one_line_naming_file_and_field(tmp_path, source, top, data, needles):
    task_dir = user_task(tmp_path, source, top)
    (task_dir / "data").mkdir()
    (task_dir / "data" / "en.csv").write_text(data)
    with pytest.raises(MetaNLPError) as err:
        task = find_task("my_topics", [str(task_dir)])
        load_corpus(task, ["en"])
    message = str(err.value)
    assert "\n" not in message and "my_topics.yaml" in message, message
    for needle in needles:
        assert needle in message, message


def test_missing_top_level_field_and_data_dir_without_local_layout(tmp_path):
    task_dir = user_task(tmp_path, LOCAL_SOURCE)
    (task_dir / "no_type.yaml").write_text("name: no_type\nsource:\n  kind: chatterbot_corpus\n")
    with pytest.raises(MetaNLPError, match=r"no_type.yaml: missing field 'type'"):
        find_task("my_topics", [str(task_dir)])
    (task_dir / "no_type.yaml").unlink()
    hub = "  kind: huggingface\n  path: a/b\n  text_column: t\n  label_column: l\n  splits: [train]\n"
    user_task(tmp_path, hub, name="hub_only")
    with pytest.raises(MetaNLPError, match=r"hub_only.yaml: --data-dir needs field 'source.local_layout'"):
        find_task("hub_only", [str(task_dir)], data_dir=tmp_path)
    with pytest.raises(MetaNLPError, match=r"chatterbot_topics.yaml: field 'source.kind'.*--data-dir"):
        find_task("chatterbot_topics", data_dir=tmp_path)


def test_parse_yaml_gives_what_safe_load_gives_and_its_error_messages():
    """The fast parser must change no object read (every shipped task file, a chatterbot topic in two scripts), and a
    broken document must still get the pure-Python parser's message, which names the offending tab."""
    import yaml
    from meta_nlp.yaml_parse import parse_yaml
    files = sorted((ROOT / "tasks").glob("*.yaml")) + [chatterbot.language_folder(code) / "food.yml"
                                                       for code in ("ja", "uk")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert repr(parse_yaml(text)) == repr(yaml.safe_load(text)), path
    with pytest.raises(yaml.YAMLError, match=r"found character '\\t'"):
        parse_yaml("name: x\n\tlabels: [a]\n")
