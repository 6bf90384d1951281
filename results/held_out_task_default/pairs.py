"""plan.md's numbers: the held-out task (chatterbot topics meta-trained, SIB-200 topics evaluated in ita_Latn and
jpn_Jpan) on today's default, ProtoNet against the baselines of the same runs and against the seventh measurements'
ProtoNet (12 validation episodes, two 5-class training episodes a step), all on the same held-out episodes.
Then the addendum's `it` with unseen lines (results/it_unseen), ProtoNet against the baselines of the same runs.
Run from the repository root after pooling both (study.py ... --seeds 0,1 --finished-only):
python results/held_out_task_default/pairs.py"""
from pathlib import Path

from meta_nlp.evaluation.comparison import paired_difference, result_row, result_summary, run_choices

NEW, BEFORE = "results/held_out_task_default", "results/held_out_task_names"

for language in ("ita_Latn", "jpn_Jpan"):
    protonet = result_row(NEW, "protonet", language)
    print(f"{language}, 2 seeds x 200 episodes:")
    for method in ("protonet", "multitask", "finetune"):
        row = result_row(NEW, method, language)
        print(f"  {method}: {result_summary(row)}")
    for method in ("multitask", "finetune"):
        print(f"  ProtoNet − {method}: {paired_difference(protonet, result_row(NEW, method, language))}")
    print(f"  ProtoNet − ProtoNet of the seventh measurements: "
          f"{paired_difference(protonet, result_row(BEFORE, 'protonet', language))}")
    for method in ("multitask", "finetune"):
        print(f"  {method} − its seventh-measurement run (12 validation episodes): "
              f"{paired_difference(result_row(NEW, method, language), result_row(BEFORE, method, language))}")
    print()



def chosen_and_cost(study: str, fold: str) -> None:
    """What each run of a study's fold chose and cost (one thread each, the two seeds side by side)."""
    for seed in (0, 1):
        for part in ("protonet", "baselines"):
            print(f"{study} seed {seed} {part}: {run_choices(Path(study, fold, f'seed{seed}', part))}")


chosen_and_cost(NEW, "ita_Latn_jpn_Jpan")
chosen_and_cost(BEFORE, "ita_Latn_jpn_Jpan")  # what the 12-episode selection chose, seed by seed

# The addendum: `it` with unseen lines.
IT = "results/it_unseen"
if Path(IT, "results.json").is_file():
    protonet = result_row(IT, "protonet", "it")
    print("\nit, unseen lines, 2 seeds x 200 episodes:")
    for method in ("protonet", "multitask", "finetune"):
        print(f"  {method}: {result_summary(result_row(IT, method, 'it'))}")
    for method in ("multitask", "finetune"):
        print(f"  ProtoNet − {method}: {paired_difference(protonet, result_row(IT, method, 'it'))}")
    chosen_and_cost(IT, "it")
