"""Plan addendum 30: ProtoNet with the multitask loss as an auxiliary task (--auxiliary-weight 1) on chatterbot `ko`
(configs/study_chatterbot_unseen.yaml: lines meta-training never read), against the same seed's default ProtoNet and
baselines on the same 200 episodes, both in float32 on this CPU. One seed: reported, nothing decided.
Run from the repository root: python results/auxiliary/ko_pairs.py"""
from meta_nlp.evaluation.comparison import paired_difference, result_row, run_choices, validation_by_step

AUXILIARY, DEFAULT = "results/auxiliary/ko_seed0", "results/auxiliary/ko_default_seed0"

for run in (AUXILIARY, DEFAULT):
    print(f"{run}: validation by meta-step {validation_by_step(run, 'protonet')}")
    print(f"  {run_choices(run)}")
mine = result_row(AUXILIARY, "protonet", "ko")
print(f"seed 0: auxiliary {mine['accuracy']:.4f} ± {mine['ci95']:.4f} (lr x{mine['lr_factor']:g}, {mine['adapt_steps']} "
      f"steps; by step {[round(a, 4) for a in mine['accuracy_by_step']]})")
for method in ("protonet", "multitask", "finetune"):
    theirs = result_row(DEFAULT, method, "ko")
    print(f"  auxiliary − default {method} {paired_difference(mine, theirs)} (its by step "
          f"{[round(a, 4) for a in theirs['accuracy_by_step']]})")
default = {m: result_row(DEFAULT, m, "ko") for m in ("protonet", "multitask")}
print(f"  default protonet − multitask {paired_difference(default['protonet'], default['multitask'])}")
