"""Sequential edits and their metrics (the editing issue).

An edit asks a classifier to give `text` the label `label`. A stream is a seeded sequence of them: the classifier's
own mistakes on the editing evaluation rows, corrected to the gold label, or (counterfactual, harder) a label that
is neither gold nor predicted. One edit (n_edits = 1) is scored as the mean over many single edits, each made on
the unedited classifier (`single_edit_scores`); T > 1 edits are made one after another (`stream_scores`) and
scored after the T-th:
- edit_success: share of the T edits that held right after they were made;
- generality: over the edits that have translations in the training languages, the mean share of them that now
  take the edit's label;
- generality_latin: the same for their translations written in Latin script;
- generality_held_out: the same for their translations in the held-out languages (an edit made in one language,
  holding in one never seen; None where no translation is known);
- locality: agreement with the *unedited* classifier's predictions (cached before any edit) on unrelated rows;
- drawdown: the accuracy lost on held-back rows, in points (unedited accuracy − edited accuracy) x 100;
- retention: share of all T edits that still hold after the T-th;
- latency_s: mean seconds per edit;
- finite: whether every edited weight is still finite (MEND's edits are known to blow up over long streams).
"""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

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


def single_edit_scores(model: EditableClassifier, apply_edit: Callable[[EditableClassifier, Edit], object],
                       edits: list[Edit], held_back: list[Row], method: str, stream_name: str) -> dict:
    """The one-edit row (n_edits = 1): each edit made alone on the unedited classifier, which is restored after it;
    every metric is a mean over the edits. `per_edit_generality` keeps each edit's generality (None: no
    translations) so that methods can be compared paired on the same edits."""
    start = model.state()
    unedited, accuracy_before = predictions_and_accuracy(model, held_back)
    per_edit: dict[str, list] = {k: [] for k in ("success", "generality", "latin", "held_out", "locality", "drawdown",
                                                 "s")}
    for edit in tqdm(edits, desc=f"{method}: single edits ({stream_name})", leave=False, dynamic_ncols=True):
        started = time.perf_counter()
        apply_edit(model, edit)
        per_edit["s"].append(time.perf_counter() - started)
        per_edit["success"].append(float(model.predict([edit.text])[0] == edit.label))
        for key, value in zip(("generality", "latin", "held_out"), edit_generality(model, edit)):
            per_edit[key].append(value)
        predicted, accuracy_after = predictions_and_accuracy(model, held_back)
        per_edit["locality"].append(float(np.mean([a == b for a, b in zip(predicted, unedited)])))
        per_edit["drawdown"].append(100 * (accuracy_before - accuracy_after))
        model.restore(start)
    success = float(np.mean(per_edit["success"]))
    return {"method": method, "stream": stream_name, "n_edits": 1, "edit_success": success,
            **generality_fields(per_edit["generality"], per_edit["latin"], per_edit["held_out"]),
            "locality": float(np.mean(per_edit["locality"])), "drawdown": round(float(np.mean(per_edit["drawdown"])), 3),
            "retention": success, "latency_s": float(np.mean(per_edit["s"])), "n": len(edits),
            "per_edit_generality": per_edit["generality"]}


def stream_scores(model: EditableClassifier, apply_edit: Callable[[EditableClassifier, Edit], object],
                  stream: list[Edit], checkpoints: list[int], held_back: list[Row],
                  method: str, stream_name: str) -> list[dict]:
    """Apply the stream's edits one after another; a row of metrics after each checkpoint's number of edits."""
    unedited, accuracy_before = predictions_and_accuracy(model, held_back)
    held, seconds, out = [], [], []
    for t, edit in enumerate(tqdm(stream, desc=f"{method}: sequential edits ({stream_name})", leave=False,
                                  dynamic_ncols=True), 1):
        started = time.perf_counter()
        apply_edit(model, edit)
        seconds.append(time.perf_counter() - started)
        held.append(model.predict([edit.text])[0] == edit.label)
        if t in checkpoints:
            done = stream[:t]
            still = model.predict([e.text for e in done])
            predicted, accuracy_after = predictions_and_accuracy(model, held_back)
            out.append({"method": method, "stream": stream_name, "n_edits": t, "edit_success": float(np.mean(held)),
                        **generality_fields(*zip(*(edit_generality(model, e) for e in done))),
                        "locality": float(np.mean([a == b for a, b in zip(predicted, unedited)])),
                        "drawdown": round(100 * (accuracy_before - accuracy_after), 3),
                        "retention": float(np.mean([p == e.label for p, e in zip(still, done)])),
                        "latency_s": float(np.mean(seconds)), "n": len(stream),
                        "finite": all(bool(torch.isfinite(w).all()) for w in model.weights.values())})
    return out


def edit_generality(model: EditableClassifier, edit: Edit) -> tuple[float | None, float | None, float | None]:
    """Shares of the edit's translations taking its label: in the training languages, those in Latin script, in the
    held-out languages (None where it has none)."""
    return (holds_on(model, [(t, edit.label) for t in edit.equivalents]),
            holds_on(model, [(t, edit.label) for t in edit.equivalents if is_latin(t)]),
            holds_on(model, [(t, edit.label) for t in edit.held_out_equivalents]))


def generality_fields(general: list[float | None], latin: list[float | None], held_out: list[float | None]) -> dict:
    """Generality (the translations in the training languages; `_latin`: those written in Latin script; `_held_out`:
    in the held-out languages): the mean over edits that have such translations of the share taking the edit's label
    (None where no edit has any), with how many edits count."""
    def mean(values):
        known = [v for v in values if v is not None]
        return (float(np.mean(known)) if known else None), len(known)
    (g, n_g), (lat, n_lat), (h, n_h) = mean(general), mean(latin), mean(held_out)
    return {"generality": g, "n_general": n_g, "generality_latin": lat, "n_general_latin": n_lat,
            "generality_held_out": h, "n_general_held_out": n_h}


def is_latin(text: str) -> bool:
    """Whether most of the text's letters are Latin (the issue's generality target is on Latin-script languages)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) > len(letters) / 2


def holds_on(model: EditableClassifier, texts_and_labels: list[tuple[str, int]]) -> float | None:
    """Share of the texts that take their label; None when there are none."""
    if not texts_and_labels:
        return None
    predicted = model.predict([text for text, _ in texts_and_labels])
    return float(np.mean([p == y for p, (_, y) in zip(predicted, texts_and_labels)]))


def predictions_and_accuracy(model: EditableClassifier, rows: list[Row]) -> tuple[list[int], float]:
    """The model's labels for the rows (locality compares them) and its accuracy on them (drawdown), one pass."""
    predicted = model.predict([r.text for r in rows])
    return predicted, float(np.mean([p == r.gold for p, r in zip(predicted, rows)]))


def accuracy(model: EditableClassifier, rows: list[Row]) -> float:
    return predictions_and_accuracy(model, rows)[1]
