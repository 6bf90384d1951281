"""The paired differences quoted in results.md ("twelfth measurements"), written before the runs finished (plan.md);
its branches for unfinished runs dropped once all had finished.
1. The README's default job re-measured with ProtoNet, its new algorithm (2 seeds × 200 `ja` episodes, pooled by
   scripts/pool_seeds.py into default_2seeds/), against its baselines and against the earlier runs on the same
   episodes: FOMAML, the default until now (results/default_job_names_2seeds), ProtoNet on older code
   (results/ja_methods_names) and SetFit (results/setfit_fp32).
2. SIB-200 with unseen sentences at 40 and 640 meta-steps (configs/study_sib200_unseen.yaml), the same episodes.
3. `ko` and `uk` with unseen lines at 40 meta-steps (configs/study_chatterbot_unseen.yaml, one study per
   --held-out-language; the plan's addenda).
The project's paired bootstrap (resampling episodes within seeds).
Run from the repository root: python results/default_unseen/pairs.py"""

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary, rows_by_budget

METHODS = ("protonet", "multitask", "finetune")


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {paired_difference(a, b)}")


DEFAULT = "results/default_unseen/default_2seeds"
rows = {m: result_row(DEFAULT, m, "ja") for m in METHODS}
print("## the default job (ProtoNet, 40 steps), ja\n" + ", ".join(map(result_summary, rows.values())))
for baseline in ("multitask", "finetune"):
    show(f"protonet − {baseline}", rows["protonet"], rows[baseline])
show("multitask − finetune", rows["multitask"], rows["finetune"])
show("protonet − fomaml (the previous default)", rows["protonet"],
     result_row("results/default_job_names_2seeds", "fomaml", "ja"))
show("protonet − protonet on older code", rows["protonet"],
     result_row("results/ja_methods_names/pooled", "protonet", "ja"))
show("multitask − multitask on older code", rows["multitask"],
     result_row("results/default_job_names_2seeds", "multitask", "ja"))
show("protonet − setfit (float32, results/setfit_fp32)", rows["protonet"],
     result_row("results/setfit_fp32/pooled", "setfit", "ja"))

for setting, languages, runs in (
        ("SIB-200, unseen sentences", ("jpn_Jpan", "ita_Latn"),
         {b: f"results/sib200_unseen_640/steps{b}" for b in (40, 640)}),
        *(("chatterbot, unseen lines", (lang,), {40: f"results/chatterbot_unseen_{lang}/steps40"})
          for lang in ("ko", "uk"))):
    for language in languages:
        rows, table = rows_by_budget(runs, METHODS, language)
        print(f"## {setting}, {language}\n{table}")
        for budget in runs:
            for baseline in ("multitask", "finetune"):
                show(f"protonet − {baseline} ({budget})", rows["protonet", budget], rows[baseline, budget])
        if 640 in runs:
            for m in METHODS[:2]:
                show(f"{m}: 640 − 40", rows[m, 640], rows[m, 40])
            show("protonet (640) − multitask (40)", rows["protonet", 640], rows["multitask", 40])
