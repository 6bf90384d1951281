"""The whole job, top to bottom: meta-train, evaluate against baselines on held-out languages, report.
`run_sweep` runs it once per held-out language (leave one language out) and aggregates."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from accelerate import Accelerator
from accelerate.state import PartialState

from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import (LanguageSplit, load_held_out, pivot_of, prepare_languages, read_training_data,
                                     task_of, usable_in)
from meta_nlp.data.ranking import RankingSampler, retrieval_accuracy
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.evaluator import evaluate_method, paired_difference, validation_accuracy
from meta_nlp.evaluation.methods import test_time_rule_for
from meta_nlp.evaluation.report import plot_accuracy_by_step, write_report, write_results
from meta_nlp.learner import META_FILE, MetaLearner, resolve_learner_dir
from meta_nlp.memory import reset_peak_rss, run_peak_mib
from meta_nlp.models.encoder import MetaModel, load_encoder, tokenize
from meta_nlp.training.multitask import train_multitask
from meta_nlp.training.trainer import MetaTrainer, make_accelerator


def run_experiment(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    started = time.time()
    reset_peak_rss()  # this run's peak memory, not the process's (a sweep or study runs many)
    trainer = MetaTrainer(cfg, accelerator)
    trainer.setup()
    acc = trainer.accelerator
    acc.print(f"meta-training languages: {', '.join(trainer.languages.train)}; "
              f"held out: {', '.join(cfg.held_out_language)} (not read until evaluation)")
    training = trainer.train()
    best_dir = Path(cfg.output_dir) / "best"
    results = evaluate_run(cfg, trainer.languages, best_dir, acc, methods=[cfg.algorithm, *cfg.baselines])
    extra = {"training": training, "wall_time_s": round(time.time() - started, 1), "peak_memory_mib": run_peak_mib(),
             "num_processes": acc.num_processes, "train_languages": list(trainer.languages.train)}
    if acc.is_main_process:
        write_outputs(Path(cfg.output_dir), cfg, results, extra)
    if accelerator is None:
        acc.end_training()
    else:  # the caller owns the process group (a sweep runs many experiments on it); this run's trackers end here
        for tracker in acc.trackers:
            tracker.finish()
    return {"results": results, **extra}


def run_sweep(cfg: MetaConfig) -> dict:
    """Leave one language out: the whole run once per held-out language into OUTPUT_DIR/<lang>/, each
    training on the others, then every result in OUTPUT_DIR. A language whose results.json exists is
    not run again (resume); the one that was interrupted resumes with --resume-from-checkpoint latest."""
    languages = sweep_languages(cfg)
    results = []
    for lang in languages:
        fold = fold_config(cfg, lang)
        if (Path(fold.output_dir) / "results.json").is_file():
            PartialState().print(f"leave-one-out: {lang} finished earlier, reading {fold.output_dir}/results.json")
            results += finished_run(fold)["results"]
            continue
        # A fresh accelerator per language, so that its checkpoints hold only this run's objects.
        results += run_experiment(fold, make_accelerator(fold))["results"]
    extra = {"leave_one_out": languages, "mean_over_held_out_languages": mean_over_languages(results, cfg.k_shot)}
    if PartialState().is_main_process:
        write_outputs(Path(cfg.output_dir), replace(cfg, held_out_language=languages), results, extra)
    PartialState().destroy_process_group()
    return {"results": results, **extra}


# Settings that do not change what a run measured: where it read and wrote, how it resumed, extra test-time K.
NOT_MEASURED = ("output_dir", "data_dir", "task_dir", "resume_from_checkpoint", "eval_shots", "report_to")


def finished_run(cfg: MetaConfig) -> dict:
    """What the finished run in cfg.output_dir wrote (results.json), if it ran with `cfg`'s settings. A sweep or
    study re-run reuses finished runs; one of other settings (say --max-steps) must not be pooled with the rest."""
    out = Path(cfg.output_dir)
    data = json.loads((out / "results.json").read_text())
    saved, wanted = data.get("config", {}), json.loads(json.dumps(cfg.to_dict()))
    differ = [k for k, v in wanted.items() if k not in NOT_MEASURED and k in saved and saved[k] != v]
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
        pool = cfg.train_languages or [lang for lang in task.languages() if lang != pivot_of(task)]
        languages = usable_in(task, read_training_data(task, pool), cfg)
    else:
        languages = list(cfg.leave_one_out)
    if cfg.eval_mode == "zero_shot" and cfg.zero_shot_source in languages:
        PartialState().print(f"leave-one-out: {cfg.zero_shot_source} is the zero-shot source, so it is not held out")
        languages.remove(cfg.zero_shot_source)
    return languages


def fold_config(cfg: MetaConfig, held_out: str) -> MetaConfig:
    """The run that holds `held_out` out: the other languages train, results go to OUTPUT_DIR/<held_out>."""
    return replace(cfg, held_out_language=[held_out], train_languages=[x for x in cfg.train_languages if x != held_out],
                   leave_one_out=[], output_dir=str(Path(cfg.output_dir) / held_out)).validate()


def mean_over_languages(results: list[dict], k_shot: int) -> dict[str, float]:
    """Each method's accuracy averaged over held-out languages (each language counts once)."""
    by_method: dict[str, list[float]] = {}
    for r in results:
        if r["k_shot"] == k_shot:
            by_method.setdefault(r["method"], []).append(r["accuracy"])
    return {m: round(float(sum(a) / len(a)), 4) for m, a in by_method.items()}


def evaluate_run(cfg: MetaConfig, languages: LanguageSplit, best_dir: Path, acc: Accelerator,
                 methods: list[str], record_choice: bool = True, shots: list[int] | None = None) -> list[dict]:
    """Every method on the same seeded held-out episodes, at every K of `shots` (default: --k-shot and every
    --eval-shots K; test-time settings tuned per K on meta-validation). The held-out languages are read here, first."""
    by_shots = {k: replace(cfg, k_shot=k) for k in sorted(shots or {cfg.k_shot, *cfg.eval_shots})}
    val_samplers = {k: languages.val_sampler(c) for k, c in by_shots.items()}
    test_samplers = {k: {lang: load_held_out(c, lang) for lang in cfg.held_out_language} for k, c in by_shots.items()}
    selection_sampler = val_samplers.get(cfg.k_shot) or languages.val_sampler(cfg)  # model selection at training K
    results = []
    for method in methods:
        model, tokenizer, selection = model_for(method, cfg, languages, best_dir, acc, selection_sampler)
        rule = test_time_rule_for(method, model, cfg)
        retrieval = {lang: full_retrieval(model, tokenizer, sampler, cfg, acc)  # the corpus: the same at every K
                     for lang, sampler in next(iter(test_samplers.values())).items()} if languages.ranking else {}
        for k, cfg_k in by_shots.items():
            for scores in evaluate_method(method, model, tokenizer, rule, val_samplers[k], test_samplers[k], cfg_k, acc):
                results.append(scores.summary(cfg_k) | {"episode_accuracy": [
                    round(float(x), 4) for x in scores.by_episode_step[:, scores.steps]]}
                    | ({"retrieval": retrieval[scores.language]} if retrieval else {})
                    | ({"selection": selection} if selection else {}))
                if record_choice and method == cfg.algorithm and k == cfg.k_shot and acc.is_main_process:
                    record_test_time_choice(best_dir, scores.lr_factor, scores.steps)
    return add_paired_differences(results, cfg)


def full_retrieval(model: MetaModel, tokenizer, sampler: RankingSampler, cfg: MetaConfig, acc: Accelerator) -> dict:
    """Tatoeba's retrieval accuracy of the model as it is (no adaptation) over all pairs of the sampler's language."""
    model.eval()

    def embed(texts: list[str]):
        return model.embed(tokenize(tokenizer, texts, cfg.max_length, acc.device))
    (language,) = sampler.languages
    return retrieval_accuracy(embed, sampler.corpus[language])


def add_paired_differences(results: list[dict], cfg: MetaConfig) -> list[dict]:
    """Each non-baseline method vs the best baseline on the same episodes (same language and K):
    mean difference ± 95% CI."""
    for lang, k in {(r["language"], r["k_shot"]) for r in results}:
        same = [r for r in results if (r["language"], r["k_shot"]) == (lang, k)]
        baselines = [r for r in same if r["method"] in cfg.baselines]
        if not baselines:
            continue
        best = max(baselines, key=lambda r: r["accuracy"])
        for r in same:
            if r["method"] not in cfg.baselines:
                diff, ci = paired_difference(r["episode_accuracy"], best["episode_accuracy"])
                r["vs_best_baseline"] = {"baseline": best["method"], "difference": diff, "ci95": ci}
    return results


def model_for(method: str, cfg: MetaConfig, languages: LanguageSplit, best_dir: Path, acc: Accelerator,
              val_sampler) -> tuple[MetaModel, object, dict]:
    """(model, tokenizer, how it was selected): the meta-learned checkpoint chosen on meta-validation, φ⁰
    (finetune), or φ⁰ after ERM (multitask) at the step chosen on the same meta-validation episodes."""
    if method == cfg.algorithm:
        learner = MetaLearner.from_pretrained(str(best_dir), device=str(acc.device))
        meta = json.loads((best_dir / META_FILE).read_text())
        selection = {"selected_step": meta["step"], "val_accuracy": meta["val_accuracy"]} if "step" in meta else {}
        return learner.model, learner.tokenizer, selection
    encoder, tokenizer = load_encoder(cfg.model)
    model = MetaModel(encoder, cfg.logit_scale).to(acc.device)
    if method != "multitask":
        return model, tokenizer, {}

    def validate(m: MetaModel) -> float:
        return validation_accuracy(m, tokenizer, test_time_rule_for(method, m, cfg), val_sampler, cfg, acc,
                                   desc="meta-validate multitask")
    return model, tokenizer, train_multitask(model, tokenizer, languages.train, cfg, acc, ranking=languages.ranking,
                                             validate=validate)


def record_test_time_choice(best_dir: Path, lr_factor: float, steps: int) -> None:
    """Store the validation-chosen test-time setting with the checkpoint, so `adapt` uses it."""
    path = best_dir / META_FILE
    meta = json.loads(path.read_text())
    meta["test_time"] = {"lr_factor": lr_factor, "steps": steps}
    path.write_text(json.dumps(meta, indent=2))


def write_outputs(output_dir: Path, cfg: MetaConfig, results: list[dict], extra: dict) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_results(output_dir, cfg.to_dict(), results, extra)
    write_report(output_dir, cfg.to_dict(), results, {k: v for k, v in extra.items() if k != "training"})
    plot_accuracy_by_step(output_dir, [r for r in results if r["k_shot"] == cfg.k_shot], cfg.n_way)


def evaluate_checkpoint(run_dir: str, held_out: list[str], overrides: dict, accelerator: Accelerator | None = None) -> dict:
    """Re-evaluate a saved run on any languages of its task (scripts/evaluate.py)."""
    learner_dir = resolve_learner_dir(run_dir)
    meta = json.loads((learner_dir / META_FILE).read_text())
    from meta_nlp.config import config_from_dict
    cfg = replace(config_from_dict(meta["config"]), **overrides)
    trained_on = meta.get("train_languages") or cfg.train_languages
    val_langs = [lang for lang in trained_on if lang not in held_out]
    cfg = replace(cfg, held_out_language=list(held_out), train_languages=val_langs).validate()
    acc = accelerator or Accelerator(cpu=False)
    for lang in held_out:
        if lang in trained_on:
            acc.print(f"warning: {lang} was a meta-training language of this run; its score is not a held-out score")
    languages = prepare_languages(cfg)
    results = evaluate_run(cfg, languages, learner_dir, acc, methods=[cfg.algorithm, *cfg.baselines],
                           record_choice=False)
    return {"config": cfg, "results": results}
