"""Source: the PyPI package chatterbot-corpus, as topic classification and as parallel text.

label = file name (topic), domain = language folder mapped to ISO 639-1, text = every
utterance of the file, de-duplicated. Only the folders of the requested languages are read,
so a held-out language is never opened during meta-training.

Parallel text: most language folders translate the English topic files conversation by
conversation, so utterance i of japanese/food.yml translates utterance i of english/food.yml,
but only where the translators kept every line (see `aligned_pairs`).
"""
from __future__ import annotations

import os
from pathlib import Path

from meta_nlp.errors import MetaNLPError
from meta_nlp.yaml_parse import parse_yaml

# Folder name -> ISO 639-1 (BCP-47 where 639-1 has no code).
FOLDER_TO_CODE = {
    "bengali": "bn", "chinese": "zh", "dutch": "nl", "english": "en", "french": "fr", "german": "de",
    "hebrew": "he", "hindi": "hi", "hinglish": "hi-Latn", "indonesian": "id", "italian": "it",
    "japanese": "ja", "korean": "ko", "marathi": "mr", "oriya": "or", "persian": "fa",
    "portuguese": "pt", "russian": "ru", "spanish": "es", "swedish": "sv", "tamil": "ta",
    "telugu": "te", "thai": "th", "traditionalchinese": "zh-Hant", "turkish": "tr",
    "ukrainian": "uk", "urdu": "ur", "yoruba": "yo",
}


def corpus_root() -> Path:
    try:
        import chatterbot_corpus
    except ImportError:
        raise MetaNLPError("the chatterbot_topics task needs the package chatterbot-corpus: pip install chatterbot-corpus") from None
    return Path(os.path.dirname(chatterbot_corpus.__file__)) / "data"


def available_languages() -> list[str]:
    root = corpus_root()
    return sorted(FOLDER_TO_CODE[d.name] for d in root.iterdir() if d.is_dir() and d.name in FOLDER_TO_CODE)


def language_folder(code: str) -> Path:
    folder = {v: k for k, v in FOLDER_TO_CODE.items()}.get(code)
    if folder is None or not (corpus_root() / folder).is_dir():
        raise MetaNLPError(f"chatterbot-corpus has no language {code!r}; available: {', '.join(available_languages())}")
    return corpus_root() / folder


def conversations(path: Path) -> list[list[str]]:
    """The conversations of one topic file, each its utterances stripped, duplicates kept (positions matter for
    alignment); a non-text entry stays as "" so that it still takes its position."""
    doc = parse_yaml(path.read_text(encoding="utf-8")) or {}
    return [[utterance.strip() if isinstance(utterance, str) else ""
             for utterance in (conversation if isinstance(conversation, list) else [conversation])]
            for conversation in doc.get("conversations") or []]


def utterances(path: Path) -> list[str]:
    """Every utterance of one topic file, in conversation order (see `conversations`)."""
    return [utterance for conversation in conversations(path) for utterance in conversation]


WHOLE_FILE = (0.0, 1.0)


def part_of_file(path: Path, part: tuple[float, float] = WHOLE_FILE) -> list[str]:
    """The utterances of the conversations that begin in `part` = [start, end) of the file, as fractions of its
    utterances, less any utterance that also occurs elsewhere in the file: two disjoint parts share no text.

    Why by position: most language folders translate the English files line by line, so the same part of every
    language's file holds roughly the same content; a language evaluated on [0.6, 1) after meta-training on the
    other languages' [0, 0.5) has not read its evaluation lines in translation. Roughly: where a translator added or
    dropped lines, positions drift (the gap between the two parts absorbs small drifts)."""
    inside: list[str] = []
    outside: set[str] = set()
    every = conversations(path)
    total, position = max(sum(map(len, every)), 1), 0
    for conversation in every:
        if part[0] <= position / total < part[1]:
            inside.extend(conversation)
        else:
            outside.update(conversation)
        position += len(conversation)
    return [utterance for utterance in inside if utterance not in outside]


def read_language(code: str, part: tuple[float, float] = WHOLE_FILE) -> dict[str, list[str]]:
    """{topic: [utterances]} for one language, utterances de-duplicated in first-seen order; only `part` of each
    file (see `part_of_file`)."""
    topics: dict[str, list[str]] = {}
    for path in sorted(language_folder(code).glob("*.yml")):
        seen = dict.fromkeys(u for u in part_of_file(path, part) if u)
        if seen:
            topics[path.stem] = list(seen)
    return topics


def aligned_pairs(code: str, pivot: str = "en") -> list[tuple[str, str]]:
    """(utterance in `code`, utterance in `pivot`) aligned by topic file and position, only for the files whose
    two versions have the same number of utterances: a different count means lines were added or dropped, and
    every position after the first difference would pair the wrong sentences. Identical pairs are kept once."""
    mine, theirs = language_folder(code), language_folder(pivot)
    pairs: dict[tuple[str, str], None] = {}
    for path in sorted(mine.glob("*.yml")):
        other = theirs / path.name
        if not other.is_file():
            continue
        a, b = utterances(path), utterances(other)
        if len(a) == len(b):
            pairs.update(dict.fromkeys((x, y) for x, y in zip(a, b) if x and y))
    return list(pairs)


def surviving_pair_counts(codes: list[str], pivot: str = "en") -> dict[str, int]:
    """How many pairs `aligned_pairs` keeps per language: the size of each language's parallel data."""
    return {code: len(aligned_pairs(code, pivot)) for code in codes}
