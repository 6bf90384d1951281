"""Plan addendum 38 B (results/meta_batch_4/plan.md): the held-out task (chatterbot topics -> SIB-200 topics in
ita_Latn and jpn_Jpan, whole sentences, float32) with `--test-time-head transductive`: the 80-step ProtoNet checkpoints
of addendum 37 re-evaluated with finetune by scripts/evaluate.py, paired on the same 200 episodes per language and seed
with the logistic head's rows (ProtoNet: addendum 37's runs; finetune: runs K and A, results/max_length).
Run from the repository root after pooling both seeds (see results.md): python results/transductive/held_out_task_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, chosen_validation,
                                            paired_difference, result_row, run_choices, target_verdict)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

RUNS = {0: "_seed0", 1: "_seed1", "pooled": "_2seeds"}  # folder suffix of each seed, and of both pooled
LOGISTIC = {"protonet": "results/budget_held_out_task/steps80", "finetune": "results/max_length/held_out_task_128"}

for seed, suffix in RUNS.items():
    transductive = f"results/transductive/held_out_task_80{suffix}"
    print(f"\nseed {seed}:" + (f" {run_choices(transductive)}" if seed != "pooled" else ""))
    for lang in ("ita_Latn", "jpn_Jpan"):
        rows = {m: result_row(transductive, m, lang) for m in LOGISTIC}
        print(f"  {lang}:")
        for method, row in rows.items():
            logistic = result_row(LOGISTIC[method] + suffix, method, lang)
            print(f"    transductive {adaptation_summary(row)}")
            print(f"      − logistic {paired_difference(row, logistic)}")
            if seed != "pooled":
                print(f"      meta-validation at its choice: transductive "
                      f"{chosen_validation(transductive, method, lang):.4f}, logistic "
                      f"{chosen_validation(LOGISTIC[method] + suffix, method, lang):.4f}")
        d = paired_bootstrap(rows["protonet"], rows["finetune"])
        print(f"    transductive protonet − finetune {interval(d)} (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
        # A user would not give finetune a head that lowers it: against its logistic head as well.
        d = paired_bootstrap(rows["protonet"], result_row(LOGISTIC["finetune"] + suffix, "finetune", lang))
        print(f"    transductive protonet − logistic finetune {interval(d)} "
              f"(target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
