#!/usr/bin/env python
"""Speed (tasks/s) and peak memory of the real training step, with 1 and more processes, against a naive `higher` MAML.

    python scripts/benchmark.py                                     # MiniLM, chatterbot, every method, 1 process
    python scripts/benchmark.py --processes 1,2 --json runs/benchmark.json   # 1 and 2 processes, one table
    python scripts/benchmark.py --algorithms maml fomaml multitask --steps 20 --meta-batch-size 4
    python scripts/benchmark.py --mixed-precision bf16 --max-length 64 --inner-steps 5
    python scripts/benchmark.py --tiny --steps 2 --warmup 1 --processes 1,2   # tiny random BERT: smoke test
    python scripts/benchmark.py --teacher runs/protonet --student-layers 3 --algorithms student student_kd student_metadistil
    python scripts/benchmark.py --tiny --algorithms student student_kd student_metadistil  # the tiny model teaches
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 scripts/benchmark.py ...  # by hand

Every row builds the trainer exactly as a run does (meta_nlp.recipes.meta_learn.trainer_for over the
run's training languages, with make_accelerator) and times `Trainer.train_step(i)` for i in
WARMUP .. WARMUP+STEPS-1 after WARMUP unmeasured steps: the real step, in which each process draws
META_BATCH_SIZE tasks through the objective, computes their gradients under autocast, all-reduces
them across processes, clips, and takes the AdamW step and the schedule's step.
  tasks/s = (tasks per step across all processes) x STEPS / seconds;   s/step = seconds / STEPS.
A task of a meta-learner is its episode(s) (MLDG: a meta-train and a pseudo-target episode); a task of
the multitask baseline is one process-share of its batch (by default as many labelled examples as one
episode holds).

Distillation: the students of a distillation run (meta_nlp.recipes.distill), measured when named in --algorithms:
`student` (the student meta-trained alone), `student_kd` (with vanilla KD from the frozen teacher) and
`student_metadistil` (MetaDistil: the teacher also learns, from the student's pilot update on quiz episodes). They
need --teacher (a finished run, a saved learner or an encoder folder; with --tiny the tiny model itself by default).
The students are prepared once, as a run prepares them (quiz rows set apart, the student --student-layers of the
teacher's layers), learn with --student-algorithm, and each row is the trainer the run would build
(distill.student_trainer), timed like every other row. Each student row is also given as a ratio to the plain
`student` row of the same process count: s/step x student is what a step of KD or MetaDistil costs over a step of
the student alone (memory likewise). The other rows and the reference run on --model, not on the student.

Processes: `--processes 1,2` measures each count and merges the rows into one table. The count 1 runs
in this process (torch's default CPU threads, or --threads); every larger N re-launches this script with
`python -m accelerate.commands.launch --multi_gpu --num_processes N` on a free port, OMP_NUM_THREADS=1
per process, on CPU with ACCELERATE_USE_CPU=1 (gloo), else one GPU per process: the same command
everywhere. Launched by hand under `accelerate launch`, the script measures the processes it was
launched with (--processes is then ignored). Only the main process prints and writes.

The REFERENCE (single process only; --no-reference skips it) is second-order MAML written naively with
`higher`: encoder + a fresh nn.Linear head per episode in `innerloop_ctx`, SGD on *all* encoder
parameters (embeddings included), query loss backward, no optimiser step; one task is one episode of
the same training languages, and it runs STEPS x META_BATCH_SIZE episodes after WARMUP. Every row is
also given as a ratio to it: tasks/s x ref > 1 is faster, memory x ref < 1 is smaller.

Memory: on CUDA, torch.cuda.max_memory_allocated over the measured steps (weights included); on CPU,
the increase of the process's peak resident set size over the RSS at the start of the measured steps
(Linux VmHWM, reset for every row; elsewhere ru_maxrss, a process-lifetime high-water mark). With
several processes, the largest over the processes. The output names the one used.
"""
import argparse
import contextlib
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from meta_nlp.cli import main_guard
from meta_nlp.config import ALGORITHMS, DISTILLABLE, DISTILLATION_METHODS, MetaConfig, comma_separated
from meta_nlp.errors import MetaNLPError
from meta_nlp.memory import MIB, current_rss_bytes, proc_status_kib, reset_peak_rss, ru_maxrss_bytes

DEFAULTS = MetaConfig()
METHODS = [*ALGORITHMS, "multitask"]
STUDENT_METHODS = [m for m in DISTILLATION_METHODS if m.startswith("student")]  # the trained students of a run
TINY_BERT = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)
TINY_STUDENT_LAYERS = 2  # of TINY_BERT's 3 (MetaConfig's default keeps 3: no smaller than the teacher)
REFERENCE = "REFERENCE naive higher MAML (all)"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algorithms", nargs="+", choices=METHODS + STUDENT_METHODS, default=METHODS, metavar="METHOD",
                   help=f"methods to measure: {', '.join(METHODS)} (default: all of these), and the students of a "
                        f"distillation run, {', '.join(STUDENT_METHODS)} (with --teacher, or --tiny)")
    p.add_argument("--processes", default="1", type=process_counts,
                   help="comma-separated process counts, e.g. 1,2 (default: 1); N > 1 re-launches under accelerate")
    p.add_argument("--steps", "--episodes", dest="steps", type=int, default=10,
                   help="measured training steps per row (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured steps first (default: 2)")
    p.add_argument("--meta-batch-size", type=int, default=DEFAULTS.meta_batch_size,
                   help=f"tasks per step on each process (default: {DEFAULTS.meta_batch_size})")
    p.add_argument("--model", default=DEFAULTS.model, help=f"encoder id or folder (default: {DEFAULTS.model})")
    p.add_argument("--train-languages", action="extend", type=comma_separated, default=[],
                   help="training languages, comma-separated or repeated as for meta_train.py (default: every language "
                        "of the task but the held-out ja)")
    p.add_argument("--n-way", type=int, default=DEFAULTS.n_way, help=f"classes per episode (default: {DEFAULTS.n_way})")
    p.add_argument("--k-shot", type=int, default=DEFAULTS.k_shot, help=f"support examples per class (default: {DEFAULTS.k_shot})")
    p.add_argument("--n-query", type=int, default=DEFAULTS.n_query, help=f"query examples per class (default: {DEFAULTS.n_query})")
    p.add_argument("--inner-steps", type=int, default=DEFAULTS.inner_steps,
                   help=f"inner-loop steps, algorithms and reference (default: {DEFAULTS.inner_steps})")
    p.add_argument("--inner-layers", type=int, default=DEFAULTS.inner_layers,
                   help=f"top layers the algorithms adapt; -1 = all, like the reference (default: {DEFAULTS.inner_layers})")
    p.add_argument("--max-length", type=int, default=DEFAULTS.max_length, help=f"tokens per text (default: {DEFAULTS.max_length})")
    p.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default="no", help="autocast precision (default: no)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads of the single-process rows (default: torch's own; with --tiny: 1, as a tiny "
                        "model only loses from more); launched processes run with OMP_NUM_THREADS=1")
    p.add_argument("--tiny", action="store_true",
                   help="tiny random BERT (packaged MiniLM tokenizer) instead of --model: a quick check")
    p.add_argument("--teacher", metavar="PATH",
                   help="the teacher of the student rows: a finished run, a saved learner or an encoder folder "
                        "(default with --tiny: the tiny model)")
    p.add_argument("--student-layers", type=int, default=None,
                   help=f"the student keeps this many of the teacher's layers (default: {DEFAULTS.student_layers}; "
                        f"with --tiny: {TINY_STUDENT_LAYERS})")
    p.add_argument("--student-algorithm", choices=DISTILLABLE, default="protonet",
                   help="the algorithm the students learn with (a run's --algorithm under --teacher; --algorithms "
                        "names the rows, not this) (default: protonet)")
    p.add_argument("--no-reference", action="store_true", help="skip the naive higher MAML reference row")
    p.add_argument("--json", metavar="PATH", help="also write the numbers, device and config used to PATH")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.meta_batch_size < 1 or args.threads < 0:
        p.error("--steps and --meta-batch-size must be at least 1, --warmup and --threads at least 0")
    if args.tiny and not args.threads:
        args.threads = 1
    if args.student_layers is None:
        args.student_layers = TINY_STUDENT_LAYERS if args.tiny else DEFAULTS.student_layers
    if student_methods(args) and not (args.teacher or args.tiny):
        raise MetaNLPError(f"--algorithms {' '.join(student_methods(args))}: the students need --teacher PATH "
                           "(a finished run, a saved learner or an encoder folder), or --tiny")
    return args


def student_methods(args: argparse.Namespace) -> list[str]:
    """The student rows asked for, in --algorithms order."""
    return [m for m in args.algorithms if m in STUDENT_METHODS]


def process_counts(text: str) -> list[int]:
    counts = sorted({int(x) for x in text.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("process counts are positive integers, e.g. 1,2")
    return counts


def launched_processes() -> int:
    """How many processes a launcher (accelerate launch, torchrun) started this one among; 1 if none."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def benchmark_config(args: argparse.Namespace, model: str, output_dir: str) -> MetaConfig:
    """A run's settings: MetaConfig defaults, with the episode shape, inner loop and batch of the command line. Every
    task has --n-way classes (train_n_way 0), so tasks/s compares like with like and the naive reference's head fits."""
    return MetaConfig(model=model, n_way=args.n_way, train_n_way=0, k_shot=args.k_shot, n_query=args.n_query,
                      inner_steps=args.inner_steps, inner_layers=args.inner_layers, max_length=args.max_length,
                      mixed_precision=args.mixed_precision, meta_batch_size=args.meta_batch_size,
                      max_steps=args.warmup + args.steps, train_languages=list(args.train_languages),
                      held_out_language=["ja"], output_dir=output_dir).validate()


def student_config(args: argparse.Namespace, cfg: MetaConfig, teacher: str) -> MetaConfig:
    """The benchmark's run settings as a distillation run of `teacher` (its students learn with --student-algorithm)."""
    return replace(cfg, teacher=teacher, student_layers=args.student_layers, algorithm=args.student_algorithm,
                   baselines=list(DISTILLATION_METHODS)).validate()


# ------------------------------------------------------------------ model
def save_tiny_model(path: Path, max_length: int, seed: int = 0) -> str:
    """A randomly initialised BERT (TINY_BERT) with the packaged MiniLM tokenizer, saved as a model folder."""
    import torch
    from transformers import BertConfig, BertModel
    from meta_nlp.models.encoder import load_tokenizer
    tokenizer = load_tokenizer(DEFAULTS.model)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=max(64, max_length + 2), **TINY_BERT)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def model_description(args) -> str:
    if args.tiny:
        return (f"tiny random BertConfig({', '.join(f'{k}={v}' for k, v in TINY_BERT.items())}), "
                f"packaged MiniLM tokenizer")
    return args.model


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


def release(memory: PeakMemory) -> None:
    gc.collect()
    if memory.cuda:
        memory.torch.cuda.empty_cache()


# ------------------------------------------------------------------ the steps measured
def measure_method(method: str, cfg: MetaConfig, languages, args, memory: PeakMemory) -> dict:
    """The row of a meta-learner or of multitask: its trainer as a run builds it, timed."""
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.recipes.meta_learn import trainer_for
    run_cfg = replace(cfg, algorithm=method).validate() if method in ALGORITHMS else cfg
    return timed_row(method, trainer_for(method, run_cfg, languages, make_accelerator(run_cfg)), args, memory)


def measure_student(method: str, students, args, memory: PeakMemory) -> dict:
    """The row of a student of a distillation run (`students`: distill.prepare_students): its trainer, timed."""
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.recipes.distill import student_trainer
    return timed_row(method, student_trainer(method, students, make_accelerator(students.cfg)), args, memory)


def timed_row(method: str, trainer, args, memory: PeakMemory) -> dict:
    """One row: `trainer.train_step(i)` timed over the measured steps, after the warm-up steps."""
    from accelerate.utils import gather_object
    acc = trainer.accelerator
    for i in range(args.warmup):
        trainer.train_step(i)
    acc.wait_for_everyone()
    memory.start()
    acc.wait_for_everyone()
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        metrics = trainer.train_step(i)
    if memory.cuda:
        memory.torch.cuda.synchronize(memory.device)  # kernels are asynchronous: wait before reading the clock
    acc.wait_for_everyone()
    seconds = time.perf_counter() - start
    processes = acc.num_processes
    tasks_per_step = trainer.settings.tasks_per_process * processes
    peaks = gather_object([(memory.peak_mib(), memory.base_mib())])
    acc.free_memory()
    del trainer, acc
    release(memory)
    import torch
    return {"method": method, "processes": processes, "threads_per_process": torch.get_num_threads(),
            "tasks_per_step": tasks_per_step, "steps": args.steps, "seconds": seconds,
            "seconds_per_step": seconds / args.steps, "tasks_per_s": tasks_per_step * args.steps / seconds,
            "peak_mib": max(p for p, _ in peaks), "base_mib": max(b for _, b in peaks),
            "last_loss": float(metrics.get("loss", float("nan")))}


def reference_step(cfg: MetaConfig, encoder, accelerator):
    """(module, step(batch, i)): second-order MAML the naive way, with `higher` on all encoder weights."""
    import copy

    import higher
    import torch
    import torch.nn.functional as F
    from torch import nn
    from meta_nlp.engine.trainer import task_seed
    from meta_nlp.models.encoder import double_backward_attention, mean_pool

    class EncoderWithLinearHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = copy.deepcopy(encoder)
            self.head = nn.Linear(self.encoder.config.hidden_size, cfg.n_way)

        def forward(self, batch: dict) -> torch.Tensor:
            return self.head(mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"]))

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


def measure_reference(cfg: MetaConfig, languages, args, memory: PeakMemory) -> dict:
    """The reference row: one episode per task, STEPS x META_BATCH_SIZE episodes after WARMUP, on this process."""
    import torch
    from meta_nlp.algorithms.inner import to_batch
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.models.encoder import load_encoder
    accelerator = make_accelerator(cfg)
    encoder, tokenizer = load_encoder(cfg.model)
    episodes = args.steps * args.meta_batch_size
    sampler = languages.train_sampler(cfg)
    # Tokenised up front: tokenisation (a CPU cost outside the meta-step) stays out of the timing.
    batches = [to_batch(sampler.episode(i), tokenizer, cfg.max_length, accelerator.device)
               for i in range(args.warmup + episodes)]
    net, step = reference_step(cfg, encoder, accelerator)
    for i in range(args.warmup):
        step(batches[i], i)
    memory.start()
    start = time.perf_counter()
    for i in range(args.warmup, args.warmup + episodes):
        step(batches[i], i)
    if memory.cuda:
        torch.cuda.synchronize(memory.device)
    seconds = time.perf_counter() - start
    row = {"method": REFERENCE, "processes": 1, "threads_per_process": torch.get_num_threads(), "tasks_per_step": 1,
           "steps": episodes, "seconds": seconds, "seconds_per_step": seconds / episodes,
           "tasks_per_s": episodes / seconds, "peak_mib": memory.peak_mib(), "base_mib": memory.base_mib()}
    del net, step, batches, encoder
    release(memory)
    return row


def measure_here(args, say) -> tuple[list[dict], list[str]]:
    """(every row of the processes this one runs among (1, or those a launcher started), training languages)."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list
    from meta_nlp.data.languages import prepare_languages
    state, rows = PartialState(), []
    with tempfile.TemporaryDirectory(prefix="meta_nlp_benchmark_") as tmp:
        # Every process works in the main process's folder: what the main process saves there (the tiny model,
        # the teacher and student) the others read.
        tmp = Path(broadcast_object_list([tmp])[0] if state.num_processes > 1 else tmp)
        model = args.model
        if args.tiny:  # saved once, by the main process (transformers saves on the main process only)
            model = str(tmp / "tiny_bert")
            if state.is_main_process:
                save_tiny_model(Path(model), args.max_length)
            state.wait_for_everyone()
        cfg = benchmark_config(args, model, str(tmp / "run"))
        languages = prepare_languages(cfg)
        say(f"{launched_processes()} process(es); training languages: {', '.join(languages.train)}")
        memory = PeakMemory(PartialState().device)
        if not args.no_reference and launched_processes() == 1:
            say("measuring reference (higher, second-order MAML on all encoder weights) ...")
            rows.append(measure_reference(cfg, languages, args, memory))
        for method in (m for m in args.algorithms if m not in STUDENT_METHODS):
            say(f"measuring {method} ({launched_processes()} process(es)) ...")
            rows.append(measure_method(method, cfg, languages, args, memory))
        if student_methods(args):
            rows += measure_students(args, student_config(args, cfg, args.teacher or model), memory, say)
        state.wait_for_everyone()  # the main process's folder (tiny model, teacher, student) outlives every reader
    return rows, list(languages.train)


def measure_students(args, cfg: MetaConfig, memory: PeakMemory, say) -> list[dict]:
    """The student rows asked for, all of the same students, prepared once as a distillation run prepares them."""
    from meta_nlp.engine.trainer import make_accelerator
    from meta_nlp.recipes.distill import prepare_students
    say(f"preparing the students ({cfg.student_layers} of the layers of {cfg.teacher}) ...")
    students = prepare_students(cfg, make_accelerator(cfg))
    rows = []
    for method in student_methods(args):
        say(f"measuring {method} ({launched_processes()} process(es)) ...")
        rows.append(measure_student(method, students, args, memory))
    return rows


# ------------------------------------------------------------------ more processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n: int, argv: list[str], mixed_precision: str) -> tuple[list[dict], list[str]]:
    """(rows, training languages) of this script re-launched under accelerate with `n` processes (gloo on CPU, one GPU each else)."""
    import torch
    cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "0").lower() not in ("1", "true", "yes")
    if cuda and torch.cuda.device_count() < n:
        raise MetaNLPError(f"--processes {n}: only {torch.cuda.device_count()} GPU(s) here")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not cuda:
        env["ACCELERATE_USE_CPU"] = "1"
    with tempfile.TemporaryDirectory(prefix="meta_nlp_benchmark_") as tmp:
        out = Path(tmp) / "rows.json"
        # Later flags win: the child measures n processes, without the single-process reference, into `out`.
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--num_processes", str(n),
               "--multi_gpu", "--main_process_port", str(free_port()), "--mixed_precision", mixed_precision,
               "--dynamo_backend", "no", str(Path(__file__).resolve()), *argv,
               "--processes", str(n), "--no-reference", "--json", str(out)]
        proc = subprocess.run(cmd, env=env, stdout=sys.stderr)  # its progress and table go to our stderr
        if proc.returncode != 0 or not out.is_file():
            raise MetaNLPError(f"the {n}-process run failed (exit status {proc.returncode}); its output is above")
        payload = json.loads(out.read_text())
        return payload["rows"], payload["train_languages"]


# ------------------------------------------------------------------ output
def with_ratios(rows: list[dict]) -> list[dict]:
    """Every row with its ratios to the reference, and every student row with its ratios to the plain student."""
    ref = next((r for r in rows if r["method"] == REFERENCE), None)
    return [{**r, **ratios_to_reference(r, ref), **ratios_to_student(r, rows)} for r in rows]


def ratios_to_reference(row: dict, ref: dict | None) -> dict:
    """throughput_vs_reference and memory_vs_reference (none without a reference row)."""
    if ref is None:
        return {}
    return {"throughput_vs_reference": row["tasks_per_s"] / ref["tasks_per_s"],
            "memory_vs_reference": memory_ratio(row, ref)}


def ratios_to_student(row: dict, rows: list[dict]) -> dict:
    """step_cost_vs_student and memory_vs_student of a student row: against the plain `student` row of the same
    process count (none for other rows, or when that row was not measured)."""
    student = next((r for r in rows if r["method"] == "student" and r["processes"] == row["processes"]), None)
    if student is None or row["method"] not in STUDENT_METHODS:
        return {}
    return {"step_cost_vs_student": row["seconds_per_step"] / student["seconds_per_step"],
            "memory_vs_student": memory_ratio(row, student)}


def memory_ratio(row: dict, base: dict) -> float | None:
    """row's peak memory over base's; None when base's is 0 (on CPU, a row may not grow the peak RSS at all)."""
    return row["peak_mib"] / base["peak_mib"] if base["peak_mib"] > 0 else None


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


def run_header(args, device, model_desc: str, languages: str) -> str:
    import torch
    return (f"device: {device.type} ({device_name(device)}), torch {torch.__version__}, {os.cpu_count()} CPUs\n"
            f"model: {model_desc}; chatterbot_topics, training languages: {languages}\n"
            f"tasks: {args.n_way}-way {args.k_shot}-shot, {args.n_query} queries/class, max_length {args.max_length}; "
            f"{args.inner_steps} inner steps "
            f"({'all layers' if args.inner_layers < 0 else f'{args.inner_layers} top layers'} adapted), "
            f"mixed precision {args.mixed_precision}; {args.meta_batch_size} tasks per process per step; "
            f"{args.steps} measured steps after {args.warmup} warm-up"
            + (f"\nstudents: {args.student_layers} of the layers of {args.teacher or 'the tiny model'}, "
               f"learning with {args.student_algorithm}" if student_methods(args) else ""))


def results_table(rows: list[dict], header: str, metric: str) -> str:
    def ratio(r, key):
        x = r.get(key)
        return "1.00x" if r["method"] == REFERENCE and key.endswith("reference") else "n/a" if x is None else f"{x:.2f}x"
    head = "| method | processes | threads/process | tasks/step | tasks/s | s/step | tasks/s vs ref | peak MiB | memory vs ref |"
    rule = "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    # The columns against the plain student only when a student row has them: other tables stay as they were.
    vs_student = any("step_cost_vs_student" in r for r in rows)
    if vs_student:
        head, rule = head + " s/step vs student | memory vs student |", rule + "--:|--:|"
    lines = [header, f"memory: {metric}", "", head, rule]
    for r in rows:
        line = (f"| {r['method']} | {r['processes']} | {r['threads_per_process']} | {r['tasks_per_step']} "
                f"| {r['tasks_per_s']:.2f} | {r['seconds_per_step']:.3f} | {ratio(r, 'throughput_vs_reference')} "
                f"| {r['peak_mib']:.1f} | {ratio(r, 'memory_vs_reference')} |")
        if vs_student:
            line += f" {ratio(r, 'step_cost_vs_student')} | {ratio(r, 'memory_vs_student')} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    argv = sys.argv[1:]
    args = parse_args(argv)
    import torch
    import transformers
    from accelerate import PartialState
    if args.threads and launched_processes() == 1:
        torch.set_num_threads(args.threads)
    from accelerate.utils import parse_flag_from_env
    # As an Accelerator would: without cpu=True a CPU launch (ACCELERATE_USE_CPU, gloo) is not seen as distributed.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    is_main = state.is_main_process

    def say(message: str) -> None:
        if is_main:
            print(message, file=sys.stderr, flush=True)

    rows, train_languages = [], []
    if launched_processes() > 1:  # under a launcher: measure the processes it started
        counts = [launched_processes()]
    else:
        counts = args.processes
        for n in (n for n in counts if n > 1):  # first, while this process holds no model nor GPU memory
            say(f"launching {n} processes ...")
            launched, train_languages = launch(n, argv, args.mixed_precision)
            rows += launched
    if launched_processes() > 1 or 1 in counts:
        with contextlib.redirect_stdout(sys.stderr):  # the engine's notes: the table alone goes to stdout
            here, train_languages = measure_here(args, say)
            rows = here + rows
    if not is_main:
        return 0
    rows = with_ratios(rows)
    metric = PeakMemory(state.device).metric
    header = run_header(args, state.device, model_description(args), ", ".join(train_languages))
    print(results_table(rows, header, metric))
    if args.json:
        from meta_nlp.evaluation.report import library_versions
        payload = {"device": {"type": state.device.type, "name": device_name(state.device)},
                   "versions": library_versions(),  # with the commit of the code measured
                   "torch": torch.__version__, "transformers": transformers.__version__, "cpus": os.cpu_count(),
                   "model": model_description(args), "tiny": args.tiny, "steps": args.steps, "warmup": args.warmup,
                   "meta_batch_size": args.meta_batch_size, "memory_metric": metric, "train_languages": train_languages,
                   "config": {k: v for k, v in vars(args).items() if k != "json"}, "rows": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    main_guard(main)
