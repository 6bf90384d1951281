"""Run by tests/test_trainer.py under `accelerate launch`: one meta-step, then save the gradients.

Usage: accelerate launch [--multi_gpu --num_processes 2 --cpu] tests/dist_worker.py MODEL_DIR OUT_FILE META_BATCH
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meta_nlp.config import MetaConfig  # noqa: E402
from meta_nlp.training.trainer import MetaTrainer, all_reduce_meta_gradient  # noqa: E402


def main(model_dir: str, out: str, meta_batch: int) -> None:
    cfg = MetaConfig(model=model_dir, train_languages=["en", "it"], meta_batch_size=meta_batch, inner_steps=2,
                     inner_layers=-1, output_dir=str(Path(out).parent / "unused")).validate()
    trainer = MetaTrainer(cfg)
    trainer.setup()
    acc = trainer.accelerator
    per, first = cfg.meta_batch_size, acc.process_index * cfg.meta_batch_size
    for task in range(first, first + per):  # the trainer's own task indexing and weighting
        torch.manual_seed(0)
        from meta_nlp.algorithms.inner import to_batch
        batch = to_batch(trainer.train_sampler.episode(task), trainer.tokenizer, cfg.max_length, acc.device)
        trainer.algorithm.accumulate_meta_gradient(trainer.model, batch, 0, weight=1.0 / (per * acc.num_processes))
    all_reduce_meta_gradient(trainer.model, acc)
    if acc.is_main_process:
        torch.save({n: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                    for n, p in trainer.model.named_parameters()}, out)
    acc.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
