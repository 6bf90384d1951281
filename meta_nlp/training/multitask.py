"""The `multitask` baseline: ordinary supervised training of encoder + head on the pooled
training languages (ERM), no episodes. At test time it adapts exactly like `finetune`."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from tqdm.auto import tqdm

from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import Corpus, drop_ambiguous_texts
from meta_nlp.models.encoder import MetaModel, head_logits, tokenize


def pooled_examples(corpus: Corpus) -> tuple[list[str], list[int], list[str]]:
    """(texts, label ids, label names) over every training language, one shared label space."""
    names = sorted({label for by_label in corpus.values() for label in by_label})
    texts, labels = [], []
    for lang in sorted(corpus):
        for label, items in sorted(drop_ambiguous_texts(corpus[lang]).items()):
            texts += items
            labels += [names.index(label)] * len(items)
    return texts, labels, names


def train_multitask(model: MetaModel, tokenizer, corpus: Corpus, cfg: MetaConfig, accelerator: Accelerator) -> MetaModel:
    """Every process runs the same seeded training (small; avoids a second distributed code path)."""
    texts, labels, names = pooled_examples(corpus)
    device = accelerator.device
    head = {"head.weight": torch.zeros(len(names), model.encoder.config.hidden_size, device=device, requires_grad=True),
            "head.bias": torch.zeros(len(names), device=device, requires_grad=True)}
    opt = torch.optim.AdamW([{"params": list(model.encoder.parameters()), "lr": cfg.multitask_lr},
                             {"params": list(head.values()), "lr": 1e-2}])
    rng = np.random.default_rng([cfg.seed, 11])
    torch.manual_seed(cfg.seed)
    model.train()
    scale = model.log_scale.exp().detach()
    for _ in tqdm(range(cfg.multitask_steps), desc="multitask baseline", disable=not accelerator.is_local_main_process,
                  dynamic_ncols=True):
        idx = rng.choice(len(texts), min(cfg.multitask_batch_size, len(texts)), replace=False)
        batch = tokenize(tokenizer, [texts[i] for i in idx], cfg.max_length, device)
        y = torch.tensor([labels[i] for i in idx], device=device)
        with accelerator.autocast():
            loss = F.cross_entropy(head_logits(model.embed(batch), head, scale), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.encoder.parameters(), cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    return model
