"""The paired differences quoted in results.md ("eleventh measurements"), written before the runs finished.
Chatterbot with unseen lines (configs/study_chatterbot_unseen.yaml; plan.md): FOMAML and ProtoNet at 40 meta-steps,
ProtoNet at 640, each against both baselines trained as many steps, on the same 2 seeds × 200 `ja` episodes (from the
last 40% of ja's topic files) at every budget. The plan's `ko` addendum was cancelled before its runs started, so it
has no section here. The project's paired bootstrap (resampling episodes within seeds).
Run from the repository root: python results/chatterbot_unseen/pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary

LANGUAGE = "ja"
BASELINES = ("multitask", "finetune")
RUNS = {40: ("results/chatterbot_unseen/steps40", ("fomaml", "protonet")),  # budget: (pooled run, meta-learners)
        640: ("results/chatterbot_unseen/steps640", ("protonet",))}


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {paired_difference(a, b)}")


rows = {(m, b): result_row(run, m, LANGUAGE) for b, (run, methods) in RUNS.items() for m in methods + BASELINES}
print(f"## chatterbot, unseen lines, {LANGUAGE}")
for budget, (run, methods) in RUNS.items():
    print(f"{budget} steps: " + ", ".join(result_summary(rows[m, budget]) for m in methods + BASELINES))
    for m in methods:
        for baseline in BASELINES:
            show(f"{m} − {baseline} ({budget})", rows[m, budget], rows[baseline, budget])
    show(f"multitask − finetune ({budget})", rows["multitask", budget], rows["finetune", budget])
for m in ("protonet", *BASELINES):
    show(f"{m}: 640 − 40", rows[m, 640], rows[m, 40])
show("protonet (640) − multitask (40)", rows["protonet", 640], rows["multitask", 40])
