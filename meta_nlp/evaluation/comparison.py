"""Runs side by side on the same held-out episodes (scripts/compare_runs.py): the ablation table."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from meta_nlp.config import NOT_MEASURED, MetaConfig, ran_settings
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.stats import interval, paired_bootstrap

# What two runs must share for their episodes to be the same ones.
PAIRING = ("task", "data_dir", "seed", "n_way", "k_shot", "n_query", "eval_episodes", "held_out_language", "eval_mode",
           "held_out_task", "held_out_data_dir")
# Settings that say nothing about the method (shown in no row).
NOT_SETTINGS = (*NOT_MEASURED, "push_to_hub", "hub_model_id", "hub_dry_run")
# Issue 17's targets, in accuracy (`target_verdict`): the best meta-learner ≥ the best baseline + 3 points; on a
# held-out task, ≥ fine-tuning + 5 points.
MARGIN_OVER_BASELINE, MARGIN_OVER_FINETUNE = 0.03, 0.05


def run_summary(path: Path, method: str | None = None) -> tuple[dict, dict]:
    """(config, the result of `method` (default: the run's meta-learner) at the run's K on its first held-out
    language) of a finished run, or of seeds pooled by scripts/pool_seeds.py. The config is the one it ran with
    (`ran_settings`): --mixed-precision auto as it resolved there, so two auto runs on different CPUs show it."""
    file = path / "results.json"
    if not file.is_file():
        raise MetaNLPError(f"{path}: no results.json (not a finished meta_train run)")
    data = json.loads(file.read_text())
    cfg = MetaConfig().to_dict() | ran_settings(data)  # fields a run predates: as they were, else default
    method = method or cfg["algorithm"]
    mine = [r for r in data["results"] if r["method"] == method and r["k_shot"] == cfg["k_shot"]]
    if not mine:
        raise MetaNLPError(f"{path}: results.json has no {method} result at K={cfg['k_shot']}")
    return cfg, mine[0]


@cache
def _run_data(run: str) -> dict:
    """A finished run's results.json, read once per process."""
    return json.loads(Path(run, "results.json").read_text())


def _results_of(run: str) -> list[dict]:
    return _run_data(run)["results"]


def result_row(run: str | Path, method: str, language: str) -> dict:
    """The first result of `method` on held-out `language` in a finished run or pooled study (its results.json): what
    the analysis scripts under results/ pair with each other."""
    found = [r for r in _results_of(str(run)) if r["method"] == method and r["language"] == language]
    if not found:
        raise MetaNLPError(f"{run}: results.json has no {method} result on {language}")
    return found[0]


def before_any_step(run: str | Path, method: str, language: str) -> dict:
    """`result_row` with each episode scored before any test-time step: the encoder and its head alone, whatever
    steps and lr the test-time rule chose, so that `paired_bootstrap` can tell two encoders apart without the rule's
    noise. Runs record those scores (`episode_accuracy_before_steps`); an older single run's are read back from the
    held-out pass it kept in scores/. `seeds_pooled` pools seeds of older runs."""
    row = result_row(run, method, language)
    scores = row.get("episode_accuracy_before_steps")
    if scores is None:
        scores = [round(float(x), 4) for x in kept_held_out_pass(Path(run), row)[:, 0]]
    return {**row, "method": f"{method} before any test-time step", "episode_accuracy": scores,
            "accuracy": float(np.mean(scores)), "adapt_steps": 0}


def kept_held_out_pass(run: Path, row: dict) -> np.ndarray:
    """The scoring pass ([episodes, steps 0..T]) in a run's scores/ that a held-out result row came from: the one whose
    column at the chosen steps is the row's episodes and whose step means are its `accuracy_by_step`. Passes are kept
    under keys of what decided them (`evaluator.scoring_key`), which an analysis cannot rebuild without the model."""
    found = [a for a in map(_kept_pass, sorted(str(path) for path in run.glob("scores/*.npy")))
             if a.shape == (row["n_episodes"], len(row["accuracy_by_step"]))
             and np.allclose(a[:, row["adapt_steps"]], row["episode_accuracy"], atol=1e-4)
             and np.allclose(a.mean(0), row["accuracy_by_step"], atol=1e-4)]
    if len(found) != 1:
        raise MetaNLPError(f"{run}: {len(found)} kept scoring passes reproduce {row['method']} on {row['language']}, "
                           f"not 1; its scores before any test-time step cannot be read back (seeds pooled before "
                           f"runs recorded them: pool each seed's run with `seeds_pooled`)")
    return found[0]


@cache
def _kept_pass(path: str) -> np.ndarray:
    """One kept scoring pass, read once per process: analyses ask for several methods and languages of the same run,
    and a pass's file never changes (its name is the key of what decided it)."""
    return np.load(path)


def seeds_pooled(runs: list[str | Path], method: str, language: str, before_steps: bool = False) -> dict:
    """`method`'s row on `language` with the episodes of each seed's run pooled (`study.pooled`), at the chosen
    test-time steps or, with `before_steps`, before any (`before_any_step`): how analyses pool runs that were not
    pooled by scripts/pool_seeds.py, or whose pooled results.json predates `episode_accuracy_before_steps`."""
    from meta_nlp.recipes.study import pooled  # the study recipe imports the trainer; only pooling needs it
    read = before_any_step if before_steps else result_row
    return pooled([read(run, method, language) for run in runs])


def rows_by_seed(runs: dict, method: str, language: str, before_steps: bool = False) -> dict:
    """{seed: `method`'s row on `language` in that seed's run} for runs given as {seed: run}, and under 'pooled' every
    seed's episodes pooled (`seeds_pooled`); at the chosen test-time steps or, with `before_steps`, before any."""
    from meta_nlp.recipes.study import pooled  # as in seeds_pooled
    read = before_any_step if before_steps else result_row
    by_seed = {seed: read(run, method, language) for seed, run in runs.items()}
    return by_seed | {"pooled": pooled(list(by_seed.values()))}  # the rows just read, not read again


def validation_by_step(run: str | Path, method: str) -> dict[str, float]:
    """A method's model-selection scores by step in a finished run: the run's meta-learner's training record, or the
    selection record of a baseline trained in the run (the multitask baseline)."""
    data = _run_data(str(run))
    if method == data["config"]["algorithm"]:
        return data["training"]["val_accuracy_by_step"]
    return next(r for r in data["results"] if r["method"] == method)["selection"]["val_accuracy_by_step"]


def chosen_validation(run: str | Path, method: str, language: str) -> float:
    """A run's meta-validation accuracy at the test-time setting it chose for `method` (its validation grid at the
    chosen lr factor and steps): what the decision rules under results/ compare."""
    row = result_row(run, method, language)
    return row["val_grid"][format(row["lr_factor"], "g")][row["adapt_steps"]]


def repeated_by(row: dict, earlier_run: str | Path, ignoring: tuple[str, ...] = ()) -> str:
    """Whether a result row repeats the same method's row on the same language in `earlier_run`, field by field ('every
    field the same' or 'differs in [...]'; the vs_best_baseline column depends on the other methods of a run, so it is
    left out, and so are the fields `ignoring` names, e.g. the validation grid of a run re-evaluated on another lr
    grid): how the analysis scripts check that a run reproduces the runs it should. Fields the earlier run did not
    record yet (a newer code's) are named, not counted as differences."""
    earlier = result_row(earlier_run, row["method"], row["language"])
    compared = [k for k in row if k not in {"vs_best_baseline", *ignoring}]
    differing = sorted(k for k in compared if k in earlier and row[k] != earlier[k])
    newer = sorted(k for k in compared if k not in earlier)
    return ((f"differs in {differing}" if differing else "every field the same")
            + (f" (the earlier run did not record {newer})" if newer else ""))


def run_choices(run: str | Path) -> str:
    """'T s, M MiB peak; selected steps {method: step}; (accuracy, test-time steps, lr factor) {(method, language):
    ...}' of a finished run: what it chose and cost, as the analysis scripts print it seed by seed."""
    data = json.loads(Path(run, "results.json").read_text())
    chosen = {(r["method"], r["language"]): (round(r["accuracy"], 4), r["adapt_steps"], r["lr_factor"])
              for r in data["results"]}
    selected = {r["method"]: r.get("selection", {}).get("selected_step") for r in data["results"]}
    return (f"{data['wall_time_s']:.0f} s, {data['peak_memory_mib']} MiB peak; selected steps {selected}; "
            f"(accuracy, test-time steps, lr factor) {chosen}")


def result_summary(row: dict) -> str:
    """'method accuracy ± CI (selected step S, test-time steps T)' of a result row, as the analysis scripts print it
    (S and T: one per pooled seed)."""
    return (f"{row['method']} {row['accuracy']:.4f} ± {row['ci95']:.4f} (selected step {row['selected_step']}, "
            f"test-time steps {row['adapt_steps']})")


def adaptation_summary(row: dict) -> str:
    """'method accuracy ± CI (test-time steps T at lr ×F; at 0 steps A0)' of a run's or a pooled row (T, F: one per
    pooled seed), as the analysis scripts print it. A0, the accuracy before any test-time step, is a diagnostic that
    no rule chose; unlike `result_summary` it needs no pooled `selected_step`."""
    return (f"{row['method']} {row['accuracy']:.4f} ± {row['ci95']:.4f} (test-time steps {row['adapt_steps']} at lr "
            f"×{row['lr_factor']}; at 0 steps {row['accuracy_by_step'][0]:.4f})")


def accuracy_by_draw(row: dict) -> str:
    """'seed 0: A0 A1; seed 1: B0 B1' of a pooled row (scripts/pool_seeds.py over training draws): each seed's accuracy
    at each draw, as the analysis scripts print it."""
    return "; ".join(f"seed {s}: " + " ".join(f"{a:.4f}" for a in draws)
                     for s, draws in zip(row["seeds"], row["draw_accuracy"]))


def difference_with_retraining(pair: dict) -> str:
    """A pooled pairwise difference's episodes-only interval, then (where the pooled runs hold several training draws)
    the one that counts re-training, as the analysis scripts print it."""
    retrained = pair.get("with_training_randomness")
    if not retrained:
        return interval(pair)
    return (f"{interval(pair)}; with re-training {interval(retrained)} ({retrained['degrees_of_freedom']:.1f} df, "
            f"re-training {100 * retrained['retraining_share']:.0f}% of the variance)")


def rows_by_budget(runs: dict[int, str | Path], methods: tuple[str, ...], language: str) -> tuple[dict, str]:
    """({(method, budget): result row}, one 'B steps: <result_summary>, ...' line per budget) of a budget study's
    pooled runs (runs: budget -> folder) on held-out `language`, as the analysis scripts print them."""
    rows = {(m, b): result_row(run, m, language) for b, run in runs.items() for m in methods}
    lines = [f"{b} steps: " + ", ".join(result_summary(rows[m, b]) for m in methods) for b in runs]
    return rows, "\n".join(lines)


def target_verdict(d: dict, margin: float) -> str:
    """'met' or 'not met' (a paired difference of at least `margin` with its interval above 0: issue 17's targets),
    then '; significantly below' where the interval lies below 0, as the analysis scripts print it."""
    met = d["difference"] >= margin and d["ci95_low"] > 0
    return ("met" if met else "not met") + ("; significantly below" if d["ci95_high"] < 0 else "")


def paired_difference(a: dict, b: dict) -> str:
    """'a − b = Δ [95% paired bootstrap]' of two results on the same episodes, as the analysis scripts print it."""
    return f"{a['accuracy']:.4f} − {b['accuracy']:.4f} = {interval(paired_bootstrap(a, b))}"


def settings_changed(cfg: dict, reference: dict) -> str:
    changed = [f"{k}={cfg[k]}" for k in cfg if k not in NOT_SETTINGS and cfg[k] != reference.get(k)]
    return ", ".join(changed) or "(reference settings)"


def compare_runs(runs: list[Path], reference: Path, method: str | None = None) -> str:
    """A markdown table: each run's accuracy ± 95% CI and its paired difference to the reference run, for `method`
    (default: each run's meta-learner)."""
    ref_cfg, ref = run_summary(reference, method)
    lines = [f"Held-out {ref['language']}, {ref['n_way']}-way {ref['k_shot']}-shot, {ref['n_episodes']} episodes "
             f"(the same seeded episodes in every run); Δ = run − reference `{reference.name}` over those episodes, "
             "with its 95% paired-bootstrap interval.", "",
             "| run | settings vs reference | method | accuracy ± 95% CI | Δ [95% paired bootstrap] |",
             "|---|---|---|---|---|"]
    for path in dict.fromkeys([reference, *runs]):
        cfg, r = run_summary(path, method)
        differ = [k for k in PAIRING if cfg.get(k) != ref_cfg.get(k)]
        if differ or r["language"] != ref["language"]:
            field = differ[0] if differ else "held-out language"
            raise MetaNLPError(f"{path} and {reference} differ in {field}: their episodes are not the same, so "
                               "they cannot be compared pair by pair")
        delta = "—" if path == reference else interval(paired_bootstrap(r, ref))
        lines.append(f"| {path.name} | {settings_changed(cfg, ref_cfg) if path != reference else 'reference'} "
                     f"| {r['method']} | {r['accuracy']:.4f} ± {r['ci95']:.4f} | {delta} |")
    return "\n".join(lines)
