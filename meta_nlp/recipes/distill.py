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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from meta_nlp.config import DEFAULT_MODEL, MetaConfig
from meta_nlp.data.episodes import Corpus, EpisodeSampler, split_for_validation
from meta_nlp.data.languages import QUIZ_SEED_OFFSET, LanguageSplit, load_held_out, prepare_languages, usable_in
from meta_nlp.engine.trainer import EngineSettings, Trainer, make_accelerator
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.report import distillation_section, write_results
from meta_nlp.evaluation.stats import paired_bootstrap
from meta_nlp.evaluation.zero_shot import row_scores
from meta_nlp.learner import HEAD_FILE, META_FILE, Classifier, MetaLearner, resolve_learner_dir, save_learner
from meta_nlp.models.encoder import (MetaModel, head_logits, init_head, load_encoder, parameter_count, student_encoder,
                                     tokenize)
from meta_nlp.objectives.distillation import DistillationObjective, SupervisedDistillationObjective, Teacher
from meta_nlp.objectives.meta_learning import MetaLearningObjective
from meta_nlp.objectives.multitask import pooled_examples
from meta_nlp.recipes.meta_learn import evaluate_run, how_it_ran, running, write_outputs

STUDENT_INIT_DIR = "student_init"
TEACHER_DIR = "teacher"
SPEED_TEXTS = 256  # validation texts embedded to measure each model's texts/s
SPEED_REPEATS = 3
REFERENCES = ("student", "student_kd")  # every other student is compared with these, paired over episodes


def run_distillation(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    """The whole distillation job; returns and writes its results (OUTPUT_DIR/results.json, report.md)."""
    with running(cfg) as started:
        acc = accelerator or make_accelerator(cfg)
        students = prepare_students(cfg, acc)
        main = cfg.distilled_method()
        methods = [main, *[b for b in cfg.baselines if b != main]]
        learners = {"teacher": students.teacher_dir, "finetune": students.start}
        training = {}
        for method in (m for m in methods if m.startswith("student")):
            trainer = student_trainer(method, students, acc)
            training[method] = trainer.train()
            learners[method] = trainer.output_dir / "best"
        if cfg.distill_setting == "supervised":
            results = evaluate_zero_shot(cfg, students.languages, methods, learners, acc)
        else:
            results = evaluate_run(cfg, students.languages, acc, methods, learners=learners, main=main)
        add_paired_differences(results)
        extra = {"training": training,
                 "distillation": distillation_summary(results, learners, students.languages, cfg, acc),
                 **how_it_ran(started, acc), "train_languages": list(students.languages.train),
                 "quiz_languages": list(students.quiz)}
        if acc.is_main_process:
            write_outputs(Path(cfg.output_dir), cfg, results, extra)
    if accelerator is None:
        acc.end_training()
    return {"results": results, **extra}


@dataclass
class Students:
    """What every student of a run shares."""
    cfg: MetaConfig
    start: Path  # the student before training (OUTPUT_DIR/student_init, a saved learner)
    languages: LanguageSplit  # the training languages without their quiz rows
    quiz: Corpus
    teacher_dir: Path


def prepare_students(cfg: MetaConfig, acc: Accelerator) -> Students:
    """Read the training languages, set the quiz rows apart, find the teacher and save the student's initialisation."""
    set_seed(cfg.seed)
    languages = prepare_languages(cfg)
    if languages.ranking:
        raise MetaNLPError(f"distillation runs on classification tasks; {cfg.task} is a translation_ranking task")
    languages, quiz = set_apart_quiz_rows(languages, cfg)
    acc.print(f"students train on {', '.join(languages.train)} (quiz rows set apart in {', '.join(quiz)}); "
              f"held out: {', '.join(cfg.held_out_language)} (not read until evaluation)")
    out = Path(cfg.output_dir)
    teacher_dir = teacher_learner_dir(cfg, out, acc)
    return Students(cfg, save_student_init(cfg, teacher_dir, out, languages, acc), languages, quiz, teacher_dir)


def student_trainer(method: str, students: Students, acc: Accelerator) -> Trainer:
    """The engine set up to train `method`: the run's distilled student into OUTPUT_DIR, the others into
    OUTPUT_DIR/<method>."""
    cfg = students.cfg
    main = method == cfg.distilled_method()
    # A checkpoint path names the main student's; the others resume from their own latest.
    resume = cfg.resume_from_checkpoint if main else ("latest" if cfg.resume_from_checkpoint else None)
    objective = student_objective(method, students, acc)
    # A supervised task is one process's share of the step's rows (as the multitask baseline's).
    per_process = 1 if cfg.distill_setting == "supervised" else cfg.meta_batch_size
    settings = EngineSettings.from_config(cfg, output_dir=str(Path(cfg.output_dir) / ("" if main else method)),
                                          resume_from_checkpoint=resume, desc=f"train {method}",
                                          tasks_per_process=per_process)
    return Trainer(objective, settings)


# ---------------------------------------------------------------------------------- data
def set_apart_quiz_rows(languages: LanguageSplit, cfg: MetaConfig) -> tuple[LanguageSplit, Corpus]:
    """(the training split without the quiz rows, the quiz rows): --quiz-fraction of every (language, label)'s
    training rows, less texts that other rows repeat. Meta-validation rows and the held-out language are not
    touched."""
    train, quiz = split_for_validation(languages.train, cfg.quiz_fraction, cfg.seed + QUIZ_SEED_OFFSET)
    for lang in quiz:  # a text the corpus repeats in another row stays out of the quiz: the quiz must be unseen text
        elsewhere = texts_in(train[lang]) | texts_in(languages.val[lang])
        quiz[lang] = {label: [t for t in texts if t not in elsewhere] for label, texts in quiz[lang].items()}
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


def texts_in(by_label: dict[str, list[str]]) -> set[str]:
    return {t for texts in by_label.values() for t in texts}


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
        save_learner(path, MetaModel(encoder, cfg.logit_scale), tokenizer, cfg, method="finetune",
                     extra={"train_languages": list(languages.train), "distillation": {"teacher": cfg.teacher, **source}})
    acc.wait_for_everyone()
    return path


def student_objective(method: str, students: Students, acc: Accelerator) -> MetaLearningObjective:
    """`student`: meta-learning alone; `student_kd` / `student_metadistil`: taught by a fresh copy of the teacher."""
    cfg = students.cfg
    set_seed(cfg.seed)  # every student starts from the same seeded state, as every run does
    if cfg.distill_setting == "supervised":
        mode = "none" if method == "student" else method.removeprefix("student_")
        return SupervisedDistillationObjective(cfg, students.languages, acc.device, str(students.start),
                                               load_teacher(students.teacher_dir, cfg, acc.device), mode,
                                               students.quiz if mode == "metadistil" else None, acc.num_processes)
    if method == "student":
        return MetaLearningObjective(cfg, students.languages, acc.device, acc.num_processes, start=str(students.start))
    mode = method.removeprefix("student_")
    quiz = EpisodeSampler(students.quiz, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.seed + QUIZ_SEED_OFFSET, what="quiz")
    return DistillationObjective(cfg, students.languages, acc.device, str(students.start),
                                 load_teacher(students.teacher_dir, cfg, acc.device), mode,
                                 quiz if mode == "metadistil" else None, acc.num_processes)


# ---------------------------------------------------------------------------------- zero-shot (supervised)
def evaluate_zero_shot(cfg: MetaConfig, languages: LanguageSplit, methods: list[str], learners: dict[str, Path],
                       acc: Accelerator) -> list[dict]:
    """Every method labels every row of the held-out languages (read here, after all training) over the training
    languages' labels: a trained student with its classifier head, the teacher and finetune by their class
    centroids over the training rows (nearest prototype)."""
    texts, labels, names = pooled_examples(languages.train)
    results = []
    for lang in cfg.held_out_language:
        corpus = load_held_out(cfg, lang).corpus[lang]
        rows = [(t, names.index(label)) for label, items in sorted(corpus.items()) if label in names for t in items]
        for method in methods:
            if (Path(learners[method]) / HEAD_FILE).is_file():  # a trained student: its own classifier
                classifier = Classifier.from_pretrained(str(learners[method]), device=str(acc.device))
                predictions = classifier.logits([t for t, _ in rows]).argmax(-1).tolist()
            else:
                learner = MetaLearner.from_pretrained(str(learners[method]), device=str(acc.device))
                predictions = nearest_centroid_predictions(learner, texts, labels, len(names), [t for t, _ in rows])
            results.append(row_scores(method, lang, predictions, [y for _, y in rows], cfg.seed))
            acc.print(f"{method} on {lang}: zero-shot accuracy {results[-1]['accuracy']:.4f}, "
                      f"macro-F1 {results[-1]['macro_f1']:.4f} ({len(rows)} rows)")
    return results


def nearest_centroid_predictions(learner: MetaLearner, train_texts: list[str], train_labels: list[int], n_labels: int,
                                 texts: list[str]) -> list[int]:
    """The label whose centroid of training-row embeddings is nearest (the prototype head of all training rows)."""
    labels = torch.tensor(train_labels, device=learner.device)
    head = init_head(learner.embed(train_texts), labels, n_labels, "proto")
    return head_logits(learner.embed(texts), head, learner.model.log_scale.exp()).argmax(-1).tolist()


def chance_of(result: dict, cfg: MetaConfig) -> float:
    """Accuracy by chance: 1/N of an N-way episode; the most frequent label's share of zero-shot rows."""
    if result.get("setting") != "supervised":
        return 1.0 / cfg.n_way
    return result.get("majority_share", 0.0)


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
    rows = []
    for r in (r for r in results if r["k_shot"] == results[0]["k_shot"]):  # the run's K (0: zero-shot, supervised)
        chance = chance_of(r, cfg)
        learner = MetaLearner.from_pretrained(str(learners[r["method"]]), device=str(acc.device))
        teacher = next((t for t in results if t["method"] == "teacher" and t["language"] == r["language"]
                        and t["k_shot"] == r["k_shot"]), None)
        rows.append(summary_row(r, teacher, chance, parameter_count(learner.model.encoder),
                                embedding_speed(learner.model, learner.tokenizer, texts, cfg, acc.device)))
    return rows


def summary_row(result: dict, teacher: dict | None, chance: float, parameters: int, texts_per_s: float) -> dict:
    """A method's row of the Distillation table: size, speed, accuracy, retention and its paired differences."""
    row = {"method": result["method"], "language": result["language"], "accuracy": result["accuracy"],
           "ci95": result["ci95"], "parameters": parameters, "texts_per_s": round(texts_per_s, 1)}
    if teacher is not None and result["method"] != "teacher" and teacher["accuracy"] > chance:
        row["retention"] = round((result["accuracy"] - chance) / (teacher["accuracy"] - chance), 4)
    return row | {k: result[k] for k in ("vs_student", "vs_student_kd") if k in result}


# ---------------------------------------------------------------------------------- seeds pooled
def pool_seeds(run_dirs: list[Path], output_dir: Path) -> dict:
    """Finished distillation runs of the same settings but their seeds, as one result: each method's episodes
    pooled over seeds, paired differences to student and student_kd resampled within seeds, and the Distillation
    table over the pooled accuracies (texts/s: the mean over the runs). Writes OUTPUT_DIR/results.json and report.md."""
    from meta_nlp.config import config_from_dict
    from meta_nlp.recipes.study import pooled, runs_differing_only_in_seed
    runs = runs_differing_only_in_seed(run_dirs)
    if any("distillation" not in run for run in runs):
        raise MetaNLPError("pool_seeds pools distillation runs (their results.json has a 'distillation' table)")
    cfg = config_from_dict(runs[0]["config"])
    k = runs[0]["results"][0]["k_shot"]  # the runs' K (0: zero-shot, supervised)
    rows = [r for run in runs for r in run["results"] if r["k_shot"] == k]
    keys = dict.fromkeys((r["language"], r["method"]) for r in rows)
    results = [pooled([r for r in rows if (r["language"], r["method"]) == key]) for key in keys]
    add_paired_differences(results)
    summary = []
    for r in results:
        same = (r["language"], r["method"])
        measured = [s for run in runs for s in run["distillation"] if (s["language"], s["method"]) == same]
        teacher = next((t for t in results if t["method"] == "teacher" and t["language"] == r["language"]), None)
        chance = chance_of(next(x for x in rows if (x["language"], x["method"]) == same), cfg)
        summary.append(summary_row(r, teacher, chance, measured[0]["parameters"],
                                   float(np.mean([s["texts_per_s"] for s in measured]))))
    extra = {"distillation": summary, "seeds": [run["config"]["seed"] for run in runs],
             "runs": [str(d) for d in run_dirs], "wall_time_s": [run["wall_time_s"] for run in runs]}
    output_dir.mkdir(parents=True, exist_ok=True)
    config = runs[0]["config"] | {"seed": extra["seeds"]}
    write_results(output_dir, config, results, extra)
    what = "zero-shot classification of held-out rows" if k == 0 else f"{cfg.n_way}-way {cfg.k_shot}-shot episodes"
    lines = [f"# Distillation on {cfg.task}, {what}, seeds {extra['seeds']} pooled", "",
             "| language | method | accuracy | ± 95% CI | episodes (rows) | accuracy by seed | macro-F1 by seed "
             "| test-time steps |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['language']} | {r['method']} | {r['accuracy']:.4f} | {r['ci95']:.4f} | {r['n_episodes']} | "
              f"{' '.join(f'{a:.4f}' for a in r['accuracy_by_seed'])} | "
              f"{' '.join(f'{a:.4f}' for a in r.get('macro_f1_by_seed', []))} | {r['adapt_steps']} |" for r in results]
    (output_dir / "report.md").write_text("\n".join(lines + distillation_section(summary, config)) + "\n")
    return {"results": results, **extra}
