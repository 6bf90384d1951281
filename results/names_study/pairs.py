"""The paired differences quoted in results.md ("seventh measurements"): FOMAML and both baselines with the class
names at test time (code 8515b8e) on held-out `ja` (the default job), SIB-200 `jpn_Jpan` and `ita_Latn`, and the
held-out task (chatterbot topics → SIB-200 topics), 2 seeds × 200 episodes each, the same episodes in every run of a
setting; each under the `best` test-time rule and re-evaluated under `one_se`. The project's paired bootstrap
(resampling episodes within seeds). Run from the repository root: python results/names_study/pairs.py"""

from meta_nlp.evaluation.comparison import paired_difference, result_row

SETTINGS = {  # name: (languages, today's runs under `best`, the same checkpoints under `one_se`, the runs before the names)
    "default job, chatterbot": (["ja"], "results/default_job_names_2seeds", "results/one_se_names/default/pooled",
                                "results/default_auto_2seeds"),
    "SIB-200 study": (["jpn_Jpan", "ita_Latn"], "results/study_sib200_names", "results/one_se_names/sib200/pooled",
                      "results/study_sib200_logistic"),
    "held-out task": (["ita_Latn", "jpn_Jpan"], "results/held_out_task_names", "results/one_se_names/held_out_task/pooled",
                      "results/held_out_task_logistic"),
}
METHODS = ("fomaml", "multitask", "finetune")


def methods_line(rows: dict) -> str:
    return ", ".join(f"{m} {r['accuracy']:.4f} ± {r['ci95']:.4f} (steps {r['adapt_steps']})" for m, r in rows.items())


def show(name: str, a: dict, b: dict) -> None:
    print(f"  {name}: {paired_difference(a, b)}")


for setting, (languages, best, one_se, before) in SETTINGS.items():
    for language in languages:
        print(f"## {setting}, {language}")
        for rule, run in (("best", best), ("one_se", one_se)):
            rows = {m: result_row(run, m, language) for m in METHODS}
            print(f"{rule}: {methods_line(rows)}")
            show(f"fomaml − multitask ({rule})", rows["fomaml"], rows["multitask"])
            show(f"fomaml − finetune ({rule})", rows["fomaml"], rows["finetune"])
        for m in METHODS:
            show(f"{m}: one_se − best", result_row(one_se, m, language), result_row(best, m, language))
        for m in METHODS:
            show(f"{m}: today (best) − before the names", result_row(best, m, language), result_row(before, m, language))

# 48 meta-validation episodes instead of 12 (model selection and the test-time rule), queued before any of the runs
# above were read; the same seeds and evaluation episodes, so paired against the 12-episode runs.
VAL48 = {"default job, chatterbot": (["ja"], "results/val48/default/pooled", "results/default_job_names_2seeds"),
         "SIB-200 study": (["jpn_Jpan", "ita_Latn"], "results/val48/sib200", "results/study_sib200_names")}
for setting, (languages, val48, val12) in VAL48.items():
    for language in languages:
        print(f"## {setting}, {language}: 48 validation episodes")
        rows = {m: result_row(val48, m, language) for m in METHODS}
        print(methods_line(rows))
        show("fomaml − multitask (48)", rows["fomaml"], rows["multitask"])
        show("fomaml − finetune (48)", rows["fomaml"], rows["finetune"])
        for m in METHODS:
            show(f"{m}: 48 − 12 validation episodes", rows[m], result_row(val12, m, language))
