"""FOMAML meta-trained from the multitask baseline's selected encoder (ERM first, then meta-learning, the order of
Chen et al.'s Meta-Baseline) against the default job's methods on the same held-out `ja` episodes (2 seeds × 200).
The two seeds start from different encoders (each seed's own multitask run), which pool_seeds.py refuses to pool,
so their episodes are pooled here. Run from the repository root: python results/mb_init/pairs.py"""
import json

from meta_nlp.evaluation.stats import interval, mean_ci95, paired_bootstrap


def row(run: str, method: str) -> dict:
    return next(r for r in json.load(open(f"{run}/results.json"))["results"] if r["method"] == method)


seeds = [row(f"results/mb_init/seed{seed}", "fomaml") for seed in (0, 1)]
ours = {"method": "fomaml from multitask", "language": "ja",
        "episode_accuracy": [a for r in seeds for a in r["episode_accuracy"]],
        "episode_seed": [r["seed"] for r in seeds for _ in r["episode_accuracy"]]}
mean, ci = mean_ci95(ours["episode_accuracy"])
print(f"fomaml from multitask: {mean:.4f} ± {ci:.4f} (steps {[r['adapt_steps'] for r in seeds]})")
for method in ("fomaml", "multitask", "finetune"):
    theirs = row("results/default_job_names_2seeds", method)
    print(f"  − default job's {method} {theirs['accuracy']:.4f}: {interval(paired_bootstrap(ours, theirs))}")
for seed in (0, 1):
    training = json.load(open(f"results/mb_init/seed{seed}/results.json"))["training"]
    print(f"seed {seed}: validation by meta-step {training['val_accuracy_by_step']}, selected {training['selected_step']}")
