#!/usr/bin/env python
"""The `meta-nlp-study` console command as a script (code and --help: meta_nlp/commands/study.py)."""
from meta_nlp.commands.study import run

if __name__ == "__main__":
    run()
