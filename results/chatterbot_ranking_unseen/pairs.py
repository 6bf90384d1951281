"""The numbers quoted in results.md ("thirtieth" and "thirty-first measurements", run E): chatterbot translation
ranking, held-out `ja` on English utterances never meta-trained on (`chatterbot_parallel_train` ->
`chatterbot_parallel_test`), seeds 0 and 1, 200 episodes each, the same episodes for every method; the project's
paired bootstrap. The pooled rows are scripts/pool_seeds.py's (ja_2seeds). ja_seed1_lr1 is a diagnosis, not a
selection: seed 1's ProtoNet re-scored on `ja` at the test-time lr its validation ranked second (×1), read after
the held-out scores were known.
Run from the repository root: python results/chatterbot_ranking_unseen/pairs.py"""
import json

from meta_nlp.evaluation.comparison import paired_difference, result_row

FOLDER = "results/chatterbot_ranking_unseen"


def report_seed(run: str) -> dict:
    rows = {m: result_row(run, m, "ja") for m in ("protonet", "finetune", "multitask")}
    print(run)
    for row in rows.values():
        print(f"  {row['method']} {row['accuracy']:.4f} ± {row['ci95']:.4f} (test-time lr x{row['lr_factor']:g}, "
              f"{row['adapt_steps']} steps; by step {[round(x, 4) for x in row['accuracy_by_step']]}; validation grid "
              f"{row.get('val_grid')}); retrieval ja→en {row['retrieval']['to_pivot']:.4f}, en→ja "
              f"{row['retrieval']['from_pivot']:.4f} of {row['retrieval']['n_pairs']}; candidates read in training "
              f"{row['candidates_read_in_training']:.0%}")
    for a, b in (("protonet", "multitask"), ("protonet", "finetune"), ("multitask", "finetune")):
        print(f"  {a} − {b}: {paired_difference(rows[a], rows[b])}")
    result = json.load(open(f"{run}/results.json"))
    print(f"  ProtoNet validation by step {result['training']['val_accuracy_by_step']}, kept step "
          f"{result['training']['selected_step']}; wall time {result['wall_time_s']} s (the resumed process), peak "
          f"{result['peak_memory_mib']} MiB")
    return rows


seed1 = report_seed(f"{FOLDER}/ja_seed1")
report_seed(f"{FOLDER}/ja_seed0")
pooled = json.load(open(f"{FOLDER}/ja_2seeds/results.json"))
print("pooled over seeds 0 and 1 (scripts/pool_seeds.py):")
for row in pooled["results"]:
    print(f"  {row['method']} {row['accuracy']:.4f} ± {row['ci95']:.4f}; vs best baseline {row.get('vs_best_baseline')}")
diagnosis = result_row(f"{FOLDER}/ja_seed1_lr1", "protonet", "ja")
print(f"diagnosis, seed 1 ProtoNet at lr x{diagnosis['lr_factor']:g}: {diagnosis['accuracy']:.4f} by step "
      f"{[round(x, 4) for x in diagnosis['accuracy_by_step']]}")
print(f"  − ProtoNet as selected (lr x{seed1['protonet']['lr_factor']:g}): {paired_difference(diagnosis, seed1['protonet'])}")
print(f"  − multitask: {paired_difference(diagnosis, seed1['multitask'])}")
