"""The README's default job on 79efc4b (YAML through libyaml, the pooled report's rule names) against the same job on
76a0f16 (`results/default_job_grid`): every method's row must repeat field by field, since neither change may move a
score. Run from the repository root: python results/default_job_libyaml/repeats.py"""
from meta_nlp.evaluation.comparison import repeated_by, result_row, run_choices

NEW, OLD = "results/default_job_libyaml", "results/default_job_grid"
for run in (OLD, NEW):
    print(f"{run}: {run_choices(run)}")
for method in ("protonet", "finetune", "multitask"):
    print(f"{method} on ja against {OLD}: {repeated_by(result_row(NEW, method, 'ja'), OLD)}")
