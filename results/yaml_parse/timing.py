"""What parsing YAML with libyaml (meta_nlp/yaml_parse.py) saves, against PyYAML's pure-Python loader, on this machine:
every chatterbot-corpus topic file, find_task, and the default job's data reading (prepare_languages and the held-out
language). Best of 3 repeats each. Run from the repository root: python results/yaml_parse/timing.py"""
import time

import yaml

import meta_nlp.yaml_parse as yaml_parse
from meta_nlp.config import MetaConfig
from meta_nlp.data import chatterbot
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.data.registry import find_task

FILES = [p for code in chatterbot.available_languages() for p in sorted(chatterbot.language_folder(code).glob("*.yml"))]


def best_of_3(work) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def default_data_reading() -> None:
    cfg = MetaConfig()
    prepare_languages(cfg)
    for language in cfg.held_out_language:
        load_held_out(cfg, language)


WORK = {f"the {len(FILES)} chatterbot-corpus files": lambda: [chatterbot.conversations(p) for p in FILES],
        "find_task('chatterbot_topics')": lambda: find_task("chatterbot_topics"),
        "the default job's data reading": default_data_reading}
fast_loader = yaml_parse._FAST_LOADER
for what, work in WORK.items():
    yaml_parse._FAST_LOADER = yaml.SafeLoader
    pure = best_of_3(work)
    yaml_parse._FAST_LOADER = fast_loader
    fast = best_of_3(work)
    print(f"{what}: pure Python {pure * 1000:.0f} ms, {fast_loader.__name__} {fast * 1000:.0f} ms ({pure / fast:.1f}x)")
