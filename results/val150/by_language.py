"""Where ProtoNet's SIB-200 validation falls on seed 1 (addendum 9's follow-up, analysis only): the 150 validation
episodes of each seed, scored as model selection scores them (lr x1, 3 test-time steps, the run's head), at φ⁰ and
at step 40 (the run's checkpoint_40), split by the training language each episode is drawn in. The first 48
episodes are those of the 48-episode run (results/draws/sib200_seed*_draw1): equal scores there show that both runs
trained the same weights. Reads the runs' checkpoints, which stay on the machine that ran them (results/.gitignore).
Run from the repository root:
    python results/val150/by_language.py SEED        (output by_language_seedSEED.txt)"""
import sys
from collections import defaultdict

import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import prepare_languages
from meta_nlp.learner import MetaLearner
from meta_nlp.models.encoder import MetaModel, load_encoder

RUN = "results/val150/sib200_seed{}_draw1"
seed = int(sys.argv[1])
torch.set_num_threads(1)
learner = MetaLearner.from_pretrained(RUN.format(seed), device="cpu")
cfg, rule = learner.cfg, learner.test_time_rule()
weights = {"phi0": MetaModel(load_encoder(cfg.model)[0], cfg.logit_scale).state_dict(),
           "step40": torch.load(f"{RUN.format(seed)}/checkpoints/checkpoint_40/custom_checkpoint_0.pkl",
                                map_location="cpu", weights_only=True)}
sampler = prepare_languages(cfg).val_sampler(cfg)
episodes = [sampler.episode(i) for i in range(cfg.val_episodes)]
scores = {}
for name, state in weights.items():
    learner.model.load_state_dict(state)
    learner.model.eval()
    scores[name] = []
    for episode in episodes:
        batch = to_batch(episode, learner.tokenizer, cfg.max_length, torch.device("cpu"))
        pred = rule.predict(learner.model, batch, cfg.eval_inner_steps, 1.0, cfg.head_init)[-1]
        scores[name].append(float(np.mean(np.equal(pred, batch.query_labels.tolist()))))
    print(f"seed {seed} {name}: {np.mean(scores[name]):.4f} over {len(episodes)} validation episodes, "
          f"{np.mean(scores[name][:48]):.4f} over the first 48 (those of the 48-episode run)", flush=True)
by_language = defaultdict(list)
for i, episode in enumerate(episodes):
    by_language[episode.language].append(i)
print(f"seed {seed}: language, episodes, φ⁰, step 40, step 40 − φ⁰ (points)")
for language, idx in sorted(by_language.items()):
    a, b = (np.mean([scores[n][i] for i in idx]) for n in ("phi0", "step40"))
    print(f"  {language}: {len(idx):3d} {a:.4f} {b:.4f} {100 * (b - a):+.2f}")
