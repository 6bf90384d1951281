"""Source: the PyPI package chatterbot-corpus, as topic classification.

label = file name (topic), domain = language folder mapped to ISO 639-1, text = every
utterance of the file, de-duplicated. Only the folders of the requested languages are read,
so a held-out language is never opened during meta-training.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from meta_nlp.errors import MetaNLPError

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


def read_language(code: str) -> dict[str, list[str]]:
    """{topic: [utterances]} for one language, utterances de-duplicated in first-seen order."""
    folder = {v: k for k, v in FOLDER_TO_CODE.items()}.get(code)
    if folder is None or not (corpus_root() / folder).is_dir():
        raise MetaNLPError(f"chatterbot_topics has no language {code!r}; available: {', '.join(available_languages())}")
    topics: dict[str, list[str]] = {}
    for path in sorted((corpus_root() / folder).glob("*.yml")):
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
        seen: dict[str, None] = {}
        for conversation in doc.get("conversations") or []:
            for utterance in conversation if isinstance(conversation, list) else [conversation]:
                if isinstance(utterance, str) and utterance.strip():
                    seen.setdefault(utterance.strip(), None)
        if seen:
            topics[path.stem] = list(seen)
    return topics
