#!/usr/bin/env python
"""The `meta-nlp-token-overlap` console command as a script (code and --help: meta_nlp/commands/token_overlap.py)."""
from meta_nlp.commands.token_overlap import run

if __name__ == "__main__":
    run()
