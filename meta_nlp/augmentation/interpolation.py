"""Task interpolation (MLTI: Yao et al., 2022, "Meta-Learning with Fewer Tasks through Task
Interpolation"): a share of the meta-training tasks (`--mlti-ratio`) are replaced by a new task mixed
from two, so meta-training sees tasks between the ones it has.

The partner task is an episode of another training language (the same index, so it is drawn
independently). Class c of the new task mixes class c of both: the i-th example of class c in
one with the i-th of class c in the other (translation ranking: texts whose translations sit in the
same candidate slot, and the candidates slot by slot). The mix happens on the input token embeddings,
λ·E(a) + (1−λ)·E(b), with one λ ~ Beta(α, α) per task (`--mlti-alpha`); the attention mask is the
union of both. Labels stay hard: the mixed class is a class of its own. Every algorithm then runs on
the mixed task unchanged, and the meta-gradient reaches the embeddings through the mix.

MLDG mixes only its meta-train episode: its pseudo-target stays a real language it has not trained on.
Like every augmentation, which tasks are mixed and with what is a pure function of (seed, step, task).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from meta_nlp.algorithms.inner import EpisodeBatch, TaskBatch, padded, to_batch
from meta_nlp.augmentation import MLTI_STREAM
from meta_nlp.data.episodes import Episode
from meta_nlp.models.encoder import MetaModel


@dataclass
class Interpolation:
    partner: Episode
    lam: float


class TaskInterpolation:
    def __init__(self, ratio: float, alpha: float, seed: int):
        self.ratio, self.alpha, self.seed = ratio, alpha, seed

    def draw(self, sampler, step: int, task: int, episodes: list[Episode]) -> Interpolation | None:
        """The partner episode and λ when task `task` of meta-step `step` is to be mixed, else None. The partner's
        language is none of the task's own (nor MLDG's pseudo-target), when the training languages allow. Under
        --train-n-way the task's classes vary with its language: the partner then has as many (its language is one
        with that many), since classes are mixed one to one."""
        rng = np.random.default_rng([self.seed, MLTI_STREAM, step, task])
        if self.ratio <= 0 or rng.random() >= self.ratio:
            return None
        used = {lang for ep in episodes for lang in (ep.language, ep.support_language)}
        if sampler.max_way == sampler.n_way:  # every episode has n_way classes
            able, ways = list(sampler.languages), {}
        else:
            count = len(episodes[0].label_names)
            able, ways = [lang for lang in sampler.languages if sampler.ways_in(lang) >= count], {"ways": count}
        others = [lang for lang in able if lang not in used] or able
        partner = sampler.episode(task, language=others[rng.integers(len(others))], **ways)
        return Interpolation(partner, float(rng.beta(self.alpha, self.alpha)))

    def mixed(self, model: MetaModel, batch: TaskBatch, mix: Interpolation, tokenizer, max_length: int) -> TaskBatch:
        """The task batch with its (first) episode mixed with the partner's."""
        first = batch[0] if isinstance(batch, list) else batch
        other = aligned(first, to_batch(mix.partner, tokenizer, max_length, first.support_labels.device))
        out = mix_batches(model, first, other, mix.lam)
        return [out, *batch[1:]] if isinstance(batch, list) else out


def aligned(a: EpisodeBatch, b: EpisodeBatch) -> EpisodeBatch:
    """`b` with its texts reordered so that position p holds an example of the label a's position p has."""
    def order(labels_a: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
        group = a.n_way if a.support_targets is not None else len(labels_a)  # ranking: within each group of n_way
        out = []
        for g in range(0, len(labels_a), group):
            pool: dict[int, list[int]] = {}
            for q in range(g, g + group):
                pool.setdefault(int(labels_b[q]), []).append(q)
            out += [pool[int(labels_a[p])].pop(0) for p in range(g, g + group)]
        return torch.tensor(out, device=labels_a.device)

    s, q = order(a.support_labels, b.support_labels), order(a.query_labels, b.query_labels)
    return replace(b, support={k: v[s] for k, v in b.support.items()}, support_labels=b.support_labels[s],
                   query={k: v[q] for k, v in b.query.items()}, query_labels=b.query_labels[q])


def mixed_inputs(model: MetaModel, a: dict, b: dict, lam: float) -> dict:
    """λ·E(a) + (1−λ)·E(b) on the token embeddings, padded to a common length; attention on either's tokens."""
    length = max(a["attention_mask"].shape[1], b["attention_mask"].shape[1])
    embeddings = model.encoder.get_input_embeddings()
    x = lam * embeddings(padded(a["input_ids"], length)) + (1 - lam) * embeddings(padded(b["input_ids"], length))
    out = {"inputs_embeds": x, "attention_mask": torch.maximum(padded(a["attention_mask"], length),
                                                               padded(b["attention_mask"], length))}
    if "token_type_ids" in a:  # text pairs: segment ids of the first task
        out["token_type_ids"] = padded(a["token_type_ids"], length)
    return out


def mix_batches(model: MetaModel, a: EpisodeBatch, b: EpisodeBatch, lam: float) -> EpisodeBatch:
    def mix(x: dict | None, y: dict | None) -> dict | None:
        return None if x is None else mixed_inputs(model, x, y, lam)
    return replace(a, support=mix(a.support, b.support), query=mix(a.query, b.query),
                   support_targets=mix(a.support_targets, b.support_targets),
                   query_targets=mix(a.query_targets, b.query_targets))
