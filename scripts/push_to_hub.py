#!/usr/bin/env python
"""The `meta-nlp-push` console command as a script (code and --help: meta_nlp/commands/push_to_hub.py)."""
from meta_nlp.commands.push_to_hub import run

if __name__ == "__main__":
    run()
