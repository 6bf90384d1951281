"""Accuracy as an `evaluate` metric module that ships with the project (loads by path, offline)."""
import datasets
import evaluate

_DESCRIPTION = "Accuracy: the share of predictions equal to the reference labels."
_KWARGS = "predictions: list of int; references: list of int. Returns {'accuracy': float}."


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        correct = sum(int(p == r) for p, r in zip(predictions, references))
        return {"accuracy": correct / len(references) if references else 0.0}
