"""Shared command-line plumbing: one-line errors instead of tracebacks."""
from __future__ import annotations

import logging
import sys
from typing import Callable

from meta_nlp.errors import MetaNLPError


def main_guard(main: Callable[[], int | None]) -> None:
    """Run a script's main(); a MetaNLPError becomes `error: ...` and exit status 2."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    for noisy in ("httpx", "urllib3", "huggingface_hub", "filelock", "datasets", "transformers", "accelerate", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        sys.exit(main() or 0)
    except MetaNLPError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: resume with --resume-from-checkpoint latest", file=sys.stderr)
        sys.exit(130)
