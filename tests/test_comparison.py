"""scripts/compare_runs.py: the ablation table pairs runs over the same episodes, and refuses runs that differ."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from meta_nlp.config import MetaConfig
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.comparison import (accuracy_by_draw, before_any_step, chosen_validation, compare_runs,
                                              difference_with_retraining, paired_difference, repeated_by, result_row,
                                              result_summary, rows_by_budget, run_choices, target_verdict,
                                              validation_by_step)
from meta_nlp.evaluation.stats import interval


def fake_run(path, episodes, **config):
    cfg = MetaConfig(algorithm="anil", **config).to_dict()
    result = {"method": "anil", "language": "ja", "k_shot": 5, "n_way": 5, "n_episodes": len(episodes),
              "accuracy": sum(episodes) / len(episodes), "ci95": 0.01, "episode_accuracy": episodes}
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"config": cfg, "results": [result]}))
    return path


def test_ablation_table_gives_paired_differences(tmp_path):
    ref = fake_run(tmp_path / "none", [0.2, 0.4, 0.6, 0.8])
    aug = fake_run(tmp_path / "mlti", [0.4, 0.4, 0.8, 0.8], mlti_ratio=0.5)
    table = compare_runs([ref, aug], ref)
    row = next(line for line in table.splitlines() if line.startswith("| mlti"))
    assert "mlti_ratio=0.5" in row and "+0.1000 [+0.0000, +0.2000]" in row  # (0.2, 0, 0.2, 0): mean 0.1; all-0 and all-0.2 resamples are 1/16 each
    other_seed = fake_run(tmp_path / "seed1", [0.5] * 4, seed=1)
    with pytest.raises(MetaNLPError, match="differ in seed"):
        compare_runs([other_seed], ref)


def test_the_table_shows_the_precision_each_run_resolved_to(tmp_path):
    """Two runs with --mixed-precision auto are not the same settings when one resolved to bf16 and the other to
    float32 (results.json's top-level mixed_precision): the row says so."""
    ref = fake_run(tmp_path / "fp32", [0.2, 0.4, 0.6, 0.8])
    bf16 = fake_run(tmp_path / "bf16", [0.2, 0.4, 0.6, 0.6])
    for run, resolved in ((ref, "no"), (bf16, "bf16")):
        data = json.loads((run / "results.json").read_text())
        (run / "results.json").write_text(json.dumps(data | {"mixed_precision": resolved}))
    row = next(line for line in compare_runs([bf16], ref).splitlines() if line.startswith("| bf16"))
    assert "mixed_precision=bf16" in row


def test_scores_before_any_test_time_step_pair_encoders_without_the_rule(tmp_path):
    """A run's row records each episode before any test-time step; an older run's are read back from the held-out
    pass it kept in scores/ (the one that reproduces its row), and seeds pool like any other row."""
    import numpy as np
    from meta_nlp.recipes.study import pooled
    steps = np.array([[0.2, 0.6], [0.4, 0.4], [0.6, 1.0]])  # [episodes, test-time steps 0..1]
    run = fake_run(tmp_path / "old", steps[:, 1].tolist())
    data = json.loads((run / "results.json").read_text())
    data["results"][0] |= {"adapt_steps": 1, "accuracy_by_step": steps.mean(0).tolist(), "seed": 0}
    (run / "results.json").write_text(json.dumps(data))
    with pytest.raises(MetaNLPError, match="0 kept scoring passes reproduce anil on ja"):
        before_any_step(run, "anil", "ja")
    (run / "scores").mkdir()
    np.save(run / "scores" / "other.npy", np.array([[0.4, 0.6], [0.6, 0.4], [0.8, 1.0]]))  # same chosen column
    np.save(run / "scores" / "held_out.npy", steps)
    row = before_any_step(run, "anil", "ja")
    assert row["episode_accuracy"] == pytest.approx([0.2, 0.4, 0.6]) and row["accuracy"] == pytest.approx(0.4)
    assert row["method"] == "anil before any test-time step" and row["adapt_steps"] == 0
    data["results"][0] |= {"seed": 1, "episode_accuracy_before_steps": [0.8, 0.8, 0.8]}  # a newer run records them
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "results.json").write_text(json.dumps(data))
    both = pooled([before_any_step(tmp_path / folder, "anil", "ja") for folder in ("old", "new")])
    assert both["episode_accuracy"] == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.8, 0.8])
    assert both["episode_seed"] == [0, 0, 0, 1, 1, 1]


def test_result_row_finds_a_method_on_a_language(tmp_path):
    run = fake_run(tmp_path / "run", [0.2, 0.4])
    assert result_row(run, "anil", "ja")["accuracy"] == pytest.approx(0.3)
    with pytest.raises(MetaNLPError, match="no anil result on ko"):
        result_row(run, "anil", "ko")
    better = dict(result_row(run, "anil", "ja"), accuracy=0.5, episode_accuracy=[0.4, 0.6])
    line = paired_difference(better, result_row(run, "anil", "ja"))
    assert line == "0.5000 − 0.3000 = **+0.2000 [+0.2000, +0.2000]**"
    pooled = dict(better, selected_step=[40, 20], adapt_steps=[3, 1])
    assert result_summary(pooled) == "anil 0.5000 ± 0.0100 (selected step [40, 20], test-time steps [3, 1])"


def test_a_row_repeats_an_earlier_run_field_by_field_but_for_its_baseline_comparison(tmp_path):
    earlier = fake_run(tmp_path / "earlier", [0.2, 0.4])
    row = dict(result_row(earlier, "anil", "ja"), vs_best_baseline={"delta": 0.1})
    assert repeated_by(row, earlier) == "every field the same"
    assert repeated_by(dict(row, accuracy=0.5, ci95=0.2), earlier) == "differs in ['accuracy', 'ci95']"
    assert repeated_by(dict(row, accuracy=0.5, ci95=0.2), earlier, ("ci95",)) == "differs in ['accuracy']"
    assert repeated_by(dict(row, episode_accuracy_before_steps=[0.5]), earlier) == (  # a field newer code records
        "every field the same (the earlier run did not record ['episode_accuracy_before_steps'])")


def test_chosen_validation_reads_the_grid_at_the_chosen_setting(tmp_path):
    run = fake_run(tmp_path / "run", [0.2, 0.4])
    data = json.loads((run / "results.json").read_text())
    data["results"][0] |= {"lr_factor": 0.3, "adapt_steps": 2, "val_grid": {"0.3": [0.1, 0.2, 0.35], "1": [0.1, 0.5, 0.4]}}
    (run / "results.json").write_text(json.dumps(data))
    assert chosen_validation(run, "anil", "ja") == 0.35


def test_validation_by_step_reads_the_meta_learners_training_and_a_baselines_selection(tmp_path):
    run = fake_run(tmp_path / "run", [0.2, 0.4])
    data = json.loads((run / "results.json").read_text())
    data["training"] = {"val_accuracy_by_step": {"0": 0.4, "20": 0.5}}
    data["results"].append({"method": "multitask", "language": "ja",
                            "selection": {"val_accuracy_by_step": {"0": 0.4, "20": 0.45}}})
    (run / "results.json").write_text(json.dumps(data))
    assert validation_by_step(run, "anil") == {"0": 0.4, "20": 0.5}
    assert validation_by_step(run, "multitask") == {"0": 0.4, "20": 0.45}


def test_rows_by_budget_reads_each_budgets_run(tmp_path):
    runs = {}
    for budget, accuracy in ((40, 0.3), (640, 0.5)):
        runs[budget] = tmp_path / f"steps{budget}"
        runs[budget].mkdir()
        row = {"method": "anil", "language": "ja", "accuracy": accuracy, "ci95": 0.01, "selected_step": [budget],
               "adapt_steps": [1]}
        (runs[budget] / "results.json").write_text(json.dumps({"results": [row]}))
    rows, table = rows_by_budget(runs, ("anil",), "ja")
    assert rows["anil", 640]["accuracy"] == 0.5 and rows["anil", 40]["accuracy"] == 0.3
    assert table.splitlines() == ["40 steps: anil 0.3000 ± 0.0100 (selected step [40], test-time steps [1])",
                                  "640 steps: anil 0.5000 ± 0.0100 (selected step [640], test-time steps [1])"]


def test_compare_runs_cli_errors_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_runs.py"), str(tmp_path),
                           "--reference", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "no results.json" in proc.stderr
    run = fake_run(tmp_path / "run", [0.2, 0.4])
    table = tmp_path / "tables" / "new" / "anil.md"  # --output may name a folder that does not exist yet
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_runs.py"), str(run), "--reference", str(run),
                           "--output", str(table)], capture_output=True, text=True)
    assert proc.returncode == 0 and "| run | reference | anil |" in table.read_text()


def seed_run(path, seed, by_method, **config):
    """A finished meta_train run's results.json: `by_method` maps each method to its episodes' accuracies."""
    cfg = MetaConfig(algorithm="fomaml", seed=seed, baselines=["finetune"], output_dir=str(path), **config).to_dict()
    results = [{"method": m, "language": "ja", "seed": seed, "k_shot": 5, "n_way": 5, "n_query": 5,
                "n_episodes": len(e), "accuracy": sum(e) / len(e), "ci95": 0.01, "episode_accuracy": e,
                "accuracy_by_step": [0.3, sum(e) / len(e)], "adapt_steps": 1, "lr_factor": 1.0,
                "val_grid": {"1": [0.3, 0.5 if m == "fomaml" else 0.4]}} for m, e in by_method.items()]
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"config": cfg, "results": results, "wall_time_s": 60.0}))
    return path


def test_seeds_pool_into_one_run_that_compares_like_one_with_any_method(tmp_path):
    from meta_nlp.recipes.study import pool_run_seeds
    runs = [seed_run(tmp_path / f"s{s}", s, {"fomaml": [0.6, 0.4], "finetune": [0.4, 0.4]}) for s in (0, 1)]
    pooled = pool_run_seeds(runs, tmp_path / "pooled", n_resamples=200)
    fomaml = next(r for r in pooled["results"] if r["method"] == "fomaml")
    assert fomaml["n_episodes"] == 4 and fomaml["seeds"] == [0, 1]
    assert fomaml["vs_best_baseline"]["difference"] == pytest.approx(0.1)
    assert [r["method"] for r in pooled["ranked_on_validation"]] == ["fomaml", "finetune"]
    assert "## the pick on validation alone" in (tmp_path / "pooled" / "report.md").read_text()
    # another setting, pooled the same way, compares with it method by method, paired within seeds
    other = [seed_run(tmp_path / f"o{s}", s, {"fomaml": [0.6, 0.4], "finetune": [0.6, 0.6]}, test_time_head="sgd")
             for s in (0, 1)]
    pool_run_seeds(other, tmp_path / "other", n_resamples=200)
    table = compare_runs([tmp_path / "other"], tmp_path / "pooled", method="finetune")
    row = next(line for line in table.splitlines() if line.startswith("| other"))
    assert "test_time_head=sgd" in row and "| finetune |" in row and "+0.2000 [+0.2000, +0.2000]" in row
    with pytest.raises(MetaNLPError, match="these runs differ in test_time_head"):
        pool_run_seeds([runs[0], other[1]], tmp_path / "bad")
    resumed = seed_run(tmp_path / "r0", 0, {"fomaml": [0.6, 0.4], "finetune": [0.4, 0.4]}, resume_from_checkpoint="latest",
                       cpu_threads=2)  # how a run was resumed and threaded does not change what it measured
    assert pool_run_seeds([resumed, runs[1]], tmp_path / "resumed", n_resamples=200)["seeds"] == [0, 1]
    with pytest.raises(MetaNLPError, match="no multitask result"):
        compare_runs([tmp_path / "other"], tmp_path / "pooled", method="multitask")
    assert "chosen on the training languages (their --val-fraction share);" in (tmp_path / "pooled" / "report.md").read_text()


def test_a_pooled_report_names_the_validation_languages_that_selected(tmp_path):
    from meta_nlp.recipes.study import pool_run_seeds
    runs = [seed_run(tmp_path / f"s{s}", s, {"fomaml": [0.6, 0.4], "fomaml@training-languages": [0.5, 0.4],
                                               "finetune": [0.4, 0.4]}, validation_languages=["fa", "pt"])
            for s in (0, 1)]
    pool_run_seeds(runs, tmp_path / "pooled", n_resamples=200)
    report = (tmp_path / "pooled" / "report.md").read_text()
    assert "chosen on the validation languages fa, pt (never meta-trained on) (fomaml@training-languages: the same " \
           "meta-training, selected on the training languages instead)" in report
    assert "ranked by meta-validation accuracy on the validation languages fa, pt" in report


def test_runs_of_different_meta_learners_pool_into_one_study(tmp_path):
    """A run with its baselines and a run of another meta-learner with --baselines none (same seeds, same settings
    otherwise) pool into one study: both meta-learners against the best baseline, ranked on validation."""
    from meta_nlp.recipes.study import pool_run_seeds
    with_baselines = [seed_run(tmp_path / f"f{s}", s, {"fomaml": [0.6, 0.4], "finetune": [0.4, 0.4]}) for s in (0, 1)]
    r2d2 = []
    for s in (0, 1):
        path = seed_run(tmp_path / f"r{s}", s, {"r2d2": [0.8, 0.6]})
        data = json.loads((path / "results.json").read_text())
        data["config"].update(algorithm="r2d2", baselines=[])
        (path / "results.json").write_text(json.dumps(data))
        r2d2.append(path)
    pooled = pool_run_seeds([*with_baselines, *r2d2], tmp_path / "pooled", n_resamples=200)
    assert pooled["methods"] == ["fomaml", "r2d2"]
    r2d2_row = next(r for r in pooled["results"] if r["method"] == "r2d2")
    assert r2d2_row["n_episodes"] == 4 and r2d2_row["vs_best_baseline"]["difference"] == pytest.approx(0.3)
    assert "r2d2" in (tmp_path / "pooled" / "report.md").read_text()
    # a method twice for one seed (two runs with their baselines) is refused: its episodes would count twice
    with pytest.raises(MetaNLPError, match="finetune at seed 0 .* is in two of the runs"):
        pool_run_seeds([*with_baselines, seed_run(tmp_path / "again", 0, {"protonet": [0.5, 0.5],
                                                                          "finetune": [0.4, 0.4]})], tmp_path / "bad")


def test_training_draws_of_a_seed_pool_into_draw_averaged_episodes_and_a_wider_interval(tmp_path):
    from meta_nlp.recipes.study import pool_run_seeds
    fomaml = {(0, 0): [0.6, 0.4, 0.8], (0, 1): [0.4, 0.4, 0.6], (1, 0): [0.6, 0.6, 0.4], (1, 1): [0.8, 0.6, 0.6]}
    runs = [seed_run(tmp_path / f"s{s}d{d}", s, {"fomaml": e, "finetune": [0.4, 0.4, 0.4]}, training_draw=d)
            for (s, d), e in fomaml.items()]
    pooled = pool_run_seeds(runs, tmp_path / "pooled", n_resamples=200)
    row = next(r for r in pooled["results"] if r["method"] == "fomaml")
    assert pooled["seeds"] == [0, 1] and pooled["training_draws"] == [0, 1] and row["seeds"] == [0, 1]
    assert row["episode_accuracy"] == pytest.approx([0.5, 0.4, 0.7, 0.7, 0.6, 0.5])  # each episode: its draws' mean
    assert row["draw_accuracy"] == [pytest.approx([0.6, 0.4667], abs=1e-4), pytest.approx([0.5333, 0.6667], abs=1e-4)]
    versus = row["vs_best_baseline"]
    retrained = versus["with_training_randomness"]
    assert retrained["difference"] == pytest.approx(versus["difference"]) == pytest.approx(1 / 6)
    assert retrained["ci95_high"] - retrained["ci95_low"] > versus["ci95_high"] - versus["ci95_low"]
    report = (tmp_path / "pooled" / "report.md").read_text()
    assert "Counting re-training" in report and f"vs finetune; with re-training {interval(retrained)}" in report
    assert accuracy_by_draw(row) == "seed 0: 0.6000 0.4667; seed 1: 0.5333 0.6667"
    assert difference_with_retraining(versus).startswith(f"{interval(versus)}; with re-training {interval(retrained)} (")
    single = pool_run_seeds([runs[0], runs[2]], tmp_path / "single", n_resamples=200)  # one draw a seed: no such interval
    alone = next(r for r in single["results"] if r["method"] == "fomaml")["vs_best_baseline"]
    assert "with_training_randomness" not in alone and difference_with_retraining(alone) == interval(alone)
    bf16 = json.loads((runs[1] / "results.json").read_text()) | {"mixed_precision": "bf16"}  # auto, on a bf16 CPU
    (runs[1] / "results.json").write_text(json.dumps(bf16))
    with pytest.raises(MetaNLPError, match="these runs differ in mixed_precision"):
        pool_run_seeds(runs, tmp_path / "mixed")
    with pytest.raises(MetaNLPError, match="fomaml at seed 0, training draw 1 .* is in two of the runs"):
        pool_run_seeds([runs[0], runs[2], runs[3], seed_run(tmp_path / "again", 0, {"fomaml": [0.5] * 3}, training_draw=1),
                        seed_run(tmp_path / "twice", 0, {"fomaml": [0.5] * 3}, training_draw=1)],
                       tmp_path / "bad")


def test_run_choices_says_what_a_run_chose_and_cost(tmp_path):
    run = fake_run(tmp_path / "run", [0.25, 0.5])
    data = json.loads((run / "results.json").read_text())
    data |= {"wall_time_s": 812.4, "peak_memory_mib": 1900}
    data["results"][0] |= {"adapt_steps": 2, "lr_factor": 0.3, "selection": {"selected_step": 20}}
    (run / "results.json").write_text(json.dumps(data))
    assert run_choices(run) == ("812 s, 1900 MiB peak; selected steps {'anil': 20}; "
                                "(accuracy, test-time steps, lr factor) {('anil', 'ja'): (0.375, 2, 0.3)}")


def test_target_verdict_needs_the_margin_and_an_interval_above_zero():
    assert target_verdict({"difference": 0.031, "ci95_low": 0.001, "ci95_high": 0.06}, 0.03) == "met"
    assert target_verdict({"difference": 0.031, "ci95_low": -0.001, "ci95_high": 0.06}, 0.03) == "not met"
    assert target_verdict({"difference": 0.02, "ci95_low": 0.01, "ci95_high": 0.03}, 0.03) == "not met"
    assert target_verdict({"difference": -0.02, "ci95_low": -0.03, "ci95_high": -0.01}, 0.03) == "not met; significantly below"
