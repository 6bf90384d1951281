"""The `multitask` baseline as an objective: ordinary supervised training of the encoder on the pooled
training languages (ERM), no episodes, on the same engine as the meta-learners (schedule, clipping,
mixed precision, checkpoints, resume and model selection alike). Classification trains encoder + one
head over the shared label space; translation ranking trains the bi-encoder with the in-batch
contrastive loss (every other translation in the batch is a negative). At test time it adapts exactly
like `finetune`.

Budget: a step sees as many labelled examples as a meta-step (meta-batch x processes x n-way x
(k-shot + n-query)) unless --multitask-batch-size says otherwise; the step's batch is drawn from
(seed, step) alone and cut into one task per process, so the update is the same on any number of
processes and after a resume (ranking aside: in-batch negatives come from a process's own share).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, drop_ambiguous_texts
from meta_nlp.data.languages import LanguageSplit
from meta_nlp.data.ranking import distinct_pairs
from meta_nlp.evaluation.evaluator import validation_accuracy
from meta_nlp.learner import save_head, save_learner
from meta_nlp.models.encoder import MetaModel, head_logits, load_encoder, tokenize
from meta_nlp.objectives.base import Backward, Objective
from meta_nlp.algorithms.test_time import baseline_rule

MULTITASK_STREAM = 11  # the multitask batches' random stream (meta_nlp/augmentation/ lists the others)


def pooled_examples(corpus: Corpus) -> tuple[list[str], list[int], list[str]]:
    """(texts, label ids, label names) over every training language, one shared label space."""
    names = sorted({label for by_label in corpus.values() for label in by_label})
    texts, labels = [], []
    for lang in sorted(corpus):
        for label, items in sorted(drop_ambiguous_texts(corpus[lang]).items()):
            texts += items
            labels += [names.index(label)] * len(items)
    return texts, labels, names


def shared_label_head(n_labels: int, hidden: int) -> torch.nn.ParameterDict:
    """A linear head over the training languages' shared label space, starting at zero (every label equally likely)."""
    return torch.nn.ParameterDict({"weight": torch.nn.Parameter(torch.zeros(n_labels, hidden)),
                                   "bias": torch.nn.Parameter(torch.zeros(n_labels))})


def supervised_task(languages: LanguageSplit, hidden: int) -> tuple[list[tuple], torch.nn.ParameterDict, list[str]]:
    """(rows, head, label names) of the multitask baseline's task on the pooled training languages: classification,
    (text, label id) rows and a head over the shared label space; translation ranking, (text, translation) pairs and
    no head (the in-batch contrastive loss needs none). The meta-learners' auxiliary task under --auxiliary-weight."""
    if languages.ranking:
        pairs = [p for lang in sorted(languages.train) for p in distinct_pairs(languages.train[lang])]
        return pairs, torch.nn.ParameterDict(), []
    texts, labels, names = pooled_examples(languages.train)
    return list(zip(texts, labels)), shared_label_head(len(names), hidden), names


def supervised_loss(model: MetaModel, tokenizer, head: torch.nn.ParameterDict, batch: list[tuple], max_length: int,
                    device: torch.device) -> torch.Tensor:
    """The multitask loss of a batch of `supervised_task` rows: the head's cross-entropy or, with no head (translation
    pairs), the in-batch contrastive loss (every other translation in the batch is a negative), both directions."""
    scale = model.log_scale.exp().detach()
    z = model.embed(tokenize(tokenizer, [x for x, _ in batch], max_length, device))
    if not len(head):
        zt = model.embed(tokenize(tokenizer, [t for _, t in batch], max_length, device))
        sim, gold = scale * z @ zt.t(), torch.arange(len(batch), device=device)
        return (F.cross_entropy(sim, gold) + F.cross_entropy(sim.t(), gold)) / 2
    labels = torch.tensor([y for _, y in batch], device=device)
    return F.cross_entropy(head_logits(z, {"head.weight": head["weight"], "head.bias": head["bias"]}, scale), labels)


class MultitaskObjective(Objective):
    name = "multitask"

    def __init__(self, cfg: MetaConfig, languages: LanguageSplit, device: torch.device, num_processes: int = 1):
        self.cfg, self.languages, self.device = cfg, languages, device
        self.val_sampler = languages.val_sampler(cfg)
        encoder, self.tokenizer = load_encoder(cfg.model)
        self.model = MetaModel(encoder, cfg.logit_scale)
        self.examples, self.head, self.label_names = supervised_task(languages, encoder.config.hidden_size)
        self.steps, self.batch_size = cfg.multitask_budget(num_processes)

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "head": self.head}

    def param_groups(self, phase: str = "main") -> list[dict]:
        groups = [{"params": self.model.trained_encoder_parameters(self.cfg.freeze_embeddings),
                   "lr": self.cfg.multitask_lr}]
        if len(self.head):
            groups.append({"params": list(self.head.parameters()), "lr": self.cfg.multitask_head_lr})
        return groups

    def draw_task(self, step: int, index: int, total: int) -> list:
        """Share `index mod total` of step `step`'s batch (drawn without replacement from (seed, step))."""
        rng = np.random.default_rng([self.cfg.training_seed, MULTITASK_STREAM, step])
        batch = rng.choice(len(self.examples), min(self.batch_size, len(self.examples)), replace=False)
        return [self.examples[i] for i in np.array_split(batch, total)[index % total]]

    def task_gradients(self, task: list, step: int, weight: float, backward: Backward,
                       phase: str = "main") -> dict[str, float]:
        loss = supervised_loss(self.model, self.tokenizer, self.head, task, self.cfg.max_length, self.device)
        backward(loss * weight)
        return {"loss": loss.item()}

    def selection_score(self, accelerator: Accelerator) -> float:
        return validation_accuracy(self.model, self.tokenizer, baseline_rule(self.model, self.cfg), self.val_sampler,
                                   self.cfg, accelerator, desc="meta-validate multitask")

    def save_selected(self, path: Path, record: dict) -> None:
        save_learner(path, self.model, self.tokenizer, self.cfg, method=self.name,
                     extra={**record, "train_languages": list(self.languages.train),
                            "budget": {"steps": self.steps, "batch_size": self.batch_size}})
        if len(self.head):  # a classifier of the training languages' labels (meta_nlp.learner.Classifier)
            save_head(path, {"weight": self.head["weight"], "bias": self.head["bias"]}, self.label_names)
