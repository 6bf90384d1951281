"""Zero-shot classification of a held-out language's rows (supervised distillation): a classifier trained on the
training languages labels them without any example of that language. Accuracy ± 95% CI over rows, and macro-F1
(the mean over the labels present of each label's F1, so a frequent label does not hide a lost one)."""
from __future__ import annotations

import numpy as np

from meta_nlp.evaluation.stats import mean_ci95


def macro_f1(predictions: list[int], labels: list[int]) -> float:
    pred, gold = np.asarray(predictions), np.asarray(labels)
    scores = []
    for label in np.unique(gold):
        tp = float(((pred == label) & (gold == label)).sum())
        precision = tp / max(1.0, float((pred == label).sum()))
        recall = tp / float((gold == label).sum())
        scores.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def row_scores(method: str, language: str, predictions: list[int], labels: list[int], seed: int) -> dict:
    """A result row of zero-shot classification; `episode_accuracy` holds each row's 0/1 correctness, so that
    paired differences between methods resample the same rows (evaluation/stats.py)."""
    correct = [int(p == y) for p, y in zip(predictions, labels)]
    accuracy, ci = mean_ci95(correct)
    majority = max(np.bincount(labels)) / len(labels)
    return {"method": method, "language": language, "setting": "supervised", "k_shot": 0, "accuracy": accuracy,
            "ci95": ci, "macro_f1": macro_f1(predictions, labels), "n_rows": len(labels),
            "majority_share": float(majority), "seed": seed, "episode_accuracy": correct}
