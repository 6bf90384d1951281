"""FOMAML and ProtoNet tie on the default job's meta-validation (0.4367 each, 12 episodes × 2 seeds), the rule that
picks the default algorithm. This breaks the tie on more of the same kind of evidence, never on `ja`: 150 fresh
meta-validation episodes per seed (indices 1000-1149 of the training languages' validation share, not the 12 that
selected the checkpoints), each method's saved learner at its own validation-tuned test-time setting, paired by
episode within seed. Decided before it ran: the default becomes ProtoNet only if it leads with a paired 95%
interval above 0; otherwise FOMAML stays. Run from the repository root: python results/ja_methods_names/tie_break.py
Other runs: python results/ja_methods_names/tie_break.py NAME=SEED0_RUN,SEED1_RUN NAME=SEED0_RUN,SEED1_RUN
(the second minus the first)."""
import sys

import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import prepare_languages
from meta_nlp.evaluation.stats import interval, paired_bootstrap
from meta_nlp.learner import MetaLearner
from meta_nlp.recipes.study import pooled

FIRST, EPISODES = 1000, 150
RUNS = {"fomaml": ("results/default_job_names", "results/default_job_names_seed1"),
        "protonet": ("results/ja_methods_names/protonet_seed0", "results/ja_methods_names/protonet_seed1")}
torch.set_num_threads(2)


def validation_row(method: str, run: str) -> dict:
    """The saved learner's accuracy on each fresh validation episode, as a result row (`pooled` pairs them by seed)."""
    learner = MetaLearner.from_pretrained(run, device="cpu")
    cfg, rule = learner.cfg, learner.test_time_rule()
    sampler = prepare_languages(cfg).val_sampler(cfg)
    scores = []
    for index in range(FIRST, FIRST + EPISODES):
        batch = to_batch(sampler.episode(index), learner.tokenizer, cfg.max_length, torch.device("cpu"))
        pred = rule.predict(learner.model, batch, learner.steps, learner.lr_factor, cfg.head_init)[-1]
        scores.append(float(np.mean(np.equal(pred, batch.query_labels.tolist()))))
    print(f"{run}: seed {cfg.seed}, {learner.steps} steps at lr x{learner.lr_factor}: {np.mean(scores):.4f}", flush=True)
    return {"method": method, "language": "validation", "k_shot": cfg.k_shot, "seed": cfg.seed,
            "accuracy": float(np.mean(scores)), "episode_accuracy": scores}


runs_of = {name: tuple(runs.split(",")) for name, runs in (arg.split("=") for arg in sys.argv[1:])} or RUNS
rows = {name: pooled([validation_row(name, run) for run in runs]) for name, runs in runs_of.items()}
for name, row in rows.items():
    print(f"{name}: {row['accuracy']:.4f} ± {row['ci95']:.4f} over {EPISODES} episodes × {len(row['seeds'])} seeds")
first, second = rows
print(f"{second} − {first}: {interval(paired_bootstrap(rows[second], rows[first]))}")
