"""Every bad value gets its one-line error before any model or data is loaded."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT
from meta_nlp.config import MetaConfig, config_from_dict, parse_config
from meta_nlp.errors import MetaNLPError


@pytest.mark.parametrize("argv, message", [
    (["--inner-steps", "0"], "--inner-steps must be at least 1"),
    (["--inner-steps", "-1"], "--inner-steps must be at least 1"),
    (["--eval-every", "0"], "--eval-every must be at least 1"),
    (["--save-every", "0"], "--save-every must be at least 1"),
    (["--save-total-limit", "0"], "--save-total-limit must be at least 1"),
    (["--meta-lr", "-1"], "--meta-lr must be positive"),
    (["--inner-lr", "nan"], "--inner-lr must be a finite number"),
    (["--finetune-lr", "inf"], "--finetune-lr must be a finite number"),
    (["--eval-lr-grid", "0"], "--eval-lr-grid needs at least one positive factor"),
    (["--val-fraction", "0"], "--val-fraction must be between 0 and 1"),
    (["--n-way", "1"], "--n-way must be at least 2"),
])
def test_bad_numbers_are_one_line_errors(argv, message):
    with pytest.raises(MetaNLPError, match=message):
        parse_config(argv)


def test_a_misspelt_boolean_is_an_error_not_false(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_config(["--mldg-first-order", "ture"])
    assert exit_.value.code == 2 and "expected true or false, got 'ture'" in capsys.readouterr().err
    assert parse_config(["--mldg-first-order", "TRUE"]).mldg_first_order is True
    assert parse_config(["--mldg-first-order", "no"]).mldg_first_order is False


@pytest.mark.parametrize("values, message", [
    ({"mldg_first_order": "ture"}, "--mldg-first-order must be bool"),
    ({"inner_steps": 2.5}, "--inner-steps must be int"),
    ({"inner_steps": True}, "--inner-steps must be int"),
    ({"meta_lr": "fast"}, "--meta-lr must be float"),
    ({"eval_lr_grid": []}, "--eval-lr-grid needs at least one positive factor"),
])
def test_yaml_values_of_the_wrong_type_are_one_line_errors(values, message):
    with pytest.raises(MetaNLPError, match=message):
        config_from_dict(values).validate()


def test_defaults_and_integer_floats_are_valid():
    MetaConfig().validate()
    assert config_from_dict({"meta_lr": 1}).validate().meta_lr == 1


def test_a_saved_run_that_predates_a_field_reads_back_with_the_value_it_ran_with(tmp_path):
    """A results.json written before --test-time-head existed ran with the 'sgd' head: a study must not pool it with
    runs of another head, and a learner saved then adapts as it did, whatever today's default."""
    import json
    from meta_nlp.config import PREDATED_FIELDS, saved_config
    from meta_nlp.recipes.meta_learn import finished_run
    old = MetaConfig(output_dir=str(tmp_path)).to_dict()
    del old["test_time_head"]
    (tmp_path / "results.json").write_text(json.dumps({"config": old, "results": []}))
    assert PREDATED_FIELDS["test_time_head"] == "sgd"
    assert config_from_dict(saved_config(old)).test_time_head == "sgd"
    assert finished_run(MetaConfig(output_dir=str(tmp_path), test_time_head="sgd"))["results"] == []
    with pytest.raises(MetaNLPError, match="finished earlier with test_time_head='sgd', not 'logistic'"):
        finished_run(MetaConfig(output_dir=str(tmp_path), test_time_head="logistic"))


def test_a_run_that_predates_the_auxiliary_loss_pools_with_a_run_of_todays_default_but_not_with_one_that_uses_it(
        tmp_path):
    import json
    from meta_nlp.recipes.study import runs_differing_only_in_seed

    def run(name: str, seed: int, drop: str | None = None, **settings) -> Path:
        config = MetaConfig(output_dir=str(tmp_path / name), seed=seed, **settings).to_dict()
        config.pop(drop, None)
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"config": config, "results": []}))
        return tmp_path / name
    old, today, auxiliary = run("old", 0, drop="auxiliary_weight"), run("today", 1), run("aux", 1, auxiliary_weight=1.0)
    assert len(runs_differing_only_in_seed([old, today])) == 2
    with pytest.raises(MetaNLPError, match="differ in auxiliary_weight"):
        runs_differing_only_in_seed([old, auxiliary])


def test_a_finished_run_of_another_precision_is_not_reused(tmp_path):
    """--mixed-precision auto is bf16 on one machine and float32 on another: a sweep or study re-run on the other
    machine must not pool the finished run with its own."""
    import json
    from meta_nlp.engine.trainer import resolved_precision
    from meta_nlp.recipes.meta_learn import finished_run
    here = resolved_precision("auto")
    other = "bf16" if here == "no" else "no"
    cfg = MetaConfig(output_dir=str(tmp_path))
    (tmp_path / "results.json").write_text(json.dumps({"config": cfg.to_dict(), "results": [],
                                                       "mixed_precision": here}))
    assert finished_run(cfg)["results"] == []
    (tmp_path / "results.json").write_text(json.dumps({"config": cfg.to_dict(), "results": [],
                                                       "mixed_precision": other}))
    with pytest.raises(MetaNLPError, match=f"finished earlier with mixed_precision='{other}', not '{here}'"):
        finished_run(cfg)
    assert finished_run(replace(cfg, mixed_precision=other))["results"] == []


def test_the_written_out_default_config_is_the_embedded_default():
    # configs/default.yaml repeats MetaConfig's defaults for users to copy; a default changed in one place only
    # would make `--config configs/default.yaml` a different job from the README's default one.
    assert parse_config(["--config", str(ROOT / "configs" / "default.yaml")]) == parse_config([])


def test_language_lists_take_repeated_flags_and_commas_alike():
    """--train-languages bn,de --train-languages en is three languages (the list form failed before: it read as one
    language named 'bn,de'); a flag not given keeps its default."""
    cfg = parse_config(["--train-languages", "bn,de", "--train-languages", "en", "--held-out-language", "ko,uk"])
    assert cfg.train_languages == ["bn", "de", "en"] and cfg.held_out_language == ["ko", "uk"]
    assert parse_config(["--validation-languages", "it"]).held_out_language == ["ja"]
    assert config_from_dict({"train_languages": "bn,de"}).train_languages == ["bn", "de"]


def test_every_written_out_config_parses_and_writes_outside_results():
    """Each configs/*.yaml is a valid config, and none writes into results/: those folders hold the committed runs of
    older code and defaults, which a re-run refuses to pool with its own (study_chatterbot.yaml and study_sib200.yaml
    pointed there, so their documented commands stopped at once)."""
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        cfg = parse_config(["--config", str(path)])
        assert Path(cfg.output_dir).parts[0] != "results", path.name
