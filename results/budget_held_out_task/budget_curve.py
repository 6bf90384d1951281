"""Plan addendum 34 (results/meta_batch_4/plan.md): the held-out task's budget curve on whole sentences (chatterbot
topics -> SIB-200 topics in ita_Latn and jpn_Jpan, --max-length 128, float32): plain ProtoNet at 40 meta-steps (runs
K and A, which also scored finetune and multitask), 80 (addendum 37, seeds 0 and 1), 160 (addendum 33b's seed 0 and
C's seed 1) and 320 (D and E, seeds 0 and 1), paired on the same 200 episodes per language and seed. Finetune does not
meta-train: one row for every budget.
Run from the repository root after pooling each budget's seeds (see results.md):
    python results/budget_held_out_task/budget_curve.py      (output budget_curve.txt and accuracy_by_budget.png beside it)"""
import sys
from pathlib import Path

from meta_nlp.evaluation.comparison import (MARGIN_OVER_FINETUNE, adaptation_summary, paired_difference, result_row,
                                            run_choices, target_verdict, validation_by_step)
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.recipes.budget import plot_accuracy_by_budget

HERE = Path(__file__).parent
LANGUAGES = ("ita_Latn", "jpn_Jpan")
RUNS = {  # (meta-steps, seed or 'pooled') -> run; the 40-step runs hold the baselines
    (40, 0): "results/max_length/held_out_task_128_seed0",
    (40, 1): "results/max_length/held_out_task_128_seed1",
    (40, "pooled"): "results/max_length/held_out_task_128_2seeds",
    (80, 0): f"{HERE}/steps80_seed0",
    (80, 1): f"{HERE}/steps80_seed1",
    (80, "pooled"): f"{HERE}/steps80_2seeds",
    (160, 0): "results/smlmt/held_out_task_160_seed0",
    (160, 1): f"{HERE}/steps160_seed1",
    (160, "pooled"): f"{HERE}/steps160_2seeds",
    (320, 0): f"{HERE}/steps320_seed0",
    (320, 1): f"{HERE}/steps320_seed1",
    (320, "pooled"): f"{HERE}/steps320_2seeds",
}
BUDGETS = (40, 80, 160, 320)


lines = []
for (steps, seed), run in RUNS.items():
    if seed != "pooled":
        lines += [f"{steps} steps, seed {seed}: ProtoNet's validation by meta-step {validation_by_step(run, 'protonet')}",
                  f"    {run_choices(run)}"]
plotted = []
for lang in LANGUAGES:
    protonet = {key: result_row(run, "protonet", lang) for key, run in RUNS.items()}
    finetune_by_seed = {seed: result_row(RUNS[40, seed], "finetune", lang) for seed in (0, 1, "pooled")}
    for seed, finetune in finetune_by_seed.items():
        lines += ["", f"{lang}, seed {seed}: {adaptation_summary(finetune)}"]
        for steps in BUDGETS:
            row = protonet[steps, seed]
            d = paired_bootstrap(row, finetune)
            lines.append(f"  {steps} steps: {adaptation_summary(row)}; − finetune {interval(d)} "
                         f"(target +5: {target_verdict(d, MARGIN_OVER_FINETUNE)})")
            if steps != 40:
                lines.append(f"    {steps} − 40 steps {paired_difference(row, protonet[40, seed])}")
        lines.append(f"    320 − 160 steps {paired_difference(protonet[320, seed], protonet[160, seed])}")
    # the plot, 2 seeds pooled: ProtoNet at each budget, the baselines at 40 steps (finetune drawn flat: it does not
    # meta-train; multitask's budget was 40 alone)
    plotted += [{**protonet[s, "pooled"], "budget": s, "method": "protonet"} for s in BUDGETS]
    plotted += [{**finetune_by_seed["pooled"], "budget": s, "method": "finetune (no meta-training)"} for s in BUDGETS]
    plotted.append({**result_row(RUNS[40, "pooled"], "multitask", lang), "budget": 40, "method": "multitask"})
(HERE / "budget_curve.txt").write_text("\n".join(lines) + "\n")
plot_accuracy_by_budget(HERE, plotted, n_way=5)
sys.stdout.write("\n".join(lines) + "\n")
