"""Episodic evaluation: every method adapts on the same seeded episodes; accuracy after each step, at the run's
--mixed-precision (the logistic head is fit in float64 whatever it is).

Test-time settings (lr factor and number of steps) are chosen per method on meta-validation
episodes of the training languages, never on the held-out language, with the same grid for
meta-learners and baselines.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from meta_nlp.algorithms import TestTimeRule
from meta_nlp.algorithms.inner import to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import EpisodeSampler
from meta_nlp.evaluation.stats import mean_ci95, standard_error
from meta_nlp.models.encoder import MetaModel, reusing_lower_states

METRIC_PATH = str(Path(__file__).parent / "metrics" / "accuracy" / "accuracy.py")


def load_accuracy_metric():
    import evaluate
    return evaluate.load(METRIC_PATH)  # shipped with the project: no network


@dataclass
class MethodScores:
    """Accuracy of one method: rows = episodes, columns = adaptation steps 0..T."""
    method: str
    language: str
    by_episode_step: np.ndarray
    lr_factor: float
    steps: int  # chosen on meta-validation
    extra: dict = field(default_factory=dict)

    def summary(self, cfg: MetaConfig) -> dict:
        acc, ci = mean_ci95(self.by_episode_step[:, self.steps])
        return {"method": self.method, "language": self.language, "accuracy": acc, "ci95": ci,
                "n_episodes": int(self.by_episode_step.shape[0]), "n_way": cfg.n_way, "k_shot": cfg.k_shot,
                "n_query": cfg.n_query, "adapt_steps": self.steps, "lr_factor": self.lr_factor,
                "accuracy_by_step": [float(x) for x in self.by_episode_step.mean(0)], "seed": cfg.seed, **self.extra}


def score_episodes(model: MetaModel, tokenizer, rule: TestTimeRule, sampler: EpisodeSampler, n_episodes: int,
                   steps: int, lr_factor: float, cfg: MetaConfig, accelerator: Accelerator, desc: str) -> np.ndarray:
    """[n_episodes, steps+1] query accuracies; episodes are spread over processes and gathered."""
    metric = load_accuracy_metric()
    model.eval()
    model.requires_grad_(False)  # only the fast weights need gradients at test time
    mine = range(accelerator.process_index, n_episodes, accelerator.num_processes)
    rows = []
    # At the run's --mixed-precision, as in meta-training (bf16 took the default job from 934 s to 417-529 s on a
    # CPU with native bf16, results.md "fifth measurements").
    with reusing_lower_states(model), accelerator.autocast():  # φ is frozen: each text runs through the frozen layers once
        for i in tqdm(mine, desc=desc, disable=not accelerator.is_local_main_process, leave=False, dynamic_ncols=True):
            batch = to_batch(sampler.episode(i), tokenizer, cfg.max_length, accelerator.device)
            refs = batch.query_labels.tolist()
            preds = rule.predict(model, batch, steps, lr_factor, cfg.head_init)
            rows.append((i, [metric.compute(predictions=p, references=refs)["accuracy"] for p in preds]))
    rows = sorted(gather_object(rows)) if accelerator.num_processes > 1 else rows
    return np.array([r for _, r in rows], dtype=float)


def validation_accuracy(model: MetaModel, tokenizer, rule: TestTimeRule, val_sampler: EpisodeSampler, cfg: MetaConfig,
                        accelerator: Accelerator, desc: str = "meta-validate") -> float:
    """Model selection's score: mean query accuracy on the first --val-episodes meta-validation episodes after
    --inner-steps steps of `rule`. Meta-learners' checkpoints and the multitask baseline's are chosen by it."""
    return float(score_episodes(model, tokenizer, rule, val_sampler, cfg.val_episodes, cfg.inner_steps, 1.0, cfg,
                                accelerator, desc)[:, -1].mean())


def tune_test_time(model: MetaModel, tokenizer, rule: TestTimeRule, val_sampler: EpisodeSampler, cfg: MetaConfig,
                   accelerator: Accelerator, method: str) -> tuple[float, int, dict]:
    """(lr factor, steps) picked from the meta-validation grid by --test-time-selection, and the grid's scores."""
    grid = {}
    for factor in cfg.eval_lr_grid:
        grid[factor] = score_episodes(model, tokenizer, rule, val_sampler, cfg.val_episodes, cfg.eval_inner_steps,
                                      factor, cfg, accelerator, desc=f"tune {method} lr x{factor:g}")
    factor, steps = pick_test_time_setting(grid, cfg.test_time_selection)
    return factor, steps, {f"{f:g}": [round(float(x), 4) for x in a.mean(0)] for f, a in grid.items()}


def pick_test_time_setting(grid: dict[float, np.ndarray], selection: str) -> tuple[float, int]:
    """(lr factor, steps) from {factor: [validation episodes, steps 0..T] accuracies}. 'best': the highest mean.
    'one_se': the fewest steps, then the smallest factor, whose mean is within one standard error (over validation
    episodes) of the best's. With a dozen validation episodes the best of ten settings is often ahead by noise alone,
    and on a new language that noise costs accuracy; the rule keeps adaptation only where validation says it is
    worth more than its own error."""
    means = {f: a.mean(0) for f, a in grid.items()}
    settings = [(f, t) for f, m in means.items() for t in range(len(m))]
    best = max(settings, key=lambda s: means[s[0]][s[1]])  # ties: the first factor of --eval-lr-grid, fewer steps
    if selection == "best":
        return best
    column = grid[best[0]][:, best[1]]
    se = standard_error(column) if len(column) > 1 else 0.0
    return min((s for s in settings if means[s[0]][s[1]] >= means[best[0]][best[1]] - se), key=lambda s: (s[1], s[0]))


def evaluate_method(method: str, model: MetaModel, tokenizer, rule: TestTimeRule, val_sampler: EpisodeSampler,
                    test_samplers: dict[str, EpisodeSampler], cfg: MetaConfig, accelerator: Accelerator) -> list[MethodScores]:
    factor, steps, grid = tune_test_time(model, tokenizer, rule, val_sampler, cfg, accelerator, method)
    accelerator.print(f"{method}: test-time lr x{factor:g}, {steps} steps (chosen on meta-validation)")
    out = []
    for lang, sampler in test_samplers.items():
        scores = score_episodes(model, tokenizer, rule, sampler, cfg.eval_episodes, cfg.eval_inner_steps, factor,
                                cfg, accelerator, desc=f"evaluate {method} on {lang}")
        out.append(MethodScores(method, lang, scores, factor, steps, {"val_grid": grid}))
    return out
