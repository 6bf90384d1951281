"""Plan addendum 33, A: the held-out task (chatterbot topics -> SIB-200 topics in ita_Latn and jpn_Jpan) on whole
sentences (--max-length 128, float32), seeds 0 and 1 pooled: ProtoNet against finetune (the held-out task's target:
>= finetune + 5 with its interval above 0) and against multitask, paired over (seed, episode).
Run from the repository root: python results/max_length/held_out_task_pairs.py"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, result_row, result_summary, run_choices, target_verdict,
                                            validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap

SEEDS = ("results/max_length/held_out_task_128_seed0", "results/max_length/held_out_task_128_seed1")
POOLED = "results/max_length/held_out_task_128_2seeds"

for run in SEEDS:
    print(f"{run}: ProtoNet's validation by meta-step {validation_by_step(run, 'protonet')}")
    print(f"  {run_choices(run)}")
for lang in ("ita_Latn", "jpn_Jpan"):
    rows = {m: result_row(POOLED, m, lang) for m in ("protonet", "finetune", "multitask")}
    print(f"\n{lang}, 2 seeds: " + ", ".join(result_summary(r) for r in rows.values()))
    for baseline in ("finetune", "multitask"):
        d = paired_bootstrap(rows["protonet"], rows[baseline])
        verdict = f" (target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})" if baseline == "finetune" else ""
        print(f"  protonet − {baseline} {interval(d)}{verdict}")
