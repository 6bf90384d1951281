"""How --label-name-weight 1 was chosen, before any held-out episode was read: the default job's meta-validation
episodes (the training languages' validation share; `ja` is not among them), φ⁰ (the packaged MiniLM, no
meta-training), the logistic head on the support set, no test-time step, and w·cos(text, the class name) added to
every class's logits for w in a grid. Run from the repository root: python results/label_names/choose_weight.py"""
import numpy as np
import torch

from meta_nlp.algorithms.base import TestTimeRule
from meta_nlp.algorithms.inner import constant_lr, to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import prepare_languages
from meta_nlp.models.encoder import MetaModel, load_encoder

EPISODES = 150
torch.set_num_threads(1)
cfg = MetaConfig()
sampler = prepare_languages(cfg).val_sampler(cfg)
encoder, tokenizer = load_encoder(cfg.model)
model = MetaModel(encoder.eval().requires_grad_(False))
batches = [to_batch(sampler.episode(i), tokenizer, cfg.max_length, torch.device("cpu")) for i in range(EPISODES)]
print(f"{EPISODES} meta-validation episodes of {', '.join(sampler.languages)}")
for weight in (0.0, 0.5, 1.0, 2.0):
    rule = TestTimeRule([], constant_lr(0.0), "logistic", label_name_weight=weight)
    by_language: dict[str, list[float]] = {}
    for b in batches:
        pred = rule.predict(model, b, 0, 1.0, cfg.head_init)[0]
        by_language.setdefault(b.episode.language, []).append(float(np.mean(np.equal(pred, b.query_labels.tolist()))))
    scores = [a for v in by_language.values() for a in v]
    print(f"w={weight:<4} accuracy {np.mean(scores):.4f} ± {1.96 * np.std(scores, ddof=1) / np.sqrt(len(scores)):.4f}  "
          + " ".join(f"{lang} {np.mean(v):.3f}" for lang, v in sorted(by_language.items())))
