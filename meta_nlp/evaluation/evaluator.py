"""Episodic evaluation: every method adapts on the same seeded episodes; accuracy after each step, at the run's
--mixed-precision (the logistic head is fit in float64 whatever it is).

Test-time settings (lr factor and number of steps) are chosen per method on meta-validation
episodes of the training languages, never on the held-out language, with the same grid for
meta-learners and baselines.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, gather_object
from tqdm.auto import tqdm

from meta_nlp.algorithms import TestTimeRule
from meta_nlp.algorithms.inner import EpisodeBatch, to_batch
from meta_nlp.config import MetaConfig
from meta_nlp.data.episodes import EpisodeSampler
from meta_nlp.evaluation.stats import mean_ci95, standard_error
from meta_nlp.memory import release_free_memory
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


# Scores this process has measured or read from its run's folder, by everything that decides them (`scoring_key`).
# A run scores the same model by the same rule on the same episodes more than once: φ⁰ at step 0 of the
# meta-learner's and of the multitask baseline's model selection and in finetune's test-time grid, and each selected
# checkpoint at its selection and in the x1 column of its grid (when --eval-inner-steps is --inner-steps). Each
# repeat was a whole validation pass.
_MEASURED: dict[str, np.ndarray] = {}

# The run's folder of scores (`scoring_run`): every pass the run computes is also saved there as <key>.npy, and a
# resumed run reads back those its interrupted self finished, so an interruption during evaluation loses one pass.
_FOLDER: Path | None = None
_READ_FOLDER = False
SCORES_DIR = "scores"


@dataclass
class ScoringCost:
    """Where a run's scoring went (results.json): seconds of the passes computed on the training languages'
    validation episodes (model selection, the test-time grid) and on the held-out episodes, and how many passes
    were computed and read back. The rest of a run's wall time is training, loading, tokenising and writing."""
    validation_scoring_s: float = 0.0
    held_out_scoring_s: float = 0.0
    scoring_passes_computed: int = 0
    scoring_passes_read_back: int = 0

    def add_computed(self, seconds: float, held_out: bool) -> None:
        self.scoring_passes_computed += 1
        if held_out:
            self.held_out_scoring_s += seconds
        else:
            self.validation_scoring_s += seconds


_COST = ScoringCost()


@contextlib.contextmanager
def scoring_run(folder: Path, read: bool):
    """A run's scoring: its cost counts from here (`scoring_cost`; a sweep or a study runs many in one process), every
    pass it computes is also saved in `folder`, and with `read` (a resumed run) a pass saved there before is read
    back instead of computed. The key (`scoring_key`) names the code and libraries too, so a pass is read back only
    where computing it again would give the same scores (on the same kind of processor: a folder resumed on another
    CPU model reads back what the first one computed, which can differ in the last bits)."""
    global _COST, _FOLDER, _READ_FOLDER
    before = _FOLDER, _READ_FOLDER
    _COST, _FOLDER, _READ_FOLDER = ScoringCost(), folder, read
    try:
        yield
    finally:
        _FOLDER, _READ_FOLDER = before


def scoring_cost() -> dict:
    """The run's `ScoringCost` since `scoring_run` began, in seconds to the millisecond (a tiny run's held-out
    scoring can take less than 0.1 s, and a rounded 0.0 would read as "not timed")."""
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(_COST).items()}


def score_episodes(model: MetaModel, tokenizer, rule: TestTimeRule, sampler: EpisodeSampler, n_episodes: int,
                   steps: int, lr_factor: float, cfg: MetaConfig, accelerator: Accelerator, desc: str,
                   held_out: bool = False) -> np.ndarray:
    """[n_episodes, steps+1] query accuracies; episodes are spread over processes and gathered. Scores measured
    before in this process under the same key are returned as they are (the computation is the same). `held_out`:
    the episodes are the final evaluation's, not validation's (only `scoring_cost` tells them apart)."""
    model.eval()
    model.requires_grad_(False)  # only the fast weights need gradients at test time
    batches = [to_batch(sampler.episode(i), tokenizer, cfg.max_length, accelerator.device) for i in range(n_episodes)]
    key = scoring_key(model, rule, batches, steps, lr_factor, cfg.head_init, accelerator)
    if key not in _MEASURED and (saved := saved_scores(key, accelerator)) is not None:
        _MEASURED[key] = saved
    if key in _MEASURED:
        _COST.scoring_passes_read_back += 1
    else:
        started = time.perf_counter()
        _MEASURED[key] = measured_scores(model, rule, batches, steps, lr_factor, cfg.head_init, accelerator, desc)
        _COST.add_computed(time.perf_counter() - started, held_out)
        if _FOLDER is not None and accelerator.is_main_process:
            save_scores(_FOLDER / f"{key}.npy", _MEASURED[key])
    return _MEASURED[key].copy()


def saved_scores(key: str, accelerator: Accelerator) -> np.ndarray | None:
    """The pass `key` as the run's folder holds it, when the run reads its folder; the main process reads and every
    process gets its answer, so all of them read back a pass or none does (their folders may not be shared)."""
    if _FOLDER is None or not _READ_FOLDER:
        return None
    found = [read_scores(_FOLDER / f"{key}.npy") if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        broadcast_object_list(found)
    return found[0]


def read_scores(path: Path) -> np.ndarray | None:
    """The scores saved at `path`; None if there are none or they cannot be read (they are then computed again)."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def save_scores(path: Path, scores: np.ndarray) -> None:
    """Written whole or not at all: a run killed while writing leaves no half file to read back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as f:
        np.save(f, scores, allow_pickle=False)
    os.replace(partial, path)


def measured_scores(model: MetaModel, rule: TestTimeRule, batches: list[EpisodeBatch], steps: int, lr_factor: float,
                    head_init: str, accelerator: Accelerator, desc: str) -> np.ndarray:
    """`score_episodes`' scores, computed: this process's share of the episodes, on `scoring_threads` threads."""
    metric = load_accuracy_metric()
    mine = list(range(accelerator.process_index, len(batches), accelerator.num_processes))
    threads = scoring_threads(accelerator)
    if threads > 1:
        release_free_memory()  # what the main thread freed (training), which the threads' own arenas cannot reuse
    models = [model, *(module_copy(model) for _ in range(threads - 1))]  # before any thread adapts `model`
    bar = tqdm(total=len(mine), desc=desc, disable=not accelerator.is_local_main_process, leave=False, dynamic_ncols=True)
    stop = threading.Event()  # an interrupted pass ends after each thread's current episode, not after its share

    def share(t: int) -> list[tuple[int, list[list[int]]]]:
        return predicted_share(models[t], rule, batches, mine[t::threads], steps, lr_factor, head_init, accelerator,
                               bar.update, stop)

    # This thread scores the first share itself: its allocator arena holds what training freed, which a new thread's
    # arena cannot reuse (with a pool thread for every share, a 1-thread study run peaked at 6.4-7.7 GB, not 3.5).
    pool = concurrent.futures.ThreadPoolExecutor(max(threads - 1, 1))  # threads start only when a share is submitted
    with torch_threads_per_op(op_threads(accelerator)), pool:
        others = [pool.submit(share, t) for t in range(1, threads)]
        try:
            predictions = dict(share(0))
            predictions.update(pair for other in others for pair in other.result())
        finally:
            stop.set()
            bar.close()
    if threads > 1:
        release_free_memory()  # and what the other threads freed, which training's arena (this thread's) cannot reuse
    rows = [(i, [metric.compute(predictions=p, references=batches[i].query_labels.tolist())["accuracy"]
                 for p in predictions[i]]) for i in mine]
    rows = sorted(gather_object(rows)) if accelerator.num_processes > 1 else rows
    return np.array([r for _, r in rows], dtype=float)


def predicted_share(model: MetaModel, rule: TestTimeRule, batches: list[EpisodeBatch], episodes: list[int], steps: int,
                    lr_factor: float, head_init: str, accelerator: Accelerator, done: Callable[[int], object],
                    stop: threading.Event) -> list[tuple[int, list[list[int]]]]:
    """[(episode, its query predictions after 0..steps)] for `episodes`, by `model`: one thread's own copy, since
    adapting swaps fast weights into its modules. Autocast and grad mode are per thread, so they are set here: the
    run's --mixed-precision, as in meta-training (bf16 took the default job from 934 s to 417-529 s on a CPU with
    native bf16, results.md "fifth measurements")."""
    out = []
    # φ is frozen: each text runs through the frozen layers once (reusing_lower_states)
    with torch.enable_grad(), reusing_lower_states(model), accelerator.autocast():
        for i in episodes:
            if stop.is_set():
                break
            out.append((i, rule.predict(model, batches[i], steps, lr_factor, head_init)))
            done(1)
    return out


# Most episodes scored side by side on CPU. Measured on 2 cores only (results.md "twenty-sixth measurements"); past
# a few threads, Python's interpreter lock, which every thread takes between ops, is expected to cap what more add.
MAX_SCORING_THREADS = 4


def scoring_threads(accelerator: Accelerator) -> int:
    """Threads that score episodes side by side: on CPU, one per torch thread up to MAX_SCORING_THREADS. An episode's
    tensors are small (25 texts through the top layers), and torch splitting each op over 2 threads scored 1.2× as
    fast as 1 thread, where 2 episodes side by side, one thread each, scored 1.9× as fast. Elsewhere (a GPU) one."""
    return min(torch.get_num_threads(), MAX_SCORING_THREADS) if accelerator.device.type == "cpu" else 1


def op_threads(accelerator: Accelerator) -> int:
    """Torch threads per op while episodes are scored: the torch threads shared out among `scoring_threads`."""
    return max(1, torch.get_num_threads() // scoring_threads(accelerator))


@contextlib.contextmanager
def torch_threads_per_op(threads: int):
    """Torch's ops on `threads` threads inside (the setting is global: every scoring thread's ops take it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def module_copy(model: MetaModel) -> MetaModel:
    """`model` with modules of its own and the same parameter and buffer tensors: adapting swaps fast weights into
    the modules (torch.func.functional_call), so two threads need two sets of modules, not two sets of weights."""
    return copy.deepcopy(model, memo={id(t): t for t in (*model.parameters(), *model.buffers())})


def scoring_key(model: MetaModel, rule: TestTimeRule, batches: list[EpisodeBatch], steps: int, lr_factor: float,
                head_init: str, accelerator: Accelerator) -> str:
    """A digest of everything `measured_scores` reads: the model's weights and architecture, the rule (its fields,
    its learning rate at each step), the episodes and their token ids, the steps, factor and head, and how it runs
    (device, precision, processes, the threads scoring side by side and each op's threads: they can change the last
    bits, the threads side by side because each caches the lower layers' states of the texts it meets in its own
    batches, so a score is reused only under the same). Identical on every process, so all of them reuse a score or
    none does."""
    digest = hashlib.blake2b(digest_size=20)

    def add(*parts) -> None:
        for part in parts:
            if isinstance(part, torch.Tensor):
                digest.update(f"{part.dtype}{tuple(part.shape)}".encode())
                digest.update(part.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
            else:
                digest.update(repr(part).encode())

    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        add(name, tensor)
    add(model.encoder.config.to_json_string(), getattr(model.encoder.config, "_attn_implementation", None))
    for f in fields(rule):
        value = getattr(rule, f.name)
        add(f.name, *([value(n, t) for n in rule.names for t in range(steps)] if callable(value) else [value]))
    for batch in batches:  # the episode (texts, labels, languages) and what the model reads of it (token ids, masks)
        for f in fields(batch):
            value = getattr(batch, f.name)
            add(f.name, *([x for item in value.items() for x in item] if isinstance(value, dict) else [value]))
    add(type(rule).__name__, steps, lr_factor, head_init, accelerator.device.type, accelerator.mixed_precision,
        accelerator.num_processes, scoring_threads(accelerator), op_threads(accelerator), *code_and_libraries())
    return digest.hexdigest()


@functools.cache
def code_and_libraries() -> tuple[str, ...]:
    """What else decides a score, for scores kept across processes (`scoring_run`): a digest of this package's
    source files (a change to any rule's code, committed or not, makes new keys) and the versions of torch and
    transformers."""
    import transformers
    digest = hashlib.blake2b(digest_size=20)
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest(), torch.__version__, transformers.__version__


def validation_accuracy(model: MetaModel, tokenizer, rule: TestTimeRule, val_sampler: EpisodeSampler, cfg: MetaConfig,
                        accelerator: Accelerator, desc: str = "meta-validate") -> float:
    """Model selection's score: mean query accuracy on the first --val-episodes meta-validation episodes of `rule` at
    lr ×1, at the steps --selection-steps names (`selection_accuracy`). Meta-learners' checkpoints and the multitask
    baseline's are chosen by it."""
    return selection_accuracy(score_episodes(model, tokenizer, rule, val_sampler, cfg.val_episodes, cfg.inner_steps,
                                             1.0, cfg, accelerator, desc), cfg)


def selection_accuracy(scores: np.ndarray, cfg: MetaConfig) -> float:
    """A checkpoint's score from its lr ×1 validation pass ([episodes, steps 0..--inner-steps]): under
    --selection-steps chosen, the mean at the step count --test-time-selection picks on that pass; under 'last', after
    every step. The test-time rule may stop at any step, so 'last' could rank checkpoints by steps never taken: a
    trained checkpoint that lr ×1 adaptation undoes loses to φ⁰ though it is far ahead at the steps it would use."""
    steps = pick_test_time_setting({1.0: scores}, cfg.test_time_selection)[1] if cfg.selection_steps == "chosen" else -1
    return float(scores[:, steps].mean())


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
                                cfg, accelerator, desc=f"evaluate {method} on {lang}", held_out=True)
        out.append(MethodScores(method, lang, scores, factor, steps, {"val_grid": grid}))
    return out
