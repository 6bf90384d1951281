"""Statistics, in one place and with one definition each.

- An accuracy is reported as the mean over episodes ± the half-width of its normal-approximation 95%
  confidence interval (`mean_ci95`; `ci95` in every result).
- A difference between two methods is always paired over the same (seed, episode)s, with its 95%
  percentile-bootstrap interval resampled within seeds (`paired_bootstrap`; `vs_best_baseline`,
  `pairwise` and the ablation table all use it).
"""
from __future__ import annotations

import math

import numpy as np

from meta_nlp.errors import MetaNLPError

N_RESAMPLES = 10_000


def standard_error(values) -> float:
    """Standard error of the mean over episodes (nan for fewer than 2)."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def mean_ci95(values) -> tuple[float, float]:
    """Mean and half-width of the normal-approximation 95% confidence interval over episodes."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), 1.96 * standard_error(values)


def bootstrap_difference(a, b, paired: bool = True, n_resamples: int = N_RESAMPLES,
                         seed: int = 0, strata: list | None = None) -> tuple[float, float, float]:
    """Mean of a − b and its 95% percentile-bootstrap interval (low, high).

    paired=True resamples episodes with both methods' scores together, so what a pair shares (the
    episode's difficulty) cancels; paired=False resamples a and b independently, the interval one
    gets by ignoring the pairing. `strata` (e.g. each episode's seed) resamples within each stratum,
    so every seed keeps its share of the episodes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    strata = np.zeros(len(a)) if strata is None else np.asarray(strata)
    rng = np.random.default_rng(seed)

    def resampled_indices() -> np.ndarray:  # [n_resamples, n], drawn stratum by stratum
        groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
        return np.concatenate([g[rng.integers(len(g), size=(n_resamples, len(g)))] for g in groups], axis=1)

    ia = resampled_indices()
    ib = ia if paired else resampled_indices()
    diffs = a[ia].mean(1) - b[ib].mean(1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(low), float(high)


def episode_seeds(result: dict) -> list:
    """The seed of each of a result's episodes (a single run's result: its own seed throughout)."""
    return result.get("episode_seed") or [result.get("seed", 0)] * len(result["episode_accuracy"])


def paired_bootstrap(result: dict, other: dict, n_resamples: int = N_RESAMPLES) -> dict:
    """result − other over the same (seed, episode) pairs, with its paired-bootstrap 95% interval (within seeds)."""
    if episode_seeds(result) != episode_seeds(other):
        raise MetaNLPError(f"{result['method']} and {other['method']} on {result['language']} were not run on the "
                           f"same seeds and episodes; re-run the missing ones")
    diff, low, high = bootstrap_difference(result["episode_accuracy"], other["episode_accuracy"],
                                           n_resamples=n_resamples, strata=episode_seeds(result))
    return {"difference": diff, "ci95_low": low, "ci95_high": high,
            "test": f"paired bootstrap over (seed, episode), within seeds, {n_resamples} resamples"}


def add_vs_best_baseline(results: list[dict], baselines: list[str], n_resamples: int = N_RESAMPLES) -> list[dict]:
    """Each non-baseline result gets `vs_best_baseline`: its paired difference to the most accurate baseline of
    the same language and K."""
    for lang, k in dict.fromkeys((r["language"], r["k_shot"]) for r in results):
        same = [r for r in results if (r["language"], r["k_shot"]) == (lang, k)]
        candidates = [r for r in same if r["method"] in baselines]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: r["accuracy"])
        for r in same:
            if r["method"] not in baselines:
                r["vs_best_baseline"] = {"baseline": best["method"], **paired_bootstrap(r, best, n_resamples)}
    return results


def interval(d: dict) -> str:
    """'+0.0123 [+0.0050, +0.0200]', in bold when the interval excludes 0."""
    text = f"{d['difference']:+.4f} [{d['ci95_low']:+.4f}, {d['ci95_high']:+.4f}]"
    return f"**{text}**" if d["ci95_low"] > 0 or d["ci95_high"] < 0 else text
