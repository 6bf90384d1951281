"""Sequential edits and their metrics (the editing issue).

An edit asks a classifier to give `text` the label `label`. A stream is a seeded sequence of them: the classifier's
own mistakes on the editing evaluation rows, corrected to the gold label, or (counterfactual, harder) a label that
is neither gold nor predicted. After T edits of a stream (T in `checkpoints`):
- edit_success: share of the T edits that held right after they were made;
- generality: share of their translations in the training languages that now take the edit's label;
- generality_held_out: the same for their translations in the held-out languages (an edit made in one language,
  holding in one never seen; None where no translation is known);
- locality: agreement with the *unedited* classifier's predictions (cached before any edit) on unrelated rows;
- drawdown: the accuracy lost on held-back rows, in points (unedited accuracy − edited accuracy) x 100;
- retention: share of all T edits that still hold after the T-th;
- latency_s: mean seconds per edit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from meta_nlp.models.editors import EditableClassifier

EDIT_STREAM = 14  # the random stream that orders the edits of a stream and picks counterfactual labels


@dataclass
class Edit:
    text: str
    label: int  # the label asked for
    gold: int
    language: str
    equivalents: list[str]  # the same row's translations in the training languages
    group: str = ""
    held_out_equivalents: list[str] = field(default_factory=list)  # its translations in the held-out languages


@dataclass
class Row:
    text: str
    gold: int
    language: str
    group: str


def edit_stream(model: EditableClassifier, rows: list[Row], translations: dict[str, list[Row]], seed: int,
                counterfactual: bool = False) -> list[Edit]:
    """The classifier's mistakes on `rows` corrected to gold (or, counterfactual, every row asked for a label that is
    neither gold nor predicted), in a seeded order; `translations`: group -> its rows."""
    predicted = model.predict([r.text for r in rows])
    rng = np.random.default_rng([seed, EDIT_STREAM, int(counterfactual)])
    edits = []
    for row, p in zip(rows, predicted):
        others = [t.text for t in translations.get(row.group, []) if t.text != row.text]
        if counterfactual:
            wrong = [y for y in range(len(model.labels)) if y not in (row.gold, p)]
            edits.append(Edit(row.text, int(rng.choice(wrong)), row.gold, row.language, others, row.group))
        elif p != row.gold:
            edits.append(Edit(row.text, row.gold, row.gold, row.language, others, row.group))
    return [edits[i] for i in rng.permutation(len(edits))]


def stream_scores(model: EditableClassifier, apply_edit: Callable[[EditableClassifier, Edit], object],
                  stream: list[Edit], checkpoints: list[int], unrelated: list[str], held_back: list[Row],
                  method: str, stream_name: str) -> list[dict]:
    """Apply the stream's edits one after another; a row of metrics after each checkpoint's number of edits."""
    unedited = model.predict(unrelated)
    accuracy_before = accuracy(model, held_back)
    held, seconds, out = [], [], []
    for t, edit in enumerate(stream, 1):
        started = time.perf_counter()
        apply_edit(model, edit)
        seconds.append(time.perf_counter() - started)
        held.append(model.predict([edit.text])[0] == edit.label)
        if t in checkpoints:
            done = stream[:t]
            still = model.predict([e.text for e in done])
            general, n_general = holds_on(model, [(text, e.label) for e in done for text in e.equivalents])
            held_out, n_held_out = holds_on(model, [(text, e.label) for e in done for text in e.held_out_equivalents])
            out.append({"method": method, "stream": stream_name, "n_edits": t, "edit_success": float(np.mean(held)),
                        "generality": general, "n_equivalents": n_general,
                        "generality_held_out": held_out, "n_held_out_equivalents": n_held_out,
                        "locality": float(np.mean([a == b for a, b in zip(model.predict(unrelated), unedited)])),
                        "drawdown": round(100 * (accuracy_before - accuracy(model, held_back)), 3),
                        "retention": float(np.mean([p == e.label for p, e in zip(still, done)])),
                        "latency_s": float(np.mean(seconds)), "n": len(stream)})
    return out


def holds_on(model: EditableClassifier, texts_and_labels: list[tuple[str, int]]) -> tuple[float | None, int]:
    """(share of the texts that take their label, how many texts); None when there are none."""
    if not texts_and_labels:
        return None, 0
    predicted = model.predict([text for text, _ in texts_and_labels])
    return float(np.mean([p == y for p, (_, y) in zip(predicted, texts_and_labels)])), len(texts_and_labels)


def accuracy(model: EditableClassifier, rows: list[Row]) -> float:
    return float(np.mean([p == r.gold for p, r in zip(model.predict([r.text for r in rows]), rows)]))
