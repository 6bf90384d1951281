#!/usr/bin/env python
"""Meta-training speed and peak memory of every algorithm, against a naive `higher` MAML.

    python scripts/benchmark.py                                    # MiniLM, chatterbot episodes, every algorithm
    python scripts/benchmark.py --algorithms maml fomaml --episodes 20 --json runs/benchmark.json
    python scripts/benchmark.py --mixed-precision bf16 --max-length 64 --inner-steps 5
    python scripts/benchmark.py --tiny --episodes 2 --warmup 1     # tiny random BERT + synthetic texts: smoke test

Runs on cuda if available, else cpu. Each algorithm runs the trainer's own path: per episode,
`accumulate_meta_gradient` inside `double_backward_attention(...)` and the Accelerator's
autocast, then the gradients are zeroed (no optimiser step: it costs the same for all).
One episode is one meta-step here, for the algorithms and the reference alike (MLDG's
two-episode task runs on the episode twice).

The REFERENCE is the same second-order MAML step written naively with `higher`: encoder +
a fresh nn.Linear head per episode in `innerloop_ctx`, SGD on *all* encoder parameters
(embeddings included), query loss backward. Every row is also given as a ratio to it:
throughput x ref > 1 is faster, memory x ref < 1 is smaller.

Memory: on CUDA, torch.cuda.max_memory_allocated over the measured episodes (weights
included); on CPU, the increase of the process's peak resident set size over the RSS at the
start of the measured episodes (Linux VmHWM, reset for every row; elsewhere ru_maxrss, a
process-lifetime high-water mark). The output names the one used.
"""
import argparse
import copy
import gc
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

# The repo root replaces this folder on the path: scripts/evaluate.py must not shadow the `evaluate` package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from meta_nlp.cli import main_guard  # noqa: E402
from meta_nlp.config import ALGORITHMS, MetaConfig  # noqa: E402
from meta_nlp.memory import MIB, current_rss_bytes, proc_status_kib, reset_peak_rss, ru_maxrss_bytes  # noqa: E402

DEFAULTS = MetaConfig()
TINY_BERT = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS),
                   help="algorithms to measure (default: all)")
    p.add_argument("--episodes", type=int, default=10, help="measured episodes per algorithm (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured episodes first (default: 2)")
    p.add_argument("--model", default=DEFAULTS.model, help=f"encoder id or folder (default: {DEFAULTS.model})")
    p.add_argument("--n-way", type=int, default=DEFAULTS.n_way, help=f"classes per episode (default: {DEFAULTS.n_way})")
    p.add_argument("--k-shot", type=int, default=DEFAULTS.k_shot, help=f"support examples per class (default: {DEFAULTS.k_shot})")
    p.add_argument("--n-query", type=int, default=DEFAULTS.n_query, help=f"query examples per class (default: {DEFAULTS.n_query})")
    p.add_argument("--inner-steps", type=int, default=DEFAULTS.inner_steps,
                   help=f"inner-loop steps, algorithms and reference (default: {DEFAULTS.inner_steps})")
    p.add_argument("--inner-layers", type=int, default=DEFAULTS.inner_layers,
                   help=f"top layers the algorithms adapt; -1 = all, like the reference (default: {DEFAULTS.inner_layers})")
    p.add_argument("--max-length", type=int, default=DEFAULTS.max_length, help=f"tokens per text (default: {DEFAULTS.max_length})")
    p.add_argument("--mixed-precision", choices=("no", "bf16"), default="no", help="autocast precision (default: no)")
    p.add_argument("--tiny", action="store_true",
                   help="tiny random BERT and synthetic texts instead of --model and the corpus (quick check)")
    p.add_argument("--json", metavar="PATH", help="also write the numbers, device and config used to PATH")
    args = p.parse_args(argv)
    if args.episodes < 1 or args.warmup < 0:
        p.error("--episodes must be at least 1 and --warmup at least 0")
    return args


def benchmark_config(args: argparse.Namespace) -> MetaConfig:
    """The run settings: MetaConfig defaults, with the episode shape and inner loop of the command line."""
    return MetaConfig(model=args.model, n_way=args.n_way, k_shot=args.k_shot, n_query=args.n_query,
                      inner_steps=args.inner_steps, inner_layers=args.inner_layers, max_length=args.max_length,
                      mixed_precision=args.mixed_precision).validate()


# ------------------------------------------------------------------ data and model
def synthetic_corpus(cfg: MetaConfig, seed: int = 0) -> dict:
    """{language: {label: [texts]}} of random word sequences, just big enough for the episode shape."""
    import numpy as np
    rng = np.random.default_rng(seed)
    words = [f"word{i}" for i in range(64)]
    per_label = cfg.k_shot + cfg.n_query + 2
    # The label word makes texts unique across labels (the sampler drops texts filed under two labels).
    return {lang: {f"topic{c}": [" ".join([f"topic{c}", *rng.choice(words, rng.integers(3, cfg.max_length))])
                                 for _ in range(per_label)]
                   for c in range(cfg.n_way + 1)}
            for lang in ("xa", "xb")}


def tiny_encoder_and_tokenizer(corpus: dict, max_length: int, seed: int = 0):
    """A randomly initialised 3-layer BERT and a word-level BertTokenizer over the corpus vocabulary."""
    import torch
    from transformers import AutoModel, BertConfig, BertTokenizer
    words = sorted({w for by_label in corpus.values() for texts in by_label.values() for t in texts for w in t.split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), max_position_embeddings=max(64, max_length + 2), **TINY_BERT)
    return AutoModel.from_config(config), BertTokenizer(vocab=vocab)


def encoder_tokenizer_corpus(cfg: MetaConfig, tiny: bool):
    """(encoder on CPU, tokenizer, meta-training corpus): the real ones, or the tiny synthetic stand-ins."""
    if tiny:
        corpus = synthetic_corpus(cfg)
        return (*tiny_encoder_and_tokenizer(corpus, cfg.max_length), corpus)
    from meta_nlp.data.languages import prepare_languages
    from meta_nlp.models.encoder import load_encoder
    encoder, tokenizer = load_encoder(cfg.model)
    return encoder, tokenizer, prepare_languages(cfg).train


def episode_batches(corpus: dict, tokenizer, cfg: MetaConfig, count: int, device) -> list:
    """The first `count` training episodes, tokenised once: every row runs on the very same batches,
    and tokenisation (a CPU cost outside the meta-step) stays out of the timings."""
    from meta_nlp.algorithms.inner import to_batch
    from meta_nlp.data.episodes import EpisodeSampler
    sampler = EpisodeSampler(corpus, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed)
    return [to_batch(sampler.episode(i), tokenizer, cfg.max_length, device) for i in range(count)]


# ------------------------------------------------------------------ memory
def return_freed_memory_to_os() -> None:
    """glibc keeps freed blocks mapped: without a trim the previous row's memory hides this row's growth."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory (MiB) between `start()` and `peak_mib()`; `metric` says what is measured."""

    def __init__(self, device):
        import torch
        self.device, self.torch = device, torch
        self.cuda = device.type == "cuda"
        self.vm_hwm = not self.cuda and reset_peak_rss()
        self.metric = ("torch.cuda.max_memory_allocated (weights included)" if self.cuda else
                       "peak RSS increase over the window (Linux VmHWM, reset per row)" if self.vm_hwm else
                       "peak RSS increase via resource.getrusage ru_maxrss (lifetime high-water mark: "
                       "a row shows only growth above every earlier row)")
        self.base = 0

    def start(self) -> None:
        gc.collect()
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats(self.device)
            self.base = self.torch.cuda.memory_allocated(self.device)
            return
        return_freed_memory_to_os()
        if self.vm_hwm:
            reset_peak_rss()
        self.base = current_rss_bytes() if self.vm_hwm else ru_maxrss_bytes()

    def peak_mib(self) -> float:
        if self.cuda:
            return self.torch.cuda.max_memory_allocated(self.device) / MIB
        peak = proc_status_kib("VmHWM") * 1024 if self.vm_hwm else ru_maxrss_bytes()
        return max(0, peak - self.base) / MIB

    def base_mib(self) -> float:
        """What was already held when the window opened (weights, batches; on CPU the whole process)."""
        return self.base / MIB


# ------------------------------------------------------------------ the steps measured
def algorithm_step(name: str, cfg: MetaConfig, encoder, accelerator):
    """(model, step(batch, i)) running one meta-step of `name` exactly as MetaTrainer.meta_step does."""
    import torch
    from meta_nlp.algorithms import build_algorithm
    from meta_nlp.models.encoder import MetaModel, double_backward_attention
    from meta_nlp.training.trainer import task_seed
    algo_cfg = replace(cfg, algorithm=name)
    model = MetaModel(copy.deepcopy(encoder), algo_cfg.logit_scale)
    algorithm = build_algorithm(algo_cfg)
    algorithm.setup(model)  # Meta-SGD's learned rates exist before the model moves, as in the trainer
    algorithm.backward_fn = accelerator.backward
    model.to(accelerator.device).train()

    def step(batch, i: int) -> None:
        with double_backward_attention(algorithm.needs_double_backward_attention(i)):
            torch.manual_seed(task_seed(cfg.seed, i, 0))  # per-task dropout seed, as in training
            with accelerator.autocast():
                algorithm.accumulate_meta_gradient(model, task(batch), i, weight=1.0)
        model.zero_grad(set_to_none=True)

    def task(batch):  # an MLDG task is a meta-train and a pseudo-target episode: timed here on one, twice
        return [batch, batch] if name == "mldg" else batch
    return model, step


def reference_step(cfg: MetaConfig, encoder, accelerator):
    """(module, step(batch, i)): second-order MAML the naive way, with `higher` on all encoder weights."""
    import higher
    import torch
    import torch.nn.functional as F
    from torch import nn
    from meta_nlp.models.encoder import double_backward_attention
    from meta_nlp.training.trainer import task_seed

    class EncoderWithLinearHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = copy.deepcopy(encoder)
            self.head = nn.Linear(self.encoder.config.hidden_size, cfg.n_way)

        def forward(self, batch: dict) -> torch.Tensor:
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))

    net = EncoderWithLinearHead().to(accelerator.device).train()

    def step(batch, i: int) -> None:
        torch.manual_seed(task_seed(cfg.seed, i, 0))
        with torch.no_grad():
            net.head.reset_parameters()  # a new N-way task gets a new head
        opt = torch.optim.SGD(net.parameters(), lr=cfg.inner_lr)
        # Fused SDPA kernels have no double backward: the reference needs the math kernel too.
        with double_backward_attention(True), accelerator.autocast(), \
                higher.innerloop_ctx(net, opt, copy_initial_weights=False) as (fnet, diffopt):
            for _ in range(cfg.inner_steps):
                diffopt.step(F.cross_entropy(fnet(batch.support), batch.support_labels))
            accelerator.backward(F.cross_entropy(fnet(batch.query), batch.query_labels))
        net.zero_grad(set_to_none=True)
    return net, step


def timing_and_memory(step, batches: list, warmup: int, episodes: int, memory: PeakMemory) -> dict:
    """Episodes per second and peak memory over `episodes` steps, after `warmup` unmeasured ones."""
    import torch
    for i in range(warmup):
        step(batches[i], i)
    memory.start()
    start = time.perf_counter()
    for i in range(warmup, warmup + episodes):
        step(batches[i], i)
    if memory.cuda:
        torch.cuda.synchronize(memory.device)  # kernels are asynchronous: wait before reading the clock
    seconds = time.perf_counter() - start
    return {"episodes_per_s": episodes / seconds, "seconds": seconds,
            "peak_mib": memory.peak_mib(), "base_mib": memory.base_mib()}


def measured(build, batches: list, args, memory: PeakMemory) -> dict:
    """Build a model and its step, measure it, and free it before the next row."""
    module, step = build()
    row = timing_and_memory(step, batches, args.warmup, args.episodes, memory)
    del module, step
    gc.collect()
    if memory.cuda:
        memory.torch.cuda.empty_cache()
    return row


def with_ratios(row: dict, reference: dict) -> dict:
    ref_mem = reference["peak_mib"]
    return {**row, "throughput_vs_reference": row["episodes_per_s"] / reference["episodes_per_s"],
            "memory_vs_reference": row["peak_mib"] / ref_mem if ref_mem > 0 else None}


# ------------------------------------------------------------------ output
def device_name(device) -> str:
    import torch
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def results_table(rows: dict, header: str, metric: str) -> str:
    def ratio(x):
        return "   n/a" if x is None else f"{x:5.2f}x"
    lines = [header, f"memory: {metric}", "",
             f"{'algorithm':<34} {'episodes/s':>10} {'vs ref':>7} {'peak MiB':>10} {'vs ref':>7}",
             "-" * 72]
    for name, r in rows.items():
        lines.append(f"{name:<34} {r['episodes_per_s']:>10.2f} {ratio(r.get('throughput_vs_reference', 1.0)):>7} "
                     f"{r['peak_mib']:>10.1f} {ratio(r.get('memory_vs_reference', 1.0)):>7}")
    return "\n".join(lines)


def run_header(args, cfg: MetaConfig, device, model_desc: str) -> str:
    import torch
    return (f"device: {device.type} ({device_name(device)}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} CPU threads\n"
            f"model: {model_desc}\n"
            f"episodes: {cfg.n_way}-way {cfg.k_shot}-shot, {cfg.n_query} queries/class, max_length {cfg.max_length}; "
            f"{cfg.inner_steps} inner steps (lr {cfg.inner_lr}, "
            f"{'all layers' if cfg.inner_layers < 0 else f'{cfg.inner_layers} top layers'} adapted), "
            f"mixed precision {cfg.mixed_precision}; {args.episodes} measured after {args.warmup} warm-up")


def main() -> int:
    args = parse_args(sys.argv[1:])
    cfg = benchmark_config(args)
    import torch
    import transformers
    from accelerate import Accelerator
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
    device = accelerator.device
    encoder, tokenizer, corpus = encoder_tokenizer_corpus(cfg, args.tiny)
    model_desc = (f"tiny random BertConfig({', '.join(f'{k}={v}' for k, v in TINY_BERT.items())}), synthetic texts"
                  if args.tiny else f"{cfg.model}, {cfg.task} training languages")
    batches = episode_batches(corpus, tokenizer, cfg, args.warmup + args.episodes, device)
    memory = PeakMemory(device)

    print("measuring reference (higher, second-order MAML on all encoder weights) ...", file=sys.stderr, flush=True)
    reference = measured(lambda: reference_step(cfg, encoder, accelerator), batches, args, memory)
    rows = {"REFERENCE naive higher MAML (all)": reference}
    for name in args.algorithms:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        row = measured(lambda: algorithm_step(name, cfg, encoder, accelerator), batches, args, memory)
        rows[name] = with_ratios(row, reference)

    header = run_header(args, cfg, device, model_desc)
    print(results_table(rows, header, memory.metric))
    if args.json:
        payload = {"device": {"type": device.type, "name": device_name(device)},
                   "torch": torch.__version__, "transformers": transformers.__version__,
                   "cpu_threads": torch.get_num_threads(), "model": model_desc, "tiny": args.tiny,
                   "episodes": args.episodes, "warmup": args.warmup, "memory_metric": memory.metric,
                   "config": cfg.to_dict(), "reference": reference,
                   "results": {n: r for n, r in rows.items() if n in args.algorithms}}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    main_guard(main)
