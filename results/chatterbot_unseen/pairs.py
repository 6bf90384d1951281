"""The paired differences quoted in results.md ("eleventh measurements"), written before the runs finished.
1. Chatterbot with unseen lines (configs/study_chatterbot_unseen.yaml; plan.md): FOMAML and ProtoNet at 40
   meta-steps, ProtoNet at 640, each against both baselines trained as many steps, on the same 2 seeds × 200 `ja`
   episodes (from the last 40% of ja's topic files) at every budget.
2. The plan's addendum: ProtoNet and the baselines at 640 on chatterbot `ko` (the standard study), against the
   seventh measurements' 40-step runs on the same episodes.
The project's paired bootstrap (resampling episodes within seeds); settings whose runs have not finished are skipped.
Run from the repository root: python results/chatterbot_unseen/pairs.py"""
from pathlib import Path

from meta_nlp.evaluation.comparison import result_row
from meta_nlp.evaluation.stats import interval, paired_bootstrap

BASELINES = ("multitask", "finetune")
SETTINGS = {  # name: (held-out language, {budget: (pooled run, meta-learners)})
    "chatterbot, unseen lines": ("ja", {40: ("results/chatterbot_unseen/steps40", ("fomaml", "protonet")),
                                        640: ("results/chatterbot_unseen/steps640", ("protonet",))}),
    "chatterbot study (lines seen in translation)": (
        "ko", {40: ("results/study_chatterbot_names", ("protonet",)),
               640: ("results/study_chatterbot_640/steps640", ("protonet",))}),
}


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {a['accuracy']:.4f} − {b['accuracy']:.4f} = {interval(paired_bootstrap(a, b))}")


for setting, (language, budgets) in SETTINGS.items():
    finished = {b: (run, methods) for b, (run, methods) in budgets.items() if Path(run, "results.json").is_file()}
    skipped = "".join(f" ({b} steps not finished, skipped)" for b in budgets if b not in finished)
    print(f"## {setting}, {language}{skipped}")
    rows = {(m, b): result_row(run, m, language) for b, (run, methods) in finished.items() for m in methods + BASELINES}
    for budget, (run, methods) in finished.items():
        print(f"{budget} steps: " + ", ".join(
            f"{m} {rows[m, budget]['accuracy']:.4f} ± {rows[m, budget]['ci95']:.4f} (selected step "
            f"{rows[m, budget]['selected_step']}, test-time steps {rows[m, budget]['adapt_steps']})"
            for m in methods + BASELINES))
        for m in methods:
            for baseline in BASELINES:
                show(f"{m} − {baseline} ({budget})", rows[m, budget], rows[baseline, budget])
        show(f"multitask − finetune ({budget})", rows["multitask", budget], rows["finetune", budget])
    if len(finished) == 2:
        for m in ("protonet", *BASELINES):
            show(f"{m}: 640 − 40", rows[m, 640], rows[m, 40])
        show("protonet (640) − multitask (40)", rows["protonet", 640], rows["multitask", 40])
