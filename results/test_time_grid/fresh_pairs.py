"""Run F on two seeds (plan addenda 25 and 26: the default job held out on fresh `fa` and `pt`). Seed 0 ran on the
old grid (lr x0.3, x1, x3) and was re-evaluated from its checkpoints on today's (x0.3, x1) so that the seeds pool;
each of its rows must repeat the old grid's episode by episode (every method had picked x0.3). Then each seed's
ProtoNet against the baselines and the pooled rows. Run from the repository root:
python results/test_time_grid/fresh_pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, repeated_by, result_row

DIR = "results/test_time_grid"
METHODS = ("protonet", "finetune", "multitask")

for lang in ("fa", "pt"):
    print(f"held-out {lang}")
    for seed, run in ((0, "fresh_seed0_regrid"), (1, "fresh_seed1")):
        rows = {m: result_row(f"{DIR}/{run}", m, lang) for m in METHODS}
        if seed == 0:
            repeats = all(repeated_by(rows[m], f"{DIR}/fresh_seed0", ("val_grid",)) == "every field the same"
                          for m in METHODS)
            print(f"  seed 0 on today's grid repeats the old grid's rows, episode by episode: {repeats}")
        picks = ", ".join(f"{m} {r['accuracy']:.4f} (lr x{r['lr_factor']:g}, {r['adapt_steps']} steps)"
                          for m, r in rows.items())
        print(f"  seed {seed}: {picks}")
        for baseline in ("multitask", "finetune"):
            print(f"    protonet − {baseline} {paired_difference(rows['protonet'], rows[baseline])}")
    print("  pooled (scripts/pool_seeds.py):")
    for method in METHODS:
        row = result_row(f"{DIR}/fresh_2seeds", method, lang)
        best = row.get("vs_best_baseline")
        against = "" if not best else (f"; − {best['baseline']} {best['difference'] * 100:+.2f} "
                                       f"[{best['ci95_low'] * 100:+.2f}, {best['ci95_high'] * 100:+.2f}] points")
        print(f"    {method} {row['accuracy']:.4f} ± {row['ci95']:.4f}{against}")
