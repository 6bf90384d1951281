"""Plan addenda 40 A and 41 A, analysis after the runs (it decides nothing): does ProtoNet meta-trained with the class names
pull a text toward the name of its class in a task it never meta-trained on? The names-alone accuracy of each held-out
episode (each query text to the SIB-200 class name it is most similar to; no support set; chance 0.20) under φ⁰,
plain ProtoNet at 80 meta-steps and ProtoNet with the names at 80, 160 and 320 (addendum 41: does the pull keep
growing with the budget?), on the runs' own 200 held-out episodes per language
and seed, with paired 95% bootstrap intervals over (seed, episode). float32. Run from the repository root:
    python results/label_names_held_out_task/names_only.py > results/label_names_held_out_task/names_only.txt"""
import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import load_held_out
from meta_nlp.evaluation.stats import bootstrap_difference
from meta_nlp.learner import MetaLearner
from meta_nlp.models.encoder import MetaModel, load_encoder

RUNS = {"plain ProtoNet at 80": "results/budget_held_out_task/steps80_seed{seed}",
        **{f"ProtoNet with the names at {steps}": f"results/label_names_held_out_task/steps{steps}_seed{{seed}}"
           for steps in (80, 160, 320)}}
SEEDS, LANGUAGES, EPISODES = (0, 1), ("ita_Latn", "jpn_Jpan"), range(200)
torch.set_num_threads(1)  # beside two single-thread runs


@torch.no_grad()
def names_alone_by_episode(model: MetaModel, tokenizer, sampler, max_length: int) -> list[float]:
    """Each episode's share of query texts whose most similar class name (cosine of embeddings) is their class's."""
    shares = []
    for i in EPISODES:
        batch = to_batch(sampler.episode(i), tokenizer, max_length, torch.device("cpu"))
        texts = torch.nn.functional.normalize(model.embed(batch.query), dim=-1)
        names = torch.nn.functional.normalize(model.embed(batch.label_names), dim=-1)
        shares.append(float(((texts @ names.t()).argmax(-1) == batch.query_labels).float().mean()))
    return shares


scores = {}  # (encoder, language) -> episodes of both seeds, seed 0's first
for seed in SEEDS:
    learners = {name: MetaLearner.from_pretrained(run.format(seed=seed), device="cpu") for name, run in RUNS.items()}
    cfg = learners["plain ProtoNet at 80"].cfg  # the held-out episodes both runs were evaluated on
    encoder, tokenizer = load_encoder(cfg.model)
    models = {"φ⁰": (MetaModel(encoder, cfg.logit_scale), tokenizer)}
    models |= {name: (learner.model, learner.tokenizer) for name, learner in learners.items()}
    for lang in LANGUAGES:
        sampler = load_held_out(cfg, lang)
        for name, (model, tok) in models.items():
            scores.setdefault((name, lang), []).extend(names_alone_by_episode(model.eval(), tok, sampler, cfg.max_length))

strata = [seed for seed in SEEDS for _ in EPISODES]
for lang in LANGUAGES:
    print(f"{lang}, names alone, 2 seeds × {len(EPISODES)} episodes:")
    for name in ("φ⁰", *RUNS):
        print(f"  {name}: {np.mean(scores[name, lang]):.4f}")
    for a, b in (("ProtoNet with the names at 80", "plain ProtoNet at 80"), ("ProtoNet with the names at 80", "φ⁰"),
                 ("plain ProtoNet at 80", "φ⁰"), ("ProtoNet with the names at 160", "ProtoNet with the names at 80"),
                 ("ProtoNet with the names at 320", "ProtoNet with the names at 160")):
        diff, low, high = bootstrap_difference(scores[a, lang], scores[b, lang], strata=strata)
        print(f"  {a} − {b}: {diff:+.4f} [{low:+.4f}, {high:+.4f}]")
