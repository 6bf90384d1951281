"""The whole job, top to bottom: meta-train, evaluate against baselines on held-out languages, report."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from accelerate import Accelerator

from meta_nlp.config import MetaConfig
from meta_nlp.data.languages import LanguageSplit, load_held_out, prepare_languages
from meta_nlp.evaluation.evaluator import evaluate_method, paired_difference
from meta_nlp.evaluation.methods import test_time_rule_for
from meta_nlp.evaluation.report import plot_accuracy_by_step, write_report, write_results
from meta_nlp.learner import META_FILE, MetaLearner, resolve_learner_dir
from meta_nlp.models.encoder import MetaModel, load_encoder
from meta_nlp.training.multitask import train_multitask
from meta_nlp.training.trainer import MetaTrainer


def run_experiment(cfg: MetaConfig, accelerator: Accelerator | None = None) -> dict:
    started = time.time()
    trainer = MetaTrainer(cfg, accelerator)
    trainer.setup()
    acc = trainer.accelerator
    acc.print(f"meta-training languages: {', '.join(trainer.languages.train)}; "
              f"held out: {', '.join(cfg.held_out_language)} (not read until evaluation)")
    training = trainer.train()
    best_dir = Path(cfg.output_dir) / "best"
    results = evaluate_run(cfg, trainer.languages, best_dir, acc, methods=[cfg.algorithm, *cfg.baselines])
    extra = {"training": training, "wall_time_s": round(time.time() - started, 1),
             "num_processes": acc.num_processes, "train_languages": list(trainer.languages.train)}
    if acc.is_main_process:
        write_outputs(Path(cfg.output_dir), cfg, results, extra)
    acc.end_training()
    return {"results": results, **extra}


def evaluate_run(cfg: MetaConfig, languages: LanguageSplit, best_dir: Path, acc: Accelerator,
                 methods: list[str], record_choice: bool = True) -> list[dict]:
    """Every method on the same seeded held-out episodes. The held-out languages are read here, first."""
    val_sampler = languages.val_sampler(cfg)
    test_samplers = {lang: load_held_out(cfg, lang) for lang in cfg.held_out_language}
    results = []
    for method in methods:
        model, tokenizer = model_for(method, cfg, languages, best_dir, acc)
        rule = test_time_rule_for(method, model, cfg)
        for scores in evaluate_method(method, model, tokenizer, rule, val_sampler, test_samplers, cfg, acc):
            results.append(scores.summary(cfg) | {"episode_accuracy": [round(float(x), 4)
                                                                        for x in scores.by_episode_step[:, scores.steps]]})
            if record_choice and method == cfg.algorithm and acc.is_main_process:
                record_test_time_choice(best_dir, scores.lr_factor, scores.steps)
    return add_paired_differences(results, cfg)


def add_paired_differences(results: list[dict], cfg: MetaConfig) -> list[dict]:
    """Each non-baseline method vs the best baseline on the same episodes: mean difference ± 95% CI."""
    for lang in {r["language"] for r in results}:
        baselines = [r for r in results if r["language"] == lang and r["method"] in cfg.baselines]
        if not baselines:
            continue
        best = max(baselines, key=lambda r: r["accuracy"])
        for r in results:
            if r["language"] == lang and r["method"] not in cfg.baselines:
                diff, ci = paired_difference(r["episode_accuracy"], best["episode_accuracy"])
                r["vs_best_baseline"] = {"baseline": best["method"], "difference": diff, "ci95": ci}
    return results


def model_for(method: str, cfg: MetaConfig, languages: LanguageSplit, best_dir: Path, acc: Accelerator):
    """(model, tokenizer): the selected meta-learned checkpoint, φ⁰ (finetune), or φ⁰ after ERM (multitask)."""
    if method == cfg.algorithm:
        learner = MetaLearner.from_pretrained(str(best_dir), device=str(acc.device))
        return learner.model, learner.tokenizer
    encoder, tokenizer = load_encoder(cfg.model)
    model = MetaModel(encoder, cfg.logit_scale).to(acc.device)
    if method == "multitask":
        train_multitask(model, tokenizer, languages.train, cfg, acc)
    return model, tokenizer


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
    plot_accuracy_by_step(output_dir, results, cfg.n_way)


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
