"""Run by tests/test_trainer.py under `accelerate launch`: one real engine step, its all-reduced gradient saved.

Usage: accelerate launch [--multi_gpu --num_processes 2] tests/dist_worker.py MODEL_DIR OUT_FILE META_BATCH METHOD
"""
import sys
from pathlib import Path

import torch

from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import prepare_languages
from meta_nlp.engine.trainer import make_accelerator
from meta_nlp.recipes.meta_learn import trainer_for


def main(model_dir: str, out: str, meta_batch: int, method: str) -> None:
    cfg = MetaConfig(model=model_dir, train_languages=["en", "it"], meta_batch_size=meta_batch, inner_steps=2,
                     inner_layers=-1, max_grad_norm=1e9, algorithm="fomaml" if method == "multitask" else method,
                     output_dir=str(Path(out).parent / f"unused_{Path(out).stem}"),
                     mixed_precision="no").validate()  # the all-reduce's arithmetic, not bf16 rounding of other batches
    acc = make_accelerator(cfg)
    trainer = trainer_for(method, cfg, prepare_languages(cfg), acc)
    grads = {}
    apply = trainer.optimizer.step

    def capture(*args, **kwargs):  # the gradient the optimiser is about to apply, after the all-reduce
        for module, prefix in zip(trainer.trained, ("model", "head")):
            grads.update({f"{prefix}.{n}": p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                          for n, p in module.named_parameters()})
        return apply(*args, **kwargs)
    trainer.optimizer.step = capture
    trainer.train_step(0)  # the trainer's own task indexing, weighting and all-reduce
    if acc.is_main_process:
        torch.save(grads, out)
    acc.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
