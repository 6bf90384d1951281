"""Was "model selection kept φ⁰" the 12 validation episodes' noise, or did meta-training lose on the training
languages? (plan.md beside this file). For each ProtoNet run: φ⁰ (rebuilt from --model), the step-20 and the step-40
weights (the run's resumable checkpoints), each scored by model selection's own score (query accuracy after
--inner-steps test-time steps at lr ×1, the logistic head) on
  - the first 48 meta-validation episodes (the first 12 are the ones that selected: a check against results.json),
    from which the pick of a 48-episode selection follows, and
  - 150 fresh meta-validation episodes (indices 1000-1149 of the training languages' validation share),
paired by episode. Never reads a held-out language. Per-episode scores go to OUT/<run with / as __>.json.
Run from the repository root:
    python results/phi0_selection/fresh_validation.py OUT RUN [RUN ...]
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import prepare_languages
from meta_nlp.learner import MetaLearner
from meta_nlp.models.encoder import MetaModel, load_encoder

SELECTING, FRESH = range(0, 48), range(1000, 1150)
torch.set_num_threads(1)


def weights_by_step(run: str, cfg) -> dict:
    """{step: state dict}: φ⁰ rebuilt from --model, then the checkpoints' weights (the trainer's first module)."""
    phi0 = MetaModel(load_encoder(cfg.model)[0], cfg.logit_scale).state_dict()
    saved = {step: torch.load(f"{run}/checkpoints/checkpoint_{step}/custom_checkpoint_0.pkl", map_location="cpu",
                              weights_only=True) for step in (20, 40)}
    return {0: phi0, **saved}


def episode_scores(learner: MetaLearner, sampler, indices: range) -> list[float]:
    """Model selection's score on each episode: query accuracy after --inner-steps steps at lr ×1."""
    cfg, rule = learner.cfg, learner.test_time_rule()
    scores = []
    for index in indices:
        batch = to_batch(sampler.episode(index), learner.tokenizer, cfg.max_length, torch.device("cpu"))
        pred = rule.predict(learner.model, batch, cfg.inner_steps, 1.0, cfg.head_init)[-1]
        scores.append(float(np.mean(np.equal(pred, batch.query_labels.tolist()))))
    return scores


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for run in sys.argv[2:]:
    learner = MetaLearner.from_pretrained(run, device="cpu")
    sampler = prepare_languages(learner.cfg).val_sampler(learner.cfg)
    record = {"run": run, "selected_step": json.load(open(f"{run}/results.json"))["training"]["selected_step"],
              "selecting": {}, "fresh": {}}
    for step, state in weights_by_step(run, learner.cfg).items():
        learner.model.load_state_dict(state)
        record["selecting"][step] = episode_scores(learner, sampler, SELECTING)
        record["fresh"][step] = episode_scores(learner, sampler, FRESH)
        print(f"{run} step {step}: first 12 {np.mean(record['selecting'][step][:12]):.4f}, first 48 "
              f"{np.mean(record['selecting'][step]):.4f}, fresh 150 {np.mean(record['fresh'][step]):.4f}", flush=True)
    (out / (run.replace("/", "__") + ".json")).write_text(json.dumps(record))
