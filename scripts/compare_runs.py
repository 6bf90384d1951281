#!/usr/bin/env python
"""The `meta-nlp-compare` console command as a script (code and --help: meta_nlp/commands/compare_runs.py)."""
from meta_nlp.commands.compare_runs import run

if __name__ == "__main__":
    run()
