#!/usr/bin/env python
"""The `meta-nlp-evaluate` console command as a script (code and --help: meta_nlp/commands/evaluate.py)."""
import sys
from pathlib import Path

# `python scripts/ANY.py` puts scripts/ first on sys.path, where this file would shadow Hugging Face's
# `evaluate` package (meta_nlp.evaluation imports it). So this folder leaves the path, and when this file
# is imported as `evaluate` anyway (from another script here), it hands the importer the real package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

if __name__ == "__main__":
    from meta_nlp.commands.evaluate import run
    run()
else:
    del sys.modules[__name__]
    import evaluate  # noqa: E402, F401  (the package now; the import system returns sys.modules[__name__])
