"""The numbers quoted in results.md ("thirtieth measurements", run E): chatterbot translation ranking, held-out `ja`
on English utterances never meta-trained on (`chatterbot_parallel_train` -> `chatterbot_parallel_test`), seed 0,
200 episodes, the same episodes for every method; the project's paired bootstrap.
Run from the repository root: python results/chatterbot_ranking_unseen/pairs.py"""
import json

from meta_nlp.evaluation.comparison import paired_difference, result_row

RUN = "results/chatterbot_ranking_unseen/ja_seed0"
rows = {m: result_row(RUN, m, "ja") for m in ("protonet", "finetune", "multitask")}
for row in rows.values():
    print(f"{row['method']} {row['accuracy']:.4f} ± {row['ci95']:.4f} (test-time lr x{row['lr_factor']:g}, "
          f"{row['adapt_steps']} steps; kept {row.get('selection', {})}); retrieval ja→en {row['retrieval']['to_pivot']:.4f}, en→ja "
          f"{row['retrieval']['from_pivot']:.4f} of {row['retrieval']['n_pairs']}; candidates read in training "
          f"{row['candidates_read_in_training']:.0%}")
print(f"  {paired_difference(rows['protonet'], rows['multitask'])}")
print(f"  {paired_difference(rows['protonet'], rows['finetune'])}")
print(f"  {paired_difference(rows['multitask'], rows['finetune'])}")
run = json.load(open(f"{RUN}/results.json"))
print(f"ProtoNet validation by step {run['training']['val_accuracy_by_step']}, kept step {run['training']['selected_step']}")
print(f"wall time {run['wall_time_s']} s (this resumed process), peak {run['peak_memory_mib']} MiB")
