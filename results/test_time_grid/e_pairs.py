"""Run E (chatterbot ranking, held-out `ja` on `chatterbot_parallel_test`) on the default of c044e49 (test-time lr grid
0.3, 1), re-evaluated from its checkpoints by rescore_e.sh: each method's pick, whether a row whose pick did not change
repeats its score under the old grid episode by episode, seed 1's ProtoNet against the diagnosis copy, and the
pooled rows. Run from the repository root: python results/test_time_grid/e_pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, repeated_by, result_row

OLD = "results/chatterbot_ranking_unseen"
NEW = "results/test_time_grid"
SAME = "every field the same"  # what repeated_by says of a row that repeats, its validation grid aside

for seed in (0, 1):
    rows = {m: result_row(f"{NEW}/e_ja_seed{seed}", m, "ja") for m in ("protonet", "finetune", "multitask")}
    print(f"seed {seed}")
    for method, row in rows.items():
        old = result_row(f"{OLD}/ja_seed{seed}", method, "ja")
        same = "repeats the old grid's row" if repeated_by(row, f"{OLD}/ja_seed{seed}", ("val_grid",)) == SAME else (
            f"was lr x{old['lr_factor']:g} {old['adapt_steps']} steps, {old['accuracy']:.4f}")
        print(f"  {method} {row['accuracy']:.4f} ± {row['ci95']:.4f} (lr x{row['lr_factor']:g}, {row['adapt_steps']} "
              f"steps; validation {row['val_grid']}; {same})")
    print(f"  protonet − multitask {paired_difference(rows['protonet'], rows['multitask'])}")
    print(f"  protonet − finetune {paired_difference(rows['protonet'], rows['finetune'])}")
print("seed 1 ProtoNet repeats the diagnosis copy (lr x1 alone):",
      repeated_by(result_row(f"{NEW}/e_ja_seed1", "protonet", "ja"), f"{OLD}/ja_seed1_lr1", ("val_grid",)) == SAME)
print("pooled (scripts/pool_seeds.py):")
for method in ("protonet", "finetune", "multitask"):
    row = result_row(f"{NEW}/e_ja_2seeds", method, "ja")
    print(f"  {method} {row['accuracy']:.4f} ± {row['ci95']:.4f}; vs best baseline {row.get('vs_best_baseline')}")
