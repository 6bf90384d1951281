"""Parsing YAML: task files, run configs, chatterbot-corpus dialogues.

libyaml's C parser where PyYAML was built with it: the same Python objects as `yaml.safe_load`, about 12 times as
fast on the chatterbot-corpus files every default run reads (results/yaml_parse/timing.txt). A document it rejects is
parsed again in pure Python, whose error messages are the clearer (they name the character, e.g. a tab)."""

from __future__ import annotations

from typing import Any

import yaml

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return yaml.safe_load(text)  # raises the pure-Python parser's error for the same document
