"""Every default of a run lives here, once.

`MetaConfig` is the single source of truth: the command line is generated from its
fields (help text included), a YAML file can set any field, and flags override the file.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from meta_nlp.errors import MetaNLPError
from meta_nlp.yaml_parse import parse_yaml

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TRAINING_DRAW_STREAM = 7  # keeps the seeds of training draws apart from other streams derived from --seed
# The one registry of what can be trained: name -> "module:class" (resolved only when built, so this
# bottom layer imports none of them). A meta-learner is an Algorithm (meta_nlp/algorithms), trained by
# the episodic objective (meta_nlp/objectives/meta_learning.py).
ALGORITHMS = {
    "maml": "meta_nlp.algorithms.maml:MAML",
    "fomaml": "meta_nlp.algorithms.maml:FOMAML",
    "reptile": "meta_nlp.algorithms.reptile:Reptile",
    "anil": "meta_nlp.algorithms.maml:ANIL",
    "metasgd": "meta_nlp.algorithms.maml:MetaSGD",
    "protonet": "meta_nlp.algorithms.protonet:ProtoNet",
    "r2d2": "meta_nlp.algorithms.r2d2:R2D2",
    "mldg": "meta_nlp.algorithms.mldg:MLDG",
}
# Baselines: finetune adapts φ⁰ as it is; multitask is trained first by its own objective; setfit fine-tunes φ⁰
# contrastively on each episode's support pairs and fits a logistic regression (meta_nlp/algorithms/setfit.py).
BASELINES = {
    "finetune": None,
    "multitask": "meta_nlp.objectives.multitask:MultitaskObjective",
    "setfit": None,
}
# Learned editors (--algorithm mend or enn): a run trains the classifier to edit, the editor, and scores it with the editors
# that need no training (EDIT_BASELINES) on the same edit streams (meta_nlp/recipes/edit.py).
EDITORS = ("mend", "enn")
EDIT_BASELINES = ("ft", "ft_kl", "memory")
# A distillation run (--teacher) compares students of the teacher on the same episodes; its main method is the
# student of --distillation, and --baselines picks from the rest (default: all of them).
DISTILLATION_METHODS = ("teacher", "finetune", "student", "student_kd", "student_metadistil")
# Students learn with these algorithms: the teacher's soft targets replace the cross-entropy of a query set.
DISTILLABLE = ("maml", "fomaml", "anil", "metasgd", "protonet")


def registered(spec: str) -> Any:
    """The class a registry entry ("module:class") names."""
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def _f(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field that carries its own --help text."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class MetaConfig:
    # --- what to learn -------------------------------------------------------------
    algorithm: str = _f("protonet", f"meta-learning algorithm: one of {', '.join(ALGORITHMS)}; or a learned editor "
                                    f"({', '.join(EDITORS)}: model editing, see --edit-fraction)")
    task: str = _f("chatterbot_topics", "task name from tasks/*.yaml or --task-dir (see --list-tasks); several, "
                                        "comma-separated (a,b): meta-training draws episodes across them, each from "
                                        "one task and language ('task:language'), and --held-out-language is one of "
                                        "the first task's unless --held-out-task")
    task_dir: list = _f([], "extra folder of task YAML files (repeatable)", repeat=True)
    data_dir: str | None = _f(None, "local folder that replaces the task's Hub source (read with the task's "
                                    "local_layout) or its local data_dir; its languages are the ones found there")
    model: str = _f(DEFAULT_MODEL, "Hugging Face encoder id or local folder (default: packaged all-MiniLM-L6-v2)")
    held_out_language: list = _f(["ja"], "language never seen until final evaluation (repeatable, or comma-separated: "
                                         "ja,ko)", repeat=True, comma=True)
    held_out_task: str | None = _f(None, "evaluate on this task instead (texts never meta-trained on: other labels, "
                                         "or the same labels on other rows, as sib200_test), in --held-out-language, "
                                         "a language of that task; name its languages apart from --task's with "
                                         "--train-languages when the two tasks code them differently (ja / jpn_Jpan). "
                                         "Default: --task")
    held_out_data_dir: str | None = _f(None, "local folder of --held-out-task's data (as --data-dir is --task's)")
    train_languages: list = _f([], "meta-training languages (repeatable, or comma-separated: bn,de,en; default: every "
                                   "other language of the task)", repeat=True, comma=True)
    validation_languages: list = _f([], "languages kept out of meta-training and read only to select the checkpoint "
                                        "and the test-time rule (leave-one-language-out selection: it rewards what "
                                        "transfers to a language never trained on; repeatable, or comma-separated). "
                                        "The meta-learner selected on the training languages' share is evaluated "
                                        "beside it as '<algorithm>@training-languages'. Default: none, select on that "
                                        "share",
                                    repeat=True, comma=True)
    validation_labels: list = _f([], "labels of the training task kept out of meta-training (and of the baselines' "
                                     "training) in every training language, and read only to select the checkpoint "
                                     "and the test-time rule: episodes of these labels, in the training languages "
                                     "(novel classes, as few-shot benchmarks split them: it rewards what transfers to "
                                     "a label set never trained on, as a held-out task needs; at least --n-way of "
                                     "them; repeatable, or comma-separated). The meta-learner selected on the "
                                     "training languages' share is evaluated beside it as "
                                     "'<algorithm>@training-languages'. Default: none",
                                 repeat=True, comma=True)
    val_fraction: float = _f(0.25, "share of each training language's examples held back for meta-validation")
    max_length: int = _f(32, "tokens per text, the rest cut (a run names each language it cuts over a tenth of; "
                               "chatterbot utterances: median 10-20 tokens; SIB-200 sentences 40-115, most whole at 128); "
                               "cost grows with it")
    # --- episodes ------------------------------------------------------------------
    n_way: int = _f(5, "classes per episode")
    k_shot: int = _f(5, "support examples per class")
    n_query: int = _f(5, "query examples per class")
    train_n_way: int = _f(10, "meta-training episodes take up to this many classes, as many as each training language "
                              "has with k_shot+n_query examples (never fewer than --n-way); meta-validation and the "
                              "held-out episodes keep --n-way. Translation-ranking training groups take up to this "
                              "many candidates (kept on validation: results/meta_batch_4/plan.md, addendum 22). "
                              "Prototypical networks learned more from training episodes with more classes than "
                              "tested (Snell et al. 2017); 10-class episodes beat 5-class ones on 150 fresh validation "
                              "episodes per seed (results/train_n_way). 0: --n-way")
    cross_lingual_episodes: bool = _f(False, "meta-training episodes take the support set from one training language and "
                                             "the query set from another sharing >= n_way labels (X-MAML)")
    pseudo_target_queries: bool = _f(False, "MLDG's rotation for the other learners: the query set of every task of "
                                            "meta-step s comes from training language s mod L, the support set from another")
    # --- task augmentation (meta-training episodes only; label permutation is always on) ---
    smlmt_ratio: float = _f(0.0, "share of meta-training episodes that are self-supervised SMLMT tasks: N words of the "
                                 "training languages' unlabelled text, masked in K+Q sentences each, label = the word (0: off)")
    cross_lingual_support_ratio: float = _f(0.0, "share of each meta-training episode's support examples replaced by "
                                                 "their translation into another training language (from the task's "
                                                 "parallel_task), where one exists; labels kept (0: off)")
    mlti_ratio: float = _f(0.0, "share of meta-training tasks replaced by an interpolation of two tasks of different "
                                "languages (MLTI): token embeddings mixed λ·a + (1−λ)·b, class c with class c, the "
                                "partner drawn with as many classes (0: off)")
    mlti_alpha: float = _f(0.5, "MLTI: λ ~ Beta(α, α), one per mixed task")
    # --- inner loop ----------------------------------------------------------------
    inner_steps: int = _f(3, "adaptation steps per task during meta-training")
    inner_lr: float = _f(0.05, "inner-loop SGD learning rate (initial value for Meta-SGD)")
    inner_layers: int = _f(2, "top transformer layers adapted in the inner loop (-1: all; embeddings never); the outer loop always learns all of φ")
    head_init: str = _f("proto", "per-episode head: 'proto' (Proto-MAML init) or 'zero'")
    logit_scale: float = _f(10.0, "initial scale of cosine logits (learned by protonet, r2d2 and metasgd)")
    backend: str = _f("func", "inner-loop backend: 'func' (torch.func) or 'higher' (reference, maml/fomaml only)")
    # --- MAML++ / Meta-SGD options -------------------------------------------------
    lr_granularity: str = _f("layer_step", "metasgd learned rates: 'layer_step' (MAML++) or 'parameter' (Meta-SGD)")
    multi_step_loss_steps: int = _f(0, "MAML++ multi-step loss: anneal from all-step to last-step loss over N meta-steps (0: off)")
    first_order_steps: int = _f(0, "MAML++ derivative-order annealing: first N meta-steps are first order")
    protonet_distance: str = _f("euclidean", "protonet distance: 'euclidean' (squared) or 'cosine'")
    # --- MLDG ------------------------------------------------------------------------
    mldg_beta: float = _f(1.0, "mldg: weight β of the pseudo-held-out language's loss, L_train(θ) + β·L_pseudo(θ − α∇L_train)")
    mldg_first_order: bool = _f(False, "mldg: treat the inner step as a constant (first order; no double backward)")
    # --- outer loop ----------------------------------------------------------------
    meta_lr: float = _f(3e-5, "meta-optimizer (AdamW) learning rate for the encoder")
    meta_param_lr: float = _f(1e-3, "AdamW learning rate for learned inner rates and temperature")
    freeze_embeddings: bool = _f(False, "meta-training and the multitask baseline leave the encoder's embedding "
                                        "layer (word pieces, positions, its LayerNorm) as pretrained, so that the word "
                                        "pieces of a language training never reads stay where the layers above expect "
                                        "them. Off: measured, ProtoNet unchanged on ja and its encoder 0.4 points lower "
                                        "on a task never meta-trained on (results/freeze_embeddings)")
    meta_batch_size: int = _f(4, "tasks per meta-step on each process: with --train-n-way 10, four episodes of up to "
                                 "100 texts each, which beat two (and two beat one) on 150 fresh validation episodes "
                                 "per seed (results/meta_batch_4, meta_batch_2); the multitask baseline's batch "
                                 "follows it")
    auxiliary_weight: float = _f(0.0, "meta-learners: every task's meta-gradient also takes w x the multitask "
                                      "baseline's supervised loss on as many pooled training-language rows as a "
                                      "training episode has, through one head over the shared label space (TADAM's "
                                      "auxiliary co-training, Oreshkin et al. 2018); translation ranking: its in-batch "
                                      "contrastive loss on as many pairs (0: off)")
    max_steps: int = _f(40, "meta-training steps")
    warmup_steps: int = _f(4, "linear warm-up steps, then linear decay to 0")
    max_grad_norm: float = _f(1.0, "gradient clipping of the all-reduced meta-gradient")
    eval_every: int = _f(20, "meta-validate every N steps (keeps the best checkpoint)")
    save_every: int = _f(20, "save a resumable checkpoint every N steps")
    save_total_limit: int = _f(2, "resumable checkpoints kept (the oldest are deleted; the selected model in best/ "
                                  "is kept apart)")
    val_episodes: int = _f(48, "meta-validation episodes (model selection and test-time lr tuning). 48, not 12: with 12, "
                               "ProtoNet's selection kept φ⁰ where meta-training had helped, and a 48-episode pick "
                               "scored +0.44 points higher on fresh validation episodes (results/phi0_selection)")
    # --- evaluation ----------------------------------------------------------------
    eval_episodes: int = _f(200, "held-out episodes per method (the same seeded episodes for all)")
    eval_inner_steps: int = _f(3, "test-time adaptation steps; accuracy is reported after each")
    eval_lr_grid: list = _f([0.3, 1.0], "test-time lr candidates, as multiples of each method's lr (picked on "
                                        "meta-validation). Not 3: steps that large, chosen on the training languages' "
                                        "validation, lost on the held-out language (results.md, thirty-first "
                                        "measurements); one tuning pass fewer")
    test_time_head: str = _f("logistic", "head that predicts at test time (and in model selection), for every method but "
                                         "setfit: 'logistic' (a logistic regression fit to convergence on the support "
                                         "embeddings after each test-time step, SetFit's head; the encoder still adapts "
                                         "by the steps), 'transductive' (the logistic head refit on the support set plus "
                                         "the episode's unlabelled query texts, soft-labelled by the head itself: reads "
                                         "every query text of an episode before predicting any; measured: no gain for "
                                         "ProtoNet, a loss for finetune, results.md fortieth measurements) or 'sgd' (the "
                                         "per-episode --head-init head, adapted by the steps with the encoder; the "
                                         "default before 2026-12). A translation-ranking episode always predicts with "
                                         "its ranking map")
    label_name_weight: float = _f(1.0, "test time: every class's head also points at the embedding of its label's name, "
                                       "so its logit gains w·cos(text, name) (a class-name initialised head: 'food' or "
                                       "'science/technology' says what a class is about), for every method but setfit, "
                                       "in model selection, evaluation and MetaLearner.adapt. Meta-training reads the "
                                       "names only under --meta-train-label-names. 1.0 was chosen on the training "
                                       "languages' validation; 0: off")
    meta_train_label_names: bool = _f(False, "meta-training's logits gain the same w·cos(text, name) term (ProtoNet's and "
                                             "R2D2's query logits, the inner loop's head of the others), so the "
                                             "meta-gradient also reaches the names' embeddings (label-semantic "
                                             "meta-learning). Off: on the default job it did not raise "
                                             "validation (ProtoNet -0.07 points on ja, results/label_names_default); "
                                             "on a task never meta-trained on it lifted jpn_Jpan by 0.7-1.2 points "
                                             "at 80-160 meta-steps, not ita_Latn, and nothing at 40; it delays that "
                                             "task's fall with more meta-steps but does not stop it (320 steps: "
                                             "-1.2 and -1.5 points against 160; results/label_names_held_out_task)")
    test_time_selection: str = _f("best", "how the test-time lr factor and steps are picked from their meta-validation "
                                          "grid: 'best' (the highest mean) or 'one_se' (the fewest steps, then the "
                                          "smallest factor, within one standard error over validation episodes of the "
                                          "best: a setting must beat no adaptation by more than the validation's noise)")
    selection_steps: str = _f("chosen", "after how many test-time steps model selection scores a checkpoint (φ⁰ among "
                                        "them) on its lr ×1 validation pass: 'chosen' (the steps 0..--inner-steps "
                                        "that --test-time-selection picks on that pass: a checkpoint is judged as it "
                                        "will be used, and test time may stop at any step, 0 included) or 'last' "
                                        "(after all --inner-steps, as runs did before: on SIB-200 seed 1 it kept φ⁰ "
                                        "because 3 steps at lr ×1 undid a checkpoint 5 points ahead at 0 steps)")
    eval_mode: str = _f("in_language", "'in_language' (support and query in the held-out language) or 'zero_shot' "
                                       "(support in --zero-shot-source, query in the held-out language)")
    zero_shot_source: str = _f("en", "support language of zero-shot evaluation (never a held-out language)")
    eval_shots: list = _f([], "also evaluate at these test-time K (e.g. 1 2 5 10; meta-training keeps --k-shot)", nargs=int)
    # --- baselines -------------------------------------------------------------------
    finetune_lr: float = _f(0.05, "test-time SGD lr of the baselines (scaled by the grid, like the meta-learners')")
    baselines: list = _f(["finetune", "multitask"], "comma-separated baselines: finetune, multitask, setfit (or 'none'); with --teacher: "
                                                      f"{', '.join(DISTILLATION_METHODS)} (default: all)", comma=True)
    multitask_steps: int = _f(0, "supervised steps of the multitask baseline on the pooled training languages "
                                 "(0: --max-steps, the meta-learners' budget); its checkpoint is chosen on "
                                 "meta-validation every --eval-every steps, φ⁰ included, as theirs is")
    multitask_batch_size: int = _f(0, "labelled examples per multitask step (0: as many as one meta-step sees, "
                                      "meta-batch x processes x n-way x (k-shot + n-query))")
    multitask_lr: float = _f(3e-5, "AdamW learning rate of the multitask baseline's encoder")
    multitask_head_lr: float = _f(1e-2, "AdamW learning rate of the multitask baseline's classification head")
    setfit_lr: float = _f(2e-5, "setfit: AdamW lr of its contrastive epochs (SetFit's default; scaled by --eval-lr-grid)")
    setfit_iterations: int = _f(20, "setfit: pairs per support example and epoch, half same-label, half not "
                                    "(SetFit's num_iterations); its test-time steps are epochs")
    # --- distillation --------------------------------------------------------------
    teacher: str | None = _f(None, "distil this teacher into a smaller student (a finished run, a saved learner, or an "
                                   "encoder: folder or Hub id); the student is meta-trained with --algorithm and "
                                   "compared with the teacher, finetune, student, student_kd and student_metadistil")
    student_layers: int = _f(3, "the student keeps this many of the teacher's transformer layers, evenly spaced "
                                "from the bottom (DistilBERT's initialisation; works offline)")
    student: str | None = _f(None, "any encoder as the student instead of --student-layers (folder or Hub id)")
    distill_setting: str = _f("episodic", "'episodic' (students meta-learn on the run's episodes, evaluated on held-out "
                                         "episodes) or 'supervised' (MetaDistil's setting: a classifier over the task's "
                                         "labels, trained on the pooled training rows, evaluated zero-shot on the "
                                         "held-out language's rows: accuracy and macro-F1)")
    distillation: str = _f("metadistil", "the run's distilled student: 'kd' (vanilla KD, teacher frozen) or "
                                         "'metadistil' (the teacher learns from the student's pilot update on quiz episodes)")
    kd_alpha: float = _f(0.5, "query loss = (1−α)·cross-entropy + α·T²·KL(teacher ‖ student); α in [0, 1]")
    kd_temperature: float = _f(2.0, "temperature T of both distributions in the KL term")
    pilot_lr: float = _f(0.01, "metadistil: SGD rate of the student's pilot update on its KD loss")
    teacher_lr: float = _f(3e-5, "metadistil: AdamW learning rate of the teacher (as --meta-lr's default)")
    quiz_fraction: float = _f(0.2, "share of every training language's training rows set apart as quiz rows (metadistil's "
                                   "quiz episodes; every student of the run trains without them)")
    # --- editing (--algorithm mend or enn) ------------------------------------------
    edit_fraction: float = _f(0.3, "share of the training languages' translation groups set apart for editing (half "
                                   "train editors, half give the evaluation's edits); the classifier trains on the rest")
    base_classifier: str | None = _f(None, "reuse the classifier to edit of an earlier editing run (its "
                                           "base/multitask folder) instead of training one; it must come from the same "
                                           "split (--seed, --edit-fraction, languages)")
    base_classifier_steps: int = _f(300, "training steps of the classifier to edit (the multitask objective, "
                                         "--multitask-batch-size rows a step); a barely trained classifier has such "
                                         "small margins that any edit flips unrelated predictions")
    edit_layers: int = _f(2, "top transformer layers edited: ft and ft_kl change them and the head, mend their "
                             "feed-forward matrices")
    edit_lr: float = _f(1e-3, "SGD lr of ft and ft_kl (mend's and enn's learned edit lrs start at the "
                                    "best rate of a grid, on editor-training edits)")
    edit_max_steps: int = _f(10, "ft / ft_kl: at most this many steps per edit (they stop when it flips)")
    edit_kl_weight: float = _f(1.0, "ft_kl: weight of KL(unedited ‖ edited) on unrelated rows")
    edit_checkpoints: list = _f([1, 10, 100], "numbers of edits after which every editor is scored: 1 = single edits, "
                                              "each on the unedited classifier (the mean over 100); more = sequential "
                                              "edits (a number past the stream's end: the whole stream)",
                                nargs=int)
    editor_steps: int = _f(500, "mend / enn: training steps of the editor (--meta-batch-size edits a step)")
    editor_rank: int = _f(64, "mend: rank of the editor network's residual blocks")
    editor_lr: float = _f(1e-4, "mend: AdamW lr of the editor network; mend and enn: of the learned edit lrs (enn "
                                "trains the classifier's top layers and head at --meta-lr)")
    # --- run -----------------------------------------------------------------------
    seed: int = _f(0, "seed of the validation split, the validation and held-out episodes, and (at --training-draw 0) "
                      "of what training draws: its tasks, augmentation, initial heads and dropout")
    training_draw: int = _f(0, "which draw of training's randomness: 0 trains as --seed alone says; 1, 2, ... draw "
                               "other tasks, augmentation, heads and dropout on the same split and the same validation "
                               "and held-out episodes, so that pool_seeds can measure what re-training alone moves "
                               "(run each draw into its own --output-dir)")
    output_dir: str = _f("runs/default", "where checkpoints, results.json, report.md and plots go")
    resume_from_checkpoint: str | None = _f(None, "checkpoint folder to resume from, or 'latest'")
    leave_one_out: list = _f([], "comma-separated held-out languages of a sweep ('all': every language of the task): the "
                                 "whole run once per language into OUTPUT_DIR/<lang>/ (replaces --held-out-language), "
                                 "aggregated in OUTPUT_DIR; finished languages are skipped on re-run", comma=True)
    mixed_precision: str = _f("auto", "'auto', 'no', 'bf16' or 'fp16' (through the Accelerator), for meta-training and "
                                      "episodic evaluation alike; 'auto': bf16 where the device computes it natively "
                                      "(a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), else 'no' (float32)")
    report_to: str = _f("none", "trackers: 'none', 'tensorboard', 'wandb', ... (Accelerate)")
    cpu_threads: int = _f(0, "torch threads per process on CPU; 0: torch's own (OMP_NUM_THREADS, or the cores), but a "
                             "single process to which `accelerate launch` gave its default OMP_NUM_THREADS=1 (the user "
                             "set none) uses every usable core")

    # ---------------------------------------------------------------------------------
    @property
    def training_seed(self) -> int:
        """The seed of what training draws: --seed itself at draw 0 (every run before --training-draw existed), else
        one derived from (seed, draw), at or above 2**31 so that no usual --seed gives it."""
        if self.training_draw == 0:
            return self.seed
        return int(np.random.SeedSequence([self.seed, TRAINING_DRAW_STREAM, self.training_draw]).generate_state(1)[0]) | 2 ** 31

    @property
    def train_ways(self) -> int:
        """The most classes (a ranking task: candidates a group) a meta-training episode has (--train-n-way, never
        fewer than --n-way)."""
        return max(self.n_way, self.train_n_way)

    def multitask_budget(self, num_processes: int = 1) -> tuple[int, int]:
        """(steps, batch size) of the multitask baseline: by default the labelled examples (ranking: pairs) the
        meta-learners see, so that the baseline is not starved (meta-learning gains often vanish against a well-fed
        baseline); at most, where a training language has fewer than --train-n-way classes or candidate groups."""
        steps = self.multitask_steps or self.max_steps
        batch = self.multitask_batch_size or self.meta_batch_size * num_processes * self.train_ways * (self.k_shot + self.n_query)
        return steps, batch

    def validate(self) -> "MetaConfig":
        """Raise a one-line MetaNLPError for values that cannot work, before any model or data is loaded."""
        self.check_types_and_ranges()
        if self.algorithm not in ALGORITHMS and self.algorithm not in EDITORS:
            raise MetaNLPError(f"unknown algorithm {self.algorithm!r}; choose one of: {', '.join(ALGORITHMS)}, "
                               f"or an editor: {', '.join(EDITORS)}")
        run, allowed = ((" of a distillation run", DISTILLATION_METHODS) if self.teacher else
                        (" of an editing run", EDIT_BASELINES) if self.algorithm in EDITORS else ("", tuple(BASELINES)))
        bad = [b for b in self.baselines if b not in allowed]
        if bad:
            raise MetaNLPError(f"unknown baseline {bad[0]!r}{run}; choose from: {', '.join(allowed)} (or 'none')")
        if self.teacher:
            self.check_distillation()
        if self.algorithm in EDITORS:
            self.check_editing()
        overlap = sorted(set(self.held_out_language) & set(self.train_languages))
        if overlap:
            raise MetaNLPError(f"language {overlap[0]!r} is both held out and a training language")
        for other, what in ((self.held_out_language + self.leave_one_out, "held out"),
                            (self.train_languages, "a training language")):
            overlap = sorted(set(self.validation_languages) & set(other))
            if overlap:
                raise MetaNLPError(f"language {overlap[0]!r} is both a --validation-languages language and {what}")
        for name in ("validation_languages", "validation_labels"):
            if getattr(self, name) and (self.teacher or self.algorithm in EDITORS):
                raise MetaNLPError(f"{flag(name)} selects meta-learners; distillation and editing runs select on the "
                                   "training languages' share")
        if self.validation_languages and self.validation_labels:
            raise MetaNLPError("--validation-languages and --validation-labels are two selection rules: choose one")
        for name in ("data_dir", "held_out_data_dir"):
            if getattr(self, name) is not None and not Path(getattr(self, name)).expanduser().is_dir():
                raise MetaNLPError(f"{flag(name)} {getattr(self, name)} is not a folder")
        if self.held_out_task is not None:
            self.check_held_out_task()
        if "," in self.task:
            self.check_several_tasks()
        if not self.held_out_language:
            raise MetaNLPError("at least one --held-out-language is required")
        if self.algorithm in ALGORITHMS:
            registered(ALGORITHMS[self.algorithm]).check_config(self)  # each algorithm validates its own options
        if self.eval_mode == "zero_shot" and not self.leave_one_out and self.zero_shot_source in self.held_out_language:
            raise MetaNLPError(f"--zero-shot-source {self.zero_shot_source} is a held-out language")
        if self.leave_one_out and self.resume_from_checkpoint not in (None, "latest"):
            raise MetaNLPError("a --leave-one-out sweep resumes with --resume-from-checkpoint latest only")
        if any(k < 1 for k in self.eval_shots):
            raise MetaNLPError(f"--eval-shots must all be at least 1, got {self.eval_shots}")
        for name in ("smlmt_ratio", "cross_lingual_support_ratio", "mlti_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise MetaNLPError(f"{flag(name)} must be between 0 and 1, got {getattr(self, name)}")
        if not (math.isfinite(self.label_name_weight) and self.label_name_weight >= 0):
            raise MetaNLPError(f"--label-name-weight must be 0 or more, got {self.label_name_weight}")
        if self.meta_train_label_names and not self.label_name_weight:
            raise MetaNLPError("--meta-train-label-names adds --label-name-weight times the names: it needs a weight "
                               "above 0")
        if not 0.0 < self.val_fraction < 1.0:
            raise MetaNLPError(f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")
        if not self.eval_lr_grid or any(not math.isfinite(x) or x <= 0 for x in self.eval_lr_grid):
            raise MetaNLPError(f"--eval-lr-grid needs at least one positive factor, got {self.eval_lr_grid}")
        choices = {"head_init": ("proto", "zero"), "backend": ("func", "higher"),
                   "lr_granularity": ("layer_step", "parameter"), "protonet_distance": ("euclidean", "cosine"),
                   "mixed_precision": ("auto", "no", "bf16", "fp16"), "eval_mode": ("in_language", "zero_shot"),
                   "test_time_head": ("sgd", "logistic", "transductive"), "test_time_selection": ("best", "one_se"),
                   "selection_steps": ("chosen", "last")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise MetaNLPError(f"{flag(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.backend == "higher" and self.algorithm not in ("maml", "fomaml"):
            raise MetaNLPError("--backend higher is the reference for maml/fomaml only")
        if self.backend == "higher" and self.meta_train_label_names:
            raise MetaNLPError("--backend higher is the reference without the names: drop --meta-train-label-names")
        return self

    def check_distillation(self) -> None:
        if self.distill_setting not in ("episodic", "supervised"):
            raise MetaNLPError(f"--distill-setting must be episodic or supervised, got {self.distill_setting!r}")
        if self.distillation not in ("kd", "metadistil"):
            raise MetaNLPError(f"--distillation must be kd or metadistil, got {self.distillation!r}")
        if self.algorithm not in DISTILLABLE:
            raise MetaNLPError(f"a student learns with one of {', '.join(DISTILLABLE)} (its query loss takes the "
                               f"teacher's soft targets), not --algorithm {self.algorithm}")
        if not 0.0 <= self.kd_alpha <= 1.0:
            raise MetaNLPError(f"--kd-alpha must be between 0 and 1, got {self.kd_alpha}")
        if not 0.0 < self.quiz_fraction < 1.0:
            raise MetaNLPError(f"--quiz-fraction must be between 0 and 1 (exclusive), got {self.quiz_fraction}")
        if self.leave_one_out:
            raise MetaNLPError("a distillation run holds out one language set: run it once per --held-out-language")
        if self.mlti_ratio > 0:
            raise MetaNLPError("--mlti-ratio mixes token embeddings, which the teacher never sees: distil without it")

    def check_several_tasks(self) -> None:
        asked = [what for what, on in (("--data-dir", self.data_dir is not None),
                                       ("--leave-one-out", bool(self.leave_one_out)),
                                       ("--validation-languages", bool(self.validation_languages)),
                                       ("--cross-lingual-support-ratio", self.cross_lingual_support_ratio > 0),
                                       ("--teacher", self.teacher is not None),
                                       ("an editing run", self.algorithm in EDITORS)) if on]
        if asked:
            hint = " (point each task's YAML at its local data: source.data_dir, see tasks/_template.yaml)" \
                if asked[0] == "--data-dir" else ""
            raise MetaNLPError(f"--task {self.task}: several tasks cannot be combined with {asked[0]}{hint}")

    def check_held_out_task(self) -> None:
        if self.held_out_task in self.task.split(","):
            raise MetaNLPError(f"--held-out-task {self.held_out_task} is --task itself: leave it out to hold out "
                               "languages of the training task")
        if self.leave_one_out == ["all"]:
            raise MetaNLPError("--leave-one-out all sweeps the languages of --task; with a --held-out-task name the "
                               "languages (e.g. --leave-one-out ko,uk): each fold trains on --task without one and "
                               "evaluates the held-out task in it")
        if self.teacher or self.algorithm in EDITORS:
            raise MetaNLPError("--held-out-task evaluates meta-learners; distillation and editing runs hold out "
                               "languages of --task")
        if self.eval_mode == "zero_shot":
            raise MetaNLPError("--held-out-task is evaluated in-language: its support set comes from its own "
                               "held-out language")

    def check_editing(self) -> None:
        if not 0.0 < self.edit_fraction < 1.0:
            raise MetaNLPError(f"--edit-fraction must be between 0 and 1 (exclusive), got {self.edit_fraction}")
        if not self.edit_checkpoints or min(self.edit_checkpoints) < 1:
            raise MetaNLPError(f"--edit-checkpoints must be numbers of edits >= 1, got {self.edit_checkpoints}")
        if self.leave_one_out or self.teacher:
            raise MetaNLPError("an editing run holds out one language set and has no --teacher")

    def distilled_method(self) -> str:
        """The method name of the run's distilled student (student_kd or student_metadistil)."""
        return f"student_{self.distillation}"

    def check_types_and_ranges(self) -> None:
        """Every field has its default's type (a YAML `ture` is no boolean) and numbers lie in their range."""
        for f in fields(self):
            value, default = getattr(self, f.name), _default(f)
            if value is None and default is None:
                continue
            kind = type(default) if default is not None else str
            if isinstance(value, bool) != (kind is bool) or not isinstance(value, (int, float) if kind is float else kind):
                raise MetaNLPError(f"{flag(f.name)} must be {'text' if kind is str else kind.__name__}, got {value!r}")
            if kind is float and not math.isfinite(value):
                raise MetaNLPError(f"{flag(f.name)} must be a finite number, got {value}")
        for name, lowest in AT_LEAST.items():
            if getattr(self, name) < lowest:
                raise MetaNLPError(f"{flag(name)} must be at least {lowest}, got {getattr(self, name)}")
        for name in POSITIVE:
            if getattr(self, name) <= 0:
                raise MetaNLPError(f"{flag(name)} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --help groups the flags by concern: the field each group starts with, and its title.
SECTIONS = {"algorithm": "what to learn", "n_way": "episodes", "smlmt_ratio": "task augmentation (meta-training only)",
            "inner_steps": "inner loop", "lr_granularity": "MAML++ / Meta-SGD", "mldg_beta": "MLDG",
            "meta_lr": "training (the engine, for every objective)", "eval_episodes": "evaluation",
            "finetune_lr": "baselines", "teacher": "distillation (--teacher)",
            "edit_fraction": "model editing (--algorithm mend or enn)", "seed": "run"}

# Numeric ranges, checked before anything loads. 0 means "match the meta-learners" for the multitask budget.
AT_LEAST = {"n_way": 2, "train_n_way": 0, "k_shot": 1, "n_query": 1, "inner_steps": 1, "eval_inner_steps": 0, "inner_layers": -1,
            "max_length": 2, "meta_batch_size": 1, "max_steps": 0, "warmup_steps": 0, "eval_every": 1, "save_every": 1,
            "save_total_limit": 1, "val_episodes": 1, "eval_episodes": 1, "multi_step_loss_steps": 0,
            "first_order_steps": 0, "multitask_steps": 0, "setfit_iterations": 1, "multitask_batch_size": 0, "meta_param_lr": 0.0,
            "mldg_beta": 0.0, "auxiliary_weight": 0.0, "seed": 0, "training_draw": 0, "student_layers": 1, "edit_layers": 1, "edit_max_steps": 1,
            "editor_steps": 0, "editor_rank": 1, "edit_kl_weight": 0.0, "base_classifier_steps": 0, "cpu_threads": 0}
POSITIVE = ("inner_lr", "meta_lr", "finetune_lr", "multitask_lr", "multitask_head_lr", "setfit_lr", "max_grad_norm", "logit_scale",
            "mlti_alpha", "kd_temperature", "pilot_lr", "teacher_lr", "edit_lr", "editor_lr")


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def parse_bool(text: str) -> bool:
    """true/false (yes/no, 1/0); anything else is an error, not a silent False."""
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def _meta(f: dataclasses.Field) -> dict:
    return dict(f.metadata)


def _parse_bool_or_none(value: str) -> Any:
    return None if value.lower() in ("none", "null", "") else value


def build_arg_parser(description: str, extra: list | None = None) -> argparse.ArgumentParser:
    """argparse generated from MetaConfig: one flag per field, dashed with an underscore alias."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file of MetaConfig fields; flags given here override it")
    for flags, kw in extra or []:  # script-specific flags that are not run settings
        parser.add_argument(*flags, **kw)
    group = parser
    for f in fields(MetaConfig):
        if f.name in SECTIONS:
            group = parser.add_argument_group(SECTIONS[f.name])
        flags = [flag(f.name)]
        if "_" in f.name:
            flags.append(f"--{f.name}")
        meta = _meta(f)
        kw: dict[str, Any] = {"help": meta.get("help", ""), "dest": f.name, "default": argparse.SUPPRESS}
        default = _default(f)
        if meta.get("repeat") and meta.get("comma"):  # --x a --x b,c: [a, b, c]
            kw.update(action="extend", type=comma_separated)
        elif meta.get("repeat"):
            kw.update(action="append")
        elif meta.get("comma"):
            kw.update(type=comma_separated)
        elif f.name == "eval_lr_grid":
            kw.update(type=float, nargs="+")
        elif meta.get("nargs"):
            kw.update(type=meta["nargs"], nargs="+")
        elif isinstance(default, bool):
            kw.update(type=parse_bool)
        elif isinstance(default, int):
            kw.update(type=int)
        elif isinstance(default, float):
            kw.update(type=float)
        elif default is None:
            kw.update(type=_parse_bool_or_none)
        kw["help"] += f" (default: {default})"
        group.add_argument(*flags, **kw)
    return parser


def comma_separated(value: str) -> list[str]:
    """A comma-separated flag value as a list ('none' and empty items dropped: --baselines none is no baseline)."""
    return [x for x in value.split(",") if x and x != "none"]


def load_yaml_config(path: str) -> dict:
    """Read a YAML run config, with a one-line error naming the file when it is broken."""
    p = Path(path)
    if not p.is_file():
        raise MetaNLPError(f"config file not found: {path}")
    try:
        data = parse_yaml(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise MetaNLPError(f"broken YAML in {path}{line}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise MetaNLPError(f"{path} must hold a mapping of config fields, got {type(data).__name__}")
    return data


# Fields added after runs were saved, with the value every run had before the field existed. A saved config (a run's
# results.json, a learner's meta_nlp.json) lacking one means that value, whatever today's default: an old run is read
# back, resumed into a study and adapts as it ran.
PREDATED_FIELDS = {"test_time_head": "sgd", "test_time_selection": "best", "label_name_weight": 0.0,
                   "meta_train_label_names": False, "train_n_way": 0, "training_draw": 0,
                   "freeze_embeddings": False, "selection_steps": "last", "auxiliary_weight": 0.0,
                   "validation_labels": []}

# Settings that do not change what a run measured: where it read and wrote, how it resumed and logged, its CPU
# threads, extra test-time K. Runs differing only in these are the same run (a study re-run reuses them, seeds pool).
NOT_MEASURED = ("output_dir", "data_dir", "held_out_data_dir", "task_dir", "resume_from_checkpoint", "eval_shots",
                "report_to", "save_total_limit", "cpu_threads")


def saved_config(values: dict) -> dict:
    """A saved run config with the fields it predates filled in as they were (PREDATED_FIELDS)."""
    return {**PREDATED_FIELDS, **values}


def ran_settings(results: dict) -> dict:
    """The settings a finished run ran with, from its results.json: its saved config, with --mixed-precision as it
    resolved where it ran (the top-level `mixed_precision`: auto is bf16 on a machine with native bf16, float32
    elsewhere, and the two score some episodes differently)."""
    resolved = {"mixed_precision": results["mixed_precision"]} if "mixed_precision" in results else {}
    return {**saved_config(results.get("config", {})), **resolved}


def config_from_dict(values: dict, source: str = "config") -> MetaConfig:
    """MetaConfig from a mapping, accepting dashed keys; unknown keys are an error."""
    names = {f.name for f in fields(MetaConfig)}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in names:
            raise MetaNLPError(f"{source}: unknown field {key!r}")
        spec = next(f for f in fields(MetaConfig) if f.name == name)
        if (_meta(spec).get("repeat") or _meta(spec).get("comma")) and isinstance(value, str):
            value = comma_separated(value)
        clean[name] = value
    return MetaConfig(**clean)


def parse_config_and_extras(argv: list[str] | None, description: str, extra: list | None = None) -> tuple[MetaConfig, dict]:
    """Defaults < YAML file < command-line flags; script-specific flags (`extra`) come back separately."""
    parser = build_arg_parser(description, extra)
    args = vars(parser.parse_args(argv))
    file_values = load_yaml_config(args.pop("config")) if args.get("config") else {}
    args.pop("config", None)
    extras = {}
    for flags, kw in extra or []:
        dest = kw.get("dest", flags[0].lstrip("-").replace("-", "_"))
        extras[dest] = args.pop(dest, kw.get("default"))
    values = {**file_values, **args}
    if values.get("teacher") and "baselines" not in values:  # a distillation run compares every student by default
        values["baselines"] = list(DISTILLATION_METHODS)
    if values.get("algorithm") in EDITORS and "baselines" not in values:  # an editing run: every editor by default
        values["baselines"] = list(EDIT_BASELINES)
    return config_from_dict(values).validate(), extras


def parse_config(argv: list[str] | None = None, description: str = "") -> MetaConfig:
    return parse_config_and_extras(argv, description)[0]
