"""The comparison study behind scripts/study.py: every requested meta-learner and both baselines on
the same seeded episodes, over several seeds and held-out languages.

    for each fold (--leave-one-out: a held-out language, or together the languages that the same training
                   languages serve, trained once; else every --held-out-language at once):
        for each seed s, and each training draw d of it (--training-draws; default: --training-draw's alone):
            each method m: meta-train on the training languages, select on their validation share,
                           evaluate on the held-out language(s) at every K in `shots`  -> FOLD/seed<s>[_draw<d>]/<m>/
            the baselines (finetune, multitask) on the same episodes                   -> FOLD/seed<s>[_draw<d>]/baselines/
    pooled over seeds (a seed's draws averaged per episode) -> OUTPUT_DIR/results.json, report.md and the plots

A seed changes meta-training, the validation split and the episodes; within a seed every method
sees the same episodes, so differences to the best baseline are paired over (seed, episode) and
bootstrapped within seeds. Training draws of a seed re-train on the same episodes: their spread joins every
difference's interval that counts re-training (stats.with_training_randomness). Every run writes its own
results.json: a re-run reads the finished runs and runs the rest (the interrupted one resumes its meta-training
with --resume-from-checkpoint latest).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from accelerate.state import PartialState

from meta_nlp.config import ALGORITHMS, NOT_MEASURED, MetaConfig, config_from_dict, ran_settings
from meta_nlp.data.languages import compared_rule, prepare_languages
from meta_nlp.engine.trainer import make_accelerator
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.report import (plot_accuracy_by_language, plot_accuracy_by_shots, plot_accuracy_by_step,
                                        head_description, selected_on, write_results)
from meta_nlp.evaluation.stats import add_vs_best_baseline, bootstrap_difference, interval, mean_ci95, paired_bootstrap
from meta_nlp.recipes.meta_learn import (MULTITASK_DIR, evaluate_run, finished_run, how_it_ran, run_experiment,
                                         running, sweep_folds, sweep_languages, write_outputs)

STUDY_OUTPUT_DIR = "runs/study"  # used when --output-dir is left at meta_train's default
BASELINE_RUN = "baselines"  # the folder of each (fold, seed)'s baseline run


@dataclass
class StudySpec:
    """What the study compares (the run settings themselves are MetaConfig's)."""
    methods: list[str] = field(default_factory=lambda: ["fomaml", "mldg"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    shots: list[int] = field(default_factory=lambda: [1, 2, 5, 10])
    bootstrap_resamples: int = 10_000
    finished_only: bool = False  # report what has finished so far; run nothing
    budgets: list[int] = field(default_factory=list)  # the study at each of these --max-steps (recipes/budget.py)
    training_draws: list[int] = field(default_factory=list)  # each seed trained at each; none: --training-draw's only

    def validate(self) -> "StudySpec":
        bad = [m for m in self.methods if m not in ALGORITHMS]
        if bad or not self.methods:
            raise MetaNLPError(f"--methods: {bad[0] if bad else 'none'} is not an algorithm; choose from {', '.join(ALGORITHMS)}")
        if not self.seeds or not self.shots or min(self.shots) < 1:
            raise MetaNLPError("--seeds and --shots need at least one value each, shots at least 1")
        if self.budgets and min(self.budgets) < 1:
            raise MetaNLPError(f"--budgets are numbers of meta-training steps, at least 1 each, got {self.budgets}")
        if self.training_draws and (min(self.training_draws) < 0
                                    or len(set(self.training_draws)) < len(self.training_draws)):
            raise MetaNLPError(f"--training-draws are distinct draws, 0 or more each, got {self.training_draws}")
        return self


def _comma(kind):
    return lambda s: [kind(x) for x in s.split(",") if x]


def study_flags() -> list:
    """The study's own flags, for config.parse_config_and_extras (defaults from StudySpec)."""
    d = StudySpec()
    return [
        (("--methods",), {"type": _comma(str), "default": d.methods,
                          "help": f"comma-separated meta-learners to compare (default: {','.join(d.methods)})"}),
        (("--seeds",), {"type": _comma(int), "default": d.seeds,
                        "help": f"comma-separated seeds (default: {','.join(map(str, d.seeds))})"}),
        (("--shots",), {"type": _comma(int), "default": d.shots,
                        "help": f"test-time K of the accuracy-vs-K plot (default: {','.join(map(str, d.shots))})"}),
        (("--bootstrap-resamples",), {"type": int, "default": d.bootstrap_resamples,
                                      "help": f"paired bootstrap resamples (default: {d.bootstrap_resamples})"}),
        (("--finished-only",), {"action": "store_true", "default": d.finished_only,
                                "help": "report the (language, seed) pairs whose every run has finished at every K "
                                        "of --shots, and run nothing: a study still under way, or one spread over "
                                        "several machines, seen so far"}),
        (("--budgets",), {"type": _comma(int), "default": d.budgets,
                          "help": "comma-separated meta-training budgets (e.g. 40,160,640): the whole study once per "
                                  "--max-steps, into OUTPUT_DIR/steps<B>/, then accuracy against budget "
                                  "(OUTPUT_DIR/budget.md, accuracy_by_budget.png)"}),
        (("--training-draws",), {"type": _comma(int), "default": d.training_draws,
                                 "help": "comma-separated training draws (e.g. 0,1,2): every run of a seed is trained "
                                         "once per draw (same validation and held-out episodes, other training "
                                         "tasks and dropout), into OUTPUT_DIR/<fold>/seed<S>_draw<D>/ (draw 0: "
                                         "seed<S>/); episodes are scored by the mean over draws, and each difference "
                                         "also gets an interval that counts re-training (default: --training-draw "
                                         "alone)"}),
    ]


def run_study(cfg: MetaConfig, spec: StudySpec, end: bool = True) -> dict:
    """The study; `end`: the process group ends with it (a budget curve runs several studies in one)."""
    spec.validate()
    cfg = replace(cfg, eval_shots=sorted(set(spec.shots)))
    plan = folds(cfg, spec)
    for fold in plan:  # every run's settings are checked before the first run starts
        for method in spec.methods:
            replace(fold, algorithm=method).validate()
    rows, not_finished = [], []
    for fold in plan:
        for run, runs in seed_runs(fold, spec, [*spec.methods, *([BASELINE_RUN] if cfg.baselines else [])]):
            if spec.finished_only and not all(set(cfg.eval_shots) <= finished_shots(out) for out in runs.values()):
                draw = f" draw {run.training_draw}" if run.training_draw else ""
                not_finished.append(f"{Path(fold.output_dir).name} seed {run.seed}{draw}")
                PartialState().print(f"study: {not_finished[-1]} has not finished; left out")
                continue
            for method, out in runs.items():
                rows += [{**r, "training_draw": run.training_draw} for r in run_results(run, method, out)]
    if not rows:
        raise MetaNLPError(f"--finished-only: no (language, seed) of this study has finished in {cfg.output_dir}")
    results = pooled_over_seeds(rows, cfg.baselines, spec.bootstrap_resamples)
    languages = sorted({r["language"] for r in results})
    comparisons = study_comparisons(results, cfg, spec.bootstrap_resamples)
    if PartialState().is_main_process:
        write_study_outputs(Path(cfg.output_dir), cfg, spec, results, comparisons,
                            replace(cfg, held_out_language=languages).to_dict(),
                            {"study": asdict(spec), "not_finished": not_finished}, not_finished)
    if end:
        PartialState().destroy_process_group()
    return {"results": results, "languages": languages, **comparisons}


def study_comparisons(results: list[dict], cfg: MetaConfig, n_resamples: int) -> dict:
    """Method against method, the mean over held-out languages, and the ranking on validation alone."""
    return {"pairwise": pairwise_differences(results, n_resamples),
            "over_languages": over_languages(results, cfg.baselines, n_resamples),
            "ranked_on_validation": ranked_on_validation(results, cfg.k_shot)}


def write_study_outputs(out: Path, cfg: MetaConfig, spec: StudySpec, results: list[dict], comparisons: dict,
                        config: dict, extra: dict, not_finished: list[str] = ()) -> None:
    """OUTPUT_DIR/results.json (with `extra`), the plots and report.md of a study or of pooled seeds."""
    out.mkdir(parents=True, exist_ok=True)
    write_results(out, config, results, {**extra, **comparisons})
    main_k = [r for r in results if r["k_shot"] == cfg.k_shot]
    plot_accuracy_by_language(out, main_k, cfg.n_way)
    if len({r["k_shot"] for r in results}) > 1:  # one K would be a column of dots
        plot_accuracy_by_shots(out, results, cfg.n_way)
    plot_accuracy_by_step(out, main_k, cfg.n_way)
    write_study_report(out, cfg, spec, results, comparisons, not_finished)


def folds(cfg: MetaConfig, spec: StudySpec) -> list[MetaConfig]:
    """One run config per fold, its output_dir the fold's folder. With --leave-one-out, the sweep's folds (the
    languages able to give episodes at the largest K; languages that the same training languages serve share a
    fold); else one fold holds out every --held-out-language together, as meta_train does."""
    if cfg.leave_one_out:
        return sweep_folds(cfg, sweep_languages(replace(cfg, k_shot=max(cfg.k_shot, *spec.shots))))
    return [replace(cfg, output_dir=str(Path(cfg.output_dir) / "_".join(cfg.held_out_language)))]


def seed_runs(fold: MetaConfig, spec: StudySpec, methods: list[str]) -> Iterator[tuple[MetaConfig, dict[str, Path]]]:
    """Each (seed, training draw) of a fold, in order: its run config and the folder of each method's run in it,
    FOLD/seed<S>/<method>, or FOLD/seed<S>_draw<D>/<method> past draw 0 (--training-draws; default: the fold's
    --training-draw alone)."""
    for seed in spec.seeds:
        for draw in spec.training_draws or [fold.training_draw]:
            run = replace(fold, seed=seed, training_draw=draw)
            folder = Path(fold.output_dir) / (f"seed{seed}" + (f"_draw{draw}" if draw else ""))
            yield run, {m: folder / m for m in methods}


def finished_shots(out: Path) -> set[int]:
    """The test-time K at which the run in `out` has results (none while it has not finished)."""
    path = out / "results.json"
    return {r["k_shot"] for r in json.loads(path.read_text())["results"]} if path.is_file() else set()


def run_results(cfg: MetaConfig, method: str, out: Path) -> list[dict]:
    """The result rows of one (fold, seed, method) run; a run that finished earlier with the same settings is read
    back, and evaluated from what it saved at the K it lacks when --shots asks for more (no re-training)."""
    cfg = replace(cfg, output_dir=str(out), **({} if method == BASELINE_RUN else {"algorithm": method, "baselines": []}))
    if (out / "results.json").is_file():
        return finished_run_results(cfg, method, out)
    acc = make_accelerator(cfg)  # a fresh one per run: its checkpoints hold only this run's objects
    if method != BASELINE_RUN:
        return run_experiment(cfg.validate(), acc)["results"]
    with running(cfg) as started:
        results = evaluate_run(cfg, prepare_languages(cfg), acc, methods=list(cfg.baselines), record_choice=False)
        if acc.is_main_process:
            write_outputs(out, cfg, results, {"note": "the study's baselines: no meta-training in this folder",
                                              **how_it_ran(started, acc)})
    return results


def finished_run_results(cfg: MetaConfig, method: str, out: Path) -> list[dict]:
    # The baselines' folder trains no meta-learner: the --algorithm it ran beside (the default, when it changed) is
    # not one of its settings.
    data = finished_run(cfg, ignored=("algorithm",) if method == BASELINE_RUN else ())
    missing = sorted(set(cfg.eval_shots) - {r["k_shot"] for r in data["results"]})
    if not missing:
        PartialState().print(f"study: {out} finished earlier, reading it")
        return data["results"]
    if method != BASELINE_RUN and not (out / "best").is_dir():  # results/ keeps a run's scores, not its weights
        raise MetaNLPError(f"{out} has no saved model (best/) to evaluate at K={missing}: its weights stayed on the "
                           "machine that ran it; ask for the K it has, or run the study into another --output-dir")
    PartialState().print(f"study: {out} finished earlier; evaluating its saved model at K={missing} too")
    methods = list(cfg.baselines) if method == BASELINE_RUN else [method]
    learners = {method: out / "best"} if method != BASELINE_RUN else \
        {"multitask": out / MULTITASK_DIR / "best"} if (out / MULTITASK_DIR / "best").is_dir() else {}
    results = data["results"] + evaluate_run(cfg, prepare_languages(cfg), make_accelerator(cfg), methods=methods,
                                             learners=learners, record_choice=False, shots=missing)
    if PartialState().is_main_process:
        kept = {k: v for k, v in data.items() if k not in ("config", "versions", "results")}
        write_outputs(out, replace(cfg, eval_shots=sorted({r["k_shot"] for r in results})), results, kept)
    return results


def runs_differing_only_in_seed(run_dirs: list[Path], also: tuple[str, ...] = ()) -> list[dict]:
    """The results.json of each finished run, checked to share every setting but the seed, the output folder and
    the settings named in `also`, and to hold each (method, seed, training draw) once."""
    missing = [str(d) for d in run_dirs if not (Path(d) / "results.json").is_file()]
    if missing:
        raise MetaNLPError(f"{missing[0]}: no results.json (not a finished run)")
    runs = [json.loads((Path(d) / "results.json").read_text()) for d in run_dirs]
    for run in runs:
        run["config"] = ran_settings(run)
    ignored = ("seed", *NOT_MEASURED, *also)
    settings = [{k: v for k, v in r["config"].items() if k not in ignored} for r in runs]
    differ = sorted({k for s in settings for k in s.keys() | settings[0].keys() if s.get(k) != settings[0].get(k)})
    if differ:
        allowed = ", ".join(("seed", *also))
        raise MetaNLPError(f"these runs differ in {', '.join(differ)}: only runs that differ in no setting but "
                           f"{allowed} (and where they ran) can be pooled")
    seen = set()
    for run in runs:
        for key in dict.fromkeys((r["method"], r.get("language"), r.get("k_shot"), run["config"]["seed"],
                                  run["config"]["training_draw"]) for r in run["results"]):
            if key in seen:
                hint = " (run all but one of them with --baselines none)" if "baselines" in also else ""
                draw = f", training draw {key[4]}" if key[4] else ""
                raise MetaNLPError(f"{key[0]} at seed {key[3]}{draw} ({key[1]}, K={key[2]}) is in two of the runs: "
                                   f"pool each method, seed and training draw once{hint}")
            seen.add(key)
    return runs


# A study may pool meta_train runs of different meta-learners (each run's --algorithm, its baselines in one of them):
# they evaluate on the same seeded episodes whatever the algorithm. Training draws of a seed (--training-draw) share
# its episodes too: their scores are averaged per episode, and their spread widens the intervals that count it.
POOLED_ACROSS = ("algorithm", "baselines", "training_draw")


def pool_run_seeds(run_dirs: list[Path], output_dir: Path, n_resamples: int = 10_000) -> dict:
    """Finished meta_train runs of the same settings but their seeds (e.g. the default job with --seed 0 and 1), and
    their meta-learners, as one study: each method's episodes pooled over seeds, paired differences to the best
    baseline and between methods resampled within seeds, the ranking on validation. Writes OUTPUT_DIR/results.json,
    report.md, plots."""
    runs = runs_differing_only_in_seed(run_dirs, also=POOLED_ACROSS)
    methods = list(dict.fromkeys(run["config"]["algorithm"] for run in runs))
    baselines = list(dict.fromkeys(b for run in runs for b in run["config"]["baselines"]))
    cfg = replace(config_from_dict(runs[0]["config"]), baselines=baselines)  # its algorithm: the first run's
    seeds = sorted({run["config"]["seed"] for run in runs})
    rows = [{**r, "training_draw": run["config"]["training_draw"]} for run in runs for r in run["results"]]
    results = pooled_over_seeds(rows, cfg.baselines, n_resamples)
    comparisons = study_comparisons(results, cfg, n_resamples)
    extra = {"seeds": seeds, "training_draws": sorted({run["config"]["training_draw"] for run in runs}),
             "methods": methods, "runs": [str(d) for d in run_dirs],
             "wall_time_s": [run.get("wall_time_s") for run in runs],
             "peak_memory_mib": [run.get("peak_memory_mib") for run in runs]}
    spec = StudySpec(methods=methods, seeds=seeds, shots=sorted({r["k_shot"] for r in results}))
    write_study_outputs(output_dir, cfg, spec, results, comparisons,
                        runs[0]["config"] | {"seed": seeds, "baselines": baselines, "output_dir": str(output_dir)}, extra)
    return {"results": results, **extra, **comparisons}


def pooled_over_seeds(rows: list[dict], baselines: list[str], n_resamples: int) -> list[dict]:
    """One result per (language, K, method), its episodes pooled over seeds, with the paired
    bootstrap difference to the best baseline of the same language and K."""
    keys = dict.fromkeys((r["language"], r["k_shot"], r["method"]) for r in rows)
    results = [pooled([r for r in rows if (r["language"], r["k_shot"], r["method"]) == key]) for key in keys]
    return add_vs_best_baseline(results, baselines, n_resamples)


def pooled(rows: list[dict]) -> dict:
    """Seeds of one (language, K, method), in seed order so episodes pair up across methods. A seed trained more
    than once (--training-draw) scores each episode by the mean over its draws; `draw_accuracy` keeps each draw's
    accuracy, and the per-run lists (steps, lr factors, checkpoints) run over (seed, draw)."""
    rows = sorted(rows, key=lambda r: (r["seed"], r.get("training_draw", 0)))
    by_seed: dict[int, list[dict]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], []).append(r)

    def by_episode(key: str) -> np.ndarray:  # each seed's episodes, each the mean over its draws, seed after seed
        return np.concatenate([np.mean([r[key] for r in draws], 0) for draws in by_seed.values()])

    episodes = by_episode("episode_accuracy")
    accuracy, ci = mean_ci95(episodes)
    first = rows[0]
    validation = [[chosen_setting_validation(r) for r in draws] for draws in by_seed.values()]
    draw_accuracy = [[r["accuracy"] for r in draws] for draws in by_seed.values()]
    out = {"method": first["method"], "language": first["language"], "accuracy": accuracy, "ci95": ci,
           "n_episodes": int(len(episodes)), "n_way": first.get("n_way"), "k_shot": first["k_shot"],
           "n_query": first.get("n_query"), "seeds": list(by_seed),
           "accuracy_by_seed": [float(np.mean(d)) for d in draw_accuracy], "draw_accuracy": draw_accuracy,
           "adapt_steps": [r.get("adapt_steps") for r in rows], "lr_factor": [r.get("lr_factor") for r in rows],
           "selected_step": [r.get("selection", {}).get("selected_step") for r in rows],
           "validation_by_seed": [None if None in v else float(np.mean(v)) for v in validation],
           "episode_accuracy": episodes.tolist(),
           "episode_seed": [seed for seed, draws in by_seed.items() for _ in draws[0]["episode_accuracy"]]}
    if all("episode_accuracy_before_steps" in r for r in rows):  # rows of runs since the field was added
        out["episode_accuracy_before_steps"] = by_episode("episode_accuracy_before_steps").tolist()
    if all("accuracy_by_step" in r for r in rows):  # zero-shot rows (supervised distillation) have no steps
        out["accuracy_by_step"] = np.mean([r["accuracy_by_step"] for r in rows], 0).tolist()
    if all("macro_f1" in r for r in rows):
        out["macro_f1_by_seed"] = [r["macro_f1"] for r in rows]
    return out


def chosen_setting_validation(row: dict) -> float | None:
    """A run's meta-validation accuracy (training languages) at the test-time setting it chose: its grid's best."""
    grid = row.get("val_grid")
    return max(max(scores) for scores in grid.values()) if grid else None


def ranked_on_validation(results: list[dict], k_shot: int) -> list[dict]:
    """Every method at K=`k_shot`, best first by its mean meta-validation accuracy over the (held-out language,
    seed) runs that every ranked method has (each fold's validation episodes are the same for all its methods),
    with its held-out accuracy beside it (mean over languages). The first is the method a study recommends
    without reading any held-out language. A '<algorithm>@<rule>' row is left out: its validation accuracy is on
    another rule's episodes, not comparable."""
    by_method = {}
    for r in results:
        if r["k_shot"] == k_shot and compared_rule(r["method"]) is None:
            scores = {(r["language"], seed): v
                      for seed, v in zip(r["seeds"], r.get("validation_by_seed", [])) if v is not None}
            if scores:
                mine = by_method.setdefault(r["method"], {"validation": {}, "held_out": []})
                mine["validation"].update(scores)
                mine["held_out"].append(r["accuracy"])
    if not by_method:
        return []
    common = set.intersection(*[set(m["validation"]) for m in by_method.values()])
    ranking = [{"method": method, "validation": float(np.mean([m["validation"][key] for key in common])),
                "runs": len(common), "held_out": float(np.mean(m["held_out"]))}
               for method, m in by_method.items() if common]
    return sorted(ranking, key=lambda r: -r["validation"])


def pairwise_differences(results: list[dict], n_resamples: int) -> list[dict]:
    """Every method against every other (baselines included) per language and K: does MLDG beat plain
    meta-training, does ANIL beat ProtoNet... One entry per unordered pair (`method` − `other`)."""
    out = []
    for lang, k in dict.fromkeys((r["language"], r["k_shot"]) for r in results):
        same = [r for r in results if (r["language"], r["k_shot"]) == (lang, k)]
        for i, a in enumerate(same):
            for b in same[i + 1:]:
                out.append({"language": lang, "k_shot": k, "method": a["method"], "other": b["method"],
                            **paired_bootstrap(a, b, n_resamples)})
    return out


def over_languages(results: list[dict], baselines: list[str], n_resamples: int) -> list[dict]:
    """Per K and method: the accuracy averaged over held-out languages (each counts once) and the paired
    difference to each baseline over all (language, seed, episode) triples, resampled within (language, seed).
    Only on the seeds every language has, and where every language then has as many episodes, so that
    pooling weighs each language equally (a study under way may have more seeds of some languages)."""
    out = []
    for k in sorted({r["k_shot"] for r in results}):
        at_k = [r for r in results if r["k_shot"] == k]
        languages = sorted({r["language"] for r in at_k})
        by_method = {m: {r["language"]: r for r in at_k if r["method"] == m} for m in dict.fromkeys(r["method"] for r in at_k)}
        complete = {m: rows for m, rows in by_method.items() if sorted(rows) == languages}
        seeds = sorted(set.intersection(*[set(r["seeds"]) for rows in complete.values() for r in rows.values()] or [set()]))
        sizes = {r["episode_seed"].count(seed) for rows in complete.values() for r in rows.values() for seed in seeds}
        if len(languages) < 2 or len(sizes) != 1:
            continue

        def on_seeds(r: dict) -> list[float]:
            return [a for a, s in zip(r["episode_accuracy"], r["episode_seed"]) if s in seeds]

        def pooled_episodes(rows: dict) -> tuple[list[float], list[str]]:
            return ([a for lang in languages for a in on_seeds(rows[lang])],
                    [f"{lang}/{s}" for lang in languages for s in rows[lang]["episode_seed"] if s in seeds])
        for method, rows in complete.items():
            entry = {"method": method, "k_shot": k, "languages": languages, "seeds": seeds,
                     "accuracy": float(np.mean([np.mean(on_seeds(rows[lang])) for lang in languages]))}
            episodes, strata = pooled_episodes(rows)
            for baseline in baselines:
                if baseline == method or baseline not in complete:
                    continue
                base, base_strata = pooled_episodes(complete[baseline])
                if base_strata != strata:
                    raise MetaNLPError(f"{method} and {baseline} were not run on the same seeds and episodes")
                diff, low, high = bootstrap_difference(episodes, base, n_resamples=n_resamples, strata=strata)
                entry[f"vs_{baseline}"] = {"difference": diff, "ci95_low": low, "ci95_high": high}
            entry["beats_best_baseline_in"] = [lang for lang in languages
                                               if rows[lang].get("vs_best_baseline", {}).get("ci95_low", 0) > 0]
            out.append(entry)
    return out


def retraining_lines(pairs) -> list[str]:
    """The differences whose methods were trained more than once per seed, with the interval that counts it."""
    kept = [p for p in pairs if "with_training_randomness" in p]
    if not kept:
        return []
    lines = ["Counting re-training (a seed trained several times, --training-draw): the intervals above hold each trained "
             "model fixed; these add each method's spread over its draws (Student's t):", ""]
    for p in kept:
        r = p["with_training_randomness"]
        lines.append(f"- {p['method']} − {p['other']}: {interval(r)} ({min(map(min, r['draws']))}+ draws per seed, "
                     f"{r['degrees_of_freedom']:.1f} degrees of freedom; re-training is "
                     f"{100 * r['retraining_share']:.0f}% of the variance)")
    return [*lines, ""]


def compared_rows_note(results: list[dict]) -> str:
    """The clause naming the rows selected by the run's other rule, if any."""
    compared = sorted({r["method"] for r in results if compared_rule(r["method"])})
    return "".join(f" ({method}: the same meta-training, selected on the {compared_rule(method).replace('-', ' ')} "
                   "instead)" for method in compared)


def write_study_report(out: Path, cfg: MetaConfig, spec: StudySpec, results: list[dict], comparisons: dict,
                       not_finished: list[str] = ()) -> Path:
    main_k = [r for r in results if r["k_shot"] == cfg.k_shot]
    episodes = main_k[0]["n_episodes"] // len(main_k[0]["seeds"]) if main_k else 0
    seeds = sorted({s for r in results for s in r["seeds"]})
    chosen_on = selected_on(cfg.to_dict())
    lines = [f"# meta_nlp study: {cfg.task}, {cfg.n_way}-way {cfg.k_shot}-shot ({cfg.eval_mode.replace('_', '-')})", "",
             *([f"**Under way**: not finished yet, so left out here: {', '.join(not_finished)}.", ""] if not_finished else []),
             *([f"**Held-out task**: evaluated on `{cfg.held_out_task}`, never meta-trained on.", ""]
               if cfg.held_out_task else []),
             f"Methods {', '.join(spec.methods)} and baselines {', '.join(cfg.baselines) or 'none'}; seeds "
             f"{', '.join(map(str, seeds))}; {episodes} held-out episodes per seed, the same for every method; "
             f"{cfg.max_steps} meta-training steps on `{cfg.model}`. Checkpoints (the meta-learners' and the multitask "
             f"baseline's, φ⁰ a candidate for both) and test-time settings were chosen on {chosen_on}"
             f"{compared_rows_note(results)}; each held-out language was read only by its final evaluation. "
             f"Predictions by {head_description(cfg.to_dict())}.",
             "Accuracy ± 95% CI over the pooled (seed, episode) pairs; Δ = method − best baseline on the same "
             "episodes, with its paired-bootstrap 95% interval (resampling episodes within seeds); **bold**: the "
             "interval excludes 0.", ""]
    for lang in sorted({r["language"] for r in main_k}):
        rows = [r for r in main_k if r["language"] == lang]
        lines += [f"## held-out language: {lang}", "",
                  "| method | accuracy ± 95% CI | per seed | episodes | checkpoint step (per run) "
                  "| Δ vs best baseline [95% CI] |", "|---|---|---|---|---|---|"]
        for r in rows:
            v = r.get("vs_best_baseline")
            delta = f"{interval(v)} vs {v['baseline']}" if v else "—"
            if v and "with_training_randomness" in v:
                delta += f"; with re-training {interval(v['with_training_randomness'])}"
            per_seed = " ".join(f"{a:.3f}" for a in r["accuracy_by_seed"])
            chosen = " ".join("—" if s is None else str(s) for s in r.get("selected_step", []))
            lines.append(f"| {r['method']} | {r['accuracy']:.4f} ± {r['ci95']:.4f} | {per_seed} | {r['n_episodes']} "
                         f"| {chosen or '—'} | {delta} |")
        lines += ["", "Method against method (row − column):", "",
                  "| | " + " | ".join(r["method"] for r in rows) + " |", "|---|" + "---|" * len(rows)]
        pairs = {(p["method"], p["other"]): p for p in comparisons["pairwise"]
                 if (p["language"], p["k_shot"]) == (lang, cfg.k_shot)}
        for a in rows:
            cells = []
            for b in rows:
                if (a["method"], b["method"]) in pairs:
                    cells.append(interval(pairs[a["method"], b["method"]]))
                elif (b["method"], a["method"]) in pairs:
                    p = pairs[b["method"], a["method"]]
                    cells.append(interval({"difference": -p["difference"], "ci95_low": -p["ci95_high"],
                                           "ci95_high": -p["ci95_low"]}))
                else:
                    cells.append("")
            lines.append(f"| {a['method']} | " + " | ".join(cells) + " |")
        lines += ["", *retraining_lines(pairs.values())]
    overall = [o for o in comparisons["over_languages"] if o["k_shot"] == cfg.k_shot]
    if overall:
        names = [b for b in cfg.baselines if any(f"vs_{b}" in o for o in overall)]
        lines += [f"## over all held-out languages ({', '.join(overall[0]['languages'])}, each counting once; "
                  f"seeds {', '.join(map(str, overall[0]['seeds']))})", "",
                  "| method | mean accuracy | " + " | ".join(f"Δ vs {b} [95% CI]" for b in names)
                  + " | beats the best baseline in |", "|---|---|" + "---|" * (len(names) + 1)]
        for o in overall:
            cells = [interval(o[f"vs_{b}"]) if f"vs_{b}" in o else "—" for b in names]
            wins = ", ".join(o["beats_best_baseline_in"]) if o["method"] not in cfg.baselines else "—"
            lines.append(f"| {o['method']} | {o['accuracy']:.4f} | " + " | ".join(cells) + f" | {wins or 'none'} |")
        lines.append("")
    ranking = comparisons.get("ranked_on_validation", [])
    if ranking:
        lines += ["## the pick on validation alone", "",
                  f"Methods ranked by meta-validation accuracy on {chosen_on} (the test-time setting each chose; "
                  f"mean over the {ranking[0]['runs']} (held-out language, seed) runs all of them have): what "
                  f"a study can recommend without reading a held-out language. **{ranking[0]['method']}** comes first.",
                  "", "| method | meta-validation accuracy | held-out accuracy (mean over languages) |", "|---|---|---|"]
        lines += [f"| {r['method']} | {r['validation']:.4f} | {r['held_out']:.4f} |" for r in ranking]
        lines.append("")
    shots = sorted({r["k_shot"] for r in results})
    if len(shots) > 1:
        lines += ["## accuracy against shots K", "",
                  "| language | method | " + " | ".join(f"K={k}" for k in shots) + " |", "|---|---|" + "---|" * len(shots)]
        for lang, method in dict.fromkeys((r["language"], r["method"]) for r in results):
            by_k = {r["k_shot"]: r for r in results if (r["language"], r["method"]) == (lang, method)}
            cells = [f"{by_k[k]['accuracy']:.3f} ± {by_k[k]['ci95']:.3f} ({by_k[k]['n_episodes']})" if k in by_k else "—"
                     for k in shots]
            lines.append(f"| {lang} | {method} | " + " | ".join(cells) + " |")
        lines += ["", "(episodes in brackets)", "", "![accuracy against shots](accuracy_by_shots.png)", ""]
    else:
        lines += [f"One test-time K ({shots[0]}); re-run with `--shots 1,2,5,10` for accuracy against K: finished runs "
                  "are then evaluated at the new K from their saved models, without re-training.", ""]
    lines += ["![accuracy per language](accuracy_by_language.png)", "",
              "![accuracy against adaptation steps](accuracy_by_step.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
