"""How much of each issue 17 target row is the test-time rule's: ProtoNet − the best baseline at the test-time steps
and lr each method's validation chose (the rows the README reports), and the same methods before any test-time step
(`comparison.before_any_step`: the encoder and its logistic head alone; the runs' scores read back from the passes
they kept in scores/), 2 seeds pooled, paired 95% bootstrap. The best baseline is the one the README names (the best
at the chosen steps). The runs are the README's target rows (the default job: the thirty-ninth measurements' runs).
Analysis of committed runs, nothing re-run. Run from the repository root:
    python results/before_steps/targets.py > results/before_steps/targets.txt"""
from meta_nlp.evaluation.comparison import seeds_pooled
from meta_nlp.evaluation.stats import interval, paired_bootstrap

TARGETS = {  # row -> (each seed's run, language)
    "ja, the default job": ("results/weight_ensemble/default_seed{seed}", "ja"),
    "SIB-200 jpn_Jpan, whole": ("results/max_length/sib200_128_seed{seed}", "jpn_Jpan"),
    "SIB-200 ita_Latn, whole": ("results/max_length/sib200_128_seed{seed}", "ita_Latn"),
    "chatterbot it, unseen lines": ("results/validation_by_position/it_seed{seed}", "it"),
    "chatterbot ko, unseen lines": ("results/validation_by_position/ko_seed{seed}", "ko"),
    "chatterbot uk, unseen lines": ("results/validation_by_position/uk_seed{seed}", "uk"),
    "held-out task ita_Latn, whole": ("results/max_length/held_out_task_128_seed{seed}", "ita_Latn"),
    "held-out task jpn_Jpan, whole": ("results/max_length/held_out_task_128_seed{seed}", "jpn_Jpan"),
}
SEEDS, BASELINES = (0, 1), ("multitask", "finetune")


for row, (run, lang) in TARGETS.items():
    runs = [run.format(seed=seed) for seed in SEEDS]
    chosen = {m: seeds_pooled(runs, m, lang) for m in ("protonet", *BASELINES)}
    before = {m: seeds_pooled(runs, m, lang, before_steps=True) for m in ("protonet", *BASELINES)}
    best = max(BASELINES, key=lambda m: chosen[m]["accuracy"])
    print(f"{row}: best baseline {best}")
    for name, rows in (("at the chosen test-time steps", chosen), ("before any test-time step", before)):
        steps = {m: r["adapt_steps"] for m, r in rows.items()}
        print(f"  {name}: ProtoNet {rows['protonet']['accuracy']:.4f}, {best} {rows[best]['accuracy']:.4f}; "
              f"ProtoNet − {best} {interval(paired_bootstrap(rows['protonet'], rows[best]))}; steps {steps}")
    for m in ("protonet", best):
        print(f"  {m}: the chosen steps − none {interval(paired_bootstrap(chosen[m], before[m]))}")
