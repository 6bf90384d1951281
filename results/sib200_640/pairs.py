"""The paired differences quoted in results.md ("tenth measurements"): ProtoNet and both baselines at 40 meta-training
steps (the seventh measurements' runs, code 8515b8e) and at 640 (the multitask baseline trained as many steps) on
SIB-200 `jpn_Jpan` and `ita_Latn` and on the held-out task (chatterbot topics → SIB-200 topics), 2 seeds × 200
episodes each, the same episodes at both budgets. The project's paired bootstrap (resampling episodes within seeds).
Also draws each setting's budget curve, accuracy_by_budget.png beside this file. Then the control of the plan's
addendum: SIB-200 at 640 steps with unseen sentences (configs/study_sib200_unseen.yaml; its own episodes, from the
test rows, so paired only within itself). Settings whose 640-step runs have not finished are skipped.
Run from the repository root: python results/sib200_640/pairs.py"""
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary, rows_by_budget
from meta_nlp.recipes.budget import plot_accuracy_by_budget

HERE = Path(__file__).parent
SETTINGS = {  # name: (held-out languages, {budget: pooled run}, where its curve goes)
    "SIB-200 study": (["jpn_Jpan", "ita_Latn"],
                      {40: "results/study_sib200_names", 640: "results/sib200_640/steps640"}, HERE / "sib200"),
    "held-out task": (["ita_Latn", "jpn_Jpan"],
                      {40: "results/held_out_task_names", 640: "results/held_out_task_640/steps640"},
                      HERE / "held_out_task"),
}
METHODS = ("protonet", "multitask", "finetune")


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {paired_difference(a, b)}")


for setting, (languages, runs, curve) in SETTINGS.items():
    if not Path(runs[640], "results.json").is_file():
        print(f"## {setting}: 640-step runs not finished, skipped")
        continue
    for language in languages:
        rows, table = rows_by_budget(runs, METHODS, language)
        print(f"## {setting}, {language}\n{table}")
        for m in METHODS:
            show(f"{m}: 640 − 40", rows[m, 640], rows[m, 40])
        for budget in runs:
            for baseline in ("multitask", "finetune"):
                show(f"protonet − {baseline} ({budget})", rows["protonet", budget], rows[baseline, budget])
        show("protonet (640) − multitask (40)", rows["protonet", 640], rows["multitask", 40])
    curve.mkdir(parents=True, exist_ok=True)
    plot_accuracy_by_budget(curve, [{**result_row(run, m, language), "budget": b} for b, run in runs.items()
                                    for m in METHODS for language in languages], 5)

UNSEEN = "results/sib200_unseen_640/steps640"
if not Path(UNSEEN, "results.json").is_file():
    print("## SIB-200, unseen sentences: 640-step runs not finished, skipped")
else:
    for language in ("jpn_Jpan", "ita_Latn"):
        rows = {m: result_row(UNSEEN, m, language) for m in METHODS}
        print(f"## SIB-200, unseen sentences (test rows), {language}, 640 steps")
        print(", ".join(result_summary(r) for r in rows.values()))
        for baseline in ("multitask", "finetune"):
            show(f"protonet − {baseline}", rows["protonet"], rows[baseline])
        show("multitask − finetune", rows["multitask"], rows["finetune"])
