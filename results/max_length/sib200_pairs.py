"""Plan addendum 32: both SIB-200 targets (configs/study_sib200_unseen.yaml) on whole sentences, --max-length 128,
seeds 0 and 1 pooled with scripts/pool_seeds.py. Against issue 17's targets (ProtoNet ≥ best baseline + 3 points with
a paired interval above 0; never significantly below it), and each method against the README's rows at 32 on the same
episodes (results/one_commit_fix, dbde6b5 in bf16: that difference mixes the length with precision and code).
Run from the repository root after pooling: python results/max_length/sib200_pairs.py > results/max_length/sib200_pairs.txt"""
from meta_nlp.evaluation.comparison import (MARGIN_OVER_BASELINE, paired_difference, result_row, result_summary,
                                            run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval

SEEDS = {s: f"results/max_length/sib200_128_seed{s}" for s in (0, 1)}
POOLED, AT_32 = "results/max_length/sib200_128_2seeds", "results/one_commit_fix/sib200_2seeds"
METHODS, LANGUAGES = ("protonet", "multitask", "finetune"), ("jpn_Jpan", "ita_Latn")

for seed, run in SEEDS.items():
    print(f"seed {seed} ({run}): ProtoNet's validation by meta-step {validation_by_step(run, 'protonet')}")
    print(f"  {run_choices(run)}")
for lang in LANGUAGES:
    rows = {m: result_row(POOLED, m, lang) for m in METHODS}
    vs_best = rows["protonet"]["vs_best_baseline"]  # against the most accurate baseline, as pool_seeds computed it
    print(f"\n{lang}, 2 seeds at 128: " + ", ".join(result_summary(rows[m]) for m in METHODS))
    print(f"  protonet − best baseline ({vs_best['baseline']}): {interval(vs_best)}; ≥ best + 3: "
          f"{target_verdict(vs_best, MARGIN_OVER_BASELINE)}")
    print(f"  protonet − finetune: {paired_difference(rows['protonet'], rows['finetune'])}")
    for m in METHODS:
        print(f"  {m}: 128 − 32 ({AT_32}) {paired_difference(rows[m], result_row(AT_32, m, lang))}")
