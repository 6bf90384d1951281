#!/usr/bin/env python
"""The `meta-nlp-train` console command as a script (code and --help: meta_nlp/commands/meta_train.py)."""
from meta_nlp.commands.meta_train import run

if __name__ == "__main__":
    run()
