"""Diagnostic behind SetFit adapting in float32 (results.md, fifth measurements): SetFit (lr x3, 3 epochs) on the first
12 meta-validation episodes of the default config, once in float32 and once under bf16 autocast, one thread.
Run at code 8aba3a1, before SetFitRule.predict disabled autocast (on later code both rows are float32).
Output: setfit_precision_check.txt beside it ("predictions changed" there counts episodes whose accuracy changed)."""
import torch, contextlib, numpy as np
from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import prepare_languages
from meta_nlp.models.encoder import load_encoder, MetaModel, reusing_lower_states
from meta_nlp.algorithms.test_time import test_time_rule
from meta_nlp.algorithms.inner import to_batch
torch.set_num_threads(1)
cfg = MetaConfig()
enc, tok = load_encoder(cfg.model)
model = MetaModel(enc, cfg.logit_scale).eval().requires_grad_(False)
val = prepare_languages(cfg).val_sampler(cfg)
rule = test_time_rule("setfit", model, cfg)
res = {}
for prec in ("fp32", "bf16"):
    rows = []
    with reusing_lower_states(model):
        for i in range(12):
            b = to_batch(val.episode(i), tok, cfg.max_length, torch.device("cpu"))
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if prec == "bf16" else contextlib.nullcontext()
            with ctx:
                preds = rule.predict(model, b, 3, 3.0, cfg.head_init)
            y = b.query_labels.tolist()
            rows.append([np.mean([p == t for p, t in zip(pr, y)]) for pr in preds])
    res[prec] = np.array(rows)
    print(prec, "accuracy by epoch (lr x3):", res[prec].mean(0).round(4), flush=True)
print("episodes whose predictions changed from step 0 to 3 epochs:", {k: int((v[:, 3] != v[:, 0]).sum()) for k, v in res.items()})
