"""Meta-learn and evaluate, top to bottom: meta-train the chosen learner on the training languages,
train the baselines that need training (multitask) on the same engine, evaluate every method on the
same seeded episodes of the held-out languages, report. `run_sweep` runs it once per held-out language
(leave one language out) and aggregates."""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from accelerate.state import PartialState
from accelerate.utils import set_seed

from meta_nlp.algorithms.test_time import test_time_rule
from meta_nlp.config import NOT_MEASURED, MetaConfig, config_from_dict, ran_settings, saved_config
from meta_nlp.data.languages import (LanguageSplit, compared_method, load_held_out, pivot_of, prepare_languages,
                                     read_training_data, same_language, task_of, usable_in)
from meta_nlp.data.ranking import RankingSampler, pivots_read, retrieval_accuracy, share_of_pivots_read
from meta_nlp.data.registry import list_tasks
from meta_nlp.engine.trainer import EngineSettings, Trainer, compared_best_dir, make_accelerator, resolved_precision
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.evaluator import SCORES_DIR, evaluate_method, scoring_cost, scoring_run
from meta_nlp.evaluation.report import plot_accuracy_by_step, write_report, write_results
from meta_nlp.evaluation.stats import add_vs_best_baseline
from meta_nlp.learner import META_FILE, MetaLearner, resolve_learner_dir, save_weight_ensemble
from meta_nlp.memory import reset_peak_rss, run_peak_mib
from meta_nlp.models.encoder import MetaModel, load_encoder, load_tokenizer, token_lengths, tokenize
from meta_nlp.objectives import build_objective

MULTITASK_DIR = "multitask"  # the multitask baseline's run inside a run folder: its checkpoints and best/
WEIGHT_ENSEMBLE_DIR = "weight_ensemble"  # evaluate --weight-ensemble: the learner it evaluated, inside its output folder


def run_experiment(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    """The whole job for one held-out language set; returns and writes its results (OUTPUT_DIR/results.json)."""
    with running(cfg) as started:
        acc = accelerator or make_accelerator(cfg)
        set_seed(cfg.seed)
        languages = prepare_languages(cfg)
        acc.print(f"meta-training languages: {', '.join(languages.train)}; "
                  f"held out: {', '.join(cfg.held_out_language)} (not read until evaluation)")
        training_cut = texts_cut(load_tokenizer(cfg.model), languages.train, cfg.max_length)
        note_texts_cut(training_cut, cfg.max_length, "meta-training", acc)
        training = train(cfg.algorithm, cfg, languages, acc)
        compared = compared_selections(cfg, languages)
        results = evaluate_run(cfg, languages, acc, methods=[cfg.algorithm, *compared, *cfg.baselines],
                               learners={cfg.algorithm: Path(cfg.output_dir) / "best",
                                         **{name: compared_best_dir(cfg.output_dir, rule) for name, rule in compared.items()}},
                               selected_on=compared)
        extra = {"training": training, **how_it_ran(started, acc), "train_languages": list(languages.train),
                 "training_texts_cut": {lang: cut["share"] for lang, cut in training_cut.items()}}
        if acc.is_main_process:
            write_outputs(Path(cfg.output_dir), cfg, results, extra)
    if accelerator is None:
        acc.end_training()
    return {"results": results, **extra}


def compared_selections(cfg: MetaConfig, languages: LanguageSplit) -> dict[str, str]:
    """The meta-learner as the run's other selection rules chose it, evaluated as '<algorithm>@<rule>': name -> the
    rule (its learner is saved in `compared_best_dir`; the rule's validation episodes also pick its test-time setting)."""
    return {compared_method(cfg.algorithm, rule): rule for rule in languages.selection_rules[1:]}


def train(method: str, cfg: MetaConfig, languages: LanguageSplit, acc: Accelerator) -> dict:
    """Train `method` (a meta-learner, or the multitask baseline) on the engine; its model selection's choice
    lands in its output folder's best/. Returns the training record."""
    return trainer_for(method, cfg, languages, acc).train()


def trainer_for(method: str, cfg: MetaConfig, languages: LanguageSplit, acc: Accelerator) -> Trainer:
    """The engine set up to train `method`: the meta-learner into OUTPUT_DIR, multitask into OUTPUT_DIR/multitask.
    `acc` (the run's) places the objective; the Trainer keeps an accelerator of its own, so that its checkpoints
    hold its objective's state and nothing else (accelerate's process state is shared between them)."""
    set_seed(cfg.training_seed)
    objective = build_objective(method, cfg, languages, acc.device, acc.num_processes)
    if method == "multitask":
        # A checkpoint path names the meta-learner's; the baseline resumes from its own latest.
        resume = "latest" if cfg.resume_from_checkpoint else None
        # One task per process: its share of the step's batch, so the contrastive loss of translation ranking
        # sees the whole share as in-batch negatives.
        settings = EngineSettings.from_config(cfg, output_dir=str(Path(cfg.output_dir) / MULTITASK_DIR),
                                              max_steps=objective.steps, tasks_per_process=1, resume_from_checkpoint=resume,
                                              desc="multitask baseline")
    else:
        settings = EngineSettings.from_config(cfg)
    if objective.startup_note():
        acc.print(objective.startup_note())
    return Trainer(objective, settings)


def run_sweep(cfg: MetaConfig) -> dict:
    """Leave one language out: the whole run once per fold (`sweep_folds`: a held-out language, or the languages that
    the same training languages serve) into OUTPUT_DIR/<fold>/, each training on the others, then every result in
    OUTPUT_DIR. A fold whose results.json exists is not run again (resume); the one that was interrupted resumes with
    --resume-from-checkpoint latest."""
    languages = sweep_languages(cfg)
    results = []
    for fold in sweep_folds(cfg, languages):
        if (Path(fold.output_dir) / "results.json").is_file():
            PartialState().print(f"leave-one-out: {', '.join(fold.held_out_language)} finished earlier, reading "
                                 f"{fold.output_dir}/results.json")
            results += finished_run(fold)["results"]
            continue
        # A fresh accelerator per fold, so that its checkpoints hold only this run's objects.
        results += run_experiment(fold, make_accelerator(fold))["results"]
    extra = {"leave_one_out": languages, "mean_over_held_out_languages": mean_over_languages(results, cfg.k_shot)}
    if PartialState().is_main_process:
        write_outputs(Path(cfg.output_dir), replace(cfg, held_out_language=languages), results, extra)
    PartialState().destroy_process_group()
    return {"results": results, **extra}


def finished_run(cfg: MetaConfig, ignored: tuple[str, ...] = ()) -> dict:
    """What the finished run in cfg.output_dir wrote (results.json), if it ran with `cfg`'s settings, bar the
    `ignored` ones. A sweep or study re-run reuses finished runs; one of other settings (say --max-steps) must not be
    pooled with the rest."""
    out = Path(cfg.output_dir)
    data = json.loads((out / "results.json").read_text())
    saved, wanted = ran_settings(data), json.loads(json.dumps(cfg.to_dict()))
    if "mixed_precision" in data:  # compared as resolved, as ran_settings gives the finished run's
        wanted["mixed_precision"] = resolved_precision(cfg.mixed_precision)
    differ = [k for k, v in wanted.items() if k not in (*NOT_MEASURED, *ignored) and k in saved and saved[k] != v]
    if differ:
        more = f" (and {len(differ) - 1} more settings)" if len(differ) > 1 else ""
        raise MetaNLPError(f"{out} finished earlier with {differ[0]}={saved[differ[0]]!r}, not {wanted[differ[0]]!r}"
                           f"{more}: pass another --output-dir, or delete that folder to run it again")
    return data


def sweep_languages(cfg: MetaConfig) -> list[str]:
    """--leave-one-out's languages; 'all': every language of the task (or of --train-languages) with
    enough examples for an N-way K-shot episode. Counting them is all the sweep reads up front: each
    run still reads its held-out language only in its final evaluation."""
    if cfg.leave_one_out == ["all"]:
        task = task_of(cfg)
        pool = cfg.train_languages or [lang for lang in task.languages() if lang != pivot_of(task)
                                       and same_language(lang, cfg.validation_languages) is None]
        languages = usable_in(task, read_training_data(task, pool), cfg)
    else:
        languages = list(cfg.leave_one_out)
    if cfg.eval_mode == "zero_shot" and cfg.zero_shot_source in languages:
        PartialState().print(f"leave-one-out: {cfg.zero_shot_source} is the zero-shot source, so it is not held out")
        languages.remove(cfg.zero_shot_source)
    return languages


def fold_config(cfg: MetaConfig, held_out: str | list[str]) -> MetaConfig:
    """The run that holds `held_out` (a language or several) out: the other languages train, results go to
    OUTPUT_DIR/<held_out> (several: joined by '+')."""
    group = [held_out] if isinstance(held_out, str) else list(held_out)
    return replace(cfg, held_out_language=group, train_languages=[x for x in cfg.train_languages if x not in group],
                   leave_one_out=[], output_dir=str(Path(cfg.output_dir) / "+".join(group))).validate()


def sweep_folds(cfg: MetaConfig, languages: list[str]) -> list[MetaConfig]:
    """Train once, evaluate many: the sweep's runs, one per distinct set of training languages. With
    --train-languages, every held-out language outside them would meta-train on exactly those languages, so they
    share one run that evaluates them all; a language among them is a fold of its own (it trains on the rest).
    Without --train-languages each language is its own fold (it trains on every other one)."""
    groups: dict[tuple, list[str]] = {}
    for lang in languages:
        trains_on = tuple(x for x in cfg.train_languages if x != lang) if cfg.train_languages else (lang,)
        groups.setdefault(trains_on, []).append(lang)
    return [fold_config(cfg, group) for group in groups.values()]


def mean_over_languages(results: list[dict], k_shot: int) -> dict[str, float]:
    """Each method's accuracy averaged over held-out languages (each language counts once)."""
    by_method: dict[str, list[float]] = {}
    for r in results:
        if r["k_shot"] == k_shot:
            by_method.setdefault(r["method"], []).append(r["accuracy"])
    return {m: round(float(sum(a) / len(a)), 4) for m, a in by_method.items()}


def evaluate_run(cfg: MetaConfig, languages: LanguageSplit, acc: Accelerator, methods: list[str],
                 learners: dict[str, Path] | None = None, record_choice: bool = True,
                 shots: list[int] | None = None, main: str | None = None,
                 selected_on: dict[str, str] | None = None) -> list[dict]:
    """Every method on the same seeded held-out episodes, at every K of `shots` (default: --k-shot and every
    --eval-shots K; test-time settings tuned per K on meta-validation). `learners` names the saved learner of
    a method trained elsewhere (the meta-learner's best/); finetune is φ⁰, and multitask, when not given, is
    trained here first. A learner evaluated under another name (a distillation run's teacher and students) adapts
    by the rule of the method it was saved as. The test-time choice of `main` (default: --algorithm) is recorded
    with its learner. `selected_on` names the selection rule of a method selected by another rule than the run's
    (its test-time setting is chosen on that rule's validation episodes). The held-out languages are read here,
    after all training."""
    learners, selected_on = dict(learners or {}), selected_on or {}
    main = main or cfg.algorithm
    own_rule = languages.selection_rules[0]
    training = {}
    if "multitask" in methods and "multitask" not in learners:
        training["multitask"] = train("multitask", cfg, languages, acc)
        learners["multitask"] = Path(cfg.output_dir) / MULTITASK_DIR / "best"
    by_shots = {k: replace(cfg, k_shot=k) for k in sorted(shots or {cfg.k_shot, *cfg.eval_shots})}
    val_samplers = {(k, rule): languages.val_sampler(c, rule) for k, c in by_shots.items()
                    for rule in {own_rule, *selected_on.values()}}
    test_samplers = {k: {lang: load_held_out(c, lang) for lang in cfg.held_out_language} for k, c in by_shots.items()}
    held_out = next(iter(test_samplers.values()))  # each language's held-out sampler: its pairs are the same at every K
    candidates_read = candidates_read_in_training(languages, held_out)
    warn_of_candidates_read(candidates_read, languages.task.name, cfg.task_dir, acc)
    held_out_cut = texts_cut(load_tokenizer(cfg.model), {lang: s.corpus[lang] for lang, s in held_out.items()},
                             cfg.max_length)
    note_texts_cut(held_out_cut, cfg.max_length, "held-out", acc)
    results = []
    for method in methods:
        model, tokenizer, selection, (saved_as, saved_cfg) = model_for(method, cfg, learners.get(method), acc)
        selection.update(training.get(method, {}))
        rule = test_time_rule(saved_as, model, cfg if saved_as == method else saved_cfg)
        ranking = {lang: {"retrieval": full_retrieval(model, tokenizer, sampler, cfg, acc),
                          "candidates_read_in_training": candidates_read[lang]}
                   for lang, sampler in held_out.items()} if languages.ranking else {}
        for k, cfg_k in by_shots.items():
            val = val_samplers[k, selected_on.get(method, own_rule)]
            for scores in evaluate_method(method, model, tokenizer, rule, val, test_samplers[k], cfg_k, acc):
                results.append(scores.summary(cfg_k) | {"episode_accuracy": [
                    round(float(x), 4) for x in scores.by_episode_step[:, scores.steps]],
                    # before any test-time step: the encoder with its head, without the test-time rule's choice
                    "episode_accuracy_before_steps": [round(float(x), 4) for x in scores.by_episode_step[:, 0]],
                    "texts_cut": held_out_cut[scores.language]["share"]}
                    | ranking.get(scores.language, {})
                    | ({"selection": selection} if selection else {}))
                if record_choice and method == main and k == cfg.k_shot and acc.is_main_process:
                    record_test_time_choice(learners[method], scores.lr_factor, scores.steps)
    return add_vs_best_baseline(results, cfg.baselines)


def candidates_read_in_training(languages: LanguageSplit, test_samplers: dict[str, RankingSampler]) -> dict[str, float]:
    """For translation ranking, each held-out language's share of candidates (pivot sentences) that are the pivot
    side of a pair meta-training or model selection read: its episodes then test translations into sentences the
    model was trained on. Empty for classification."""
    if not languages.ranking:
        return {}
    seen = pivots_read(languages.corpora_read())
    return {lang: share_of_pivots_read(sampler.corpus[lang], seen) for lang, sampler in test_samplers.items()}


def warn_of_candidates_read(shares: dict[str, float], task: str, task_dirs: list[str], acc: Accelerator) -> None:
    """A warning for each held-out language some of whose candidates were read, with the fix: the task's own
    `_train` / `_test` parts where the registry has them, else a `pivot_part` of one's own."""
    if not any(share > 0 for share in shares.values()):
        return
    names = {t.name for t in list_tasks(task_dirs)}
    fix = (f"--task {task}_train --held-out-task {task}_test" if {f"{task}_train", f"{task}_test"} <= names
           else "two tasks with disjoint `pivot_part`s (tasks/_template.yaml)")
    for lang, share in shares.items():
        if share > 0:
            acc.print(f"warning: {share:.1%} of {lang}'s held-out candidates are pivot sentences that meta-training "
                      "or model selection read (as the pivot side of another language's pair); for candidates never "
                      f"read, meta-train and evaluate on disjoint parts of the pivot sentences: {fix}")


# A language is named in the note on --max-length when it cuts more than this share of the language's texts.
CUT_SHARE_NOTED = 0.10


def texts_cut(tokenizer, corpus: Mapping, max_length: int) -> dict[str, dict]:
    """`cut_at` for each language of `corpus`, over its texts (`texts_of`)."""
    return {lang: cut_at(token_lengths(tokenizer, texts_of(entry)), max_length) for lang, entry in corpus.items()}


def texts_of(entry: Mapping | list) -> list[str]:
    """Every text of one language's corpus entry: each label's texts (classification), both sides of each pair
    (translation ranking)."""
    if isinstance(entry, Mapping):
        return [t for texts in entry.values() for t in texts]
    return [side for pair in entry for side in pair]


def cut_at(lengths: list[int], max_length: int) -> dict:
    """{"share": of texts of these token lengths, those longer than `max_length`, which `tokenize` cuts to their
    first `max_length` tokens, "whole_95": the length that keeps 95% of them whole}."""
    lengths = np.asarray(lengths)
    return {"share": round(float(np.mean(lengths > max_length)), 4), "whole_95": int(np.ceil(np.percentile(lengths, 95)))}


def note_texts_cut(cut: dict[str, dict], max_length: int, whose: str, acc: Accelerator) -> None:
    """One line naming the languages of which --max-length cuts more than CUT_SHARE_NOTED of the texts, and the length
    that keeps 95% of each whole: every SIB-200 run before it read only the first 32 tokens of Flores sentences with
    medians of 40-115, and nothing said so."""
    named = sorted((lang for lang, c in cut.items() if c["share"] > CUT_SHARE_NOTED), key=lambda x: (-cut[x]["share"], x))
    if named:
        whole = max(cut[lang]["whole_95"] for lang in named)
        shares = ", ".join(f"{cut[lang]['share']:.0%} of {lang}" for lang in named)
        acc.print(f"note: --max-length {max_length} cuts {whose} texts to their first {max_length} tokens: {shares}; "
                  f"--max-length {whole} keeps 95% of each of these languages' texts whole (the cost grows with it)")


def full_retrieval(model: MetaModel, tokenizer, sampler: RankingSampler, cfg: MetaConfig, acc: Accelerator) -> dict:
    """Tatoeba's retrieval accuracy of the model as it is (no adaptation) over all pairs of the sampler's language."""
    model.eval()

    def embed(texts: list[str]):
        return model.embed(tokenize(tokenizer, texts, cfg.max_length, acc.device))
    (language,) = sampler.languages
    return retrieval_accuracy(embed, sampler.corpus[language])


def model_for(method: str, cfg: MetaConfig, learner_dir: Path | None, acc: Accelerator
              ) -> tuple[MetaModel, object, dict, tuple[str, MetaConfig]]:
    """(model, tokenizer, how it was selected, (the method it was saved as, its config)): a saved learner (the
    checkpoint model selection chose on meta-validation), or φ⁰ for finetune and setfit."""
    if learner_dir is None:
        if method not in ("finetune", "setfit"):
            raise MetaNLPError(f"no saved model for {method!r} to evaluate")
        encoder, tokenizer = load_encoder(cfg.model)
        return MetaModel(encoder, cfg.logit_scale).to(acc.device), tokenizer, {}, (method, cfg)
    learner = MetaLearner.from_pretrained(str(learner_dir), device=str(acc.device))
    meta = learner.meta
    selection = {"selected_step": meta["step"], "val_accuracy": meta["val_accuracy"]} if "step" in meta else {}
    selection.update(meta.get("budget", {}))  # the multitask baseline's steps and batch size
    return learner.model, learner.tokenizer, selection, (meta.get("method", learner.cfg.algorithm), learner.cfg)


def record_test_time_choice(best_dir: Path, lr_factor: float, steps: int) -> None:
    """Store the validation-chosen test-time setting with the checkpoint, so `adapt` uses it."""
    path = best_dir / META_FILE
    meta = json.loads(path.read_text())
    meta["test_time"] = {"lr_factor": lr_factor, "steps": steps}
    path.write_text(json.dumps(meta, indent=2))


@contextlib.contextmanager
def running(cfg: MetaConfig, read: bool | None = None):
    """A run, from its start to its results: its peak memory and scoring cost count from the start, not from the
    process's (a sweep or a study runs many), and its scoring passes are kept in OUTPUT_DIR/scores, read back when it
    resumes (--resume-from-checkpoint; `read` says otherwise), so an interruption during evaluation loses one pass.
    Yields the start time, for `how_it_ran`."""
    reset_peak_rss()
    read = cfg.resume_from_checkpoint is not None if read is None else read
    with scoring_run(Path(cfg.output_dir) / SCORES_DIR, read=read):
        yield time.time()


def how_it_ran(started: float, acc: Accelerator) -> dict:
    """What a finished run records about its cost and setting: wall time since `started`, its own peak memory, where
    its scoring time went (evaluator.ScoringCost), the processes, and the precision the Accelerator ran at (what
    --mixed-precision auto became)."""
    return {"wall_time_s": round(time.time() - started, 1), "peak_memory_mib": run_peak_mib(), **scoring_cost(),
            "num_processes": acc.num_processes, "mixed_precision": acc.mixed_precision}


def write_outputs(output_dir: Path, cfg: MetaConfig, results: list[dict], extra: dict) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_results(output_dir, cfg.to_dict(), results, extra)
    write_report(output_dir, cfg.to_dict(), results, {k: v for k, v in extra.items() if k != "training"},
                 extra.get("training"))
    episodic = [r for r in results if r["k_shot"] == cfg.k_shot and "accuracy_by_step" in r]
    if episodic:  # zero-shot classification (supervised distillation) has no adaptation steps to plot
        plot_accuracy_by_step(output_dir, episodic, cfg.n_way)


def evaluate_checkpoint(run_dir: str, held_out: list[str], overrides: dict, output_dir: Path,
                        accelerator: Accelerator | None = None, weight_ensemble: float | None = None) -> dict:
    """Re-evaluate a saved run on any languages of its task (scripts/evaluate.py); a multitask baseline is trained
    anew into OUTPUT_DIR on the run's training languages less the ones evaluated. It is a run of its own (`running`,
    `how_it_ran`), and it always reads back the passes OUTPUT_DIR/scores holds: a pass's key names everything it
    reads, so an evaluation run again (after an interruption) computes only what is missing. With `weight_ensemble`,
    the learner evaluated is the run's moved back toward φ⁰ (`save_weight_ensemble`), saved into
    OUTPUT_DIR/weight_ensemble."""
    learner_dir = resolve_learner_dir(run_dir)
    meta = json.loads((learner_dir / META_FILE).read_text())
    cfg = replace(config_from_dict(saved_config(meta["config"])), **overrides, output_dir=str(output_dir))
    with running(cfg, read=True) as started:
        if weight_ensemble is not None:
            learner_dir = save_weight_ensemble(learner_dir, weight_ensemble, Path(output_dir) / WEIGHT_ENSEMBLE_DIR)
        acc = accelerator or make_accelerator(cfg)
        if cfg.teacher:  # a distilled student: its teacher and fellow students are compared in its own run folder
            acc.print("a distilled student is re-evaluated alone (its run folder compares it with its teacher)")
            cfg = replace(cfg, teacher=None, baselines=[])
        trained_on = meta.get("train_languages") or cfg.train_languages
        val_langs = [lang for lang in trained_on if lang not in held_out]
        cfg = replace(cfg, held_out_language=list(held_out), train_languages=val_langs).validate()
        for lang in held_out:
            if lang in trained_on:
                acc.print(f"warning: {lang} was a meta-training language of this run; its score is not a held-out score")
        languages = prepare_languages(cfg)
        # A checkpoint another rule kept (a run's best-training-languages/) has its test-time setting chosen on that
        # rule's validation episodes, and its row the name it has in its run's report ('<algorithm>@<rule>').
        rule = meta.get("selected_on")
        name = compared_method(cfg.algorithm, rule) if rule in languages.selection_rules[1:] else cfg.algorithm
        selected_on = {name: rule} if name != cfg.algorithm else {}
        results = evaluate_run(cfg, languages, acc, methods=[name, *cfg.baselines], learners={name: learner_dir},
                               record_choice=False, selected_on=selected_on)
    return {"config": cfg, "results": results, **how_it_ran(started, acc),
            **({"test_time_selected_on": rule} if selected_on else {}),
            **({"weight_ensemble": weight_ensemble} if weight_ensemble is not None else {})}
