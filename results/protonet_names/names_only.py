"""Why did meta-training with the class names not help? Analysis after the decision (plan.md), not selection: the
accuracy of the names alone (each query text to the class whose name it is most similar to, no support set) under
φ⁰, the multitask encoder, ProtoNet meta-trained without and with the names. If meta-training with the names pulled
texts towards their English names, the names-only accuracy rises on the training languages' validation; whether it
rises on held-out `ja` says whether that pull transfers to a language never trained on.
Episodes: the held-out `ja` episodes 0-199 of each seed (the evaluation's), and fresh validation episodes 1000-1149 of
the training languages (tie_break.py's). float32, one process. Run from the repository root:
python results/protonet_names/names_only.py"""
import numpy as np
import torch

from meta_nlp.algorithms.inner import to_batch
from meta_nlp.data.languages import load_held_out, prepare_languages
from meta_nlp.learner import MetaLearner
from meta_nlp.models.encoder import MetaModel, load_encoder

ENCODERS = {"φ⁰": None, "multitask": "results/default_job_names{suffix}/multitask/best",
            "protonet": "results/ja_methods_names/protonet_seed{seed}",
            "protonet, names in meta-training": "results/protonet_names/seed{seed}"}
HELD_OUT, VALIDATION = range(200), range(1000, 1150)
torch.set_num_threads(2)


def names_only_accuracy(model: MetaModel, tokenizer, sampler, indices, max_length: int) -> float:
    scores = []
    with torch.no_grad():
        for i in indices:
            batch = to_batch(sampler.episode(i), tokenizer, max_length, torch.device("cpu"))
            predicted = (model.embed(batch.query) @ model.embed(batch.label_names).t()).argmax(-1)
            scores.append((predicted == batch.query_labels).float().mean().item())
    return float(np.mean(scores))


for seed in (0, 1):
    learners = {name: MetaLearner.from_pretrained(pattern.format(seed=seed, suffix="_seed1" if seed else ""), device="cpu")
                for name, pattern in ENCODERS.items() if pattern is not None}
    cfg = learners["protonet"].cfg  # the episodes of the run the others are compared with
    samplers = {"ja": (load_held_out(cfg, "ja"), HELD_OUT), "validation": (prepare_languages(cfg).val_sampler(cfg), VALIDATION)}
    for name in ENCODERS:
        if name in learners:
            model, tokenizer = learners[name].model.eval(), learners[name].tokenizer
        else:
            encoder, tokenizer = load_encoder(cfg.model)
            model = MetaModel(encoder, cfg.logit_scale).eval()
        row = {where: names_only_accuracy(model, tokenizer, sampler, indices, cfg.max_length)
               for where, (sampler, indices) in samplers.items()}
        print(f"seed {seed} {name}: names alone, validation {row['validation']:.4f}, ja {row['ja']:.4f}", flush=True)
