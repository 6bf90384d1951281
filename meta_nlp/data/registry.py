"""Task registry: a task is a YAML file (tasks/*.yaml, or a user's --task-dir), not code.

See tasks/_template.yaml for every field. Where the rows come from is the `source:` block, read by
meta_nlp/data/sources.py; `--data-dir` swaps a task's source for a local folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from meta_nlp.data.ranking import pivot_place
from meta_nlp.data.sources import LABELLED, LABELLED_PAIRS, PAIRS, Fields, Labelled, Pairs, Source, source_for
from meta_nlp.errors import MetaNLPError
from meta_nlp.yaml_parse import parse_yaml

# Where the project's own task YAMLs live (repository root / tasks).
BUILTIN_TASK_DIR = Path(__file__).resolve().parents[2] / "tasks"
# What each task type needs its source to give: labelled texts, labelled (premise, hypothesis) pairs, or
# (sentence, pivot-language sentence) pairs.
TASK_TYPES = {"classification": LABELLED, "pair_classification": LABELLED_PAIRS, "translation_ranking": PAIRS}
TOP_FIELDS = ("name", "type", "source", "labels", "parallel_task", "validation_split", "pivot_part")
# How meta-validation's share of each training language of a labelled task is chosen (meta_nlp/data/episodes.py
# split_for_validation). translation_ranking tasks always hold back the same pivot sentences in every language
# (meta_nlp/data/ranking.py split_pairs_for_validation).
VALIDATION_SPLITS = ("random", "by_position")

Corpus = dict[str, Labelled]  # language -> label -> texts (or text pairs)


@dataclass
class TaskSpec:
    name: str
    type: str
    source: dict  # the YAML's source block, as written
    path: Path
    extra: dict = field(default_factory=dict)
    labels: list[str] | None = None  # sorted; None: whatever labels the data holds
    data_dir: Path | None = None  # --data-dir: replaces the source's data folder
    parallel_task: str | None = None  # a translation_ranking task with this task's languages (cross-lingual support)
    validation_split: str = "random"  # one of VALIDATION_SPLITS
    pivot_part: tuple[float, float] = (0.0, 1.0)  # translation_ranking: the pivot sentences read (`pivot_part`)
    reader: Source | None = field(default=None, repr=False, compare=False)  # built from `source` when None

    def __post_init__(self) -> None:
        if self.reader is None:  # built here so that a broken source block fails when the task is read
            self.reader = checked_reader(self.path, self.type, self.source, self.data_dir)

    def languages(self) -> list[str]:
        """Every language this task can produce (reads no example text; a Hub task may ask the Hub)."""
        return self.reader.languages()

    def with_data_dir(self, data_dir: str | Path) -> "TaskSpec":
        """This task read from a local folder; its languages become the ones found there."""
        return replace(self, data_dir=Path(data_dir).expanduser(), reader=None)


def checked_reader(path: Path, task_type: str, source: dict, data_dir: Path | None = None) -> Source:
    """The task's source reader, checked to give what the task type needs."""
    reader = source_for(Fields(source, path), data_dir, TASK_TYPES[task_type])
    if reader.yields != TASK_TYPES[task_type]:
        which = "source.layout" if "layout" in source else "source.kind"
        raise MetaNLPError(f"{path}: field 'type' is {task_type}, which needs {TASK_TYPES[task_type]} rows, but this "
                           f"source gives {reader.yields} (field '{which}')")
    return reader


def sorted_labels(path: Path, labels: object) -> list[str] | None:
    if labels is None:
        return None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, (str, int)) for x in labels):
        raise MetaNLPError(f"{path}: field 'labels' must be a non-empty list of label names")
    return sorted({str(x) for x in labels})


def task_name(path: Path, key: str, value: object) -> str | None:
    """An optional field naming another task; that the task exists is checked where it is used."""
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise MetaNLPError(f"{path}: field '{key}' must be a task name, got {value!r}")
    return value


def validation_split(path: Path, task_type: str, value: object) -> str:
    if value is None:
        return "random"
    if TASK_TYPES.get(task_type) == PAIRS:
        raise MetaNLPError(f"{path}: field 'validation_split' is for labelled tasks; a translation_ranking task "
                           "always holds back the same pivot sentences in every language (remove the field)")
    if value not in VALIDATION_SPLITS:
        raise MetaNLPError(f"{path}: field 'validation_split' is {value!r}; supported: {', '.join(VALIDATION_SPLITS)}")
    return value


def pivot_part(path: Path, task_type: str, value: object) -> tuple[float, float]:
    """`pivot_part: [start, end]` of a translation_ranking task: only the pairs whose pivot sentence has its place
    (`pivot_place`, a hash of its text) in [start, end). Two tasks with disjoint parts of one source never share a
    pivot sentence, in any language: one can meta-train and the other evaluate on translations never read."""
    if value is None:
        return (0.0, 1.0)
    if TASK_TYPES.get(task_type) != PAIRS:
        raise MetaNLPError(f"{path}: field 'pivot_part' is for translation_ranking tasks")
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(x, (int, float)) for x in value)
            or not 0 <= value[0] < value[1] <= 1):
        raise MetaNLPError(f"{path}: field 'pivot_part' must be [start, end] with 0 <= start < end <= 1, got {value!r}")
    return float(value[0]), float(value[1])


def _task_files(task_dirs: list[str]) -> list[Path]:
    dirs = [BUILTIN_TASK_DIR] + [Path(d) for d in task_dirs]
    for d in dirs[1:]:
        if not d.is_dir():
            raise MetaNLPError(f"--task-dir {d} is not a folder")
    return [p for d in dirs for p in sorted(d.glob("*.yaml")) if not p.name.startswith("_")]


def yaml_mapping(path: Path) -> dict:
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise MetaNLPError(f"{path}: broken YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise MetaNLPError(f"{path}: a task file must be a mapping")
    return doc


def task_document(path: Path, including: tuple[Path, ...] = ()) -> dict:
    """A task file's fields over those of the file its `include:` names (a path relative to its folder or to the
    built-in tasks/, as lm-evaluation-harness's task YAMLs include a base): a task that is another's data with a
    field or two changed (tasks/tatoeba_test.yaml: tatoeba.yaml's pairs, another `pivot_part`) says only what
    changes. Mappings merge key by key (a `source:` here changes the base's source fields it names, keeps the rest)."""
    doc = yaml_mapping(path)
    if "include" not in doc:
        return doc
    base = doc.pop("include")
    if not isinstance(base, str) or not base.strip():
        raise MetaNLPError(f"{path}: field 'include' must be the file name of another task, got {base!r}")
    if "name" not in doc:
        raise MetaNLPError(f"{path}: a task that includes another needs a 'name' of its own")
    # Beside this file, else a built-in task's file (a user's folder can start from tasks/sib200.yaml).
    base_path = next((p.resolve() for p in (path.parent / base, BUILTIN_TASK_DIR / base) if p.is_file()), None)
    if base_path is None:
        raise MetaNLPError(f"{path}: field 'include' names {base}, which is not a file in {path.parent} or "
                           f"{BUILTIN_TASK_DIR}")
    if base_path in (path.resolve(), *including):
        raise MetaNLPError(f"{path}: field 'include' names {base}, which includes this file again")
    return merged_fields(task_document(base_path, (*including, path.resolve())), doc)


def merged_fields(base: dict, changes: dict) -> dict:
    return base | {key: merged_fields(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict)
                   else value for key, value in changes.items()}


def read_task_file(path: Path) -> TaskSpec:
    """Parse and check one task YAML (with the file it includes); errors name the file and the field. Reads no
    data."""
    doc = task_document(path)
    for key in ("name", "type", "source"):
        if key not in doc:
            raise MetaNLPError(f"{path}: missing field '{key}'")
    if doc["type"] not in TASK_TYPES:
        raise MetaNLPError(f"{path}: field 'type' is {doc['type']!r}; supported: {', '.join(TASK_TYPES)}")
    if not isinstance(doc["source"], dict):
        raise MetaNLPError(f"{path}: field 'source' must be a mapping with a 'kind'")
    extra = {k: v for k, v in doc.items() if k not in TOP_FIELDS}
    return TaskSpec(name=str(doc["name"]), type=doc["type"], source=doc["source"], path=path, extra=extra,
                    labels=sorted_labels(path, doc.get("labels")),
                    parallel_task=task_name(path, "parallel_task", doc.get("parallel_task")),
                    validation_split=validation_split(path, doc["type"], doc.get("validation_split")),
                    pivot_part=pivot_part(path, doc["type"], doc.get("pivot_part")))


def list_tasks(task_dirs: list[str] | None = None) -> list[TaskSpec]:
    return [read_task_file(p) for p in _task_files(task_dirs or [])]


def find_task(name: str, task_dirs: list[str] | None = None, data_dir: str | Path | None = None) -> TaskSpec:
    """The task called `name`; with `data_dir`, read from that local folder instead of its own source."""
    tasks = {t.name: t for t in list_tasks(task_dirs)}  # a user's folder overrides a built-in name
    if name not in tasks:
        raise MetaNLPError(f"unknown task {name!r}; available: {', '.join(sorted(tasks))}")
    return tasks[name].with_data_dir(data_dir) if data_dir else tasks[name]


def listed_languages(task: TaskSpec) -> str:
    """What --list-tasks shows: the languages, or why they cannot be named offline (never asks the Hub)."""
    if not task.reader.lists_offline:
        return "(Hub; pass --data-dir to list)"
    try:
        return " ".join(task.languages())
    except MetaNLPError as e:
        return f"(unavailable: {e})"


def checked_labels(task: TaskSpec, lang: str, by_label: dict[str, list[str]]) -> dict[str, list[str]]:
    """The language's {label: texts} in sorted label order, its labels checked against the YAML's `labels`."""
    if task.labels is not None:
        unknown = sorted(set(by_label) - set(task.labels))
        if unknown:
            raise MetaNLPError(f"{task.path}: language {lang!r} has label {unknown[0]!r}, which field 'labels' does "
                               f"not list ({', '.join(task.labels)})")
    return {label: by_label[label] for label in sorted(by_label)}


def check_known(task: TaskSpec, languages: list[str], also: tuple[str, ...] = ()) -> None:
    """One-line error for a language the task does not have, listing the valid ones."""
    known = task.languages()
    missing = [lang for lang in languages if lang not in known and lang not in also]
    if missing:
        raise MetaNLPError(f"task {task.name} has no language {missing[0]!r}; available: {', '.join(known)}")


def load_corpus(task: TaskSpec, languages: list[str]) -> Corpus:
    """Read only the given languages. Unknown languages are a one-line error listing the valid ones."""
    if TASK_TYPES[task.type] == PAIRS:
        raise MetaNLPError(f"task {task.name}: {task.type} tasks give sentence pairs, not a labelled corpus")
    check_known(task, languages)
    return {lang: checked_labels(task, lang, task.reader.read_language(lang)) for lang in languages}


def load_pairs(task: TaskSpec, lang: str, pivot: str = "en") -> Pairs:
    """(sentence in `lang`, its translation in `pivot`) of a translation_ranking task, reading those two languages
    only. 'en' stands for the task's own pivot (field 'source.pivot': eng for tatoeba, eng_Latn for SIB-200)."""
    if TASK_TYPES[task.type] != PAIRS:
        raise MetaNLPError(f"task {task.name}: {task.type} tasks give labelled texts, not sentence pairs")
    pivot = task.reader.pivot if pivot == "en" else pivot
    check_known(task, [lang, pivot], also=(task.reader.pivot,))
    if lang == pivot:
        raise MetaNLPError(f"task {task.name}: {lang!r} is the pivot language itself")
    pairs = task.reader.read_pairs(lang, pivot)
    if task.pivot_part == (0.0, 1.0):
        return pairs
    if pivot != task.reader.pivot:
        raise MetaNLPError(f"task {task.name}: field 'pivot_part' selects {task.reader.pivot} sentences, so its pairs "
                           f"can be read only against {task.reader.pivot}, not {pivot!r}")
    start, end = task.pivot_part
    return [(x, t) for x, t in pairs if start <= pivot_place(t, "part") < end]
