"""Task registry: a task is a YAML file (tasks/*.yaml, or a user's --task-dir), not code."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from meta_nlp.errors import MetaNLPError

# Where the project's own task YAMLs live (repository root / tasks).
BUILTIN_TASK_DIR = Path(__file__).resolve().parents[2] / "tasks"
TASK_TYPES = ("classification",)
SOURCE_KINDS = ("chatterbot_corpus",)

Corpus = dict[str, dict[str, list[str]]]  # language -> label -> texts


@dataclass
class TaskSpec:
    name: str
    type: str
    source: dict
    path: Path
    extra: dict = field(default_factory=dict)

    def languages(self) -> list[str]:
        """Every language this task can produce (reads no example text)."""
        from meta_nlp.data import chatterbot
        return chatterbot.available_languages()


def _task_files(task_dirs: list[str]) -> list[Path]:
    dirs = [BUILTIN_TASK_DIR] + [Path(d) for d in task_dirs]
    for d in dirs[1:]:
        if not d.is_dir():
            raise MetaNLPError(f"--task-dir {d} is not a folder")
    return [p for d in dirs for p in sorted(d.glob("*.yaml")) if not p.name.startswith("_")]


def read_task_file(path: Path) -> TaskSpec:
    """Parse and check one task YAML; errors name the file and the field."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise MetaNLPError(f"{path}: broken YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise MetaNLPError(f"{path}: a task file must be a mapping")
    for key in ("name", "type", "source"):
        if key not in doc:
            raise MetaNLPError(f"{path}: missing field '{key}'")
    if doc["type"] not in TASK_TYPES:
        raise MetaNLPError(f"{path}: field 'type' is {doc['type']!r}; supported: {', '.join(TASK_TYPES)}")
    source = doc["source"]
    if not isinstance(source, dict) or source.get("kind") not in SOURCE_KINDS:
        raise MetaNLPError(f"{path}: field 'source.kind' must be one of {', '.join(SOURCE_KINDS)}")
    extra = {k: v for k, v in doc.items() if k not in ("name", "type", "source")}
    return TaskSpec(name=str(doc["name"]), type=doc["type"], source=source, path=path, extra=extra)


def list_tasks(task_dirs: list[str] | None = None) -> list[TaskSpec]:
    return [read_task_file(p) for p in _task_files(task_dirs or [])]


def find_task(name: str, task_dirs: list[str] | None = None) -> TaskSpec:
    tasks = {t.name: t for t in list_tasks(task_dirs)}  # a user's folder overrides a built-in name
    if name not in tasks:
        raise MetaNLPError(f"unknown task {name!r}; available: {', '.join(sorted(tasks))}")
    return tasks[name]


def load_corpus(task: TaskSpec, languages: list[str]) -> Corpus:
    """Read only the given languages. Unknown languages are a one-line error listing the valid ones."""
    known = task.languages()
    missing = [lang for lang in languages if lang not in known]
    if missing:
        raise MetaNLPError(f"task {task.name} has no language {missing[0]!r}; available: {', '.join(known)}")
    from meta_nlp.data import chatterbot
    return {lang: chatterbot.read_language(lang) for lang in languages}
