"""The paired differences quoted in results.md ("sixth measurements") on the default job's held-out `ja` episodes
(2 seeds × 200, the same episodes in every run), with the project's paired bootstrap (resampling within seeds).
Run from the repository root: python results/label_names/pairs.py"""
import json
from pathlib import Path

from meta_nlp.evaluation.stats import interval, paired_bootstrap

PLAIN = "results/default_auto_2seeds"  # the default job before the names (code 80e5717)
TRAINED = "results/label_names/pooled"  # --label-name-weight 1 when it also meta-trained with the names (db91136)
TEST_TIME = "results/label_names/test_time_only/pooled"  # PLAIN's FOMAML re-evaluated with the names
DEFAULT = "results/default_job_names_2seeds"  # today's default job: the names at test time only
SETFIT = "results/setfit_fp32/pooled"  # SetFit in float32 (as published: no names) on the same episodes


def row(run: str, method: str) -> dict:
    results = json.load(open(f"{run}/results.json"))["results"]
    return next(r for r in results if r["method"] == method and r["language"] == "ja")


def show(name: str, a: dict, b: dict) -> None:
    print(f"{name}: {a['accuracy']:.4f} − {b['accuracy']:.4f} = {interval(paired_bootstrap(a, b))}")


print("## Meta-trained and evaluated with the names, against the default job without them")
for method in ("fomaml", "multitask", "finetune"):
    show(f"{method}: with names − without", row(TRAINED, method), row(PLAIN, method))
show("fomaml − multitask, both with names", row(TRAINED, "fomaml"), row(TRAINED, "multitask"))
print("## The same FOMAML meta-trained without the names, evaluated with them")
show("fomaml: names at test time − without", row(TEST_TIME, "fomaml"), row(PLAIN, "fomaml"))
show("fomaml: names at test time − meta-trained with names", row(TEST_TIME, "fomaml"), row(TRAINED, "fomaml"))
if Path(DEFAULT).is_dir():
    print("## Today's default job (names at test time) against the previous default")
    for method in ("fomaml", "multitask", "finetune"):
        a = row(DEFAULT, method)
        print(f"{method} {a['accuracy']:.4f} ± {a['ci95']:.4f}")
        show(f"  {method}: today − previous default", a, row(PLAIN, method))
    show("fomaml − multitask", row(DEFAULT, "fomaml"), row(DEFAULT, "multitask"))
    show("fomaml − finetune", row(DEFAULT, "fomaml"), row(DEFAULT, "finetune"))
if Path(SETFIT).is_dir():
    setfit = row(SETFIT, "setfit")
    print(f"## SetFit in float32: {setfit['accuracy']:.4f} ± {setfit['ci95']:.4f}")
    for run, label in ((PLAIN, "previous default"), (DEFAULT, "today's default")):
        if Path(run).is_dir():
            for method in ("fomaml", "multitask", "finetune"):
                show(f"{method} ({label}) − setfit", row(run, method), setfit)
