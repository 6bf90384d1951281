"""Distil a teacher into a smaller student, top to bottom: set the quiz rows apart from the training languages'
rows, load the teacher, build the student (the teacher's own layers, or --student), meta-train the students on the
same seeded episodes (alone, with vanilla KD, with MetaDistil), evaluate every method on the same held-out episodes,
and report accuracy, size, speed and the teacher's gain each student keeps.

Run folder: the run's distilled student (--distillation) trains into OUTPUT_DIR itself (best/ and checkpoints/, so
it loads and pushes like any run); the other students into OUTPUT_DIR/<method>/; the student before training is
OUTPUT_DIR/student_init/; a teacher given as a plain encoder is saved as OUTPUT_DIR/teacher/.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from meta_nlp.config import DEFAULT_MODEL, MetaConfig
from meta_nlp.data.episodes import Corpus, EpisodeSampler, split_for_validation
from meta_nlp.data.languages import QUIZ_SEED_OFFSET, LanguageSplit, prepare_languages, usable_in
from meta_nlp.engine.trainer import EngineSettings, Trainer, make_accelerator
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.stats import paired_bootstrap
from meta_nlp.learner import META_FILE, MetaLearner, resolve_learner_dir, save_learner
from meta_nlp.memory import reset_peak_rss, run_peak_mib
from meta_nlp.models.encoder import MetaModel, load_encoder, parameter_count, student_encoder, tokenize
from meta_nlp.objectives.distillation import DistillationObjective, Teacher
from meta_nlp.objectives.meta_learning import MetaLearningObjective
from meta_nlp.recipes.meta_learn import evaluate_run, write_outputs

STUDENT_INIT_DIR = "student_init"
TEACHER_DIR = "teacher"
SPEED_TEXTS = 256  # validation texts embedded to measure each model's texts/s
SPEED_REPEATS = 3
REFERENCES = ("student", "student_kd")  # every other student is compared with these, paired over episodes


def run_distillation(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    """The whole distillation job; returns and writes its results (OUTPUT_DIR/results.json, report.md)."""
    started = time.time()
    reset_peak_rss()
    acc = accelerator or make_accelerator(cfg)
    set_seed(cfg.seed)
    out = Path(cfg.output_dir)
    languages = prepare_languages(cfg)
    if languages.ranking:
        raise MetaNLPError(f"distillation runs on classification tasks; {cfg.task} is a translation_ranking task")
    languages, quiz = set_apart_quiz_rows(languages, cfg)
    acc.print(f"students train on {', '.join(languages.train)} (quiz rows set apart in {', '.join(quiz)}); "
              f"held out: {', '.join(cfg.held_out_language)} (not read until evaluation)")
    teacher_dir = teacher_learner_dir(cfg, out, acc)
    student_cfg = replace(cfg, model=str(save_student_init(cfg, teacher_dir, out, languages, acc)))
    main = cfg.distilled_method()
    methods = [main, *[b for b in cfg.baselines if b != main]]
    learners = {"teacher": teacher_dir, "finetune": out / STUDENT_INIT_DIR}
    training = {}
    for method in (m for m in methods if m.startswith("student")):
        folder = out if method == main else out / method
        objective = student_objective(method, student_cfg, languages, quiz, teacher_dir, acc)
        # A checkpoint path names the main student's; the others resume from their own latest.
        resume = cfg.resume_from_checkpoint if method == main else ("latest" if cfg.resume_from_checkpoint else None)
        settings = EngineSettings.from_config(student_cfg, output_dir=str(folder), resume_from_checkpoint=resume,
                                              desc=f"train {method}")
        training[method] = Trainer(objective, settings).train()
        learners[method] = folder / "best"
    results = evaluate_run(student_cfg, languages, acc, methods, learners=learners, main=main)
    add_paired_differences(results)
    extra = {"training": training, "distillation": distillation_summary(results, learners, languages, student_cfg, acc),
             "wall_time_s": round(time.time() - started, 1), "peak_memory_mib": run_peak_mib(),
             "num_processes": acc.num_processes, "train_languages": list(languages.train), "quiz_languages": list(quiz)}
    if acc.is_main_process:
        write_outputs(out, student_cfg, results, extra)
    if accelerator is None:
        acc.end_training()
    return {"results": results, **extra}


# ---------------------------------------------------------------------------------- data
def set_apart_quiz_rows(languages: LanguageSplit, cfg: MetaConfig) -> tuple[LanguageSplit, Corpus]:
    """(the training split without the quiz rows, the quiz rows): --quiz-fraction of every (language, label)'s
    training rows. Meta-validation rows and the held-out language are not touched."""
    train, quiz = split_for_validation(languages.train, cfg.quiz_fraction, cfg.seed + QUIZ_SEED_OFFSET)
    need = f"{cfg.n_way} classes with {cfg.k_shot + cfg.n_query} rows"
    quiz_usable, train_usable = usable_in(languages.task, quiz, cfg), usable_in(languages.task, train, cfg)
    if not quiz_usable:
        raise MetaNLPError(f"--quiz-fraction {cfg.quiz_fraction} leaves no training language {need} of quiz rows; "
                           "raise it, or lower --n-query")
    if not train_usable:
        raise MetaNLPError(f"--quiz-fraction {cfg.quiz_fraction} leaves no training language {need} to train on; "
                           "lower it")
    return (replace(languages, train={lang: train[lang] for lang in train_usable}),
            {lang: quiz[lang] for lang in quiz_usable})


# ---------------------------------------------------------------------------------- teacher and student
def teacher_learner_dir(cfg: MetaConfig, out: Path, acc: Accelerator) -> Path:
    """The teacher as a saved learner: a run folder, a saved learner (local or on the Hub), or an encoder saved here
    as one that adapts like finetune."""
    spec = cfg.teacher
    local = Path(spec).expanduser()
    if (local / META_FILE).is_file() or (local / "best" / META_FILE).is_file():
        return resolve_learner_dir(str(local))
    if not local.exists() and spec != DEFAULT_MODEL and spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        try:  # a Hub id: a saved learner when the repository has meta_nlp.json, else an encoder
            path = resolve_learner_dir(spec)
            if (path / META_FILE).is_file():
                return path
        except MetaNLPError:
            pass  # offline or not a learner: load_encoder below says why it cannot load
    try:
        encoder, tokenizer = load_encoder(spec)
    except MetaNLPError as e:
        raise MetaNLPError(f"--teacher {spec}: not a finished run, a saved learner nor an encoder ({e})") from None
    path = out / TEACHER_DIR
    if acc.is_main_process:
        save_learner(path, MetaModel(encoder, cfg.logit_scale), tokenizer, replace(cfg, model=spec), method="finetune")
    acc.wait_for_everyone()
    return path


def load_teacher(teacher_dir: Path, cfg: MetaConfig, device: torch.device) -> Teacher:
    """The teacher on the device, adapting on an episode by its own (validation-tuned) test-time rule."""
    learner = MetaLearner.from_pretrained(str(teacher_dir), device=str(device))
    return Teacher(learner.model, learner.tokenizer, learner.test_time_rule(), learner.lr_factor, learner.steps,
                   learner.cfg.head_init, cfg.max_length)


def save_student_init(cfg: MetaConfig, teacher_dir: Path, out: Path, languages: LanguageSplit,
                      acc: Accelerator) -> Path:
    """The student before any training (the `finetune` row), saved as a learner: --student, or --student-layers of
    the teacher's layers."""
    path = out / STUDENT_INIT_DIR
    if cfg.student:
        encoder, tokenizer = load_encoder(cfg.student)
        source = {"student": cfg.student}
    else:
        teacher = MetaLearner.from_pretrained(str(teacher_dir), device="cpu")
        encoder, tokenizer = student_encoder(teacher.model.encoder, cfg.student_layers), teacher.tokenizer
        source = {"student_layers": cfg.student_layers, "of_teacher_layers": teacher.model.encoder.config.num_hidden_layers}
    if acc.is_main_process:
        save_learner(path, MetaModel(encoder, cfg.logit_scale), tokenizer, replace(cfg, model=str(path)),
                     method="finetune", extra={"train_languages": list(languages.train),
                                               "distillation": {"teacher": cfg.teacher, **source}})
    acc.wait_for_everyone()
    return path


def student_objective(method: str, cfg: MetaConfig, languages: LanguageSplit, quiz: Corpus, teacher_dir: Path,
                      acc: Accelerator) -> MetaLearningObjective:
    """`student`: meta-learning alone; `student_kd` / `student_metadistil`: taught by a fresh copy of the teacher."""
    set_seed(cfg.seed)  # every student starts from the same seeded state, as every run does
    if method == "student":
        return MetaLearningObjective(cfg, languages, acc.device, acc.num_processes)
    mode = method.removeprefix("student_")
    quiz_sampler = EpisodeSampler(quiz, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + QUIZ_SEED_OFFSET, what="quiz")
    return DistillationObjective(cfg, languages, acc.device, load_teacher(teacher_dir, cfg, acc.device), mode,
                                 quiz_sampler if mode == "metadistil" else None, acc.num_processes)


# ---------------------------------------------------------------------------------- measures
def add_paired_differences(results: list[dict]) -> None:
    """Every other method gets `vs_student` and `vs_student_kd`: its paired difference over the same episodes."""
    for r in results:
        for ref in REFERENCES:
            other = next((o for o in results if o["method"] == ref and o["language"] == r["language"]
                          and o["k_shot"] == r["k_shot"]), None)
            if other is not None and r["method"] != ref:
                r[f"vs_{ref}"] = paired_bootstrap(r, other)


def embedding_speed(model: MetaModel, tokenizer, texts: list[str], cfg: MetaConfig, device: torch.device) -> float:
    """Texts per second when embedding `texts` (already tokenised) in batches of 32: the fastest of SPEED_REPEATS
    passes, after one unmeasured batch."""
    model.eval()
    batches = [texts[i:i + 32] for i in range(0, len(texts), 32)]
    tokenized = [tokenize(tokenizer, batch, cfg.max_length, device) for batch in batches]
    seconds = []
    with torch.no_grad():
        model.embed(tokenized[0])
        for _ in range(SPEED_REPEATS):  # the fastest pass: other work on the machine only ever slows one down
            started = time.perf_counter()
            for batch in tokenized:
                model.embed(batch)
            seconds.append(time.perf_counter() - started)
    return len(texts) / min(seconds)


def distillation_summary(results: list[dict], learners: dict[str, Path], languages: LanguageSplit, cfg: MetaConfig,
                         acc: Accelerator) -> list[dict]:
    """One row per method at --k-shot: parameters, texts/s (measured here), held-out accuracy, and the share of the
    teacher's gain over chance it keeps, (accuracy − chance) / (teacher − chance)."""
    texts = [t for lang in sorted(languages.val) for items in languages.val[lang].values() for t in items][:SPEED_TEXTS]
    chance = 1.0 / cfg.n_way
    rows = []
    for r in (r for r in results if r["k_shot"] == cfg.k_shot):
        learner = MetaLearner.from_pretrained(str(learners[r["method"]]), device=str(acc.device))
        teacher = next((t for t in results if t["method"] == "teacher" and t["language"] == r["language"]
                        and t["k_shot"] == r["k_shot"]), None)
        row = {"method": r["method"], "language": r["language"], "accuracy": r["accuracy"], "ci95": r["ci95"],
               "parameters": parameter_count(learner.model.encoder),
               "texts_per_s": round(embedding_speed(learner.model, learner.tokenizer, texts, cfg, acc.device), 1)}
        if teacher is not None and r["method"] != "teacher" and teacher["accuracy"] > chance:
            row["retention"] = round((r["accuracy"] - chance) / (teacher["accuracy"] - chance), 4)
        rows.append(row | {k: r[k] for k in ("vs_student", "vs_student_kd") if k in r})
    return rows

