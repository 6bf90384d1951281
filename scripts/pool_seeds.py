#!/usr/bin/env python
"""The `meta-nlp-pool-seeds` console command as a script (code and --help: meta_nlp/commands/pool_seeds.py)."""
from meta_nlp.commands.pool_seeds import run

if __name__ == "__main__":
    run()
