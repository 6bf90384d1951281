"""scripts/compare_runs.py: the ablation table pairs runs over the same episodes, and refuses runs that differ."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from meta_nlp.config import MetaConfig
from meta_nlp.errors import MetaNLPError
from meta_nlp.evaluation.comparison import compare_runs


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


def test_compare_runs_cli_errors_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_runs.py"), str(tmp_path),
                           "--reference", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "no results.json" in proc.stderr
