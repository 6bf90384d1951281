#!/usr/bin/env python
"""The `meta-nlp-edit` console command as a script (code and --help: meta_nlp/commands/edit.py)."""
from meta_nlp.commands.edit import run

if __name__ == "__main__":
    run()
