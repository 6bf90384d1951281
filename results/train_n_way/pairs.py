"""plan.md's numbers: ProtoNet meta-trained on episodes of up to 10 classes (one a step) against the README's default
job (ProtoNet on two 5-way episodes a step, and its baselines), on the same 5-way validation and `ja` episodes.
1. Rule (1): each run's meta-validation at its chosen test-time setting (48 episodes), and the mean of the seeds.
2. Held-out `ja` (reported, never used to choose): the pooled seeds against each method of the default job.
Run from the repository root after pooling (python scripts/pool_seeds.py results/train_n_way/seed0
results/train_n_way/seed1 --output-dir results/train_n_way/pooled): python results/train_n_way/pairs.py"""
import json
from pathlib import Path

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import eligible_labels
from meta_nlp.data.languages import prepare_languages
from meta_nlp.evaluation.comparison import (chosen_validation, paired_difference, repeated_by, result_row,
                                            result_summary)

RUNS = {"train-n-way 10": "results/train_n_way/seed{}", "default ProtoNet": "results/phi0_selection/default_seed{}"}


# 0. The texts a meta-training step reads: one episode of up to 10 classes, as many as its language has (K+Q = 10 each).

default = MetaConfig()
sampler = prepare_languages(default).train_sampler(default)
ways = {lang: min(sampler.max_way, len(eligible_labels(sampler.corpus[lang], 10))) for lang in sampler.languages}
print(f"classes of a training episode by language: {ways}; texts a step on average "
      f"{10 * sum(ways.values()) / len(ways):.1f} (two 5-class episodes: 100)\n")

for name, runs in RUNS.items():
    scores = [chosen_validation(runs.format(seed), "protonet", "ja") for seed in (0, 1)]
    steps = [json.loads(Path(runs.format(seed), "results.json").read_text())["training"]["selected_step"] for seed in (0, 1)]
    print(f"{name}: meta-validation at the chosen setting {scores[0]:.4f}, {scores[1]:.4f}, mean "
          f"{sum(scores) / 2:.4f} (selected steps {steps})")

new = result_row("results/train_n_way/pooled", "protonet", "ja")
print("\nja, 2 seeds x 200 episodes: " + result_summary(new))
for method in ("protonet", "multitask", "finetune"):
    reference = result_row("results/phi0_selection/default_2seeds", method, "ja")
    print(f"  train-n-way 10 − default job's {method}: {paired_difference(new, reference)}")


CHANGES = {"ja": result_row("results/train_n_way/pooled", "protonet", "ja")["accuracy"]
           - result_row("results/phi0_selection/default_2seeds", "protonet", "ja")["accuracy"]}


def against_the_study(what: str, folder: str, setting: str, language: str) -> None:
    """A pooled ProtoNet run of the new training episodes on one held-out language against the default ProtoNet before
    it (results/phi0_selection/<setting>/pooled) and the baselines (baselines48/<setting>), all with 48 validation
    episodes, on the same episodes."""
    if not Path(folder).is_dir():
        print(f"\n{what} {language}: not run")
        return
    new = result_row(folder, "protonet", language)
    print(f"\n{what} {language}, 2 seeds x 200 episodes: " + result_summary(new))
    before = result_row(f"results/phi0_selection/{setting}/pooled", "protonet", language)
    CHANGES[language] = new["accuracy"] - before["accuracy"]
    print(f"  new training episodes − default ProtoNet before: {paired_difference(new, before)}")
    for method in ("multitask", "finetune"):
        reference = result_row(f"results/phi0_selection/baselines48/{setting}", method, language)
        print(f"  new training episodes − {method}: {paired_difference(new, reference)}")


# 3. The addendum's other chatterbot languages with unseen lines (reported; they cannot change the rule).
for language in ("ko", "uk"):
    against_the_study("chatterbot, unseen lines,", f"results/train_n_way/{language}/pooled", language, language)
# 4. Addendum 2: SIB-200 with unseen sentences on the new default (one 7-class episode a step: SIB-200 has 7 topics).
for language in ("jpn_Jpan", "ita_Latn"):
    against_the_study("SIB-200, unseen sentences,", "results/train_n_way/sib200/pooled", "sib200", language)

print(f"\nmean change against the default ProtoNet before it over {sorted(CHANGES)}: "
      f"{100 * sum(CHANGES.values()) / len(CHANGES):+.2f} points")

# The studies' validation (training languages only; what a rule may read): the new training episodes against the
# default ProtoNet before them, each at its chosen test-time setting, the mean of the two seeds.
print()
for setting, language, folder in (("ko", "ko", "ko"), ("uk", "uk", "uk"), ("sib200", "jpn_Jpan", "sib200")):
    new, before = ([chosen_validation(f"{root}/seed{seed}", "protonet", language) for seed in (0, 1)]
                   for root in (f"results/train_n_way/{folder}", f"results/phi0_selection/{setting}"))
    print(f"{setting} validation at the chosen setting: new {new}, before {before}: "
          f"{100 * (sum(new) - sum(before)) / 2:+.2f} points")

# 5. Addendum 2: the README's default job on the new default, each seed against the runs it should repeat.
for seed in (0, 1):
    run = Path(f"results/train_n_way/default_seed{seed}/results.json")
    if not run.is_file():
        print(f"\ndefault job seed {seed}: not run")
        continue
    data = json.loads(run.read_text())
    expected = {"protonet": f"results/train_n_way/seed{seed}", "finetune": f"results/phi0_selection/default_seed{seed}",
                "multitask": f"results/phi0_selection/default_seed{seed}"}
    print(f"\ndefault job seed {seed} ({data['wall_time_s']:.1f} s, {data['peak_memory_mib']} MiB peak):")
    for row in data["results"]:
        print(f"  {row['method']} {row['accuracy']:.4f}: against {expected[row['method']]}: "
              f"{repeated_by(row, expected[row['method']])}")
    trained = json.loads(Path(expected["protonet"], "results.json").read_text())["training"]
    print(f"  ProtoNet's training record: {'the same' if data['training'] == trained else 'DIFFERENT'}")

# 6. The new default against SetFit on the same `ja` episodes (sixth measurements' float32 SetFit, whose test-time
# epochs were chosen on 12 validation episodes: SetFit has not run with 48).
default_job = result_row("results/train_n_way/default_2seeds", "protonet", "ja")
print(f"\nja, the default job's ProtoNet − SetFit (float32): "
      f"{paired_difference(default_job, result_row('results/setfit_fp32/pooled', 'setfit', 'ja'))}")
