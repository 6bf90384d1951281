"""Budget curves (scripts/study.py --budgets 40,160,640): does more meta-training buy more?

    for each budget B (meta-training steps; the multitask baseline gets the same budget unless --multitask-steps):
        the whole study with --max-steps B                           -> OUTPUT_DIR/steps<B>/ (its own report)
    held-out accuracy of every method against B, on the same seeded episodes at every B
        -> OUTPUT_DIR/results.json, budget.md (a table per held-out language, with each run's time and memory)
           and accuracy_by_budget.png

Every budget's study resumes like any study: a re-run reads the finished runs and runs the rest.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from accelerate.state import PartialState

from meta_nlp.config import MetaConfig
from meta_nlp.evaluation.report import axes_per_language, finish_axes, save_figure, write_results
from meta_nlp.recipes.study import BASELINE_RUN, StudySpec, folds, run_study, seed_runs


def budget_dir(cfg: MetaConfig, budget: int) -> Path:
    return Path(cfg.output_dir) / f"steps{budget}"


def run_budget_curve(cfg: MetaConfig, spec: StudySpec) -> dict:
    rows = []
    for budget in spec.budgets:
        at_budget = replace(cfg, max_steps=budget, output_dir=str(budget_dir(cfg, budget)))
        study = run_study(at_budget, replace(spec, budgets=[]), end=False)
        cost = run_costs(at_budget, spec)
        rows += [{"budget": budget, **{k: r[k] for k in ("method", "language", "accuracy", "ci95", "n_episodes",
                                                          "seeds", "accuracy_by_seed")},
                  **({"vs_best_baseline": r["vs_best_baseline"]} if "vs_best_baseline" in r else {}),
                  **cost.get(r["method"], {})}
                 for r in study["results"] if r["k_shot"] == cfg.k_shot]
    out = Path(cfg.output_dir)
    if PartialState().is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_results(out, replace(cfg, max_steps=max(spec.budgets)).to_dict(), rows,
                      {"budgets": list(spec.budgets), "study": {"methods": spec.methods, "seeds": spec.seeds}})
        plot_accuracy_by_budget(out, rows, cfg.n_way)
        write_budget_report(out, cfg, rows)
    PartialState().destroy_process_group()
    return {"results": rows}


def run_costs(cfg: MetaConfig, spec: StudySpec) -> dict[str, dict]:
    """Per run folder name (a meta-learner, or the baselines): mean wall time and peak memory of its runs at this
    budget (training and evaluation together, as each run's results.json recorded them)."""
    times: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    for fold in folds(cfg, spec):
        for _, runs in seed_runs(fold, spec, [*spec.methods, BASELINE_RUN]):
            for method, out in runs.items():
                path = out / "results.json"
                if path.is_file():
                    data = json.loads(path.read_text())
                    times.setdefault(method, []).append(data.get("wall_time_s", np.nan))
                    memory.setdefault(method, []).append(data.get("peak_memory_mib", np.nan))
    costs = {m: {"run_time_s": round(float(np.mean(t)), 1), "peak_memory_mib": round(float(np.mean(memory[m])), 1)}
             for m, t in times.items()}
    return {**{b: costs[BASELINE_RUN] for b in cfg.baselines if BASELINE_RUN in costs},
            **{m: c for m, c in costs.items() if m != BASELINE_RUN}}


def write_budget_report(out: Path, cfg: MetaConfig, rows: list[dict]) -> Path:
    budgets = sorted({r["budget"] for r in rows})
    lines = [f"# meta_nlp budget curve: {cfg.task}, {cfg.n_way}-way {cfg.k_shot}-shot", "",
             f"Held-out accuracy ± 95% CI against meta-training steps ({', '.join(map(str, budgets))}; the multitask "
             "baseline trains as many steps unless --multitask-steps fixes it), on the same seeded episodes at every "
             "budget; Δ: the paired difference to the best baseline at that budget. Each budget's full study is in "
             "`steps<B>/report.md`. Run time: one run's wall time (training and evaluation; the baselines' folder "
             f"evaluates them all), mean over its runs, on {PartialState().num_processes} process(es).", ""]
    for lang in sorted({r["language"] for r in rows}):
        lines += [f"## held-out language: {lang}", "",
                  "| method | " + " | ".join(f"{b} steps" for b in budgets) + " |", "|---|" + "---|" * len(budgets)]
        for method in dict.fromkeys(r["method"] for r in rows):
            cells = []
            for b in budgets:
                r = next((r for r in rows if (r["language"], r["method"], r["budget"]) == (lang, method, b)), None)
                if r is None:
                    cells.append("—")
                    continue
                v = r.get("vs_best_baseline")
                delta = f"; Δ {v['difference']:+.3f} [{v['ci95_low']:+.3f}, {v['ci95_high']:+.3f}]" if v else ""
                cost = f" ({r['run_time_s'] / 60:.0f} min, {r['peak_memory_mib'] / 1024:.1f} GiB)" if "run_time_s" in r else ""
                cells.append(f"{r['accuracy']:.3f} ± {r['ci95']:.3f}{delta}{cost}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["![accuracy against meta-training budget](accuracy_by_budget.png)", ""]
    path = out / "budget.md"
    path.write_text("\n".join(lines))
    return path


def plot_accuracy_by_budget(out: Path, rows: list[dict], n_way: int) -> Path:
    fig, plots = axes_per_language(rows)
    budgets = sorted({r["budget"] for r in rows})
    for ax, lang in plots:
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = sorted((r for r in rows if (r["language"], r["method"]) == (lang, method)), key=lambda r: r["budget"])
            ax.errorbar([r["budget"] for r in mine], [r["accuracy"] for r in mine], yerr=[r["ci95"] for r in mine],
                        marker="o", capsize=3, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [str(b) for b in budgets])  # ticks at the measured budgets, not at powers of two
        ax.minorticks_off()
        finish_axes(ax, n_way, f"held-out language: {lang}", "meta-training steps (log scale)")
    return save_figure(fig, out, "accuracy_by_budget.png")
