"""Sources: what a task YAML's `source:` block turns into, one language at a time.

Five kinds, chosen by `source.kind`:

- `chatterbot_corpus`: the PyPI package (meta_nlp/data/chatterbot.py), offline.
- `chatterbot_parallel`: the same package as sentence pairs, aligned by topic file and position.
- `cldr_names`: babel's CLDR territory and language names, as (name in locale X, English name) pairs.
- `local_files`: a folder laid out `per_language_folder` (<dir>/<lang>/<split>.<format>, SIB-200's
  native layout), `per_language_file` (<dir>/<lang>.csv|tsv|jsonl) or `laser_tatoeba`
  (tatoeba.<xxx>-eng.<xxx> / .eng, sentence pairs).
- `huggingface`: a Hub dataset through `datasets.load_dataset`; its `local_layout` block says how
  to read a local copy when `--data-dir` is given.

What a source gives depends on the task type: labelled texts (classification), labelled text pairs
(pair_classification: `text_pair_column`), or sentence pairs (translation_ranking: rows of two
languages sharing an `id_column` value, or a source that is parallel by construction).

Every source reads one language per call: the held-out language must stay unread until the final
evaluation (meta_nlp/data/languages.py). Errors are one line naming the task file and the field.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from meta_nlp.data import chatterbot, cldr
from meta_nlp.errors import MetaNLPError

Text = str | tuple[str, str]  # one example: a text, or a (premise, hypothesis) pair for pair classification
Labelled = dict[str, list[Text]]  # one language: label -> texts
Pairs = list[tuple[str, str]]  # (sentence, its translation in the pivot language)

# What a task type needs its source to give (registry.TASK_TYPES maps each type to one).
LABELLED, LABELLED_PAIRS, PAIRS = "labelled", "labelled pairs", "pairs"
SOURCE_KINDS = ("chatterbot_corpus", "chatterbot_parallel", "cldr_names", "local_files", "huggingface")
LAYOUTS = ("per_language_folder", "per_language_file", "laser_tatoeba")
DELIMITERS = {"csv": ",", "tsv": "\t", "jsonl": None}  # file format (extension) -> CSV delimiter
DEFAULT_SPLITS = ["train", "dev", "test"]  # pooled: episodes do their own support/query splitting
COLUMN_FIELDS = ("text_column", "text_pair_column", "label_column", "id_column")
# The columns each kind of row needs; the others are optional (id_column is checked when given).
NEEDED_COLUMNS = {LABELLED: ("text_column", "label_column"),
                  LABELLED_PAIRS: ("text_column", "text_pair_column", "label_column"),
                  PAIRS: ("text_column", "id_column")}  # translation pairs = rows of two languages sharing an id
LAYOUT_FIELDS = ("layout", "splits", "format", "pivot", *COLUMN_FIELDS)
LOCAL_FIELDS = ("kind", "data_dir", *LAYOUT_FIELDS)
HUB_FIELDS = ("kind", "path", "revision", "config_per_language", "language_column", "languages", "splits",
              "local_layout", "pivot", *COLUMN_FIELDS)
_REQUIRED = object()


class Source(Protocol):
    yields: str  # LABELLED, LABELLED_PAIRS or PAIRS
    lists_offline: bool  # False when naming the languages needs the network
    pivot: str  # PAIRS only: the language on the second side of every pair (its code in this task)

    def languages(self) -> list[str]: ...

    def read_language(self, lang: str) -> Labelled: ...  # LABELLED and LABELLED_PAIRS

    def read_pairs(self, lang: str, pivot: str) -> Pairs: ...  # PAIRS


@dataclass(frozen=True)
class Fields:
    """One YAML mapping and where it sits (file, dotted prefix), so every error names both."""
    values: dict
    file: Path
    prefix: str = "source."

    def dotted(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, problem: str) -> MetaNLPError:
        return MetaNLPError(f"{self.file}: field '{self.dotted(key)}' {problem}")

    def missing(self, key: str) -> MetaNLPError:
        return MetaNLPError(f"{self.file}: missing field '{self.dotted(key)}'")

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        if self.values.get(key) is None:
            if default is _REQUIRED:
                raise self.missing(key)
            return default
        return self.values[key]

    def choice(self, key: str, allowed: Iterable[str], default: Any = _REQUIRED) -> str:
        value = self.get(key, default)
        if value not in allowed:
            raise self.error(key, f"is {value!r}; supported: {', '.join(allowed)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def strings(self, key: str, default: Any = _REQUIRED) -> list[str]:
        if self.values.get(key) is None and default is not _REQUIRED:
            return default
        value = self.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) for v in value):
            raise self.error(key, f"must be a non-empty list of names, got {value!r}")
        return [str(v) for v in value]

    def child(self, key: str) -> "Fields":
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping")
        return Fields(value, self.file, f"{self.dotted(key)}.")

    def only(self, allowed: Iterable[str]) -> None:
        """Typos (`text_colum`) fail loudly instead of silently falling back to a default."""
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise MetaNLPError(f"{self.file}: unknown field '{self.dotted(unknown[0])}'; known: {', '.join(allowed)}")


@dataclass(frozen=True)
class Columns:
    """Which columns hold the text, the label and an optional row id, and which YAML field named each."""
    names: dict[str, str]  # 'text_column' / 'label_column' / 'id_column' -> column name
    fields: dict[str, str]  # same keys -> dotted YAML field, for error messages
    file: Path

    @property
    def text(self) -> str:
        return self.names["text_column"]

    @property
    def label(self) -> str | None:
        return self.names.get("label_column")

    @property
    def pair(self) -> str | None:
        return self.names.get("text_pair_column")

    @property
    def id(self) -> str | None:
        return self.names.get("id_column")

    def check(self, available: list[str], where: str) -> None:
        # id_column is only checked for classification: rows are parallel across languages by id (SIB-200),
        # which translation_ranking tasks over the same files use; classification needs text and label alone.
        for key, column in self.names.items():
            if column not in available:
                raise MetaNLPError(f"{self.file}: field '{self.fields[key]}' names column {column!r}, which {where} "
                                   f"does not have (columns: {', '.join(map(str, available))})")


def inherited(f: Fields, fallback: Fields | None, key: str) -> Fields | None:
    """The block that sets `key`: `f`, else `fallback` (a Hub block's local_layout inherits the Hub's fields)."""
    return next((b for b in (f, fallback) if b is not None and b.values.get(key) is not None), None)


def columns_of(f: Fields, fallback: Fields | None = None, need: str = LABELLED) -> Columns:
    """Column names from `f`, else from `fallback`; the ones rows of kind `need` require must be there."""
    names, fields = {}, {}
    for key in COLUMN_FIELDS:
        block = inherited(f, fallback, key)
        if block is None:
            if key in NEEDED_COLUMNS[need]:
                raise f.missing(key)
            continue
        if key == "text_pair_column" and need != LABELLED_PAIRS:
            raise block.error(key, "applies to type pair_classification only")
        names[key], fields[key] = str(block.values[key]), block.dotted(key)
    return Columns(names, fields, f.file)


def pivot_of(f: Fields, fallback: Fields | None, need: str, default: str = "en", fixed: bool = False) -> str:
    """The `pivot` field: the language on the second side of every translation pair (its code in this task)."""
    block = inherited(f, fallback, "pivot")
    if block is None:
        return default
    if need != PAIRS:
        raise block.error("pivot", "applies to type translation_ranking only")
    if fixed and str(block.values["pivot"]) != default:
        raise block.error("pivot", f"is always {default} for this source")
    return str(block.values["pivot"])


def cell(row: dict, column: str | None) -> str:
    value = row.get(column) if column is not None else None
    return "" if value is None else str(value).strip()


def example(row: dict, columns: Columns) -> Text:
    """The row's text, or its (text, text pair) for pair classification; "" when a part is missing."""
    text = cell(row, columns.text)
    if columns.pair is None:
        return text
    pair = cell(row, columns.pair)
    return (text, pair) if text and pair else ""


def labelled_texts(rows: Iterable[dict], columns: Columns) -> Labelled:
    """{label: texts}: texts stripped and de-duplicated per label in first-seen order (episodes need
    support and query disjoint); rows without text or label are skipped (trailing blank lines)."""
    by_label: dict[str, dict[Text, None]] = {}
    for row in rows:
        text, label = example(row, columns), cell(row, columns.label)
        if text and label:
            by_label.setdefault(label, {}).setdefault(text, None)
    return {label: list(texts) for label, texts in by_label.items()}


def parallel_pairs(rows: list[dict], pivot_rows: list[dict], columns: Columns) -> Pairs:
    """(text, pivot text) of the rows of two languages that share an id (SIB-200's index_id), in the order of
    `rows`, each pair once; a row without id or text is skipped."""
    pivot_text: dict[str, str] = {}
    for row in pivot_rows:
        if cell(row, columns.id) and cell(row, columns.text):
            pivot_text.setdefault(cell(row, columns.id), cell(row, columns.text))
    pairs = dict.fromkeys((cell(row, columns.text), pivot_text.get(cell(row, columns.id), "")) for row in rows
                          if cell(row, columns.id))
    return [(text, pivot) for text, pivot in pairs if text and pivot]


# --- files -------------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    """(column names, rows) of one CSV, TSV or JSON Lines file; the format is the file's extension."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt == "jsonl":
        rows = []
        for i, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise MetaNLPError(f"{path} line {i}: broken JSON: {e.msg}") from None
            if not isinstance(row, dict):
                raise MetaNLPError(f"{path} line {i}: each line must be a JSON object")
            rows.append(row)
        return list(dict.fromkeys(k for row in rows for k in row)), rows
    # utf-8-sig: spreadsheet exports start with a BOM that would otherwise stick to the first column name.
    # Default quoting: SIB-200's TSVs quote fields that contain '"' (pandas' to_csv), so QUOTE_NONE would be wrong.
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=DELIMITERS[fmt])
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_tatoeba_pairs(data_dir: str | Path, lang: str) -> list[tuple[str, str]]:
    """(xxx sentence, English sentence) pairs of the LASER Tatoeba layout: line i of
    tatoeba.<xxx>-eng.<xxx> translates line i of tatoeba.<xxx>-eng.eng."""
    stem = Path(data_dir) / f"tatoeba.{lang}-eng"
    sides = []
    for path in (stem.with_name(f"{stem.name}.{lang}"), stem.with_name(f"{stem.name}.eng")):
        if not path.is_file():
            raise MetaNLPError(f"tatoeba: no file {path} for language {lang!r}")
        # split("\n"), not splitlines(): the latter also breaks on U+2028 and U+0085 inside a sentence,
        # which would shift one side against the other.
        sides.append([line.rstrip("\r") for line in path.read_text(encoding="utf-8").rstrip("\n").split("\n")])
    if len(sides[0]) != len(sides[1]):
        raise MetaNLPError(f"tatoeba: {stem}.{lang} has {len(sides[0])} lines but {stem}.eng has {len(sides[1])}; "
                           "the two sides must be line-aligned")
    return list(zip(*sides))


class LocalFiles:
    """A folder of files; its languages are what the folder holds."""
    lists_offline = True

    def __init__(self, f: Fields, data_dir: Path | None = None, fallback: Fields | None = None, need: str = LABELLED):
        """`data_dir` (from --data-dir) replaces the YAML's `data_dir`; `fallback` lends its column names;
        `need` is what the task type needs (LABELLED, LABELLED_PAIRS or PAIRS)."""
        f.only(LAYOUT_FIELDS if fallback is not None else LOCAL_FIELDS)  # a local_layout block names no folder
        self.f = f
        # Where the folder came from, for error messages. A relative data_dir in a YAML is relative to that
        # file, so a user's task folder can travel with its data.
        self.data_dir_field = "--data-dir" if data_dir is not None else f"field '{f.dotted('data_dir')}'"
        # No data_dir in the YAML: the data is not shipped, and the user names it with --data-dir.
        yaml_dir = f.values.get("data_dir")
        self.data_dir = Path(data_dir) if data_dir is not None else \
            (f.file.parent / Path(str(yaml_dir)).expanduser() if yaml_dir is not None else None)
        self.layout = f.choice("layout", LAYOUTS)
        if self.layout != "per_language_folder":
            for key in ("splits", "format"):
                if key in f.values:
                    raise f.error(key, "applies to layout per_language_folder only")
        fmt = f.choice("format", DELIMITERS, "tsv")
        self.file_names = [f"{split}.{fmt}" for split in f.strings("splits", DEFAULT_SPLITS)]
        tatoeba = self.layout == "laser_tatoeba"
        self.yields = PAIRS if tatoeba else need
        self.columns = None if tatoeba else columns_of(f, fallback, need)
        self.pivot = pivot_of(f, fallback, need, "eng", fixed=True) if tatoeba else pivot_of(f, fallback, need)

    def folder(self) -> Path:
        if self.data_dir is None:
            raise MetaNLPError(f"{self.f.file}: this task's data is not shipped; pass its folder with --data-dir")
        if not self.data_dir.is_dir():
            raise MetaNLPError(f"{self.f.file}: {self.data_dir_field}: {self.data_dir} is not a folder")
        return self.data_dir

    def languages(self) -> list[str]:
        root = self.folder()
        if self.layout == "per_language_folder":
            return sorted(d.name for d in root.iterdir()
                          if d.is_dir() and any((d / name).is_file() for name in self.file_names))
        if self.layout == "per_language_file":
            stems = [p.stem for p in self.data_files(root)]
            twice = sorted({s for s in stems if stems.count(s) > 1})
            if twice:
                raise MetaNLPError(f"{self.f.file}: {self.data_dir_field}: language {twice[0]!r} has more than one "
                                   f"file in {root}")
            return sorted(stems)
        found = [p.name[len("tatoeba."):-len("-eng.eng")] for p in root.glob("tatoeba.*-eng.eng")]
        return sorted(lang for lang in found if (root / f"tatoeba.{lang}-eng.{lang}").is_file())

    @staticmethod
    def data_files(root: Path) -> list[Path]:
        return [p for p in root.iterdir() if p.is_file() and p.suffix.lstrip(".").lower() in DELIMITERS]

    def files(self, lang: str) -> list[Path]:
        """The files of one language, checked to exist."""
        root = self.folder()
        if self.layout == "per_language_file":
            return [p for p in self.data_files(root) if p.stem == lang]
        paths = [root / lang / name for name in self.file_names]
        for path in paths:
            if not path.is_file():
                raise self.f.error("splits", f"names {path.name}, which {path.parent} does not have")
        return paths

    def rows(self, lang: str) -> list[dict]:
        """Every row of one language's files, their columns checked."""
        assert self.columns is not None, "laser_tatoeba gives pairs, not rows"
        rows = []
        for path in self.files(lang):
            header, file_rows = read_rows(path)
            self.columns.check(header, str(path))
            rows += file_rows
        return rows

    def read_language(self, lang: str) -> Labelled:
        by_label = labelled_texts(self.rows(lang), self.columns)
        if not by_label:
            raise MetaNLPError(f"{self.f.file}: language {lang!r} has no rows with a text and a label in "
                               f"{', '.join(map(str, self.files(lang))) or self.data_dir} ({self.data_dir_field})")
        return by_label

    def read_pairs(self, lang: str, pivot: str) -> Pairs:
        if self.layout == "laser_tatoeba":
            if pivot != self.pivot:
                raise MetaNLPError(f"{self.f.file}: layout laser_tatoeba pairs every language with eng, not {pivot!r}")
            return read_tatoeba_pairs(self.folder(), lang)
        pairs = parallel_pairs(self.rows(lang), self.rows(pivot), self.columns)
        if not pairs:
            raise MetaNLPError(f"{self.f.file}: languages {lang!r} and {pivot!r} share no row id (field "
                               f"'{self.columns.fields['id_column']}') in {self.data_dir} ({self.data_dir_field})")
        return pairs


# --- the Hub -----------------------------------------------------------------------------------


class HubSource:
    """A Hugging Face Hub dataset, one configuration per language or one language column."""

    def __init__(self, f: Fields, need: str = LABELLED):
        f.only(HUB_FIELDS)
        self.f, self.yields = f, need
        self.path = str(f.get("path"))
        self.revision = f.get("revision", None)
        self.per_config = f.boolean("config_per_language", True)
        self.language_column = None if self.per_config else str(f.get("language_column"))
        self.declared = f.strings("languages", [])
        self.splits = f.strings("splits")
        self.columns = columns_of(f, need=need)
        self.pivot = pivot_of(f, None, need)
        self.lists_offline = bool(self.declared)  # otherwise naming the languages asks the Hub

    def hub(self, what: str, call: Callable[[Any], Any]) -> Any:
        """Run `call(datasets)`; any failure (offline, not cached, no such dataset) becomes one line."""
        try:
            import datasets
            return call(datasets)
        except Exception as e:  # datasets raises many types here (ConnectionError, DatasetNotFoundError, ...)
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise MetaNLPError(f"{self.f.file}: cannot {what} of Hub dataset {self.path!r} (field "
                               f"'{self.f.dotted('path')}'): {reason}; offline or not cached? pass --data-dir with a "
                               "local copy") from None

    def load_split(self, config: str | None, split: str) -> Any:
        """One split as a `datasets.Dataset`, its columns checked against the YAML's."""
        data = self.hub(f"load split {split!r}" + (f" of configuration {config!r}" if config else ""),
                        lambda ds: ds.load_dataset(self.path, config, split=split, revision=self.revision))
        where = f"{self.path} split {split}"
        self.columns.check(data.column_names, where)
        if self.language_column is not None and self.language_column not in data.column_names:
            raise self.f.error("language_column", f"names column {self.language_column!r}, which {where} does not "
                                                  f"have (columns: {', '.join(data.column_names)})")
        return data

    def languages(self) -> list[str]:
        if self.declared:
            return sorted(self.declared)
        if self.per_config:
            return sorted(self.hub("list the configurations",
                                   lambda ds: ds.get_dataset_config_names(self.path, revision=self.revision)))
        return sorted({str(v) for split in self.splits for v in self.load_split(None, split)[self.language_column]})

    def rows(self, lang: str) -> list[dict]:
        rows: list[dict] = []
        for split in self.splits:
            data = self.load_split(lang if self.per_config else None, split)
            rows += [row for row in hub_rows(data, self.columns.label)
                     if self.language_column is None or str(row[self.language_column]) == lang]
        return rows

    def read_language(self, lang: str) -> Labelled:
        by_label = labelled_texts(self.rows(lang), self.columns)
        if not by_label:
            raise MetaNLPError(f"{self.f.file}: language {lang!r} has no rows with a text and a label in Hub dataset "
                               f"{self.path!r} (splits {', '.join(self.splits)})")
        return by_label

    def read_pairs(self, lang: str, pivot: str) -> Pairs:
        pairs = parallel_pairs(self.rows(lang), self.rows(pivot), self.columns)
        if not pairs:
            raise MetaNLPError(f"{self.f.file}: languages {lang!r} and {pivot!r} share no row id (field "
                               f"'{self.columns.fields['id_column']}') in Hub dataset {self.path!r}")
        return pairs

    def local_copy(self, data_dir: Path) -> LocalFiles:
        if "local_layout" not in self.f.values:
            raise MetaNLPError(f"{self.f.file}: --data-dir needs field '{self.f.dotted('local_layout')}' (how the "
                               "files of a local copy are laid out)")
        return LocalFiles(self.f.child("local_layout"), data_dir, fallback=self.f, need=self.yields)


def hub_rows(data: Any, label_column: str | None) -> list[dict]:
    """Rows of a `datasets.Dataset` as dicts, ClassLabel ids turned into their names (the task's labels)."""
    names = getattr(data.features.get(label_column), "names", None) if label_column else None
    rows = [dict(row) for row in data]
    if names:
        for row in rows:
            row[label_column] = names[row[label_column]]
    return rows


# --- the packaged corpus -----------------------------------------------------------------------


class ChatterbotSource:
    """The chatterbot-corpus package: label = topic file, language = folder (meta_nlp/data/chatterbot.py)."""
    yields = "labelled"
    lists_offline = True

    def __init__(self, f: Fields):
        f.only(("kind", "file_part"))
        self.part = file_part(f)

    def languages(self) -> list[str]:
        return chatterbot.available_languages()

    def read_language(self, lang: str) -> Labelled:
        # looked up at call time: tests patch it to see what is read
        return chatterbot.read_language(lang, self.part)


def file_part(f: Fields) -> tuple[float, float]:
    """`file_part: [start, end]`: the part of each topic file read, as fractions of its utterances (default the
    whole file; meta_nlp/data/chatterbot.py: part_of_file)."""
    value = f.get("file_part", list(chatterbot.WHOLE_FILE))
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
            and 0 <= value[0] < value[1] <= 1):
        raise f.error("file_part", f"must be [start, end] with 0 <= start < end <= 1, got {value!r}")
    return float(value[0]), float(value[1])


class ChatterbotParallel:
    """The chatterbot-corpus package as sentence pairs: utterances aligned by topic file and position, where
    both files have as many utterances (meta_nlp/data/chatterbot.py: aligned_pairs)."""
    yields = PAIRS
    lists_offline = True
    pivot = "en"

    def __init__(self, f: Fields):
        f.only(("kind", "languages"))
        # Declared, because which languages keep pairs is only known by reading them (see surviving_pair_counts).
        self.declared = f.strings("languages", [])

    def languages(self) -> list[str]:
        return sorted(self.declared) or [lang for lang in chatterbot.available_languages() if lang != self.pivot]

    def read_pairs(self, lang: str, pivot: str) -> Pairs:
        return chatterbot.aligned_pairs(lang, pivot)  # looked up at call time: tests patch it


class CldrNames:
    """babel's CLDR names: (territory or language name in locale X, its name in the pivot), keyed by code."""
    yields = PAIRS
    lists_offline = True
    pivot = "en"

    def __init__(self, f: Fields):
        f.only(("kind",))

    def languages(self) -> list[str]:
        return [lang for lang in cldr.available_locales() if lang != self.pivot]

    def read_pairs(self, lang: str, pivot: str) -> Pairs:
        return cldr.name_pairs(lang, pivot)


PACKAGED_SOURCES = {"chatterbot_corpus": ChatterbotSource, "chatterbot_parallel": ChatterbotParallel,
                    "cldr_names": CldrNames}


def source_for(f: Fields, data_dir: Path | None = None, need: str = LABELLED) -> Source:
    """The reader of a task's `source:` block, for rows of kind `need`; `data_dir` (--data-dir) replaces where
    its rows come from."""
    kind = f.choice("kind", SOURCE_KINDS)
    if kind in PACKAGED_SOURCES:
        if data_dir is not None:
            raise f.error("kind", f"is {kind}, which reads an installed package: --data-dir applies to "
                                  "local_files and huggingface sources only")
        return PACKAGED_SOURCES[kind](f)
    if kind == "local_files":
        return LocalFiles(f, data_dir, need=need)
    hub = HubSource(f, need)
    return hub if data_dir is None else hub.local_copy(data_dir)
