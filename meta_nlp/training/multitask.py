"""The `multitask` baseline: ordinary supervised training of the encoder on the pooled training
languages (ERM), no episodes. Classification trains encoder + one head over the shared label
space; translation ranking trains the bi-encoder with the in-batch contrastive loss (every other
translation in the batch is a negative). At test time it adapts exactly like `finetune`."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from tqdm.auto import tqdm

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, drop_ambiguous_texts
from meta_nlp.data.ranking import PairCorpus, distinct_pairs
from meta_nlp.models.encoder import MetaModel, head_logits, tokenize

Objective = tuple[list, list[torch.Tensor], Callable[[list], torch.Tensor]]  # examples, extra params, batch -> loss


def pooled_examples(corpus: Corpus) -> tuple[list[str], list[int], list[str]]:
    """(texts, label ids, label names) over every training language, one shared label space."""
    names = sorted({label for by_label in corpus.values() for label in by_label})
    texts, labels = [], []
    for lang in sorted(corpus):
        for label, items in sorted(drop_ambiguous_texts(corpus[lang]).items()):
            texts += items
            labels += [names.index(label)] * len(items)
    return texts, labels, names


def classification_objective(model: MetaModel, tokenizer, corpus: Corpus, cfg: MetaConfig, device) -> Objective:
    texts, labels, names = pooled_examples(corpus)
    head = {"head.weight": torch.zeros(len(names), model.encoder.config.hidden_size, device=device, requires_grad=True),
            "head.bias": torch.zeros(len(names), device=device, requires_grad=True)}
    scale = model.log_scale.exp().detach()

    def loss(batch: list) -> torch.Tensor:
        z = model.embed(tokenize(tokenizer, [t for t, _ in batch], cfg.max_length, device))
        return F.cross_entropy(head_logits(z, head, scale), torch.tensor([y for _, y in batch], device=device))
    return list(zip(texts, labels)), list(head.values()), loss


def contrastive_objective(model: MetaModel, tokenizer, corpus: PairCorpus, cfg: MetaConfig, device) -> Objective:
    pairs = [p for lang in sorted(corpus) for p in distinct_pairs(corpus[lang])]
    scale = model.log_scale.exp().detach()

    def loss(batch: list) -> torch.Tensor:
        zx = model.embed(tokenize(tokenizer, [x for x, _ in batch], cfg.max_length, device))
        zt = model.embed(tokenize(tokenizer, [t for _, t in batch], cfg.max_length, device))
        sim = scale * zx @ zt.t()
        gold = torch.arange(len(batch), device=device)
        return (F.cross_entropy(sim, gold) + F.cross_entropy(sim.t(), gold)) / 2  # both retrieval directions
    return pairs, [], loss


def train_multitask(model: MetaModel, tokenizer, corpus: Corpus | PairCorpus, cfg: MetaConfig,
                    accelerator: Accelerator, ranking: bool = False,
                    validate: Callable[[MetaModel], float] | None = None) -> dict:
    """Train `model` in place and leave it at the step `validate` (meta-validation accuracy) scores best, φ⁰
    (step 0) included, checked every --eval-every steps: the selection the meta-learners get, so the baseline
    is tuned as carefully. Returns the selection record. Every process runs the same seeded training (small;
    avoids a second distributed code path)."""
    device = accelerator.device
    steps, batch_size = cfg.multitask_budget(accelerator.num_processes)
    objective = contrastive_objective if ranking else classification_objective
    examples, extra, batch_loss = objective(model, tokenizer, corpus, cfg, device)
    groups = [{"params": list(model.encoder.parameters()), "lr": cfg.multitask_lr}]
    opt = torch.optim.AdamW(groups + ([{"params": extra, "lr": 1e-2}] if extra else []))
    rng = np.random.default_rng([cfg.seed, 11])
    torch.manual_seed(cfg.seed)
    val_by_step: dict[int, float] = {}
    best_state = None

    def select(step: int) -> None:
        nonlocal best_state
        if validate is None:
            return
        val = validate(model)
        accelerator.print(f"multitask step {step}: meta-validation accuracy {val:.4f}")
        if not val_by_step or val > max(val_by_step.values()):  # ties keep the earlier, as the meta-trainer does
            best_state = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
        val_by_step[step] = val

    select(0)
    model.encoder.requires_grad_(True)
    model.train()
    for step in tqdm(range(1, steps + 1), desc="multitask baseline", disable=not accelerator.is_local_main_process,
                     dynamic_ncols=True):
        idx = rng.choice(len(examples), min(batch_size, len(examples)), replace=False)
        with accelerator.autocast():
            loss = batch_loss([examples[i] for i in idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.encoder.parameters(), cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % cfg.eval_every == 0 or step == steps:
            select(step)
            model.encoder.requires_grad_(True)
            model.train()
    model.eval()
    if best_state is not None:
        model.encoder.load_state_dict(best_state)
    chosen = max(val_by_step, key=lambda s: (val_by_step[s], -s)) if val_by_step else steps
    return {"steps": steps, "batch_size": batch_size, "selected_step": chosen, "val_accuracy": val_by_step.get(chosen),
            "val_accuracy_by_step": {str(s): round(v, 4) for s, v in val_by_step.items()}}
