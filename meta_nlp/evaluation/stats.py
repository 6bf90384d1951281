"""Statistics, in one place and with one definition each.

- An accuracy is reported as the mean over episodes ± the half-width of its normal-approximation 95%
  confidence interval (`mean_ci95`; `ci95` in every result).
- A difference between two methods is always paired over the same (seed, episode)s, with its 95%
  percentile-bootstrap interval resampled within seeds (`paired_bootstrap`; `vs_best_baseline`,
  `pairwise` and the ablation table all use it). That interval holds the trained models fixed.
- Where each seed was trained more than once (--training-draw), the difference also gets an interval that
  counts re-training (`with_training_randomness`): each method's spread over its draws joins the episodes'.
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
    retrained = with_training_randomness(result, other)
    return {"difference": diff, "ci95_low": low, "ci95_high": high,
            "test": f"paired bootstrap over (seed, episode), within seeds, {n_resamples} resamples",
            **({"with_training_randomness": retrained} if retrained else {})}


def with_training_randomness(result: dict, other: dict) -> dict | None:
    """result − other with a 95% interval that counts re-training, or None unless both were trained at least twice
    on every seed (pooled rows' `draw_accuracy`: per seed, each training draw's mean accuracy on its episodes).

    The difference is the mean over (seed, episode) of the draw-averaged scores. Its variance is the episodes' part
    (the draw-averaged paired differences, within seeds) plus, for each method and seed, the variance of its draws'
    accuracies (ddof=1) over its number of draws; a method that does not train (finetune) has identical draws and
    adds nothing. The interval is Student's t with Welch-Satterthwaite degrees of freedom, because the draws' part
    rests on very few draws (2 per seed: 1 degree of freedom each), where a normal or bootstrap interval would be
    too narrow. It errs wide: a draw's accuracy also carries its episodes' noise, counted in both parts."""
    seeds = list(dict.fromkeys(episode_seeds(result)))
    draws = [result.get("draw_accuracy"), other.get("draw_accuracy")]
    if any(d is None or len(d) != len(seeds) or min(map(len, d)) < 2 for d in draws):
        return None
    strata = np.asarray(episode_seeds(result))
    delta = np.asarray(result["episode_accuracy"], float) - np.asarray(other["episode_accuracy"], float)
    weights = {s: np.mean(strata == s) for s in seeds}  # each seed's share of the pooled episodes
    episodes = sum(weights[s] ** 2 * np.var(delta[strata == s], ddof=1) / np.sum(strata == s) for s in seeds)
    parts = [(episodes, len(delta) - len(seeds))]  # (variance, its degrees of freedom)
    for d in draws:
        parts += [(weights[s] ** 2 * np.var(d[i], ddof=1) / len(d[i]), len(d[i]) - 1) for i, s in enumerate(seeds)]
    variance = sum(v for v, _ in parts)
    df = variance ** 2 / sum(v ** 2 / dof for v, dof in parts if v > 0) if variance > 0 else math.inf
    half = student_t_quantile(0.975, df) * math.sqrt(variance)
    diff = float(delta.mean())
    return {"difference": diff, "ci95_low": diff - half, "ci95_high": diff + half, "degrees_of_freedom": float(df),
            "draws": [[len(x) for x in d] for d in draws],
            "retraining_share": float(1 - episodes / variance) if variance > 0 else 0.0,
            "test": "t interval: episodes (paired, within seeds) + each method's variance over training draws"}


def student_t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t (p > 0.5), by bisection on its distribution function integrated numerically: the
    one place the library needs it, not worth a scipy dependency. df = inf gives the normal quantile."""
    if math.isinf(df) or df > 1e6:
        df = 1e6
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(x: float) -> float:
        t = np.linspace(0.0, x, 4_001)
        density = np.exp(log_norm - (df + 1) / 2 * np.log1p(t * t / df))
        return 0.5 + float(np.trapezoid(density, t))
    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, high * 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


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
